"""Anomaly detection from the latent density and reconstruction errors."""

from ._score import AnomalyScorer

__all__ = ["AnomalyScorer"]
