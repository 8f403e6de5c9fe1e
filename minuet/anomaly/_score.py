"""Anomaly scores from the density of latents and reconstruction errors."""

from pathlib import Path

import numpy as np
from astropy.table import Table
from scipy.special import logsumexp

from .._fitting import standardisation
from .._latents import latent_array
from .._validation import real
from .._weights import load_fitted, save_fitted

__all__ = ["AnomalyScorer"]

_KIND = "minuet-anomaly-scorer-2"
_LEGACY_FORMAT = "minuet-anomaly-scorer-1"  # the .npz files of minuet-model-1 directories
_NMAD = 1.4826


def _robust(values):
    """Median and normalised median absolute deviation (never zero)."""
    median = float(np.median(values))
    scale = float(_NMAD * np.median(np.abs(values - median)))
    return median, scale if scale > 0 else 1.0


class AnomalyScorer:
    """
    Anomaly scores: how improbable a latent is, optionally with a reconstruction term.

    A Gaussian mixture is fitted to the z-scored latents of a reference
    catalogue, the number of components chosen by the Bayesian information
    criterion (Schwarz 1978, Ann. Stat. 6, 461). A galaxy's density term is
    its negative log density, robustly standardised with the reference
    catalogue's median and normalised median absolute deviation, so that 0
    is typical and 5 is five (robust) sigma more improbable than typical. A
    per-galaxy reconstruction error (for example a reduced chi-squared of
    the reconstruction) supplied by the caller is standardised the same way
    and added with a weight.

    Parameters
    ----------
    n_components : int or sequence of int, optional
        Mixture size, or candidates to choose from by BIC.
    covariance_type : {'full', 'diag'}, optional
        Covariance of each mixture component.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.anomaly import AnomalyScorer
    >>> rng = np.random.default_rng(0)
    >>> latents = rng.normal(size=(2000, 5))
    >>> scorer = AnomalyScorer(n_components=1).fit(latents)
    >>> scores = scorer.score(np.vstack([np.zeros(5), np.full(5, 6.0)]))
    >>> bool(scores["anomaly_score"][1] > scores["anomaly_score"][0] + 10)
    True
    """

    def __init__(self, *, n_components=(1, 2, 4, 8), covariance_type="full"):
        if covariance_type not in ("full", "diag"):
            msg = f"covariance_type must be 'full' or 'diag'; received {covariance_type!r}."
            raise ValueError(msg)
        self.n_components = n_components
        self.covariance_type = covariance_type
        self._params = None
        self.sha256 = None

    def __repr__(self):
        k = None if self._params is None else len(self._params["weights"])
        return f"<AnomalyScorer components={k} covariance={self.covariance_type!r}>"

    def fit(self, latents, *, reconstruction_error=None, seed=0):
        """
        Fit the latent density of a reference catalogue.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            The reference catalogue's ``(N, D)`` latents.
        reconstruction_error : array-like, optional
            The reference catalogue's per-galaxy reconstruction errors, which
            set the typical level and spread of the reconstruction term.
        seed : int, optional
            Seed of the mixture fit.

        Returns
        -------
        self : `AnomalyScorer`

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.anomaly import AnomalyScorer
        >>> latents = np.random.default_rng(0).normal(size=(500, 5))
        >>> AnomalyScorer(n_components=(1, 2)).fit(latents, seed=1)  # doctest: +ELLIPSIS
        <AnomalyScorer components=... covariance='full'>
        """
        from sklearn.mixture import GaussianMixture

        x = latent_array(latents)
        mean, std = standardisation(x)
        xs = (x - mean) / std
        candidates = np.atleast_1d(self.n_components).astype(int)
        candidates = candidates[candidates <= len(x) // (2 * x.shape[1] + 2)]
        if candidates.size == 0:
            msg = (f"Too few galaxies ({len(x)}) to fit a density in {x.shape[1]} "
                   "dimensions; pass a larger reference catalogue.")
            raise ValueError(msg)
        best = None
        for k in candidates:
            gmm = GaussianMixture(k, covariance_type=self.covariance_type, random_state=seed,
                                  reg_covar=1e-4).fit(xs)
            bic = gmm.bic(xs)
            if best is None or bic < best[0]:
                best = (bic, gmm)
        gmm = best[1]
        covariances = gmm.covariances_
        if self.covariance_type == "diag":
            covariances = np.stack([np.diag(c) for c in covariances])
        self._params = {"weights": gmm.weights_, "means": gmm.means_,
                        "covariances": covariances, "mean": mean, "std": std}
        density = -self.log_density(x)
        self._params["density_stats"] = np.array(_robust(density))
        if reconstruction_error is not None:
            error = self._errors(reconstruction_error, len(x))
            self._params["error_stats"] = np.array(_robust(error))
        return self

    def _check_fitted(self):
        if self._params is None:
            msg = "This AnomalyScorer is not fitted yet; call fit() or load() first."
            raise RuntimeError(msg)

    @staticmethod
    def _errors(values, n, *, allow_nan=False):
        """Check per-galaxy errors: one finite value >= 0 each (NaN allowed where ``allow_nan``)."""
        try:
            values = np.asarray(getattr(values, "value", values), dtype=float).ravel()
        except (TypeError, ValueError):
            msg = (f"reconstruction_error must be numbers, one per galaxy; received "
                   f"{type(values).__name__} that does not convert to float.")
            raise TypeError(msg) from None
        if values.size != n:
            msg = (f"reconstruction_error must have one value per galaxy ({n}); received "
                   f"{values.size}.")
            raise ValueError(msg)
        bad = ~np.isfinite(values) & ~np.broadcast_to(allow_nan, values.shape)
        if bad.any():
            msg = ("reconstruction_error contains NaN or infinite values (first at row "
                   f"{int(np.flatnonzero(bad)[0])}); remove those galaxies.")
            raise ValueError(msg)
        with np.errstate(invalid="ignore"):
            negative = values < 0
        if negative.any():
            msg = (f"reconstruction_error must be >= 0 (a reduced chi-squared or another "
                   f"error measure); row {int(np.flatnonzero(negative)[0])} is "
                   f"{values[negative][0]:g}.")
            raise ValueError(msg)
        return values

    def log_density(self, latents):
        """
        Log density of latents under the fitted mixture, per unit latent volume.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents.

        Returns
        -------
        log_density : `~numpy.ndarray`
            Shape ``(N,)``.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.anomaly import AnomalyScorer
        >>> latents = np.random.default_rng(0).normal(size=(500, 5))
        >>> scorer = AnomalyScorer(n_components=1).fit(latents)
        >>> log_density = scorer.log_density(np.vstack([np.zeros(5), np.full(5, 4.0)]))
        >>> log_density.shape, bool(log_density[0] > log_density[1])
        ((2,), True)
        """
        self._check_fitted()
        p = self._params
        x = latent_array(latents, n_features=len(p["mean"]))
        xs = (x - p["mean"]) / p["std"]
        terms = []
        for w, mu, cov in zip(p["weights"], p["means"], p["covariances"], strict=True):
            chol = np.linalg.cholesky(cov)
            sol = np.linalg.solve(chol, (xs - mu).T)
            logdet = 2 * np.log(np.diag(chol)).sum()
            terms.append(np.log(w) - 0.5 * (np.sum(sol**2, axis=0) + logdet
                                            + len(mu) * np.log(2 * np.pi)))
        return logsumexp(np.stack(terms), axis=0) - np.log(p["std"]).sum()

    def score(self, latents, *, reconstruction_error=None, weight=1.0):
        """
        Anomaly scores, higher meaning more anomalous.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(N, D)`` latents.
        reconstruction_error : array-like, optional
            Per-galaxy reconstruction errors. They are standardised with the
            reference statistics given to `fit`, or, when `fit` had none,
            with the median and spread of these errors themselves.
        weight : float, optional
            Weight of the reconstruction term.

        Returns
        -------
        table : `~astropy.table.Table`
            ``density_score``, ``reconstruction_score`` (when errors are
            given) and ``anomaly_score``, their weighted sum.

        Examples
        --------
        With reconstruction errors of the reference catalogue given to `fit`,
        a large error raises the score:

        >>> import numpy as np
        >>> from minuet.anomaly import AnomalyScorer
        >>> rng = np.random.default_rng(0)
        >>> latents, errors = rng.normal(size=(500, 5)), rng.normal(1.0, 0.1, 500)
        >>> scorer = AnomalyScorer(n_components=1).fit(latents, reconstruction_error=errors)
        >>> table = scorer.score(np.zeros((2, 5)), reconstruction_error=[1.0, 3.0])
        >>> table.colnames
        ['density_score', 'reconstruction_score', 'anomaly_score']
        >>> bool(table["anomaly_score"][1] > table["anomaly_score"][0] + 10)
        True
        """
        self._check_fitted()
        weight = real(weight, "weight", minimum=0)
        p = self._params
        x = latent_array(latents, n_features=len(p["mean"]))
        median, scale = p["density_stats"]
        table = Table({"density_score": (-self.log_density(x) - median) / scale})
        total = table["density_score"].data.copy()
        if reconstruction_error is not None:
            error = self._errors(reconstruction_error, len(x))
            emedian, escale = p.get("error_stats", _robust(error))
            table["reconstruction_score"] = (error - emedian) / escale
            total = total + weight * table["reconstruction_score"].data
        table["anomaly_score"] = total
        table.meta["components"] = len(p["weights"])
        return table

    def save(self, path):
        """Write the fitted mixture in minuet's one format (safetensors and a JSON record).

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` path or its stem.

        Returns
        -------
        path : `~pathlib.Path`
            The ``.safetensors`` file written.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from minuet.anomaly import AnomalyScorer
        >>> latents = np.random.default_rng(0).normal(size=(500, 5))
        >>> scorer = AnomalyScorer(n_components=1).fit(latents)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     again = AnomalyScorer.load(scorer.save(f"{tmp}/scorer"))
        >>> bool(np.allclose(again.log_density(latents[:3]), scorer.log_density(latents[:3])))
        True
        """
        self._check_fitted()
        path, self.sha256 = save_fitted(path, _KIND, self._params,
                                        {"covariance_type": self.covariance_type})
        return path

    @classmethod
    def load(cls, path):
        """Read a scorer written by `save`, checking its SHA-256.

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` file (or its ``.json`` record); the ``.npz``
            file of an older version is read too.

        Returns
        -------
        scorer : `AnomalyScorer`

        Examples
        --------
        See `save`.
        """
        if Path(path).suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                if "format" not in data.files or str(data["format"]) != _LEGACY_FORMAT:
                    msg = f"{path} is not an AnomalyScorer file written by AnomalyScorer.save()."
                    raise ValueError(msg)
                config = {"covariance_type": str(data["covariance_type"])}
                params = {k: data[k] for k in data.files
                          if k not in ("format", "covariance_type")}
            digest = None
        else:
            params, config, record = load_fitted(path, _KIND)
            digest = record["sha256"]
        self = cls(covariance_type=config["covariance_type"])
        self._params = dict(params)
        self.n_components = len(self._params["weights"])
        self.sha256 = digest
        return self

    @classmethod
    def fit_head(cls, request):
        """Fit the latent density for `~minuet.Minuet.fit_heads`.

        Parameters
        ----------
        request : HeadRequest
            Latents and seed of `~minuet.Minuet.fit_heads`.

        Returns
        -------
        scorer : `AnomalyScorer`
        """
        return cls().fit(request.latents, seed=request.seed)

    def describe(self):
        """A few words on the scorer, for a model's ``repr``.

        Examples
        --------
        >>> from minuet.anomaly import AnomalyScorer
        >>> AnomalyScorer().describe()
        'anomaly scores'
        """
        return "anomaly scores"
