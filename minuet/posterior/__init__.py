"""Posteriors of physical properties (redshift, stellar mass, SFR) from latents."""

from ._conformal import IntervalCalibration
from ._estimator import PosteriorConfig, PosteriorEstimator

__all__ = ["IntervalCalibration", "PosteriorConfig", "PosteriorEstimator"]
