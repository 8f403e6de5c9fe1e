"""Science from the latent: the methods behind `Minuet.posterior` and its siblings.

These functions are methods of `~minuet.Minuet` (their first argument is the
model); each asks the model for one of its heads and returns a table with the
model's provenance.
"""

import warnings

import numpy as np
from astropy.table import QTable, Table

from ._validation import names
from ._vocabulary import meta_value

__all__ = []


def _sample_test(latents):
    """`~minuet.typicality.sample_typicality` of an :meth:`Minuet.encode` table, or None."""
    from .typicality import sample_typicality

    if not isinstance(latents, Table) or "typicality_latent" not in latents.colnames:
        return None
    # an encode table, or a catalogue read back from FITS (8-character keywords)
    n_calibration = meta_value(latents.meta, "typicality_calibration_galaxies")
    if n_calibration is None:
        return None
    image = latents["typicality_image"] if "typicality_image" in latents.colnames else None
    result = sample_typicality(latents["typicality_latent"], image,
                               n_calibration=int(n_calibration),
                               threshold=meta_value(latents.meta, "typicality_threshold", 0.05))
    return result if np.isfinite(result.p_value) else None


def _carry_flag(latents, table, *, rows=None, name="atypical"):
    """Copy the ``atypical`` flag of an :meth:`Minuet.encode` table onto an output table.

    ``rows`` maps output rows to latent rows (the query of each neighbour);
    the column is called ``name``. Warns once per call when galaxies are
    flagged or when the sample as a whole is unlike the training set (with
    at least 10 galaxies; the test is kept in ``meta['sample_typicality']``).
    """
    from .typicality import AtypicalWarning

    if not isinstance(latents, Table) or "atypical" not in latents.colnames:
        return table
    flag = np.asarray(latents["atypical"], dtype=bool)
    table[name] = flag if rows is None else flag[np.asarray(rows, dtype=int)]
    messages = []
    if flag.any():
        messages.append(
            f"{int(flag.sum())} of {len(flag)} galaxies are flagged atypical of the training "
            "set (column 'atypical'): their answers are less reliable than the validation "
            "figures say."
        )
    sample = _sample_test(latents)
    if sample is not None:
        table.meta["sample_typicality"] = sample.as_dict()
        if sample.unlike_training:
            auc = max(v for v in (sample.auc_latent, sample.auc_image) if np.isfinite(v))
            messages.append(
                f"The {sample.n_galaxies} galaxies as a whole are unlike the training set "
                f"(p = {sample.p_value:.2g}, AUC {auc:.3f} where 0.5 means alike; "
                "meta['sample_typicality']), so the answers of unflagged galaxies may be "
                "biased too, as when one band's photometry is miscalibrated. Recalibrate on "
                "labelled galaxies of your own (Minuet.recalibrate)."
            )
    if messages:
        messages.append("See the typicality section of the documentation.")
        warnings.warn(" ".join(messages), AtypicalWarning, stacklevel=3)
    return table


def _expand_rows(table, good, n):
    """Spread a table computed for the rows ``good`` over ``n`` rows, NaN elsewhere."""
    if good.all():
        return table
    out = QTable(meta=table.meta)
    for name in table.colnames:
        column = table[name]
        values = np.asarray(getattr(column, "value", column))
        full = np.full((n, *values.shape[1:]), np.nan, dtype=float)
        full[good] = values
        out[name] = full * column.unit if getattr(column, "unit", None) is not None else full
    return out


def posterior(self, latents, *, properties=None, n_samples=1000, seed=None, samples=False,
              calibrated=True):
    """Posteriors of physical properties given the latents.

    Parameters
    ----------
    latents : `~astropy.table.Table` or array-like
        Output of :meth:`encode`, or an ``(N, latent_dim)`` array.
    properties : sequence of str, optional
        Properties to report; default all that the flow was trained on
        (for the bundled model ``redshift``, ``log_mstar``, ``log_sfr``).
    n_samples : int, optional
        Posterior samples per galaxy behind the percentiles.
    seed : int, optional
        Seed for reproducible samples.
    samples : bool, optional
        Also return the samples as ``<property>_samples`` columns of shape
        ``(N, n_samples)``; wrap one in `astropy.uncertainty.Distribution`
        to propagate it. They are the flow's own draws: the conformal
        adjustment below changes the intervals only.
    calibrated : bool, optional
        Apply the model's `~minuet.posterior.IntervalCalibration` (from
        :meth:`recalibrate`, or bundled), if it has one, to the 68% and
        95% intervals. A calibration grouped by typicality reads the
        ``typicality`` column of ``latents`` (an :meth:`encode` table);
        without it the pooled adjustment is used.

    Returns
    -------
    table : `~astropy.table.QTable`
        Per property the median and the 68% and 95% central intervals
        (``_median``, ``_lo68``, ``_hi68``, ``_lo95``, ``_hi95``) with
        units; NaN rows for refused cutouts. With the ``atypical`` column
        of an :meth:`encode` table that flags any galaxy, the column is
        carried over and an `~minuet.typicality.AtypicalWarning` is issued.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet import Minuet
    >>> model = Minuet.pretrained()
    >>> table = model.posterior(np.zeros((2, 5)), properties=["redshift"],
    ...                         n_samples=200, seed=1)
    >>> table.colnames
    ['redshift_median', 'redshift_lo68', 'redshift_hi68', 'redshift_lo95', 'redshift_hi95']
    >>> bool(np.all(table["redshift_lo68"] <= table["redshift_hi68"]))
    True
    """
    estimator = self._head("posterior_estimator", "posterior()")
    known = list(estimator.config.properties)
    wanted = known if properties is None else names(properties, "properties")
    unknown = [name for name in wanted if name not in known]
    if unknown:
        msg = f"the posterior knows the properties {known}; {unknown} are not among them."
        raise ValueError(msg)
    z, good = self._rows(latents, what="sample posteriors for")
    summary = estimator.summary(z[good], n_samples=n_samples, seed=seed, samples=samples)
    keep = [name for name in summary.colnames if name.rsplit("_", 1)[0] in wanted]
    table = _expand_rows(summary[keep], good, len(z))
    calibration = self.posterior_calibration if calibrated else None
    if calibration is not None:
        groups = None
        if (calibration.grouped and isinstance(latents, Table)
                and calibration.group_by in latents.colnames):
            groups = np.asarray(latents[calibration.group_by], dtype=float)
        table = calibration.apply(table, groups=groups)
    table.meta.update(self.provenance() | {"n_samples": int(n_samples)})
    return _carry_flag(latents, table)


def recalibrate(self, latents, truth, *, n_samples=1000, seed=0, by_typicality=False,
                edges=(0.05, 0.3)):
    """Return a copy of the model whose intervals are calibrated on a labelled population.

    A user's own labelled subset (for example spectroscopic redshifts
    for a few hundred galaxies of a survey) calibrates the 68% and 95%
    intervals of :meth:`posterior` for galaxies of that population, by
    conformalised quantile regression on the flow's intervals
    (`~minuet.posterior.IntervalCalibration`; Romano, Patterson & Candes
    2019). For new galaxies drawn like the labelled ones the intervals
    then cover the truth with the nominal probability, whatever the
    flow's calibration was; the coverage achieved with one set of ``n``
    labelled galaxies scatters about nominal by about
    ``sqrt(level (1 - level) / n)`` (2 points at 68% for 500 galaxies).
    The copy shares the networks and heads; its calibration is saved
    with it by :meth:`save`. Medians and samples are unchanged.

    Parameters
    ----------
    latents : `~astropy.table.Table` or array-like
        :meth:`encode` output (or latents) of the labelled galaxies.
    truth : `~astropy.table.Table`
        Their true properties, row by row; every property of the flow
        that it has is calibrated (NaN entries are left out).
    n_samples : int, optional
        Posterior samples per galaxy behind the intervals.
    seed : int, optional
        Seed of the samples.
    by_typicality : bool, optional
        Calibrate separately in groups of the ``typicality`` column of
        ``latents`` (a Mondrian conformal predictor), so that less
        typical galaxies get their own, usually wider, intervals. Needs a
        few hundred labelled galaxies per group.
    edges : sequence of float, optional
        Inner group edges in typicality when ``by_typicality``.

    Returns
    -------
    model : `Minuet`
        A shallow copy with ``posterior_calibration`` set.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet import Minuet
    >>> model = Minuet.pretrained()
    >>> rng = np.random.default_rng(0)
    >>> latents = rng.normal(size=(200, 5))
    >>> truth = Table({"redshift": rng.uniform(0.05, 0.6, 200)})
    >>> recalibrated = model.recalibrate(latents, truth, n_samples=200)
    >>> recalibrated.posterior_calibration.properties
    ['redshift']
    """
    import copy

    from .posterior import IntervalCalibration

    estimator = self._head("posterior_estimator", "recalibrate()")
    z, good = self._rows(latents)
    if not isinstance(truth, Table) or len(truth) != len(z):
        got = len(truth) if isinstance(truth, Table) else type(truth).__name__
        msg = (
            f"truth must be a Table with one row per latent ({len(z)}); got {got}. "
            "Pass the labelled galaxies' true properties, row by row."
        )
        raise ValueError(msg)
    groups = None
    if by_typicality:
        if not isinstance(latents, Table) or "typicality" not in latents.colnames:
            msg = (
                "by_typicality=True needs the 'typicality' column of an encode() table "
                "made by a model with a typicality head; pass that table as latents."
            )
            raise ValueError(msg)
        groups = np.asarray(latents["typicality"], dtype=float)[good]
    summary = estimator.summary(z[good], n_samples=n_samples, seed=seed)
    calibration = IntervalCalibration(edges=edges if by_typicality else None)
    calibration.fit(summary, Table(truth)[good], groups=groups)
    model = copy.copy(self)
    model.posterior_calibration = calibration
    model.path = None
    return model


def classify(self, latents):
    """Probabilities of the morphology labels given the latents.

    Parameters
    ----------
    latents : `~astropy.table.Table` or array-like
        Output of :meth:`encode`, or an ``(N, latent_dim)`` array.

    Returns
    -------
    table : `~astropy.table.QTable`
        One ``p_<label>`` column per label (for the bundled model
        ``merger``, ``spiral_arms``, ``edge_on`` and ``round``); NaN rows
        for refused cutouts; ``atypical`` and a warning as in
        :meth:`posterior`.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet import Minuet
    >>> model = Minuet.pretrained()
    >>> table = model.classify(np.zeros((2, 5)))
    >>> table.colnames
    ['p_merger', 'p_spiral_arms', 'p_edge_on', 'p_round']
    >>> bool(np.all((table["p_round"] >= 0) & (table["p_round"] <= 1)))
    True
    """
    classifier = self._head("morphology_classifier", "classify()")
    z, good = self._rows(latents, what="classify")
    table = _expand_rows(QTable(classifier.predict_proba(z[good])), good, len(z))
    table.meta.update(self.provenance())
    return _carry_flag(latents, table)


def neighbours(self, query, k=10, *, catalogue=None, metric=None):
    """Nearest neighbours of galaxies in latent space.

    Parameters
    ----------
    query : `~astropy.table.Table` or array-like
        Latents of the query galaxies (output of :meth:`encode` or an
        ``(M, latent_dim)`` array).
    k : int, optional
        Neighbours per query galaxy.
    catalogue : `~astropy.table.Table` or `~minuet.neighbours.LatentIndex`, optional
        Where to search: a table of latents (output of :meth:`encode`,
        other columns are returned with the neighbours) or a prepared
        index. Default: the model's reference catalogue.
    metric : {'euclidean', 'cosine'}, optional
        Distance used when ``catalogue`` is a table (default
        ``'euclidean'``). An index, the model's or one given, searches with
        its own metric: asking it for another is an error.

    Returns
    -------
    table : `~astropy.table.QTable`
        ``M * k`` rows: ``query_index``, ``rank``, ``catalog_index``,
        ``distance`` and the catalogue's own columns; with an
        :meth:`encode` table as ``query``, its ``atypical`` flag as
        ``query_atypical`` and a warning as in :meth:`posterior`.

    Examples
    --------
    In the bundled reference catalogue:

    >>> import numpy as np
    >>> from minuet import Minuet
    >>> model = Minuet.pretrained()
    >>> table = model.neighbours(np.zeros((1, 5)), k=3)
    >>> len(table), table.colnames[:4]
    (3, ['query_index', 'rank', 'catalog_index', 'distance'])

    In a table of latents of one's own:

    >>> from astropy.table import Table
    >>> catalogue = Table(np.eye(5), names=model.latent_names)
    >>> catalogue["name"] = ["a", "b", "c", "d", "e"]
    >>> model.neighbours([[0.0, 0.9, 0.1, 0.0, 0.0]], k=2, catalogue=catalogue)["name"].tolist()
    ['b', 'c']
    """
    from .neighbours import LatentIndex

    kept = None  # catalogue rows that entered the index, when some were refused
    if catalogue is None or isinstance(catalogue, LatentIndex):
        index = (self._head("latent_index", "neighbours() without a catalogue")
                 if catalogue is None else catalogue)
        if metric is not None and metric != index.metric:
            msg = (
                f"the index searches with the {index.metric!r} metric, so metric={metric!r} "
                "cannot apply; pass a table of latents as catalogue to search it with another "
                "metric, or leave metric out."
            )
            raise ValueError(msg)
    else:
        z_cat, good_cat = self._rows(catalogue, what="search")
        rows = QTable(catalogue)[good_cat] if isinstance(catalogue, Table) else None
        index = LatentIndex(z_cat[good_cat], metric=metric or "euclidean", catalogue=rows)
        kept = None if good_cat.all() else np.flatnonzero(good_cat)
    z, good = self._rows(query)
    if not good.all():
        msg = (
            f"query rows {np.flatnonzero(~good).tolist()} have no latent (refused "
            "cutouts); drop them before searching."
        )
        raise ValueError(msg)
    table = index.query(z, k=k)
    if kept is not None:
        # refused catalogue rows never enter the index; report rows of the given table
        table["catalog_index"] = kept[np.asarray(table["catalog_index"])]
    table.meta.update(self.provenance())
    return _carry_flag(query, table, rows=table["query_index"], name="query_atypical")


def anomaly_score(self, latents, *, reconstruction_error=None, weight=1.0):
    """How unusual each galaxy is, from its latent density and reconstruction error.

    Parameters
    ----------
    latents : `~astropy.table.Table` or array-like
        Output of :meth:`encode`, or an ``(N, latent_dim)`` array.
    reconstruction_error : array-like, optional
        Per-galaxy reconstruction error (for example ``chi2_red`` from
        `~minuet.evaluation.compare_reconstructions`).
    weight : float, optional
        Weight of the reconstruction term.

    Returns
    -------
    table : `~astropy.table.QTable`
        ``density_score``, ``reconstruction_score`` (with errors) and
        ``anomaly_score``: higher is more anomalous.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet import Minuet
    >>> model = Minuet.pretrained()
    >>> table = model.anomaly_score(np.array([[0.0] * 5, [40.0] * 5]))
    >>> table.colnames
    ['density_score', 'anomaly_score']
    >>> bool(table["anomaly_score"][1] > table["anomaly_score"][0])
    True
    >>> model.anomaly_score(np.zeros((1, 5)), reconstruction_error=[1.2]).colnames
    ['density_score', 'reconstruction_score', 'anomaly_score']
    """
    scorer = self._head("anomaly_scorer", "anomaly_score()")
    z, good = self._rows(latents, what="score")
    error = None
    if reconstruction_error is not None:
        error = scorer._errors(reconstruction_error, len(z), allow_nan=~good)[good]
    scores = scorer.score(z[good], reconstruction_error=error, weight=weight)
    table = _expand_rows(QTable(scores), good, len(z))
    table.meta.update(self.provenance())
    return table


def sample_typicality(self, latents, *, alpha=1e-3):
    """Whether the galaxies of an :meth:`encode` table, as a whole, are drawn like the training set.

    The per-galaxy ``atypical`` flag misses shifts that make each galaxy
    look like another ordinary one (photometry miscalibrated in one band,
    colours of a real population that the simulator's templates do not
    quite reach) though they bias every answer. Over a sample they show:
    the typicality p-values of galaxies drawn like the training set are
    uniform, and this tests whether the sample's are smaller on average
    (`~minuet.typicality.sample_typicality`). :meth:`posterior`,
    :meth:`classify` and :meth:`neighbours` run the same test on the
    :meth:`encode` tables they receive (10 galaxies or more), keep it in
    ``meta['sample_typicality']`` and warn when the sample is unlike the
    training set at ``alpha = 1e-3``.

    Parameters
    ----------
    latents : `~astropy.table.Table`
        Output of :meth:`encode` (it needs the typicality columns).
    alpha : float, optional
        Level below which the sample is called unlike the training set.

    Returns
    -------
    result : `~minuet.typicality.SampleTypicality`
        AUCs, p-values and the verdict ``unlike_training``; ``str(result)``
        says it in a sentence.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet import Minuet
    >>> model = Minuet.pretrained()
    >>> rng = np.random.default_rng(1)
    >>> table = Table({"typicality_latent": rng.uniform(size=500),
    ...                "typicality_image": rng.uniform(size=500)})
    >>> bool(model.sample_typicality(table).unlike_training)
    False
    """
    scorer = self._head("typicality_scorer", "sample_typicality()")
    return scorer.sample(latents, alpha=alpha)

