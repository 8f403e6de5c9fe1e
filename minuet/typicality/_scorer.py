"""Typicality of a galaxy under the training set: conformal p-values of two densities."""

import dataclasses

import numpy as np
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from .._heads import UNCHANGED
from .._latents import latent_array
from .._vocabulary import TYPICALITY_COLUMNS
from .._weights import load_fitted, save_fitted
from ._density import fit_mixture, log_density
from ._sample import ALPHA, sample_typicality
from ._statistics import STATISTIC_NAMES, cutout_statistics

__all__ = ["AtypicalWarning", "TypicalityScorer"]

_FORMAT = "minuet-typicality-1"
_KIND = "TypicalityScorer"  # the record of files written before formats had versions

#: Columns that `TypicalityScorer.score` returns and `Minuet.encode` adds.
COLUMNS = TYPICALITY_COLUMNS


class AtypicalWarning(AstropyUserWarning):
    """Some galaxies are unlike the training set; their answers deserve less trust."""


@dataclasses.dataclass
class _Record:
    threshold: float
    n_fit: int
    n_calibration: int
    statistics: tuple
    n_latents: int
    components_latent: int
    components_image: int


class TypicalityScorer:
    """
    How typical a galaxy is of the training set, and a flag for those that are not.

    Two densities are fitted to a reference set drawn like the training set
    (the heads' training galaxies): a Gaussian mixture on the latents alone
    and one on the latents joined with seven cheap statistics of the
    cutout's own pixels (`cutout_statistics`: noise level, signal-to-noise,
    colours and concentration), each mixture's size chosen by BIC. Each
    density is turned into a conformal p-value with a separate calibration
    part of the reference set (split conformal outlier detection, Vovk,
    Gammerman & Shafer 2005, *Algorithmic Learning in a Random World*;
    Bates et al. 2023, Ann. Stat. 51, 149):

    ``typicality_latent``
        The fraction of calibration galaxies whose latent is less probable
        than this one's (the density percentile), with the conformal +1.
    ``typicality_image``
        The same for the joint density of latent and pixel statistics: low
        when the pixels show something the latent does not account for
        (another noise level, colours unusual for that latent, a sharper
        or broader light profile), even where the latent alone looks
        ordinary.
    ``typicality``
        ``min(1, 2 * min(typicality_latent, typicality_image))``, the
        Bonferroni combination; ``typicality_latent`` alone when no pixel
        statistics are given.
    ``atypical``
        ``typicality < threshold``. For galaxies drawn like the reference
        set each p-value is uniform, so the Bonferroni combination flags at
        most a fraction ``threshold`` of them (in expectation over the
        calibration draw): at most 5% with the default.

    Parameters
    ----------
    threshold : float, optional
        Flag galaxies whose ``typicality`` is below this value, in (0, 1).
    n_components : sequence of int, optional
        Candidate mixture sizes for BIC.
    calibration_fraction : float, optional
        Fraction of the reference set kept apart to calibrate the p-values.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.typicality import TypicalityScorer
    >>> rng = np.random.default_rng(0)
    >>> latents, stats = rng.normal(size=(2000, 5)), rng.normal(size=(2000, 7))
    >>> scorer = TypicalityScorer(n_components=(1,)).fit(latents, stats)
    >>> table = scorer.score(np.vstack([np.zeros(5), np.full(5, 4.0)]), np.zeros((2, 7)))
    >>> table["atypical"].tolist()
    [False, True]
    """

    def __init__(self, *, threshold=0.05, n_components=(1, 2, 4, 8), calibration_fraction=0.5):
        if not 0 < threshold < 1:
            msg = f"threshold must lie in (0, 1); received {threshold!r}."
            raise ValueError(msg)
        if not 0 < calibration_fraction < 1:
            msg = f"calibration_fraction must lie in (0, 1); received {calibration_fraction!r}."
            raise ValueError(msg)
        self.threshold = float(threshold)
        self.n_components = tuple(int(k) for k in np.atleast_1d(n_components))
        self.calibration_fraction = float(calibration_fraction)
        self._arrays = None
        self._record = None
        self.sha256 = None

    def __repr__(self):
        if self._record is None:
            return f"<TypicalityScorer threshold={self.threshold} (not fitted)>"
        r = self._record
        return (f"<TypicalityScorer threshold={self.threshold} calibration galaxies="
                f"{r.n_calibration} components={r.components_latent}/{r.components_image}>")

    def _check_fitted(self):
        if self._arrays is None:
            msg = "This TypicalityScorer is not fitted yet; call fit() or load() first."
            raise RuntimeError(msg)

    @staticmethod
    def _statistics(statistics, n):
        stats = np.asarray(getattr(statistics, "value", statistics), dtype=float)
        if stats.ndim != 2 or stats.shape != (n, len(STATISTIC_NAMES)):
            msg = (f"statistics must have shape ({n}, {len(STATISTIC_NAMES)}), one row per "
                   f"latent and the columns {list(STATISTIC_NAMES)} of cutout_statistics(); "
                   f"received shape {stats.shape}.")
            raise ValueError(msg)
        return stats

    def fit(self, latents, statistics, *, seed=0):
        """
        Fit both densities and calibrate their p-values on a reference set.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents of the reference galaxies.
        statistics : array-like
            ``(N, 7)`` output of `cutout_statistics` for the same cutouts.
        seed : int, optional
            Seed of the split and of the mixture fits.

        Returns
        -------
        self : `TypicalityScorer`

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.typicality import TypicalityScorer
        >>> rng = np.random.default_rng(0)
        >>> scorer = TypicalityScorer(n_components=(1, 2))
        >>> scorer.fit(rng.normal(size=(1000, 5)), rng.normal(size=(1000, 7)))
        ... # doctest: +ELLIPSIS
        <TypicalityScorer threshold=0.05 calibration galaxies=500 components=.../...>
        """
        x = latent_array(latents)
        stats = self._statistics(statistics, len(x))
        good = np.isfinite(stats).all(axis=1)
        x, stats = x[good], stats[good]
        n_cal = round(self.calibration_fraction * len(x))
        if n_cal < 20 or len(x) - n_cal < 20:
            msg = (f"too few usable reference galaxies ({len(x)}) to fit and calibrate "
                   "typicality; pass at least a few hundred.")
            raise ValueError(msg)
        order = np.random.default_rng(seed).permutation(len(x))
        cal, fit = order[:n_cal], order[n_cal:]
        joint = np.column_stack([x, stats])
        latent_mix = fit_mixture(x[fit], candidates=self.n_components, seed=seed)
        image_mix = fit_mixture(joint[fit], candidates=self.n_components, seed=seed)
        arrays = {f"latent.{k}": v for k, v in latent_mix.items()}
        arrays.update({f"image.{k}": v for k, v in image_mix.items()})
        arrays["calibration.latent"] = np.sort(-log_density(latent_mix, x[cal]))
        arrays["calibration.image"] = np.sort(-log_density(image_mix, joint[cal]))
        self._arrays = arrays
        self._record = _Record(
            threshold=self.threshold, n_fit=len(fit), n_calibration=n_cal,
            statistics=STATISTIC_NAMES, n_latents=x.shape[1],
            components_latent=len(latent_mix["weights"]),
            components_image=len(image_mix["weights"]))
        self.sha256 = None
        return self

    def _mixture(self, prefix):
        return {k.split(".", 1)[1]: v for k, v in self._arrays.items()
                if k.startswith(prefix + ".")}

    def _p_value(self, which, features):
        calibration = self._arrays[f"calibration.{which}"]
        score = -log_density(self._mixture(which), features)
        exceeding = len(calibration) - np.searchsorted(calibration, score, side="left")
        return (1.0 + exceeding) / (len(calibration) + 1.0)

    def score(self, latents, statistics=None):
        """
        Typicality p-values and the flag for each galaxy.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents; rows with NaN (refused cutouts) get NaN
            typicality and ``atypical`` False.
        statistics : array-like, optional
            ``(N, 7)`` output of `cutout_statistics`; without it only the
            latent density is used and ``typicality_image`` is NaN.

        Returns
        -------
        table : `~astropy.table.Table`
            ``typicality``, ``typicality_latent``, ``typicality_image`` (all
            in (0, 1], small is atypical) and the boolean ``atypical``.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.typicality import TypicalityScorer
        >>> rng = np.random.default_rng(0)
        >>> scorer = TypicalityScorer(n_components=(1,))
        >>> scorer = scorer.fit(rng.normal(size=(2000, 5)), rng.normal(size=(2000, 7)))
        >>> table = scorer.score(rng.normal(size=(4000, 5)), rng.normal(size=(4000, 7)))
        >>> table.colnames
        ['typicality', 'typicality_latent', 'typicality_image', 'atypical']
        >>> bool(table["atypical"].mean() <= 0.05)
        True
        """
        self._check_fitted()
        x = latent_array(latents, n_features=self._record.n_latents, allow_nan=True)
        n = len(x)
        stats = None if statistics is None else self._statistics(statistics, n)
        p_latent = np.full(n, np.nan)
        p_image = np.full(n, np.nan)
        rows = np.isfinite(x).all(axis=1)
        p_latent[rows] = self._p_value("latent", x[rows])
        if stats is not None:
            both = rows & np.isfinite(stats).all(axis=1)
            p_image[both] = self._p_value("image", np.column_stack([x[both], stats[both]]))
        combined = np.where(np.isfinite(p_image), np.minimum(1.0, 2.0 * np.fmin(p_latent, p_image)),
                            p_latent)
        table = Table({"typicality": combined, "typicality_latent": p_latent,
                       "typicality_image": p_image,
                       "atypical": np.isfinite(combined) & (combined < self.threshold)})
        table.meta.update(self.meta)
        return table

    @property
    def meta(self):
        """What a scored table records of the scorer: its threshold and calibration size.

        The sample test (`sample_typicality`) needs the number of
        calibration galaxies behind the p-values.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.typicality import TypicalityScorer
        >>> rng = np.random.default_rng(0)
        >>> scorer = TypicalityScorer(n_components=(1,))
        >>> scorer.fit(rng.normal(size=(1000, 5)), rng.normal(size=(1000, 7))).meta
        {'typicality_threshold': 0.05, 'typicality_calibration_galaxies': 500}
        """
        self._check_fitted()
        return {"typicality_threshold": self.threshold,
                "typicality_calibration_galaxies": int(self._record.n_calibration)}

    def score_cutouts(self, latents, cutouts):
        """
        `score` with the pixel statistics measured on the cutouts themselves.

        Parameters
        ----------
        latents : array-like
            ``(N, D)`` latents of the cutouts.
        cutouts : `~minuet.cutouts.Cutouts`
            The standardised cutouts (`~minuet.cutouts.load_cutouts`); refused
            ones get no statistics and only the latent p-value.

        Returns
        -------
        table : `~astropy.table.Table`
            As `score` returns.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> from minuet.typicality import TypicalityScorer
        >>> rng = np.random.default_rng(0)
        >>> scorer = TypicalityScorer(n_components=(1,))
        >>> scorer = scorer.fit(rng.normal(size=(1000, 5)), rng.normal(size=(1000, 7)))
        >>> cutouts = load_cutouts(rng.normal(0, 0.01, size=(2, 3, 72, 72)), size=72)
        >>> scorer.score_cutouts(rng.normal(size=(2, 5)), cutouts).colnames
        ['typicality', 'typicality_latent', 'typicality_image', 'atypical']
        """
        stats = np.full((len(cutouts), len(STATISTIC_NAMES)), np.nan)
        rows = np.asarray(cutouts.valid, dtype=bool)
        if rows.all():  # no copy of the pixels when every cutout is kept
            stats = cutout_statistics(cutouts.flux, cutouts.mask)
        elif rows.any():
            stats[rows] = cutout_statistics(cutouts.flux[rows], cutouts.mask[rows])
        return self.score(latents, stats)

    def sample(self, table, *, alpha=ALPHA):
        """
        Whether the galaxies of a table, as a whole, are drawn like the training set.

        Parameters
        ----------
        table : `~astropy.table.Table`
            A table with the ``typicality_latent`` (and, optionally,
            ``typicality_image``) columns of `score` or `~minuet.Minuet.encode`.
        alpha : float, optional
            Level below which the sample is called unlike the training set.

        Returns
        -------
        result : `SampleTypicality`
            See `sample_typicality`.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.typicality import TypicalityScorer
        >>> rng = np.random.default_rng(0)
        >>> scorer = TypicalityScorer(n_components=(1,))
        >>> scorer = scorer.fit(rng.normal(size=(2000, 5)), rng.normal(size=(2000, 7)))
        >>> alike = scorer.score(rng.normal(size=(500, 5)), rng.normal(size=(500, 7)))
        >>> bool(scorer.sample(alike).unlike_training)
        False
        >>> wider = scorer.score(rng.normal(size=(500, 5)), 1.3 * rng.normal(size=(500, 7)))
        >>> bool(scorer.sample(wider).unlike_training)
        True
        """
        self._check_fitted()
        if not isinstance(table, Table) or "typicality_latent" not in table.colnames:
            msg = ("sample() needs a table with the typicality_latent column, such as the "
                   "output of score() or Minuet.encode().")
            raise ValueError(msg)
        image = table["typicality_image"] if "typicality_image" in table.colnames else None
        return sample_typicality(table["typicality_latent"], image,
                                 n_calibration=self._record.n_calibration,
                                 threshold=self.threshold, alpha=alpha)

    def save(self, path):
        """
        Write the densities and calibration (safetensors) and settings (JSON sidecar).

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` path; the sidecar gets the ``.json`` suffix.

        Returns
        -------
        path : `~pathlib.Path`
            The weights file; its SHA-256 is kept as ``sha256``.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from minuet.typicality import TypicalityScorer
        >>> rng = np.random.default_rng(0)
        >>> latents, stats = rng.normal(size=(1000, 5)), rng.normal(size=(1000, 7))
        >>> scorer = TypicalityScorer(n_components=(1,)).fit(latents, stats)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = scorer.save(f"{tmp}/typicality.safetensors")
        ...     again = TypicalityScorer.load(path)
        >>> again.sha256 == scorer.sha256
        True
        >>> bool(np.allclose(again.score(latents[:5], stats[:5])["typicality"],
        ...                  scorer.score(latents[:5], stats[:5])["typicality"]))
        True
        """
        self._check_fitted()
        config = {**dataclasses.asdict(self._record),
                  "n_components": list(self.n_components),
                  "calibration_fraction": self.calibration_fraction}
        config["statistics"] = list(config["statistics"])
        path, self.sha256 = save_fitted(path, _FORMAT, self._arrays, config)
        return path

    @classmethod
    def load(cls, path):
        """
        Read a scorer written by `save`, checking the file's SHA-256.

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` file (or its ``.json`` sidecar).

        Returns
        -------
        scorer : `TypicalityScorer`

        Examples
        --------
        See `save`.
        """
        arrays, config, record = load_fitted(path, _FORMAT, legacy_kind=_KIND)
        if tuple(config["statistics"]) != STATISTIC_NAMES:
            msg = (f"{path} was fitted on the statistics {config['statistics']}, but this "
                   f"version of minuet measures {list(STATISTIC_NAMES)}; refit the scorer.")
            raise ValueError(msg)
        self = cls(threshold=config["threshold"], n_components=config.pop("n_components"),
                   calibration_fraction=config.pop("calibration_fraction"))
        config["statistics"] = tuple(config["statistics"])
        self._record = _Record(**config)
        self._arrays = dict(arrays)
        self.sha256 = record["sha256"]
        return self

    @classmethod
    def fit_head(cls, request):
        """Fit typicality on ``request.statistics`` for `~minuet.Minuet.fit_heads`.

        Parameters
        ----------
        request : HeadRequest
            Latents, cutout statistics and seed of `~minuet.Minuet.fit_heads`.

        Returns
        -------
        scorer : `TypicalityScorer`
            Or the marker that keeps the model's head when no statistics are given.
        """
        if request.statistics is None:
            return UNCHANGED
        return cls().fit(request.latents, request.statistics, seed=request.seed)

    def describe(self):
        """A few words on the scorer, for a model's ``repr``.

        Examples
        --------
        >>> from minuet.typicality import TypicalityScorer
        >>> TypicalityScorer().describe()
        'typicality'
        """
        return "typicality"
