"""Colour composites, image grids and corner plots."""

from ._plots import corner_plot, plot_cutouts
from ._rgb import rgb_composite

__all__ = ["corner_plot", "plot_cutouts", "rgb_composite"]
