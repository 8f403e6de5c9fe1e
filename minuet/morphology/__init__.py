"""Morphology classifiers on the latent (merger, spiral arms, edge-on, round)."""

from ._classifier import MorphologyClassifier
from ._metrics import binary_metrics

__all__ = ["MorphologyClassifier", "binary_metrics"]
