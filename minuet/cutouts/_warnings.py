"""Warnings raised while reading cutouts."""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["CutoutWarning"]


class CutoutWarning(AstropyUserWarning):
    """A cutout was read with an assumption or an override worth knowing about.

    It subclasses `~astropy.utils.exceptions.AstropyUserWarning`, so the
    usual warning filters select it.

    Examples
    --------
    Silence it for a block of code where the assumptions are known:

    >>> import warnings
    >>> from minuet.cutouts import CutoutWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", CutoutWarning)
    ...     warnings.warn("unitless input taken as nanomaggies", CutoutWarning)
    """
