"""Calibration plots (matplotlib)."""

import numpy as np

from ._calibration import pit_histogram

__all__ = ["plot_pit", "plot_tarp"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(4, 4))
    return ax


def plot_tarp(result, *, ax=None, label=None):
    """
    Plot a TARP expected-coverage curve against the diagonal.

    Parameters
    ----------
    result : `~astropy.table.Table`
        The output of `~minuet.evaluation.tarp`.
    ax : `matplotlib.axes.Axes`, optional
        Axes to draw on; new ones are made when omitted.
    label : str, optional
        Legend label of the curve.

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.evaluation import plot_tarp, tarp
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=(300, 2))
    >>> ax = plot_tarp(tarp(rng.normal(size=(300, 100, 2)), truth, seed=1))
    >>> ax.get_xlabel()
    'credibility level'
    """
    ax = _axes(ax)
    alpha, ecp = np.asarray(result["alpha"]), np.asarray(result["ecp"])
    ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--")
    line, = ax.plot(alpha, ecp, label=label)
    if "ecp_std" in result.colnames:
        std = np.asarray(result["ecp_std"])
        ax.fill_between(alpha, ecp - 2 * std, ecp + 2 * std, color=line.get_color(), alpha=0.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("credibility level")
    ax.set_ylabel("expected coverage")
    if label is not None:
        ax.legend()
    return ax


def plot_pit(pit_values, *, bins=10, ax=None, label=None):
    """
    Plot a PIT histogram with the uniform expectation.

    Parameters
    ----------
    pit_values : array-like
        PIT values, from `~minuet.evaluation.pit` (1-D).
    bins : int, optional
        Number of bins.
    ax : `matplotlib.axes.Axes`, optional
        Axes to draw on; new ones are made when omitted.
    label : str, optional
        Legend label.

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.evaluation import plot_pit
    >>> ax = plot_pit(np.random.default_rng(0).uniform(size=500))
    >>> ax.get_xlabel()
    'PIT'
    """
    ax = _axes(ax)
    density, edges = pit_histogram(pit_values, bins=bins)
    ax.stairs(density, edges, label=label)
    ax.axhline(1.0, color="0.5", lw=1, ls="--")
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT")
    ax.set_ylabel("density")
    if label is not None:
        ax.legend()
    return ax
