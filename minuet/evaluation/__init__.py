"""Metrics: posterior calibration, point estimates, classification and reconstruction."""

from ..cutouts import central_segmentation
from ..morphology import binary_metrics
from ._calibration import coverage, pit, pit_histogram, tarp
from ._plots import plot_pit, plot_tarp
from ._point import log_quantity_metrics, redshift_metrics
from ._reconstruction import (
    compare_reconstructions,
    radial_power_spectrum,
    summarize_reconstructions,
)

__all__ = [
    "binary_metrics",
    "central_segmentation",
    "compare_reconstructions",
    "coverage",
    "log_quantity_metrics",
    "pit",
    "pit_histogram",
    "plot_pit",
    "plot_tarp",
    "radial_power_spectrum",
    "redshift_metrics",
    "summarize_reconstructions",
    "tarp",
]
