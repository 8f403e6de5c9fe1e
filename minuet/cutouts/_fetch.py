"""Downloads from the Legacy Surveys viewer cutout service."""

import os
import warnings
from urllib.error import HTTPError
from urllib.parse import urlencode

import numpy as np
from astropy import config as _config
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.utils.data import download_file
from astropy.utils.exceptions import AstropyDeprecationWarning
from tqdm import tqdm

from ._container import Cutouts
from ._io import read_legacy_fits
from ._load import _load_nddata
from ._prepare import _check_options
from ._units import BANDS, CUTOUT_SIZE, PIXSCALE

__all__ = ["conf", "fetch_legacy_cutouts"]


class Conf(_config.ConfigNamespace):
    """Configuration of `minuet.cutouts`."""

    cutout_url = _config.ConfigItem(
        "https://www.legacysurvey.org/viewer/fits-cutout",
        "Base URL of the Legacy Surveys viewer FITS cutout service.",
    )
    timeout = _config.ConfigItem(60.0, "Seconds to wait for one cutout download.")


conf = Conf()


def _coordinates(table):
    """Return (ra, dec) in degrees from a SkyCoord or a table with ra/dec columns."""
    if isinstance(table, SkyCoord):
        coords = table.icrs
        return np.atleast_1d(coords.ra.deg), np.atleast_1d(coords.dec.deg)
    if not isinstance(table, Table):
        msg = (
            f"expected an astropy Table with ra and dec columns or a SkyCoord; got "
            f"{type(table).__name__}."
        )
        raise ValueError(msg)
    if len(table) == 0:
        msg = "the table has no rows; give at least one position to fetch."
        raise ValueError(msg)
    lower = {name.lower(): name for name in table.colnames}
    missing = [name for name in ("ra", "dec") if name not in lower]
    if missing:
        msg = (
            f"the table lacks column(s) {missing} (case-insensitive); its columns are "
            f"{table.colnames}. Give ICRS ra and dec in degrees."
        )
        raise ValueError(msg)
    ra, dec = (u.Quantity(table[lower[name]], u.deg).value for name in ("ra", "dec"))
    if not (np.all(np.isfinite(ra)) and np.all(np.isfinite(dec)) and np.all(np.abs(dec) <= 90)):
        msg = "ra and dec must be finite with |dec| <= 90 degrees."
        raise ValueError(msg)
    return np.asarray(ra, float), np.asarray(dec, float)


def _cutout_url(ra, dec, *, layer, pixscale, bands, size, invvar):
    query = {
        "ra": f"{ra:.7f}",
        "dec": f"{dec:.7f}",
        "layer": layer,
        "pixscale": f"{pixscale:g}",
        "bands": bands,
        "size": str(size),
    }
    if invvar:
        query["invvar"] = ""
    return f"{conf.cutout_url}?{urlencode(query)}"


def _failed_row(reason, row_id, size):
    shape = (1, len(BANDS), size, size)
    return Cutouts(
        np.zeros(shape, np.float32),
        mask=np.ones(shape, bool),
        ids=[row_id],
        valid=[False],
        reason=[reason],
    )


def fetch_legacy_cutouts(
    table,
    *,
    layer="ls-dr10",
    pixscale=PIXSCALE.value,
    size=CUTOUT_SIZE,
    bands="grz",
    invvar=False,
    cache=True,
    timeout=None,
    progress=True,
    min_valid_fraction=0.5,
    on_invalid="raise",
    show_progress=None,
):
    """Download g, r, z cutouts from the Legacy Surveys viewer.

    One request per row is sent to the viewer's FITS cutout service
    (``conf.cutout_url``, by default
    ``https://www.legacysurvey.org/viewer/fits-cutout``; Dey et al. 2019,
    AJ 157, 168) with the query parameters ``ra``, ``dec``, ``layer``,
    ``pixscale``, ``bands`` and ``size``, through
    `astropy.utils.data.download_file` so that files are cached.

    Parameters
    ----------
    table : `~astropy.table.Table` or `~astropy.coordinates.SkyCoord`
        Positions: ``ra`` and ``dec`` columns (any case; degrees, or angle
        Quantities), or sky coordinates.
    layer : str, optional
        Viewer layer, e.g. ``'ls-dr10'`` or ``'ls-dr9'``.
    pixscale : float, optional
        Arcsec per pixel; 0.262 is the native scale.
    size : int, optional
        Side of the requested cutouts in pixels.
    bands : str, optional
        Bands to request; must include g, r and z.
    invvar : bool, optional
        Also request the inverse-variance extension (``invvar`` parameter).
    cache : bool, optional
        Use astropy's download cache.
    timeout : float, optional
        Seconds per request; default ``conf.timeout``.
    progress : bool, optional
        Show a progress bar over the rows.
    min_valid_fraction : float, optional
        As in :func:`~minuet.cutouts.load_cutouts`.
    on_invalid : {'raise', 'flag'}, optional
        ``'raise'``: a failed download or unreadable file raises `OSError`
        (or `ValueError` for too few valid pixels) naming the row.
        ``'flag'``: every row is kept; a failed row is all masked with
        ``valid=False`` and the error in ``reason``.
    show_progress : bool, optional
        Deprecated name of ``progress``, the name every other function of
        minuet uses; it warns and will be removed.

    Returns
    -------
    cutouts : `~minuet.cutouts.Cutouts`
        One row per input row, ``ids`` the row index.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from minuet.cutouts import fetch_legacy_cutouts
    >>> table = Table({"ra": [150.1], "dec": [2.2]})
    >>> cutouts = fetch_legacy_cutouts(table, progress=False)  # doctest: +REMOTE_DATA
    """
    if show_progress is not None:
        msg = "fetch_legacy_cutouts(show_progress=...) is deprecated; pass progress=... instead."
        warnings.warn(msg, AstropyDeprecationWarning, stacklevel=2)
        progress = show_progress
    _check_options(size=size, min_valid_fraction=min_valid_fraction, on_invalid=on_invalid)
    ra, dec = _coordinates(table)
    timeout = conf.timeout if timeout is None else timeout
    options = {
        "size": size,
        "pad": False,
        "zeropoint": None,
        "min_valid_fraction": min_valid_fraction,
        "on_invalid": on_invalid,
    }
    pixscale_q = u.Quantity(pixscale, u.arcsec)
    parts = []
    for row in tqdm(range(len(ra)), disable=not progress, desc="cutouts", unit="cutout"):
        url = _cutout_url(
            ra[row],
            dec[row],
            layer=layer,
            pixscale=pixscale_q.value,
            bands=bands,
            size=size,
            invvar=invvar,
        )
        try:
            path = download_file(
                url, cache=cache, timeout=timeout, show_progress=False, pkgname="minuet"
            )
        except OSError as exc:
            if isinstance(exc, HTTPError):
                exc.close()  # release the connection it holds
            reason = f"download failed: {exc}"
            if on_invalid == "raise":
                msg = (
                    f"row {row} (ra={ra[row]:.6f}, dec={dec[row]:.6f}): {reason}. Retry, or pass "
                    "on_invalid='flag' to keep going and flag failed rows."
                )
                raise OSError(msg) from exc
            parts.append(_failed_row(reason, row, size))
            continue
        try:
            nddata = read_legacy_fits(path)
            if nddata.meta["bands"] is None:
                nddata.meta["bands"] = tuple(bands)
            part = _load_nddata(
                nddata,
                invvar=None,
                mask=None,
                bands=None,
                pixscale=pixscale_q if pixscale_q != PIXSCALE else None,
                ids=[row],
                index_offset=row,
                **options,
            )
        except ValueError as exc:
            if on_invalid == "raise":
                raise
            parts.append(_failed_row(str(exc), row, size))
        else:
            part.meta = {"layer": layer}
            parts.append(part)
        finally:
            if not cache and os.path.exists(path):
                os.remove(path)
    cutouts = Cutouts.concatenate(parts)
    cutouts.meta = {"layer": layer, "source": conf.cutout_url}
    return cutouts
