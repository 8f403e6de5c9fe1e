"""Calibration of posterior samples: PIT, interval coverage and TARP."""

import numpy as np
from astropy.table import Table

__all__ = ["coverage", "pit", "pit_histogram", "tarp"]


def _samples_and_truth(samples, truth):
    """Return samples as (N, S, P) and truth as (N, P), with a flag for 1-D input."""
    samples = np.asarray(getattr(samples, "value", samples), dtype=float)
    truth = np.asarray(getattr(truth, "value", truth), dtype=float)
    scalar = samples.ndim == 2
    if scalar:
        samples = samples[:, :, np.newaxis]
    if truth.ndim == 1:
        truth = truth[:, np.newaxis]
    if samples.ndim != 3 or truth.ndim != 2:
        msg = (f"samples must be (N, S) or (N, S, P) and truth (N,) or (N, P); received "
               f"shapes {samples.shape} and {truth.shape}.")
        raise ValueError(msg)
    if samples.shape[0] != truth.shape[0] or samples.shape[2] != truth.shape[1]:
        msg = (f"samples of shape {samples.shape} do not match truth of shape "
               f"{truth.shape}: the galaxy (first) and property (last) axes must agree.")
        raise ValueError(msg)
    if not (np.isfinite(samples).all() and np.isfinite(truth).all()):
        msg = "samples and truth must be finite; remove the rows with NaN or infinity."
        raise ValueError(msg)
    return samples, truth, scalar


def pit(samples, truth):
    """
    Probability integral transform of the truth under each posterior.

    The PIT value is the fraction of a galaxy's posterior samples below its
    true value (Dawid 1984, J. R. Stat. Soc. A 147, 278). For calibrated
    posteriors the PIT values are uniform on [0, 1]; a U-shaped histogram
    means over-confident (too narrow) posteriors, a peaked one
    under-confident (too wide) posteriors, a slope a bias.

    Parameters
    ----------
    samples : array-like
        Posterior samples, shape ``(N, S)`` or ``(N, S, P)``.
    truth : array-like
        True values, shape ``(N,)`` or ``(N, P)``.

    Returns
    -------
    pit : `~numpy.ndarray`
        Shape ``(N,)`` or ``(N, P)``.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.evaluation import pit
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=2000)
    >>> samples = truth[:, None] + rng.normal(size=(2000, 500))
    >>> values = pit(samples, truth + rng.normal(size=2000))
    >>> bool(abs(values.mean() - 0.5) < 0.03)
    True
    """
    samples, truth, scalar = _samples_and_truth(samples, truth)
    values = (samples < truth[:, np.newaxis, :]).mean(axis=1)
    return values[:, 0] if scalar else values


def pit_histogram(pit_values, *, bins=10):
    """
    Histogram of PIT values normalised to unit mean density.

    Parameters
    ----------
    pit_values : array-like
        PIT values in [0, 1] (1-D).
    bins : int, optional
        Number of equal-width bins.

    Returns
    -------
    density : `~numpy.ndarray`
        Density in each bin; one everywhere for calibrated posteriors.
    edges : `~numpy.ndarray`
        Bin edges, ``bins + 1`` values.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.evaluation import pit_histogram
    >>> density, edges = pit_histogram(np.linspace(0.025, 0.975, 20), bins=4)
    >>> density, edges
    (array([1., 1., 1., 1.]), array([0.  , 0.25, 0.5 , 0.75, 1.  ]))
    """
    values = np.asarray(pit_values, dtype=float).ravel()
    density, edges = np.histogram(values, bins=bins, range=(0.0, 1.0), density=True)
    return density, edges


def coverage(samples, truth, *, levels=(0.68, 0.95), names=None):
    """
    Empirical coverage of central credible intervals.

    For each credibility level ``c`` the central interval runs from the
    ``(1 - c) / 2`` to the ``(1 + c) / 2`` quantile of a galaxy's samples;
    the coverage is the fraction of galaxies whose truth lies inside. It
    equals ``c`` for calibrated posteriors, exceeds it for too wide ones and
    falls short of it for too narrow ones.

    Parameters
    ----------
    samples : array-like
        Posterior samples, shape ``(N, S)`` or ``(N, S, P)``.
    truth : array-like
        True values, shape ``(N,)`` or ``(N, P)``.
    levels : sequence of float, optional
        Credibility levels in (0, 1).
    names : sequence of str, optional
        Property names; default ``p0``, ``p1``, ...

    Returns
    -------
    table : `~astropy.table.Table`
        One row per property: ``property`` and ``coverage_<level%>`` columns
        (for example ``coverage_68``), and the binomial standard error of each
        as ``coverage_<level%>_err``.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.evaluation import coverage
    >>> rng = np.random.default_rng(1)
    >>> truth = rng.normal(size=4000)
    >>> samples = rng.normal(size=(4000, 400)) * 2  # too wide
    >>> float(coverage(samples, truth)["coverage_68"][0]) > 0.85
    True
    """
    samples, truth, _ = _samples_and_truth(samples, truth)
    levels = np.atleast_1d(np.asarray(levels, dtype=float))
    if np.any((levels <= 0) | (levels >= 1)):
        msg = f"levels must lie in (0, 1); received {levels.tolist()}."
        raise ValueError(msg)
    n_props = samples.shape[2]
    names = [f"p{j}" for j in range(n_props)] if names is None else list(names)
    if len(names) != n_props:
        msg = f"names has {len(names)} entries but the samples have {n_props} properties."
        raise ValueError(msg)
    table = Table({"property": names})
    for level in levels:
        lo, hi = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=1)
        inside = (truth >= lo) & (truth <= hi)
        frac = inside.mean(axis=0)
        key = f"coverage_{100 * level:g}".replace(".", "p")
        table[key] = frac
        table[f"{key}_err"] = np.sqrt(level * (1 - level) / len(truth))
        table[key].description = f"fraction of truths inside the central {level:.0%} interval"
    return table


def tarp(samples, truth, *, n_alpha=101, references="uniform", seed=None, n_bootstrap=0):
    r"""
    Tests of Accuracy with Random Points (TARP) coverage of joint posteriors.

    Implements the test of Lemos et al. (2023, ICML, arXiv:2302.03026). The
    samples and truths are first standardised with the truths' mean and
    standard deviation. For each galaxy a reference point is drawn (uniformly
    within the box spanned by the standardised samples, or as another
    galaxy's truth with ``references='truth'``); ``f`` is the fraction of
    the galaxy's samples closer to the reference than its truth is. The
    expected coverage probability ``ECP(alpha)`` is the fraction of galaxies
    with ``f < alpha``. Calibrated posteriors give ``ECP(alpha) = alpha``,
    and the paper shows the test to be necessary and sufficient for
    calibration when references have full support. Too narrow posteriors
    push ``f`` towards 0 and 1 (the ECP curve rises above the diagonal at
    small ``alpha`` and below it at large ``alpha``); too wide ones push
    ``f`` towards 1/2 (the opposite S-shape).

    Parameters
    ----------
    samples : array-like
        Posterior samples, shape ``(N, S)`` or ``(N, S, P)``.
    truth : array-like
        True values, shape ``(N,)`` or ``(N, P)``.
    n_alpha : int, optional
        Number of credibility levels in [0, 1].
    references : {'uniform', 'truth'}, optional
        Where reference points come from.
    seed : int, optional
        Seed for the references and the bootstrap.
    n_bootstrap : int, optional
        Bootstrap resamples of galaxies for the ECP's standard deviation.

    Returns
    -------
    result : `~astropy.table.Table`
        Columns ``alpha``, ``ecp`` (and ``ecp_std`` when bootstrapping);
        ``meta`` holds ``atc``, the area between the ECP curve and the
        diagonal, :math:`\int (ECP - \alpha) d\alpha`, and ``max_deviation``,
        the largest :math:`|ECP - \alpha|`.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.evaluation import tarp
    >>> rng = np.random.default_rng(2)
    >>> truth = rng.normal(size=(2000, 2))
    >>> samples = truth[:, None, :] + rng.normal(size=(2000, 300, 2))
    >>> result = tarp(samples, truth + rng.normal(size=(2000, 2)), seed=3)
    >>> bool(result.meta["max_deviation"] < 0.05)
    True
    """
    samples, truth, _ = _samples_and_truth(samples, truth)
    rng = np.random.default_rng(seed)
    mean, std = truth.mean(axis=0), truth.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    samples = (samples - mean) / std
    truth = (truth - mean) / std
    n = len(truth)
    if references == "uniform":
        lo, hi = samples.min(axis=(0, 1)), samples.max(axis=(0, 1))
        ref = rng.uniform(lo, hi, size=truth.shape)
    elif references == "truth":
        ref = truth[rng.permutation(n)]
    else:
        msg = f"references must be 'uniform' or 'truth'; received {references!r}."
        raise ValueError(msg)
    sample_dist = np.linalg.norm(samples - ref[:, np.newaxis, :], axis=2)
    truth_dist = np.linalg.norm(truth - ref, axis=1)
    f = (sample_dist < truth_dist[:, np.newaxis]).mean(axis=1)
    alpha = np.linspace(0.0, 1.0, n_alpha)
    ecp = _ecp(f, alpha)
    result = Table({"alpha": alpha, "ecp": ecp})
    if n_bootstrap:
        boots = np.array([_ecp(f[rng.integers(0, n, n)], alpha) for _ in range(n_bootstrap)])
        result["ecp_std"] = boots.std(axis=0)
    result.meta["atc"] = float(np.trapezoid(ecp - alpha, alpha))
    result.meta["max_deviation"] = float(np.max(np.abs(ecp - alpha)))
    result.meta["references"] = references
    return result


def _ecp(f, alpha):
    return (f[:, np.newaxis] < alpha[np.newaxis, :]).mean(axis=0)
