"""One entry point that turns any supported cutout input into `Cutouts`."""

import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.nddata import InverseVariance, NDData, StdDevUncertainty, VarianceUncertainty
from astropy.table import Column, Table

from .._validation import input_file
from ._container import Cutouts
from ._io import _hdf5_options, _open_hdf5, _read_hdf5_rows, read_legacy_fits
from ._prepare import _check_options, _pixscale, _standardise
from ._units import CUTOUT_SIZE, _flux_factor
from ._warnings import CutoutWarning

__all__ = ["load_cutouts"]

_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fits.fz", ".fz")
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")


def load_cutouts(
    data,
    *,
    invvar=None,
    mask=None,
    bands=None,
    size=CUTOUT_SIZE,
    pad=False,
    zeropoint=None,
    pixscale=None,
    min_valid_fraction=0.5,
    on_invalid="raise",
    column=None,
    ids=None,
    dataset="images",
):
    r"""Read, check and standardise g, r, z cutouts from any supported input.

    Every input ends as a `~minuet.cutouts.Cutouts` of float32 flux in
    nanomaggies, shape ``(N, 3, size, size)``, bands in g, r, z order.

    Parameters
    ----------
    data : array_like, Quantity, NDData, list, Table, Column, str or `~pathlib.Path`
        The cutouts:

        * an array or `~astropy.units.Quantity` of shape ``(bands, H, W)``
          or ``(N, bands, H, W)`` (a `numpy.ma.MaskedArray` brings its mask);
        * an `~astropy.nddata.NDData` or `~astropy.nddata.CCDData` of either
          shape, whose ``unit``, ``mask``, ``uncertainty`` (inverse variance,
          standard deviation or variance) and ``meta['bands']`` are used;
        * a list of NDData objects or of file paths, one cutout each;
        * a `~astropy.table.Table` with ``column`` naming the image column,
          or the `~astropy.table.Column` itself;
        * the path of a FITS file in the Legacy Surveys viewer layout (see
          :func:`~minuet.cutouts.read_legacy_fits`) or of an HDF5 file (see
          :func:`~minuet.cutouts.iter_hdf5`; the whole file is read, so
          stream large files with ``iter_hdf5`` instead).
    invvar : array_like, `~astropy.units.Quantity` or str, optional
        Inverse variance of the same shape as the images (in the images'
        unit\ :sup:`-2` when unitless); a column name when ``data`` is a
        table. An NDData's own uncertainty takes precedence (with a warning).
    mask : array_like of bool, optional
        True marks bad pixels: same shape as the images, or one ``(H, W)`` /
        ``(N, H, W)`` plane shared by all bands. Combined with NaN/inf pixels
        and zero inverse variance. An NDData's own mask takes precedence.
    bands : str or sequence of str, optional
        Band of each plane along the band axis, e.g. ``'zrg'`` or
        ``['g', 'r', 'i', 'z']``; planes are reordered to g, r, z and others
        dropped. Default: ``meta['bands']`` of NDData / FITS / HDF5 input,
        else g, r, z for three planes.
    size : int, optional
        Output side in pixels: larger cutouts are centre-cropped (pixel
        ``H // 2`` lands on ``size // 2``); smaller ones are refused.
    pad : bool, optional
        Pad smaller cutouts to ``size`` with masked pixels instead of
        refusing them.
    zeropoint : float, optional
        AB zero point of unitless images, ``m = zeropoint - 2.5 log10(pixel)``;
        they are rescaled by :math:`10^{-0.4(\mathrm{zeropoint} - 22.5)}`.
        Unitless images with no zeropoint are taken as nanomaggies already.
    pixscale : `~astropy.units.Quantity` or float, optional
        Pixel scale (arcsec when a float); default 0.262 arcsec. Used for
        surface-brightness units and recorded; a different scale warns.
    min_valid_fraction : float, optional
        A cutout whose worst band has a smaller fraction of valid pixels
        (after cropping or padding) is refused.
    on_invalid : {'raise', 'flag'}, optional
        ``'raise'`` stops at the first refused cutout naming its index;
        ``'flag'`` keeps every row and records ``valid=False`` and the
        ``reason`` in the result.
    column : str, optional
        Image column when ``data`` is a table.
    ids : array_like or str, optional
        One identifier per cutout (a column name for tables); default the
        input index.
    dataset : str, optional
        Image dataset name for HDF5 input.

    Returns
    -------
    cutouts : `~minuet.cutouts.Cutouts`

    Notes
    -----
    Bad pixels (NaN, inf, masked on input, zero or non-finite inverse
    variance, padding) are set to 0 nanomaggies, the sky level of the
    sky-subtracted Legacy Surveys coadds; their inverse variance is set to
    0 and ``Cutouts.mask`` records them. A cutout whose inverse variance is
    non-finite everywhere is taken to have none (``has_invvar`` False).
    A cutout whose flux is implausible for a Legacy Surveys stamp is refused
    with its reason: every valid pixel exactly 0, more than 80% of the valid
    pixels negative, a pixel brighter than 5 mag/arcsec\ :sup:`2`, or values
    beyond the float32 range (see :ref:`errors`). Logarithmic units
    (magnitudes, dex) are refused: convert them to flux first.
    Negative inverse variance is an error. Integer images are refused:
    convert them to float and give the ``zeropoint`` or unit that
    calibrates them.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy import units as u
    >>> from minuet.cutouts import load_cutouts
    >>> flux = np.full((3, 100, 100), 3.631) * u.nJy
    >>> cutouts = load_cutouts(flux)
    >>> cutouts.flux.shape, round(float(cutouts.flux.max()), 6)
    ((1, 3, 72, 72), 0.001)
    >>> zrg = np.stack([np.full((72, 72), v) for v in (3.0, 2.0, 1.0)])
    >>> load_cutouts(zrg, bands="zrg").flux[0, :, 0, 0]
    array([1., 2., 3.], dtype=float32)
    """
    _check_options(size=size, min_valid_fraction=min_valid_fraction, on_invalid=on_invalid)
    options = {
        "size": size,
        "pad": pad,
        "zeropoint": zeropoint,
        "min_valid_fraction": min_valid_fraction,
        "on_invalid": on_invalid,
    }
    if isinstance(data, Cutouts):
        return data
    if isinstance(data, (str, Path)):
        return _load_path(data, bands=bands, pixscale=pixscale, dataset=dataset, ids=ids, **options)
    if isinstance(data, Table):
        return _load_table(
            data,
            column=column,
            invvar=invvar,
            mask=mask,
            bands=bands,
            pixscale=pixscale,
            ids=ids,
            **options,
        )
    if (
        isinstance(data, (list, tuple))
        and data
        and all(isinstance(item, (NDData, str, Path)) for item in data)
    ):
        return _load_list(data, bands=bands, pixscale=pixscale, ids=ids, **options)
    if isinstance(data, NDData):
        return _load_nddata(
            data, invvar=invvar, mask=mask, bands=bands, pixscale=pixscale, ids=ids, **options
        )
    unit = None
    if isinstance(data, (u.Quantity, Column)):
        unit, data = _column_values(data)
    if isinstance(data, np.ma.MaskedArray):
        data_mask = np.ma.getmaskarray(data)
        mask = data_mask if mask is None else (data_mask | np.asarray(mask, dtype=bool))
        data = data.data
    return _load_arrays(
        np.asarray(data),
        unit=unit,
        invvar=invvar,
        mask=mask,
        bands=bands,
        pixscale=pixscale,
        ids=ids,
        **options,
    )


def _invvar_from(uncertainty, data_unit):
    """Return (inverse variance, the unit of its standard deviation) from an uncertainty."""
    array = np.asarray(uncertainty.array)
    if isinstance(uncertainty, InverseVariance):
        unit = uncertainty.unit
        return array, None if unit is None else unit**-0.5
    if isinstance(uncertainty, (StdDevUncertainty, VarianceUncertainty)):
        power = 2 if isinstance(uncertainty, StdDevUncertainty) else 1
        unit = uncertainty.unit
        std_unit = None if unit is None else (unit if power == 2 else unit**0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            invvar = np.where(array > 0, 1.0 / np.asarray(array, float) ** power, 0.0)
        if np.any(array < 0):
            invvar = np.where(array < 0, -1.0, invvar)  # refused downstream as negative
        return invvar, std_unit
    msg = (
        f"unsupported uncertainty type {type(uncertainty).__name__}; give an InverseVariance, "
        "StdDevUncertainty or VarianceUncertainty."
    )
    raise ValueError(msg)


def _load_arrays(
    data,
    *,
    unit,
    invvar,
    mask,
    bands,
    pixscale,
    ids,
    zeropoint,
    meta=None,
    index_offset=0,
    **options,
):
    """Arrays plus an optional unit: convert to nanomaggies and standardise."""
    pixscale = _pixscale(pixscale)
    data = np.asarray(data)
    if data.dtype.kind == "f":
        factor = _flux_factor(unit, zeropoint=zeropoint, pixscale=pixscale)
        if factor != 1:
            data = data * factor
    if invvar is not None:
        std_unit = unit
        if isinstance(invvar, u.Quantity):
            std_unit = invvar.unit**-0.5
            invvar = invvar.value
        invvar = np.asarray(invvar)
        if invvar.dtype.kind == "f":
            invvar = invvar / _uncertainty_factor(std_unit, unit, zeropoint, pixscale) ** 2
    return _standardise(
        data,
        invvar=invvar,
        mask=mask,
        bands=bands,
        ids=ids,
        pixscale=pixscale,
        meta=meta,
        index_offset=index_offset,
        **options,
    )


def _uncertainty_factor(std_unit, data_unit, zeropoint, pixscale):
    """Factor to nanomaggies of an uncertainty, checked against the data's unit."""
    data_is_flux = data_unit not in (None, u.dimensionless_unscaled)
    unc_is_flux = std_unit not in (None, u.dimensionless_unscaled)
    if data_is_flux != unc_is_flux and std_unit is not None:
        msg = (
            f"inconsistent units: the data are in {data_unit!s} but the uncertainty is in "
            f"{std_unit!s}; give both in flux units (or both unitless)."
        )
        raise ValueError(msg)
    if std_unit is None:
        std_unit = data_unit
    try:
        return _flux_factor(std_unit, zeropoint=zeropoint, pixscale=pixscale, what="uncertainty")
    except ValueError as exc:
        msg = (
            f"inconsistent units: the data are in {data_unit!s} but the uncertainty implies a "
            f"standard deviation in {std_unit!s}; give the uncertainty in the data's flux unit. "
            f"({exc})"
        )
        raise ValueError(msg) from None


def _nddata_inputs(nddata, *, invvar, mask, bands):
    """The arrays of an NDData, with warnings where its attributes override keywords."""
    if nddata.uncertainty is not None:
        if invvar is not None:
            warnings.warn(
                "the NDData's uncertainty overrides invvar=.", CutoutWarning, stacklevel=4
            )
        invvar, std_unit = _invvar_from(nddata.uncertainty, nddata.unit)
        if std_unit is not None:
            invvar = invvar * std_unit**-2
    if nddata.mask is not None:
        if mask is not None:
            warnings.warn("the NDData's mask overrides mask=.", CutoutWarning, stacklevel=4)
        mask = nddata.mask
    meta_bands = nddata.meta.get("bands") if nddata.meta else None
    if meta_bands is not None:
        if bands is not None and tuple(bands) != tuple(meta_bands):
            warnings.warn(
                f"the NDData's meta['bands'] {tuple(meta_bands)} overrides bands={bands!r}.",
                CutoutWarning,
                stacklevel=4,
            )
        bands = meta_bands
    return invvar, mask, bands


def _load_nddata(nddata, *, invvar, mask, bands, pixscale, ids, index_offset=0, **options):
    invvar, mask, bands = _nddata_inputs(nddata, invvar=invvar, mask=mask, bands=bands)
    if pixscale is None and nddata.meta:
        pixscale = nddata.meta.get("pixscale")
    meta = {k: nddata.meta[k] for k in ("path",) if nddata.meta and k in nddata.meta}
    return _load_arrays(
        np.asarray(nddata.data),
        unit=nddata.unit,
        invvar=invvar,
        mask=mask,
        bands=bands,
        pixscale=pixscale,
        ids=ids,
        meta=meta,
        index_offset=index_offset,
        **options,
    )


def _load_list(items, *, bands, pixscale, ids, **options):
    if ids is not None and len(ids) != len(items):
        msg = f"got {len(ids)} ids for {len(items)} cutouts; give one id per cutout."
        raise ValueError(msg)
    parts = []
    for index, item in enumerate(items):
        nddata = read_legacy_fits(item) if isinstance(item, (str, Path)) else item
        if np.ndim(nddata.data) != 3:
            msg = (
                f"list item {index} has shape {np.shape(nddata.data)}; each item of a list must "
                "be one cutout of shape (bands, H, W)."
            )
            raise ValueError(msg)
        parts.append(
            _load_nddata(
                nddata,
                invvar=None,
                mask=None,
                bands=bands,
                pixscale=pixscale,
                ids=None if ids is None else [ids[index]],
                index_offset=index,
                **options,
            )
        )
    return Cutouts.concatenate(parts)


def _load_table(table, *, column, invvar, mask, bands, pixscale, ids, **options):
    if len(table) == 0:
        msg = "the table has no rows; give a table with at least one cutout."
        raise ValueError(msg)
    if column is None:
        msg = (
            f"give column= naming the image column of the table; its columns are {table.colnames}."
        )
        raise ValueError(msg)

    def get(name):
        if name not in table.colnames:
            msg = f"the table has no column {name!r}; its columns are {table.colnames}."
            raise ValueError(msg)
        return _column_values(table[name])

    images = get(column)
    if isinstance(invvar, str):
        invvar = get(invvar)
    if isinstance(mask, str):
        mask = np.ma.getdata(get(mask)[1]).astype(bool)
    if isinstance(ids, str):
        ids = np.ma.getdata(get(ids)[1])
    unit, values = images
    if isinstance(invvar, tuple):
        invvar_unit, invvar = invvar[0], np.ma.filled(invvar[1], 0.0)  # masked: no data
        invvar = invvar if invvar_unit is None else u.Quantity(invvar, invvar_unit)
    if isinstance(values, np.ma.MaskedArray):
        data_mask = np.ma.getmaskarray(values)
        mask = data_mask if mask is None else data_mask | np.asarray(mask, dtype=bool)
        values = values.data
    return _load_arrays(
        values,
        unit=unit,
        invvar=invvar,
        mask=mask,
        bands=bands,
        pixscale=pixscale,
        ids=ids,
        **options,
    )


def _column_values(column):
    """Return (unit or None, values) of a table column, keeping the mask of a masked one.

    ``np.asarray`` on a `~astropy.table.MaskedColumn` or a masked Quantity
    drops the mask, and the masked cells' sentinel values would be read as
    flux; they come back as a `numpy.ma.MaskedArray` instead.
    """
    unit = getattr(column, "unit", None)
    mask = getattr(column, "mask", None)
    if isinstance(column, u.Quantity):
        values = np.asarray(getattr(column, "unmasked", column).value)
    else:
        values = np.ma.getdata(getattr(column, "data", column))
    if mask is not None and np.any(mask):
        values = np.ma.MaskedArray(values, mask=np.broadcast_to(np.asarray(mask), values.shape))
    return (None if unit is None else u.Unit(unit)), values


def _load_path(path, *, bands, pixscale, dataset, ids, **options):
    path = input_file(path)
    name = path.name.lower()
    if name.endswith(_FITS_SUFFIXES):
        return _load_list([path], bands=bands, pixscale=pixscale, ids=ids, **options)
    if name.endswith(_HDF5_SUFFIXES) or _looks_like_hdf5(path):
        with _open_hdf5(path, dataset) as handle:
            hdf5_options = _hdf5_options(handle, dataset, bands, pixscale)
            total = handle[dataset].shape[0]
            if total == 0:
                msg = f"dataset {dataset!r} in {path} holds 0 cutouts."
                raise ValueError(msg)
            cutouts = _read_hdf5_rows(
                handle,
                dataset,
                0,
                total,
                meta={"path": str(path), "dataset": dataset},
                **hdf5_options,
                **options,
            )
        if ids is not None:
            cutouts.ids = cutouts._row_array(ids, (len(cutouts),), None, "ids")
        return cutouts
    msg = (
        f"cannot tell the format of {path}: expected a FITS file ({', '.join(_FITS_SUFFIXES)}) "
        f"or an HDF5 file ({', '.join(_HDF5_SUFFIXES)})."
    )
    raise ValueError(msg)


def _looks_like_hdf5(path):
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89HDF\r\n\x1a\n"
