"""
Shared input checks for the heads that work on latents.

Latents arrive as an ``(N, D)`` array or as a table with columns
``latent_0`` ... ``latent_{D-1}``; truth arrives as a table.
"""

import numpy as np
from astropy.table import Table

__all__ = []

LATENT_PREFIX = "latent_"


def latent_array(latents, *, n_features=None, name="latents", allow_nan=False):
    """
    Return latents as a float64 ``(N, D)`` array, finite unless ``allow_nan``.

    Parameters
    ----------
    latents : array-like or `~astropy.table.Table`
        An ``(N, D)`` array, or a table with columns ``latent_0`` ...
        ``latent_{D-1}``.
    n_features : int, optional
        The number of columns expected; checked when given.
    name : str, optional
        The argument's name, used in error messages.
    allow_nan : bool, optional
        Let rows with NaN or infinite values through (refused cutouts have
        NaN latents); by default they raise a `ValueError`.

    Returns
    -------
    array : `~numpy.ndarray`
        The latents, shape ``(N, D)``.
    """
    if isinstance(latents, Table):
        columns = sorted(
            (c for c in latents.colnames if c.startswith(LATENT_PREFIX)
             and c[len(LATENT_PREFIX):].isdigit()),
            key=lambda c: int(c[len(LATENT_PREFIX):]),
        )
        if not columns:
            msg = (f"{name} is a table without latent columns: expected columns named "
                   f"'latent_0' ... 'latent_{{D-1}}', received {latents.colnames}.")
            raise ValueError(msg)
        expected = [f"{LATENT_PREFIX}{i}" for i in range(len(columns))]
        if columns != expected:
            msg = (f"{name} has latent columns {columns}; expected the consecutive "
                   f"columns {expected}.")
            raise ValueError(msg)
        array = np.column_stack([_plain(latents[c]) for c in columns])
    else:
        array = np.asarray(_plain(latents), dtype=float)
        if array.ndim == 1:
            array = array[np.newaxis, :] if n_features and array.size == n_features else array
    array = np.asarray(array, dtype=float)
    if array.ndim != 2:
        msg = (f"{name} must be a 2-D (N, D) array; received an array of shape "
               f"{array.shape}.")
        raise ValueError(msg)
    if n_features is not None and array.shape[1] != n_features:
        msg = (f"{name} must have shape (N, {n_features}), one column per latent dimension; "
               f"received {array.shape}. Pass latents from the same encoder.")
        raise ValueError(msg)
    if array.shape[0] == 0:
        msg = f"{name} is empty; pass at least one row."
        raise ValueError(msg)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any() and not allow_nan:
        msg = (f"{name} contains {bad.sum()} row(s) with NaN or infinite values (first at "
               f"row {np.flatnonzero(bad)[0]}); remove or impute them first.")
        raise ValueError(msg)
    return array


def refuse_nonfinite_latents(latents, cutouts, *, on_invalid="raise"):
    """Mark rows whose latent came out NaN or infinite as refused, in place.

    A cutout that passed every input check can still drive the network out of
    range; its numbers must not be reported as valid. With
    ``on_invalid='raise'`` a `ValueError` names the first such row; otherwise
    ``cutouts.valid`` and ``cutouts.reason`` record it.
    """
    broken = cutouts.valid & ~np.isfinite(latents).all(axis=1)
    if not broken.any():
        return
    why = "the encoder returned non-finite latents for this cutout (flux far out of range)"
    if on_invalid == "raise":
        first = int(np.flatnonzero(broken)[0])
        msg = (
            f"cutout {cutouts.ids[first]}: {why}; {int(broken.sum())} cutout(s) in all. Check "
            "the images' unit and zero point, or pass on_invalid='flag' to keep them flagged."
        )
        raise ValueError(msg)
    latents[broken] = np.nan
    cutouts.valid = cutouts.valid & ~broken
    cutouts.reason = np.where(broken, why, cutouts.reason).astype(object)


def good_rows(good, *, what):
    """Raise when every row of latents is NaN (all cutouts refused), saying so."""
    if len(good) and not np.any(good):
        msg = (
            f"all {len(good)} rows of the latents are NaN: every cutout was refused when "
            f"encoding (see the 'flag' column), so there is nothing to {what}."
        )
        raise ValueError(msg)


def table_columns(table, names, *, kind="property", dtype=float):
    """Return the named table columns stacked as an ``(N, len(names))`` array."""
    if not isinstance(table, Table):
        msg = (f"truth must be an astropy Table with the {kind} columns {list(names)}; "
               f"received {type(table).__name__}.")
        raise TypeError(msg)
    missing = [n for n in names if n not in table.colnames]
    if missing:
        msg = (f"The truth table has no {kind} column(s) {missing}; available columns are "
               f"{table.colnames}. Pass the names of existing columns.")
        raise ValueError(msg)
    if not names:
        return np.zeros((len(table), 0), dtype=dtype)
    return np.column_stack([np.asarray(_plain(table[n]), dtype=dtype) for n in names])


def column_unit(column):
    """Return the unit of a table column as a string ('' when it has none)."""
    unit = getattr(column, "unit", None)
    return "" if unit is None else unit.to_string()


def _plain(values):
    """Strip units (including logarithmic ones) and masks, returning numbers."""
    if hasattr(values, "filled"):
        values = values.filled(np.nan) if values.dtype.kind == "f" else values.filled()
    return getattr(values, "value", values)

