"""Posteriors of physical properties (redshift, stellar mass, SFR) from latents."""

from ._estimator import PosteriorConfig, PosteriorEstimator

__all__ = ["PosteriorConfig", "PosteriorEstimator"]
