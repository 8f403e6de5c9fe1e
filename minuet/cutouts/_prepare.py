"""Bands, size and bad-pixel handling shared by every input path."""

import warnings

import numpy as np
from astropy import units as u

from ._container import Cutouts
from ._units import AB_ZEROPOINT, BANDS, CUTOUT_SIZE, LEGACY_BANDS, PIXSCALE
from ._warnings import CutoutWarning

__all__ = []

ON_INVALID = ("raise", "flag")

#: A cutout is refused as implausible when more than this fraction of its valid pixels
#: (all bands together) are negative. Sky-subtracted noise alone gives about one half and
#: sources lower it; a sky subtracted twice or an image with its sign flipped exceeds it.
MAX_NEGATIVE_FRACTION = 0.8

#: A cutout is refused when any valid pixel is brighter than this surface brightness, in AB
#: mag per square arcsecond (6.9e5 nanomaggies in a 0.262 arcsec pixel). It is about seven
#: magnitudes brighter than the centres of bright galaxies at ground-based resolution, so only
#: images in the wrong unit (counts taken as nanomaggies, magnitudes as flux) and sentinel
#: values such as 1e30 reach it.
MIN_SURFACE_BRIGHTNESS = 5.0

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_options(*, size, min_valid_fraction, on_invalid):
    if not isinstance(size, (int, np.integer)) or size < 1:
        msg = f"size must be a positive integer number of pixels; got {size!r}."
        raise ValueError(msg)
    if not 0.0 <= float(min_valid_fraction) <= 1.0:
        msg = f"min_valid_fraction must lie in [0, 1]; got {min_valid_fraction!r}."
        raise ValueError(msg)
    if on_invalid not in ON_INVALID:
        msg = f"on_invalid must be one of {ON_INVALID}; got {on_invalid!r}."
        raise ValueError(msg)


def _pixscale(pixscale):
    """Return the pixel scale as an angle Quantity; warn if it is not the native one."""
    if pixscale is None:
        return PIXSCALE
    scale = u.Quantity(pixscale, u.arcsec)
    if scale.size != 1 or not np.isfinite(scale.value) or scale.value <= 0:
        msg = f"pixscale must be one positive angle per pixel; got {pixscale!r}."
        raise ValueError(msg)
    if abs(scale / PIXSCALE - 1) > 0.01:
        warnings.warn(
            f"pixel scale {scale:g} differs from the native {PIXSCALE:g} that minuet's "
            "networks were trained at; resample the images first for meaningful latents.",
            CutoutWarning,
            stacklevel=4,
        )
    return scale


def _parse_bands(bands, nplanes):
    """Return the indices of g, r, z along the band axis."""
    if bands is None:
        if nplanes == len(BANDS):
            return [0, 1, 2]
        msg = (
            f"the images have {nplanes} band plane(s) and no band names; expected 3 planes "
            "in g, r, z order, or pass bands= naming each plane (for example bands='griz')."
        )
        raise ValueError(msg)
    names = list(bands) if isinstance(bands, str) else [str(b) for b in bands]
    names = [name.strip().lower() for name in names]
    if len(names) != nplanes:
        msg = (
            f"got {len(names)} band name(s) {tuple(names)} for {nplanes} image plane(s); "
            "give exactly one name per plane along the band axis."
        )
        raise ValueError(msg)
    unknown = [name for name in names if name not in LEGACY_BANDS]
    if unknown:
        msg = (
            f"unknown band name(s) {unknown}; expected Legacy Surveys bands among "
            f"{', '.join(LEGACY_BANDS)}."
        )
        raise ValueError(msg)
    if len(set(names)) != len(names):
        msg = f"band names must be unique; got {tuple(names)}."
        raise ValueError(msg)
    missing = [band for band in BANDS if band not in names]
    if missing:
        msg = (
            f"missing band(s) {missing}: minuet needs g, r and z and the images carry "
            f"{tuple(names)}."
        )
        raise ValueError(msg)
    return [names.index(band) for band in BANDS]


def _as_rows(array, name):
    """Give a cutout array the shape (N, bands, H, W)."""
    if array.ndim == 3:
        return array[np.newaxis]
    if array.ndim == 4:
        return array
    hint = ""
    if array.ndim == 2:
        hint = " A single 2-D image has no band axis; stack g, r and z along axis 0."
    msg = (
        f"{name} must have shape (bands, H, W) or (N, bands, H, W); got {array.ndim} "
        f"dimension(s), shape {array.shape}.{hint}"
    )
    raise ValueError(msg)


def _check_dtype(array, name):
    kind = array.dtype.kind
    if kind == "f":
        return
    if kind in "iub":
        msg = (
            f"{name} have integer dtype {array.dtype}; minuet takes floating-point fluxes "
            "(integers usually mean counts or a quantised image). Convert with "
            "array.astype(float) and give the zeropoint or unit that calibrates them."
        )
    else:
        msg = f"{name} must be a real floating-point array; got dtype {array.dtype}."
    raise ValueError(msg)


def _window(length, size, pad):
    """Return (source slice, destination slice) that centre-crops or centre-pads an axis."""
    if length >= size:
        start = length // 2 - size // 2
        return slice(start, start + size), slice(0, size)
    if not pad:
        msg = (
            f"cutouts of {length} pixels are smaller than the required {size}; pass "
            "pad=True to pad them with masked pixels, or fetch larger cutouts."
        )
        raise ValueError(msg)
    offset = size // 2 - length // 2
    return slice(0, length), slice(offset, offset + length)


def _crop_or_pad(array, size, pad, fill):
    """Centre-crop or centre-pad the last two axes to ``size``."""
    if array.shape[-2:] == (size, size):
        return array
    ysrc, ydst = _window(array.shape[-2], size, pad)
    xsrc, xdst = _window(array.shape[-1], size, pad)
    out = np.full((*array.shape[:-2], size, size), fill, dtype=array.dtype)
    out[..., ydst, xdst] = array[..., ysrc, xsrc]
    return out


def _standardise(
    flux,
    *,
    invvar=None,
    mask=None,
    footprint=None,
    bands=None,
    ids=None,
    size=CUTOUT_SIZE,
    pad=False,
    pixscale=PIXSCALE,
    min_valid_fraction=0.5,
    on_invalid="raise",
    index_offset=0,
    meta=None,
    owned=False,
):
    """Turn float arrays already in nanomaggies into a validated `Cutouts`.

    ``flux`` has shape (bands, H, W) or (N, bands, H, W); ``invvar`` the same
    shape (or None); ``mask`` the same shape, or (H, W) / (N, H, W) shared by
    all bands. ``index_offset`` shifts the row numbers quoted in errors.
    ``owned``: ``flux`` is a new array that nothing else refers to (pixels
    just read from a file), which is then kept, and its bad pixels zeroed in
    place, when it is already C-ordered with the bands in order; a caller's
    array is always copied first.
    """
    flux = _as_rows(np.asarray(flux), "images")
    _check_dtype(flux, "images")
    n, nplanes = flux.shape[:2]
    if n == 0:
        msg = "no cutouts to load: the input holds 0 images; give at least one cutout."
        raise ValueError(msg)
    order = _parse_bands(bands, nplanes)

    if invvar is not None:
        invvar = np.asarray(invvar)
        if invvar.ndim == 3:
            invvar = invvar[np.newaxis]
        if invvar.shape != flux.shape:
            msg = (
                f"the inverse variance has shape {invvar.shape} but the images have shape "
                f"{flux.shape}; give one inverse-variance value per image pixel."
            )
            raise ValueError(msg)
        _check_dtype(invvar, "inverse variances")
        negative = invvar < 0  # NaN compares False and is handled as a bad pixel below
        if negative.any():
            row = int(np.argwhere(negative.any(axis=(1, 2, 3)))[0, 0]) + index_offset
            msg = (
                f"cutout {row} has negative inverse variance in {int(negative.sum())} pixel(s); "
                "inverse variances must be >= 0 (0 marks a pixel without data)."
            )
            raise ValueError(msg)

    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biu":
            msg = f"mask must be boolean (True = bad pixel); got dtype {mask.dtype}."
            raise ValueError(msg)
        mask = mask.astype(bool)
        plane = flux.shape[-2:]
        if mask.shape == plane:
            mask = mask[np.newaxis, np.newaxis]
        elif mask.shape == (n, *plane):
            mask = mask[:, np.newaxis]
        elif mask.shape == flux.shape[1:]:
            mask = mask[np.newaxis]
        if mask.shape not in ((1, 1, *plane), (n, 1, *plane), (1, *flux.shape[1:]), flux.shape):
            msg = (
                f"the mask has shape {mask.shape} but the images have shape {flux.shape}; give "
                "a mask of the images' shape, or (N, H, W) / (H, W) planes shared by all bands."
            )
            raise ValueError(msg)
        mask = np.broadcast_to(mask, flux.shape)

    # pick g, r, z in order, then crop or pad to size; np.take copies into C order, where
    # flux[:, order] would keep the bands outermost in memory and every later pass and
    # reshape would pay for the strides
    in_order = order == list(range(nplanes))
    if not (owned and in_order and flux.flags.c_contiguous and flux.flags.writeable):
        flux = np.array(flux, order="C") if in_order else np.take(flux, order, axis=1)
    overflow = _overflow(flux)
    bad = np.isfinite(flux)
    np.logical_not(bad, out=bad)
    if overflow is not None:
        bad |= overflow
    if mask is not None:
        bad |= np.take(mask, order, axis=1)
    has_invvar = None
    if invvar is not None:
        invvar = np.take(invvar, order, axis=1)
        # a row whose inverse variance is non-finite everywhere has none: unknown, not bad
        has_invvar = np.isfinite(invvar).any(axis=(1, 2, 3))
        bad |= (~np.isfinite(invvar) | (invvar == 0)) & has_invvar[:, None, None, None]
    # the input was copied above unless it is ours, so it can be zeroed in place,
    # before the cast so that overflowing pixels never reach float32
    if bad.any():  # most batches have none, and the masked copy is a pass over every pixel
        np.copyto(flux, 0.0, where=bad)
    flux = flux.astype(np.float32, copy=False)
    flux = _crop_or_pad(flux, size, pad, 0.0)
    bad = _crop_or_pad(bad, size, pad, True)
    if invvar is not None:
        invvar = np.where(np.isfinite(invvar), invvar, 0.0).astype(np.float32)
        invvar = np.where(bad, 0.0, _crop_or_pad(invvar, size, pad, 0.0))
    if footprint is not None:
        footprint = np.asarray(footprint, dtype=bool).reshape(-1, *flux.shape[-2:])
        footprint = _crop_or_pad(footprint, size, pad, False)

    # per row, the worst band decides
    # most batches have no bad pixel at all, and counting along an axis is slow
    n_bad = (np.count_nonzero(bad.reshape(*bad.shape[:2], -1), axis=2) if bad.any()
             else np.zeros(bad.shape[:2], dtype=np.intp))
    fraction = 1.0 - n_bad.max(axis=1) / (bad.shape[-2] * bad.shape[-1])
    valid = fraction >= min_valid_fraction
    reason = np.full(n, "", dtype=object)
    for row in np.flatnonzero(~valid):
        worst = BANDS[int(np.argmin((~bad[row]).mean(axis=(1, 2))))]
        reason[row] = (
            f"only {fraction[row]:.0%} of the pixels are valid in band {worst} "
            f"(min_valid_fraction={min_valid_fraction})"
        )
    implausible = _implausible(flux, n_bad.sum(axis=1), pixscale)
    overflowing = [] if overflow is None else np.flatnonzero(overflow.any(axis=(1, 2, 3)))
    for row in overflowing:
        implausible[row] = (
            f"{int(overflow[row].sum())} pixel(s) exceed the float32 range (|flux| > "
            f"{_FLOAT32_MAX:.3g}): overflow"
        )
        valid[row] = True  # so that the overflow, not the pixels it masked, is the reason
    for row, why in implausible.items():
        if valid[row]:
            valid[row] = False
            reason[row] = why
    if on_invalid == "raise" and not valid.all():
        rows = np.flatnonzero(~valid)
        first = int(rows[0])
        if first in implausible:
            msg = (
                f"cutout {first + index_offset} has implausible flux for a Legacy Surveys "
                f"cutout: {reason[first]}; {len(rows)} cutout(s) refused in all. Check the "
                "images' unit and zero point, or pass on_invalid='flag' to keep them flagged."
            )
        else:
            msg = (
                f"cutout {first + index_offset} has too few valid pixels: {reason[first]}; "
                f"{len(rows)} cutout(s) refused in all. NaN, inf, masked and "
                "zero-inverse-variance pixels count as invalid. Pass on_invalid='flag' to keep "
                "them flagged in Cutouts.valid, or lower min_valid_fraction."
            )
        raise ValueError(msg)

    if ids is None:
        ids = np.arange(index_offset, index_offset + n)
    return Cutouts(
        flux,
        invvar=invvar,
        has_invvar=has_invvar,
        mask=bad,
        ids=ids,
        valid=valid,
        reason=reason,
        footprint=footprint,
        pixscale=pixscale,
        meta=meta,
    )


def _overflow(flux):
    """Finite pixels that a float32 cannot hold (they would become inf), or None for none.

    None when the type cannot hold such values (float32 and narrower).
    """
    if flux.dtype.itemsize <= 4:
        return None
    with np.errstate(invalid="ignore"):
        return np.isfinite(flux) & (np.abs(flux) > _FLOAT32_MAX)


def _implausible(flux, n_bad, pixscale):
    """Rows whose valid pixels cannot be a sky-subtracted Legacy Surveys cutout, with why.

    ``n_bad`` is the number of bad pixels of each row, all bands together.

    See `MAX_NEGATIVE_FRACTION` and `MIN_SURFACE_BRIGHTNESS` for the thresholds;
    a cutout whose valid pixels are all exactly zero holds no data.
    """
    area = float(u.Quantity(pixscale, u.arcsec).value) ** 2
    limit = area * 10.0 ** (-0.4 * (MIN_SURFACE_BRIGHTNESS - AB_ZEROPOINT))  # nanomaggy per pixel
    # bad pixels are already 0, so they count neither as negative, nor non-zero, nor bright
    rows = flux.reshape(len(flux), -1)
    n_good = rows.shape[1] - n_bad
    # counting each row's flags on its own (a vectorised count of contiguous bytes) is
    # faster than summing them, or counting them, along an axis
    negative = np.fromiter(map(np.count_nonzero, rows < 0), dtype=np.intp, count=len(rows))
    peak = rows.max(axis=1)
    nonzero = (peak > 0) | (negative > 0)  # a row is all zero when nothing is above or below
    suspect = (n_good > 0) & (~nonzero | (peak > limit)
                              | (negative > MAX_NEGATIVE_FRACTION * n_good))
    found = {}
    for row in np.flatnonzero(suspect):  # the reasons, in order of precedence
        if not nonzero[row]:
            found[row] = "every valid pixel is exactly 0: the cutout holds no data"
        elif peak[row] > limit:
            mu = AB_ZEROPOINT - 2.5 * np.log10(peak[row] / area)
            found[row] = (
                f"a pixel of {peak[row]:.3g} nanomaggies ({mu:.1f} mag/arcsec2) is brighter "
                f"than any galaxy (limit {MIN_SURFACE_BRIGHTNESS} mag/arcsec2): wrong unit or "
                "a sentinel value"
            )
        elif negative[row] > MAX_NEGATIVE_FRACTION * n_good[row]:
            found[row] = (
                f"{negative[row] / n_good[row]:.0%} of the valid pixels are negative (more than "
                f"{MAX_NEGATIVE_FRACTION:.0%}): sky subtracted twice or the sign flipped"
            )
    return found
