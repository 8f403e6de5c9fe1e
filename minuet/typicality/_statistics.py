"""Cheap statistics of a cutout's own pixels, in units of its own noise."""

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._vocabulary import AB_ZEROPOINT

__all__ = ["STATISTIC_NAMES", "cutout_statistics"]

#: Names of the columns of `cutout_statistics`, in order.
STATISTIC_NAMES = ("log_noise_g", "log_noise_r", "log_noise_z", "snr_r", "colour_gr",
                   "colour_rz", "concentration_r")

_NMAD = 1.4826
_POGSON = 2.5 / np.log(10.0)
_INNER, _OUTER = 2.0, 6.0  # aperture radii in pixels
_SKY_RADIUS = 24.0  # pixels beyond this radius from the centre estimate the noise
_PLANES_PER_THREAD = 128  # fewer planes than this per thread are not worth a thread


def _asinh_mag(flux, softening):
    """Asinh magnitude of Lupton, Gunn & Szalay (1999, AJ 118, 1406); flux in nanomaggies."""
    return AB_ZEROPOINT - _POGSON * (np.arcsinh(flux / (2.0 * softening)) + np.log(softening))


def _pixel_noise(plane, bad, outer):
    """Robust per-pixel noise from differences of horizontally adjacent good pixels."""
    pair = ~bad[:, 1:] & ~bad[:, :-1]
    diff = np.subtract(plane[:, 1:], plane[:, :-1], dtype=np.float64)
    use = pair & outer[:, 1:] & outer[:, :-1]
    if use.sum() < 50:  # too little sky in the corners: use every good pair
        use = pair
    if not use.any():
        return np.nan
    d = diff[use]
    return _NMAD * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0)


def _sky_noise(planes, left):
    """`_pixel_noise` of unmasked flattened planes, one per row, from the pairs at ``left``."""
    # float32 pixels are subtracted in float64, where their difference is exact
    d = np.subtract(np.take(planes, left + 1, axis=1), np.take(planes, left, axis=1),
                    dtype=np.float64)
    # the medians may reorder d in place: the second one does not depend on the order
    centre = np.median(d, axis=1, overwrite_input=True, keepdims=True)
    np.abs(np.subtract(d, centre, out=d), out=d)
    return _NMAD * np.median(d, axis=1, overwrite_input=True) / np.sqrt(2.0)


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _noise(flux, bad, sky):
    """`_pixel_noise` of every band of every cutout, ``(N, 3)``.

    Planes without a masked pixel all use the same pixel pairs, so their
    medians are taken at once along one axis, in a thread per usable CPU
    for more than a few hundred planes (NumPy's median releases the GIL);
    the others, one by one. Every plane's value is the same either way.
    """
    n, bands = flux.shape[:2]
    noise = np.empty((n, bands))
    clean = ~bad.any(axis=(2, 3))
    sky_pairs = sky[:, 1:] & sky[:, :-1]
    use = sky_pairs if sky_pairs.sum() >= 50 else np.ones_like(sky_pairs)
    if clean.any():
        planes = flux[clean].reshape(int(clean.sum()), -1)
        left = np.flatnonzero(np.column_stack([use, np.zeros(len(use), dtype=bool)]))
        workers = min(_usable_cpus(), max(1, len(planes) // _PLANES_PER_THREAD))
        if workers == 1:
            noise[clean] = _sky_noise(planes, left)
        else:
            with ThreadPoolExecutor(workers) as pool:
                parts = pool.map(functools.partial(_sky_noise, left=left),
                                 np.array_split(planes, workers))
                noise[clean] = np.concatenate(list(parts))
    for i, b in zip(*np.nonzero(~clean), strict=True):
        noise[i, b] = _pixel_noise(flux[i, b], bad[i, b], sky)
    return noise


def cutout_statistics(flux, mask=None):
    """Seven statistics of each cutout measured on its own pixels.

    The statistics describe what a latent should explain and what changes
    when a survey or a galaxy population differs from the training set:

    ``log_noise_g``, ``log_noise_r``, ``log_noise_z``
        log10 of the per-pixel noise in nanomaggies, from the normalised
        median absolute deviation of differences of adjacent pixels beyond
        24 pixels from the centre (divided by sqrt 2), so that galaxies and
        the inverse-variance map (often missing for real cutouts) do not
        enter.
    ``snr_r``
        asinh of the r-band flux within 6 pixels of the centre over its
        noise (the noise per pixel times the square root of the aperture's
        pixel count).
    ``colour_gr``, ``colour_rz``
        Differences of asinh magnitudes (Lupton, Gunn & Szalay 1999, AJ 118,
        1406) within 6 pixels, softened by each band's aperture noise, so
        they stay finite for faint or negative fluxes.
    ``concentration_r``
        The r-band asinh magnitude within 2 pixels minus that within 6.

    Masked pixels (``mask`` True) are left out of every sum and noise
    estimate.

    Parameters
    ----------
    flux : array-like
        Cutouts of shape ``(N, 3, H, W)``, bands g, r, z, in nanomaggies.
    mask : array-like of bool, optional
        Bad pixels, the shape of ``flux``.

    Returns
    -------
    statistics : `~numpy.ndarray`
        Shape ``(N, 7)``, columns in the order of `STATISTIC_NAMES`.

    Examples
    --------
    Pure noise of 0.01 nanomaggies per pixel:

    >>> import numpy as np

    >>> from minuet.typicality import STATISTIC_NAMES, cutout_statistics
    >>> flux = np.random.default_rng(0).normal(0.0, 0.01, size=(2, 3, 72, 72))
    >>> stats = cutout_statistics(flux)
    >>> stats.shape
    (2, 7)
    >>> noise = stats[:, STATISTIC_NAMES.index("log_noise_r")]
    >>> bool(np.allclose(noise, -2.0, atol=0.05))
    True
    """
    flux = np.asarray(flux)
    if flux.dtype not in (np.float32, np.float64):
        flux = flux.astype(np.float64)
    if flux.ndim != 4 or flux.shape[1] != 3:
        msg = (f"flux must have shape (N, 3, H, W) with bands g, r, z; received an array of "
               f"shape {flux.shape}.")
        raise ValueError(msg)
    bad = np.zeros(flux.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if bad.shape != flux.shape:
        msg = f"mask must have the shape of flux {flux.shape}; received {bad.shape}."
        raise ValueError(msg)
    h, w = flux.shape[-2:]
    yy, xx = np.mgrid[:h, :w]
    radius = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    inner, outer_ap, sky = radius <= _INNER, radius <= _OUTER, radius > _SKY_RADIUS
    # the apertures need only the window around them, zeroed where masked, in float64
    rows, cols = np.flatnonzero(outer_ap.any(axis=1)), np.flatnonzero(outer_ap.any(axis=0))
    window = (Ellipsis, slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    good = np.where(bad[window], 0.0, flux[window].astype(np.float64))
    inner, outer_ap = inner[window[1:]], outer_ap[window[1:]]
    noise = _noise(flux, bad, sky)
    noise = np.where(noise > 0, noise, np.nan)
    f_in = good[:, :, inner].sum(axis=-1)
    f_out = good[:, :, outer_ap].sum(axis=-1)
    b_in = noise * np.sqrt(inner.sum())
    b_out = noise * np.sqrt(outer_ap.sum())
    mag = _asinh_mag(f_out, b_out)
    stats = np.column_stack([
        np.log10(noise),
        np.arcsinh(f_out[:, 1] / b_out[:, 1]),
        mag[:, 0] - mag[:, 1],
        mag[:, 1] - mag[:, 2],
        _asinh_mag(f_in[:, 1], b_in[:, 1]) - mag[:, 1],
    ])
    return stats
