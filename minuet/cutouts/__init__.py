"""Reading, validating and normalising g, r, z galaxy cutouts."""

from ._stretch import AsinhStretch

__all__ = ["AsinhStretch"]
