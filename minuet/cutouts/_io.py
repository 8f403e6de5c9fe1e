"""Readers for Legacy Surveys viewer FITS cubes and HDF5 cutout sets."""

import warnings

import h5py
import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import InverseVariance, NDData

from .._prefetch import prefetch
from .._validation import input_file
from ._prepare import _check_options, _pixscale, _standardise, _window
from ._units import CUTOUT_SIZE, PIXSCALE, _check_linear, _flux_factor, nanomaggy
from ._warnings import CutoutWarning

__all__ = ["iter_hdf5", "read_legacy_fits"]

_INVVAR_NAMES = ("INVVAR", "IVAR", "INVVAR_CUBE")


def _header_bands(header, nplanes):
    """Band names from a viewer header: ``BANDS = 'grz'`` or ``BAND0``, ``BAND1``, ..."""
    names = [header.get(f"BAND{i}") for i in range(nplanes)]
    if all(isinstance(name, str) and name.strip() for name in names):
        return tuple(name.strip() for name in names)
    bands = header.get("BANDS")
    if isinstance(bands, str) and len(bands.strip()) == nplanes:
        return tuple(bands.strip())
    return None


def _is_invvar_hdu(hdu):
    name = (hdu.name or "").upper()
    imtype = str(hdu.header.get("IMTYPE", "")).upper()
    return name in _INVVAR_NAMES or imtype in ("INVVAR", "IVAR")


def read_legacy_fits(path):
    """Read a FITS cutout in the Legacy Surveys viewer layout.

    The viewer's ``fits-cutout`` service (Dey et al. 2019, AJ 157, 168) writes
    the images as a ``(bands, size, size)`` cube in the primary HDU, in
    nanomaggies, with the band of each plane in the header keywords
    ``BAND0``, ``BAND1``, ... (and ``BANDS``, e.g. ``'grz'``). When inverse
    variances were requested they follow in an image extension of the same
    shape; it is recognised by ``EXTNAME`` (INVVAR or IVAR) or ``IMTYPE``, or
    failing that as the first later image HDU of the cube's shape.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The FITS file.

    Returns
    -------
    nddata : `~astropy.nddata.NDData`
        The cube with unit ``minuet.cutouts.nanomaggy`` (or the header's
        ``BUNIT`` when it names a flux unit), an
        `~astropy.nddata.InverseVariance` uncertainty when present, and
        ``meta`` holding ``bands`` (None when the header names none),
        ``header`` and ``path``.

    Raises
    ------
    ValueError
        If the file cannot be read as FITS or holds no image cube.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from minuet.cutouts import read_legacy_fits
    >>> header = fits.Header({"BANDS": "grz", "BAND0": "g", "BAND1": "r", "BAND2": "z"})
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "cutout.fits"
    >>> fits.PrimaryHDU(np.zeros((3, 72, 72), "f4"), header=header).writeto(path)
    >>> nd = read_legacy_fits(path)
    >>> nd.data.shape, nd.meta["bands"]
    ((3, 72, 72), ('g', 'r', 'z'))
    """
    path = input_file(path, "FITS file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, memmap=False) as hdul:
                hdul.verify("exception")
                primary = hdul[0]
                data = None if primary.data is None else np.array(primary.data)
                header = primary.header.copy()
                start = 1
                if data is None:  # cube stored in the first extension instead
                    for index, hdu in enumerate(hdul[1:], start=1):
                        if hdu.is_image and hdu.data is not None:
                            data = np.array(hdu.data)
                            header = hdu.header.copy()
                            start = index + 1
                            break
                invvar = None
                if data is not None:
                    later = [h for h in hdul[start:] if h.is_image and h.data is not None]
                    named = [h for h in later if _is_invvar_hdu(h)]
                    shaped = [h for h in later if h.data.shape == data.shape]
                    chosen = (named or shaped or [None])[0]
                    if chosen is not None:
                        invvar = np.array(chosen.data)
        for warning in caught:
            if "truncated" in str(warning.message):
                raise OSError(str(warning.message))
            warnings.warn(warning.message, warning.category, stacklevel=2)
    except (OSError, fits.VerifyError, TypeError, ValueError) as exc:
        msg = (
            f"could not read {path} as a FITS cutout ({type(exc).__name__}: {exc}); check that "
            "the file is a complete FITS download and not an HTML error page."
        )
        raise ValueError(msg) from exc
    if data is None:
        msg = f"{path} holds no image data; expected a (bands, size, size) cube in the primary HDU."
        raise ValueError(msg)
    if data.ndim == 2:
        data = data[np.newaxis]
        invvar = None if invvar is None else invvar.reshape(data.shape)
    unit = nanomaggy
    bunit = header.get("BUNIT")
    if bunit:
        parsed = u.Unit(bunit, parse_strict="silent")
        _check_linear(parsed, what=f"images of {path} (BUNIT {bunit!r})")
        try:
            _flux_factor(parsed, zeropoint=None, pixscale=PIXSCALE.value)
            unit = parsed
        except (ValueError, TypeError):
            warnings.warn(
                f"{path}: BUNIT {bunit!r} is not a flux unit; taking the cube as nanomaggies.",
                CutoutWarning,
                stacklevel=4,
            )
    uncertainty = None if invvar is None else InverseVariance(invvar, unit=unit**-2)
    meta = {"bands": _header_bands(header, data.shape[0]), "header": header, "path": str(path)}
    return NDData(data, uncertainty=uncertainty, unit=unit, meta=meta)


def _open_hdf5(path, dataset):
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        msg = f"could not open {path} as HDF5 ({exc}); check the path and that the file is HDF5."
        raise ValueError(msg) from exc
    if dataset not in handle or not isinstance(handle[dataset], h5py.Dataset):
        names = sorted(k for k in handle if isinstance(handle[k], h5py.Dataset))
        handle.close()
        msg = (
            f"{path} has no dataset {dataset!r}; it holds {names}. Pass dataset= with the "
            "name of the (N, 3, H, W) cutout array."
        )
        raise ValueError(msg)
    shape = handle[dataset].shape
    if len(shape) != 4:
        handle.close()
        msg = f"dataset {dataset!r} in {path} has shape {shape}; expected (N, bands, H, W) cutouts."
        raise ValueError(msg)
    return handle


def _hdf5_attr(handle, images, name):
    for holder in (images, handle):
        if name in holder.attrs:
            value = holder.attrs[name]
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, np.ndarray):
                value = [v.decode() if isinstance(v, bytes) else str(v) for v in value]
            return value
    return None


def _hdf5_unit(handle, images):
    """The ``unit`` attribute of an HDF5 image dataset (or file), parsed; None when absent."""
    unit = _hdf5_attr(handle, images, "unit")
    if unit is None:
        return None
    try:
        return u.Unit(unit)
    except (ValueError, TypeError):
        msg = (
            f"{handle.filename}: the unit attribute {unit!r} of {images.name!r} is not a unit "
            "astropy understands; set it to a flux unit such as 'nanomaggy' or remove it."
        )
        raise ValueError(msg) from None


def _read_hdf5_pixels(handle, dataset, start, stop, *, size, pad, zeropoint, pixscale):
    """Rows ``start:stop`` in nanomaggies, touching only the central ``size`` x ``size`` window.

    Returns the flux, the inverse variance and the footprint (None where the
    file has none), as they will be checked by ``_standardise``.
    """
    images = handle[dataset]
    height, width = images.shape[-2:]
    ysrc, _ = _window(height, size, pad)
    xsrc, _ = _window(width, size, pad)
    rows = slice(start, stop)
    flux = images[rows, :, ysrc, xsrc]
    invvar = None
    if "invvar" in handle and dataset == "images" and handle["invvar"].shape == images.shape:
        invvar = handle["invvar"][rows, :, ysrc, xsrc]
    footprint = None
    if "footprint" in handle and handle["footprint"].shape == (images.shape[0], height, width):
        footprint = handle["footprint"][rows, ysrc, xsrc]
    unit = _hdf5_unit(handle, images)
    factor = _flux_factor(unit, zeropoint=zeropoint, pixscale=pixscale,
                          what=f"images of {handle.filename}")
    flux = np.asarray(flux, dtype=np.float32) * np.float32(factor) if factor != 1 else flux
    if invvar is not None and factor != 1:
        invvar = np.asarray(invvar, dtype=np.float32) / np.float32(factor**2)
    return flux, invvar, footprint


def _read_hdf5_rows(handle, dataset, start, stop, **options):
    """Rows ``start:stop`` read (`_read_hdf5_pixels`) and checked, as `Cutouts`."""
    return _checked(_read_hdf5_pixels(handle, dataset, start, stop, **_window_options(options)),
                    start, options)


def _window_options(options):
    return {key: options[key] for key in ("size", "pad", "zeropoint", "pixscale")}


def _checked(pixels, start, options):
    """The `Cutouts` of pixels read by `_read_hdf5_pixels` from rows starting at ``start``."""
    flux, invvar, footprint = pixels
    options = {key: value for key, value in options.items() if key != "zeropoint"}
    # the pixels were just read (or scaled into a new array): checked without a copy
    return _standardise(flux, invvar=invvar, footprint=footprint, index_offset=start,
                        owned=True, **options)


def _hdf5_options(handle, dataset, bands, pixscale):
    images = handle[dataset]
    stored = _hdf5_attr(handle, images, "bands")
    if bands is not None and stored is not None:
        warnings.warn(
            f"the file names its bands {stored!r}; ignoring bands={bands!r}.",
            CutoutWarning,
            stacklevel=4,
        )
    bands = stored if stored is not None else bands
    if pixscale is None:
        pixscale = _hdf5_attr(handle, images, "pixscale")
    return {"bands": bands, "pixscale": _pixscale(pixscale)}


def iter_hdf5(
    path,
    *,
    batch_size=1024,
    dataset="images",
    start=0,
    stop=None,
    bands=None,
    size=CUTOUT_SIZE,
    pad=False,
    zeropoint=None,
    pixscale=None,
    min_valid_fraction=0.5,
    on_invalid="raise",
    read_ahead=False,
):
    """Stream an HDF5 set of cutouts in batches, reading only what each batch needs.

    Two layouts are understood. The research sets of Stein et al. (2021,
    arXiv:2110.00023) hold ``(N, 3, 152, 152)`` g, r, z cutouts of the
    Legacy Surveys in one dataset (default name ``'images'``). minuet's
    simulator writes ``images`` ``(N, 3, 72, 72)`` in nanomaggies, ``invvar``
    of the same shape (0 = masked pixel), an optional boolean ``footprint``
    ``(N, 72, 72)`` of the central galaxy, a ``truth`` table, and the file
    attributes ``bands`` and ``pixscale``. Each batch reads only the central
    ``size`` x ``size`` window of rows ``i .. i + batch_size`` from disk.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The HDF5 file.
    batch_size : int, optional
        Rows per batch.
    dataset : str, optional
        Name of the ``(N, bands, H, W)`` image dataset.
    start, stop : int, optional
        First row and one past the last row to read (default: all rows).
    bands : str or sequence of str, optional
        Band names along axis 1 when the file's ``bands`` attribute is absent;
        default g, r, z.
    size, pad, zeropoint, pixscale, min_valid_fraction, on_invalid
        As in :func:`~minuet.cutouts.load_cutouts`. Images are taken as
        nanomaggies unless the dataset or file has a ``unit`` attribute or a
        ``zeropoint`` is given.
    read_ahead : bool, optional
        Read the pixels of the next batch in a background thread while the
        caller works on this one. Only the reading moves there: the checks
        of each batch still run in the caller's thread, so that they do not
        take a core from a network computing on all of them.

    Yields
    ------
    cutouts : `~minuet.cutouts.Cutouts`
        One batch; ``ids`` are the row numbers in the file, so an interrupted
        run can resume from ``start=cutouts.ids[-1] + 1``.

    Examples
    --------
    >>> import h5py
    >>> import numpy as np
    >>> from minuet.cutouts import iter_hdf5
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "set.h5"
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("images", data=np.ones((5, 3, 152, 152), "f4"))
    >>> [batch.ids.tolist() for batch in iter_hdf5(path, batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """
    _check_options(size=size, min_valid_fraction=min_valid_fraction, on_invalid=on_invalid)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        msg = f"batch_size must be a positive integer; got {batch_size!r}."
        raise ValueError(msg)
    # check everything up front, so that a bad call fails here and not at the first batch
    with _open_hdf5(path, dataset) as handle:
        total = handle[dataset].shape[0]
        stop = total if stop is None else stop
        if not 0 <= start <= stop <= total:
            msg = (
                f"start={start} and stop={stop} must satisfy 0 <= start <= stop <= {total}, the "
                f"number of rows in {dataset!r}."
            )
            raise ValueError(msg)
        options = _hdf5_options(handle, dataset, bands, pixscale)
    options |= {
        "size": size,
        "pad": pad,
        "zeropoint": zeropoint,
        "min_valid_fraction": min_valid_fraction,
        "on_invalid": on_invalid,
        "meta": {"path": str(path), "dataset": dataset},
    }
    firsts = range(start, stop, batch_size)
    pixels = _iter_pixels(path, dataset, firsts, stop, batch_size, options)
    if read_ahead:
        pixels = prefetch(pixels)
    return (_checked(batch, first, options) for first, batch in zip(firsts, pixels, strict=True))


def _iter_pixels(path, dataset, firsts, stop, batch_size, options):
    window = _window_options(options)
    with _open_hdf5(path, dataset) as handle:
        for first in firsts:
            yield _read_hdf5_pixels(handle, dataset, first, min(first + batch_size, stop),
                                    **window)
