"""Similarity search: nearest neighbours in latent space."""

from ._index import LatentIndex

__all__ = ["LatentIndex"]
