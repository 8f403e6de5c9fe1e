"""Point-estimate metrics for redshifts and logarithmic quantities."""

import astropy.units as u
import numpy as np

__all__ = ["log_quantity_metrics", "redshift_metrics"]

#: Scale factor turning a median absolute deviation into a Gaussian sigma.
NMAD_FACTOR = 1.4826


def _paired(estimate, truth):
    estimate = np.asarray(getattr(estimate, "value", estimate), dtype=float).ravel()
    truth = np.asarray(getattr(truth, "value", truth), dtype=float).ravel()
    if estimate.shape != truth.shape:
        msg = (f"estimate and truth must have the same length; received {estimate.size} "
               f"and {truth.size}.")
        raise ValueError(msg)
    good = np.isfinite(estimate) & np.isfinite(truth)
    if not good.any():
        msg = "estimate and truth have no finite pair; nothing to measure."
        raise ValueError(msg)
    return estimate[good], truth[good]


def redshift_metrics(estimate, truth, *, outlier_threshold=0.15):
    """
    Bias, sigma_NMAD and outlier fraction of redshift estimates.

    With ``dz = (estimate - truth) / (1 + truth)``: the bias is
    ``median(dz)``, ``sigma_nmad = 1.4826 median(|dz - median(dz)|)``
    (Brammer, van Dokkum & Coppi 2008, ApJ 686, 1503) and the outlier
    fraction is the fraction with ``|dz| > outlier_threshold`` (0.15, after
    Hildebrandt et al. 2010, A&A 523, A31). Non-finite pairs are ignored.

    Parameters
    ----------
    estimate, truth : array-like
        Point estimates (for example posterior medians) and true redshifts.
    outlier_threshold : float, optional
        Catastrophic-outlier threshold on ``|dz|``.

    Returns
    -------
    metrics : dict
        ``bias``, ``sigma_nmad``, ``outlier_fraction`` and ``n``.

    Examples
    --------
    >>> from minuet.evaluation import redshift_metrics
    >>> m = redshift_metrics([0.11, 0.2, 0.5], [0.1, 0.2, 0.9])
    >>> m["outlier_fraction"]
    0.3333333333333333
    """
    estimate, truth = _paired(estimate, truth)
    dz = (estimate - truth) / (1 + truth)
    bias = float(np.median(dz))
    return {
        "bias": bias,
        "sigma_nmad": float(NMAD_FACTOR * np.median(np.abs(dz - bias))),
        "outlier_fraction": float(np.mean(np.abs(dz) > outlier_threshold)),
        "n": int(dz.size),
    }


def log_quantity_metrics(estimate, truth):
    """
    Bias and scatter, in dex, of estimates of a logarithmic quantity.

    Used for ``log_mstar`` and ``log_sfr``: with ``d = estimate - truth``,
    the bias is ``median(d)``, the scatter is the standard deviation of
    ``d`` and ``nmad`` its robust counterpart,
    ``1.4826 median(|d - median(d)|)``. Inputs may be plain numbers or
    logarithmic quantities (``dex``); non-finite pairs are ignored.

    Parameters
    ----------
    estimate, truth : array-like or `~astropy.units.Quantity`
        Estimates and true values, in dex.

    Returns
    -------
    metrics : dict
        ``bias``, ``scatter`` and ``nmad`` as `~astropy.units.Quantity` in
        ``dex``, and ``n``.

    Examples
    --------
    >>> from minuet.evaluation import log_quantity_metrics
    >>> metrics = log_quantity_metrics([10.2, 10.9, 11.5], [10.0, 11.0, 11.4])
    >>> f"{metrics['bias']:.2f}"
    '0.10 dex'
    """
    estimate, truth = _paired(estimate, truth)
    d = estimate - truth
    bias = float(np.median(d))
    return {
        "bias": bias * u.dex,
        "scatter": float(np.std(d)) * u.dex,
        "nmad": float(NMAD_FACTOR * np.median(np.abs(d - bias))) * u.dex,
        "n": int(d.size),
    }
