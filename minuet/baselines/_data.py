"""Input checks and training data for the baselines: flux arrays or simulator files."""

import os
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io.misc.hdf5 import read_table_hdf5
from astropy.table import QTable

from .._latents import table_columns
from ..cutouts import AsinhStretch, nanomaggy
from ..training import CutoutFile, loss_weights, split_indices

__all__ = []


def check_flux(flux, *, size=None, name="flux"):
    """Return g, r, z flux in nanomaggies as a finite float32 ``(N, 3, H, W)`` array.

    A `~astropy.units.Quantity` is converted to nanomaggies; plain numbers
    are taken to be nanomaggies already.
    """
    if isinstance(flux, u.Quantity):
        try:
            flux = flux.to_value(nanomaggy, equivalencies=u.zero_point_flux(3631.0 * u.Jy))
        except u.UnitConversionError:
            msg = (f"{name} must be a flux convertible to nanomaggies; received a Quantity in "
                   f"{flux.unit}. Convert it first.")
            raise ValueError(msg) from None
    flux = np.asarray(flux, dtype=np.float32)
    expected = "(N, 3, H, W)" if size is None else f"(N, 3, {size}, {size})"
    if flux.ndim != 4 or flux.shape[1] != 3 or (
        size is not None and flux.shape[2:] != (size, size)
    ):
        msg = (f"{name} must be g, r, z cutouts shaped {expected}; received shape "
               f"{flux.shape}. Add a leading axis for a single cutout or crop to the "
               "model's size.")
        raise ValueError(msg)
    if flux.shape[0] == 0:
        msg = f"{name} is empty; pass at least one cutout."
        raise ValueError(msg)
    bad = ~np.isfinite(flux).reshape(len(flux), -1).all(axis=1)
    if bad.any():
        msg = (f"{name} contains NaN or infinite pixels in {bad.sum()} cutout(s) (first at "
               f"index {np.flatnonzero(bad)[0]}); set masked pixels to 0 and give them zero "
               "inverse variance (invvar) instead.")
        raise ValueError(msg)
    return flux


def is_files(data):
    """Whether ``data`` names one or more HDF5 files rather than holding flux."""
    if isinstance(data, str | os.PathLike):
        return True
    return (
        isinstance(data, list | tuple)
        and len(data) > 0
        and all(isinstance(d, str | os.PathLike) for d in data)
    )


def truth_array(truth, names, *, dtype=np.float64):
    """Stack the named truth columns as ``(N, len(names))``, refusing missing or bad values."""
    array = table_columns(truth, names, kind="target", dtype=dtype)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        msg = (f"the truth columns {list(names)} hold NaN or infinite values in {bad.sum()} "
               f"row(s) (first at row {np.flatnonzero(bad)[0]}); remove those galaxies.")
        raise ValueError(msg)
    return array


class ArraySource:
    """Stretched cutouts and loss weights from in-memory flux arrays."""

    def __init__(self, flux, *, size, stretch, invvar=None, footprint=None, truth=None,
                 inside=0.9, outside=0.1):
        flux = check_flux(flux, size=size)
        n = len(flux)
        if invvar is None:
            valid = np.ones(flux.shape, dtype=np.float32)
        else:
            invvar = np.asarray(getattr(invvar, "value", invvar), dtype=np.float32)
            if invvar.shape != flux.shape:
                msg = f"invvar must have the shape of flux {flux.shape}; received {invvar.shape}."
                raise ValueError(msg)
            valid = (np.isfinite(invvar) & (invvar > 0)).astype(np.float32)
        if footprint is None:
            self.weight = valid
        else:
            footprint = np.asarray(footprint, dtype=bool)
            if footprint.shape != (n, size, size):
                msg = (f"footprint must be boolean (N, H, W) = {(n, size, size)}; received "
                       f"{footprint.shape}.")
                raise ValueError(msg)
            self.weight = loss_weights(footprint, valid, inside=inside, outside=outside)
        if truth is not None and len(truth) != n:
            msg = f"truth has {len(truth)} rows but there are {n} cutouts; they must match."
            raise ValueError(msg)
        self.x = stretch.forward(flux).astype(np.float32)
        self.truth = truth

    def __len__(self):
        return len(self.x)

    def read(self, indices):
        return self.x[indices], self.weight[indices]


class FileSource:
    """Stretched cutouts, loss weights and truth from simulator HDF5 files."""

    def __init__(self, paths, *, size, stretch, inside=0.9, outside=0.1, need_truth=False):
        paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        self.files = [
            CutoutFile(p, size=size, stretch=stretch, in_memory=True, inside=inside,
                       outside=outside)
            for p in paths
        ]
        self.offsets = np.cumsum([0] + [len(f) for f in self.files])
        self.truth = None
        if need_truth:
            tables = [read_truth(p) for p in paths]
            self.truth = tables[0] if len(tables) == 1 else _vstack(tables)

    def __len__(self):
        return int(self.offsets[-1])

    def read(self, indices):
        indices = np.asarray(indices)
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        x = w = None
        for i, f in enumerate(self.files):
            sel = np.flatnonzero(which == i)
            if not len(sel):
                continue
            xi, wi = f.read(indices[sel] - self.offsets[i])
            if x is None:
                x = np.empty((len(indices), *xi.shape[1:]), np.float32)
                w = np.empty_like(x)
            x[sel], w[sel] = xi, wi
        return x, w


def _vstack(tables):
    from astropy.table import vstack

    return vstack(tables, metadata_conflicts="silent")


def read_truth(path):
    """Read the truth catalogue that the simulator writes beside the images."""
    import h5py

    with h5py.File(path, "r") as f:
        if "truth" not in f:
            msg = (f"{path} has no 'truth' table; the supervised baseline needs the "
                   "simulator's truth catalogue or a truth table passed explicitly.")
            raise ValueError(msg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", u.UnitsWarning)
        return QTable(read_table_hdf5(str(path), path="truth"))


def read_flux(path, *, start=0, stop=None):
    """Read flux, inverse variance and footprints (or None) from an HDF5 file."""
    import h5py

    with h5py.File(Path(path), "r") as f:
        sl = slice(start, stop)
        flux = np.asarray(f["images"][sl], dtype=np.float32)
        invvar = np.asarray(f["invvar"][sl], dtype=np.float32) if "invvar" in f else None
        footprint = np.asarray(f["footprint"][sl], dtype=bool) if "footprint" in f else None
    return flux, invvar, footprint


def make_source(data, *, size, stretch, invvar=None, footprint=None, truth=None,
                need_truth=False, footprint_weight=0.9):
    """Build a data source from flux arrays or HDF5 file names."""
    weights = {"inside": footprint_weight, "outside": 1.0 - footprint_weight}
    if is_files(data):
        source = FileSource(data, size=size, stretch=stretch, need_truth=need_truth and
                            truth is None, **weights)
        if truth is not None:
            if len(truth) != len(source):
                msg = (f"truth has {len(truth)} rows but the files hold {len(source)} "
                       "cutouts; they must match.")
                raise ValueError(msg)
            source.truth = truth
        return source
    return ArraySource(data, size=size, stretch=stretch, invvar=invvar, footprint=footprint,
                       truth=truth, **weights)


def split(n, *, validation_fraction, seed):
    """Reproducible training and validation indices; at least one of each when possible."""
    train, val = split_indices(n, validation_fraction=validation_fraction, seed=seed)
    if len(val) == 0 and validation_fraction > 0 and n > 1:
        train, val = train[1:], train[:1]
    return train, val


def default_stretch(stretch):
    return AsinhStretch() if stretch is None else stretch
