"""Reading, validating and normalising g, r, z galaxy cutouts."""

from ._container import Cutouts
from ._fetch import conf, fetch_legacy_cutouts
from ._io import iter_hdf5, read_legacy_fits
from ._load import load_cutouts
from ._segmentation import central_segmentation
from ._stretch import AsinhStretch
from ._units import AB_ZEROPOINT, BANDS, CUTOUT_SIZE, LEGACY_BANDS, PIXSCALE, nanomaggy
from ._warnings import CutoutWarning

__all__ = [
    "AB_ZEROPOINT",
    "BANDS",
    "CUTOUT_SIZE",
    "LEGACY_BANDS",
    "PIXSCALE",
    "AsinhStretch",
    "CutoutWarning",
    "Cutouts",
    "central_segmentation",
    "conf",
    "fetch_legacy_cutouts",
    "iter_hdf5",
    "load_cutouts",
    "nanomaggy",
    "read_legacy_fits",
]
