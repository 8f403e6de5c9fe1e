"""Conformalised posterior intervals: calibrated on labelled galaxies of a population."""

import numpy as np
from astropy.table import QTable

from .._heads import UNCHANGED
from .._latents import table_columns
from .._weights import load_fitted, save_fitted

__all__ = ["IntervalCalibration"]

_FORMAT = "minuet-interval-calibration-1"
_KIND = "IntervalCalibration"  # the record of files written before formats had versions

#: Central interval levels the calibration adjusts, with the summary columns they use.
LEVELS = {0.68: ("lo68", "hi68"), 0.95: ("lo95", "hi95")}

#: Groups with fewer calibration galaxies than this use the pooled adjustment.
MIN_GROUP = 50


def _scores(summary, truth, prop, level):
    """Scaled conformity scores: how far outside its interval each truth lies.

    In units of the interval's own lower or upper half-width (median to
    bound), negative inside the interval.
    """
    lo_name, hi_name = LEVELS[level]
    lo, med, hi = (np.asarray(getattr(summary[f"{prop}_{s}"], "value", summary[f"{prop}_{s}"]),
                              dtype=float) for s in (lo_name, "median", hi_name))
    down = np.maximum(med - lo, 1e-12)
    up = np.maximum(hi - med, 1e-12)
    return np.maximum((lo - truth) / down, (truth - hi) / up)


def _conformal_quantile(scores, level):
    """The ceil((n + 1) level)-th smallest score (split conformal, Vovk et al. 2005)."""
    scores = np.sort(scores[np.isfinite(scores)])
    k = int(np.ceil((len(scores) + 1) * level))
    return float(scores[min(k, len(scores)) - 1])


class IntervalCalibration:
    """
    Conformalised 68% and 95% posterior intervals for one population.

    Conformalised quantile regression (Romano, Patterson & Candes 2019,
    NeurIPS 32, arXiv:1905.03222) applied to the flow's central intervals:
    on labelled galaxies, each truth's distance outside its interval is
    measured in units of the interval's own half-width on that side (the
    scaled score, Sesia & Candes 2020, Stat 9, e261), and the
    ``ceil((n + 1) level)``-th smallest of these, ``Q``, widens (``Q > 0``)
    or narrows (``Q < 0``) every interval to
    ``[lo - Q (median - lo), hi + Q (hi - median)]``. For new galaxies of
    the same population the intervals then cover the truth with at least
    the nominal probability, and by at most ``1 / (n + 1)`` more (split
    conformal prediction, Vovk, Gammerman & Shafer 2005, *Algorithmic
    Learning in a Random World*); the coverage of one calibration draw
    scatters about that by the binomial error of ``n`` galaxies (about 2
    points at 68% and 1 point at 95% for 500).

    With ``edges`` the adjustment is made separately in groups of a per-galaxy
    variable, such as the typicality (a Mondrian conformal predictor, Vovk et
    al. 2005, section 4.5), so that intervals widen more where galaxies are
    less typical; groups with fewer than 50 calibration galaxies, and
    galaxies without the variable, use the adjustment of all galaxies
    pooled.

    Parameters
    ----------
    edges : sequence of float, optional
        Increasing inner edges of the groups; none means one group.
    group_by : str, optional
        Name of the grouping variable (a column of the latents table that
        `~minuet.Minuet.posterior` receives).

    Examples
    --------
    Intervals that are too narrow by a factor of two are widened:

    >>> import numpy as np
    >>> from astropy.table import QTable, Table
    >>> from minuet.posterior import IntervalCalibration
    >>> rng = np.random.default_rng(0)
    >>> def summary(n):  # posteriors N(0, 0.5) for truths drawn from N(0, 1)
    ...     half = {"lo68": -0.5, "hi68": 0.5, "lo95": -0.98, "hi95": 0.98}
    ...     return QTable({"z_median": np.zeros(n)}
    ...                   | {f"z_{k}": np.full(n, v) for k, v in half.items()})
    >>> calibration = IntervalCalibration().fit(summary(500), Table({"z": rng.normal(size=500)}))
    >>> wide = calibration.apply(summary(1))
    >>> round(float(wide["z_hi68"][0]), 1), round(float(wide["z_hi95"][0]), 1)
    (1.0, 2.0)
    """

    def __init__(self, *, edges=None, group_by="typicality"):
        edges = np.asarray([] if edges is None else edges, dtype=float)
        if edges.ndim != 1 or np.any(np.diff(edges) <= 0):
            msg = f"edges must be an increasing 1-D sequence of numbers; received {edges!r}."
            raise ValueError(msg)
        self.edges = edges
        self.group_by = str(group_by)
        self.properties = None
        self.adjustment = None  # (groups + 1, properties, levels); the last row is pooled
        self.counts = None
        self.sha256 = None

    def __repr__(self):
        state = ("not fitted" if self.adjustment is None
                 else f"{int(self.counts[-1])} galaxies, properties {self.properties}")
        groups = f" in {len(self.edges) + 1} groups of {self.group_by}" if len(self.edges) else ""
        return f"<IntervalCalibration{groups} ({state})>"

    @property
    def grouped(self):
        """Whether the adjustment depends on a per-galaxy variable.

        Examples
        --------
        >>> from minuet.posterior import IntervalCalibration
        >>> IntervalCalibration().grouped, IntervalCalibration(edges=[0.05]).grouped
        (False, True)
        """
        return len(self.edges) > 0

    def _group(self, values, n):
        if not self.grouped:
            return np.zeros(n, dtype=int)
        if values is None:
            return np.full(n, len(self.edges) + 1)
        values = np.asarray(values, dtype=float)
        if values.shape != (n,):
            msg = (f"{self.group_by} must have one value per galaxy ({n}); received shape "
                   f"{values.shape}.")
            raise ValueError(msg)
        group = np.digitize(values, self.edges)
        return np.where(np.isfinite(values), group, len(self.edges) + 1)

    def fit(self, summary, truth, *, groups=None):
        """
        Calibrate on posterior summaries of galaxies with known truth.

        Parameters
        ----------
        summary : `~astropy.table.Table`
            Output of `PosteriorEstimator.summary` for the labelled galaxies:
            ``<property>_median``, ``_lo68``, ``_hi68``, ``_lo95``, ``_hi95``.
        truth : `~astropy.table.Table`
            The true properties, same rows; every property of ``summary``
            that ``truth`` has is calibrated. Rows with NaN truth are left
            out of that property.
        groups : array-like, optional
            The grouping variable per galaxy; needed when ``edges`` is set.

        Returns
        -------
        self : `IntervalCalibration`

        Examples
        --------
        See the class example.
        """
        props = [name[:-len("_median")] for name in summary.colnames
                 if name.endswith("_median") and name[:-len("_median")] in truth.colnames]
        if not props:
            msg = (f"the truth table has none of the summary's properties; summary columns "
                   f"{summary.colnames}, truth columns {truth.colnames}.")
            raise ValueError(msg)
        if len(summary) != len(truth):
            msg = (f"summary has {len(summary)} rows but truth has {len(truth)}; they must "
                   "describe the same galaxies, row by row.")
            raise ValueError(msg)
        if self.grouped and groups is None:
            msg = (f"this calibration is grouped by {self.group_by}; pass groups= with one "
                   "value per galaxy.")
            raise ValueError(msg)
        y = table_columns(truth, props)
        group = self._group(groups, len(summary))
        n_groups = len(self.edges) + 1
        adjustment = np.zeros((n_groups + 1, len(props), len(LEVELS)))
        counts = np.zeros(n_groups + 1, dtype=np.int64)
        counts[-1] = len(summary)
        for g in range(n_groups):
            counts[g] = np.sum(group == g)
        for j, prop in enumerate(props):
            for k, level in enumerate(LEVELS):
                scores = _scores(summary, y[:, j], prop, level)
                if np.isfinite(scores).sum() < MIN_GROUP:
                    msg = (f"only {np.isfinite(scores).sum()} galaxies have a finite "
                           f"{prop}; calibrating needs at least {MIN_GROUP}.")
                    raise ValueError(msg)
                pooled = _conformal_quantile(scores, level)
                adjustment[-1, j, k] = pooled
                for g in range(n_groups):
                    inside = scores[group == g]
                    enough = np.isfinite(inside).sum() >= MIN_GROUP
                    adjustment[g, j, k] = _conformal_quantile(inside, level) if enough else pooled
        self.properties = props
        self.adjustment = adjustment
        self.counts = counts
        self.sha256 = None
        return self

    def apply(self, summary, *, groups=None):
        """
        Return a copy of ``summary`` with conformalised 68% and 95% intervals.

        Parameters
        ----------
        summary : `~astropy.table.Table`
            Output of `PosteriorEstimator.summary`; properties this
            calibration does not know are left as they are.
        groups : array-like, optional
            The grouping variable per galaxy; without it a grouped
            calibration uses its pooled adjustment.

        Returns
        -------
        summary : `~astropy.table.QTable`

        Examples
        --------
        See the class example.
        """
        if self.adjustment is None:
            msg = "This IntervalCalibration is not fitted yet; call fit() or load() first."
            raise RuntimeError(msg)
        out = QTable(summary, copy=True)
        group = self._group(groups, len(out))
        for j, prop in enumerate(self.properties):
            if f"{prop}_median" not in out.colnames:
                continue
            med = out[f"{prop}_median"]
            for k, (lo_name, hi_name) in enumerate(LEVELS.values()):
                q = self.adjustment[group, j, k]
                lo, hi = out[f"{prop}_{lo_name}"], out[f"{prop}_{hi_name}"]
                out[f"{prop}_{lo_name}"] = lo - q * (med - lo)
                out[f"{prop}_{hi_name}"] = hi + q * (hi - med)
        out.meta["interval_calibration"] = (
            f"conformalised on {int(self.counts[-1])} labelled galaxies"
            + (f", grouped by {self.group_by}" if self.grouped and groups is not None else "")
            + (f" (pooled: no {self.group_by} given)" if self.grouped and groups is None else "")
        )
        return out

    def save(self, path):
        """
        Write the calibration (safetensors) and its settings (JSON sidecar).

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` path.

        Returns
        -------
        path : `~pathlib.Path`
            The weights file; its SHA-256 is kept as ``sha256``.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from astropy.table import QTable, Table
        >>> from minuet.posterior import IntervalCalibration
        >>> cols = {"z_median": 0.0, "z_lo68": -1.0, "z_hi68": 1.0, "z_lo95": -2.0, "z_hi95": 2.0}
        >>> summary = QTable({k: np.full(100, v) for k, v in cols.items()})
        >>> truth = Table({"z": np.random.default_rng(0).normal(size=100)})
        >>> calibration = IntervalCalibration().fit(summary, truth)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = calibration.save(f"{tmp}/calibration.safetensors")
        ...     again = IntervalCalibration.load(path)
        >>> bool(np.array_equal(again.adjustment, calibration.adjustment)), again.properties
        (True, ['z'])
        """
        if self.adjustment is None:
            msg = "This IntervalCalibration is not fitted yet; there is nothing to save."
            raise RuntimeError(msg)
        config = {"properties": list(self.properties),
                  "levels": list(LEVELS), "group_by": self.group_by}
        tensors = {"adjustment": self.adjustment, "counts": self.counts, "edges": self.edges}
        path, self.sha256 = save_fitted(path, _FORMAT, tensors, config)
        return path

    @classmethod
    def load(cls, path):
        """
        Read a calibration written by `save`, checking the file's SHA-256.

        Parameters
        ----------
        path : str or `~pathlib.Path`

        Returns
        -------
        calibration : `IntervalCalibration`

        Examples
        --------
        See `save`.
        """
        tensors, config, record = load_fitted(path, _FORMAT, legacy_kind=_KIND)
        if [float(v) for v in config["levels"]] != list(LEVELS):
            msg = (f"{path} calibrates the levels {config['levels']}; this version of minuet "
                   f"reports {list(LEVELS)}. Recalibrate.")
            raise ValueError(msg)
        self = cls(edges=tensors["edges"], group_by=config["group_by"])
        self.properties = list(config["properties"])
        self.adjustment = tensors["adjustment"]
        self.counts = tensors["counts"]
        self.sha256 = record["sha256"]
        return self

    @classmethod
    def fit_head(cls, request):
        """Drop the calibration when `~minuet.Minuet.fit_heads` replaces the posterior.

        A calibration is made for one flow (see `~minuet.Minuet.recalibrate`);
        `~minuet.Minuet.fit_heads` never fits one, but removes it when it fits
        a new flow.

        Parameters
        ----------
        request : HeadRequest
            What `~minuet.Minuet.fit_heads` has fitted so far.

        Returns
        -------
        None
            Or the marker that keeps the model's calibration.
        """
        return None if "posterior" in request.fitted else UNCHANGED

    def describe(self):
        """A few words on the calibration, for a model's ``repr``.

        Examples
        --------
        >>> from minuet.posterior import IntervalCalibration
        >>> IntervalCalibration().describe()
        'conformalised intervals'
        """
        return "conformalised intervals"
