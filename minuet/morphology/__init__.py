"""Morphology classifiers on the latent (merger, spiral arms, edge-on, round)."""

from ._classifier import MorphologyClassifier

__all__ = ["MorphologyClassifier"]
