"""Warnings raised while reading cutouts."""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["CutoutWarning"]


class CutoutWarning(AstropyUserWarning):
    """A cutout was read with an assumption or an override worth knowing about."""
