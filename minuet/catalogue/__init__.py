"""Encoding whole catalogues: streaming, resumable runs and Dask."""

from ._stream import encode_catalogue

__all__ = ["encode_catalogue"]
