"""A Gaussian-mixture density on standardised features, stored as plain arrays."""

import numpy as np
from scipy.special import logsumexp

from .._fitting import standardisation

__all__ = []


def fit_mixture(x, *, candidates=(1, 2, 4, 8, 16), seed=0):
    """Fit a full-covariance Gaussian mixture to z-scored ``x``; size chosen by BIC.

    The Bayesian information criterion is that of Schwarz (1978, Ann. Stat.
    6, 461). Returns a dict of arrays that `log_density` reads.
    """
    from sklearn.mixture import GaussianMixture

    mean, std = standardisation(x)
    xs = (x - mean) / std
    n_params = 1 + x.shape[1] + x.shape[1] * (x.shape[1] + 1) / 2
    usable = [int(k) for k in candidates if k * n_params <= len(x)]
    if not usable:
        msg = (f"too few galaxies ({len(x)}) to fit a density in {x.shape[1]} dimensions; "
               f"pass at least {int(n_params)} reference galaxies.")
        raise ValueError(msg)
    best = None
    for k in usable:
        gmm = GaussianMixture(k, covariance_type="full", random_state=seed,
                              reg_covar=1e-4).fit(xs)
        bic = gmm.bic(xs)
        if best is None or bic < best[0]:
            best = (bic, gmm)
    gmm = best[1]
    return {"weights": gmm.weights_, "means": gmm.means_,
            "precisions_cholesky": gmm.precisions_cholesky_, "mean": mean, "std": std}


def log_density(params, x):
    """Log density of ``x`` under a mixture from `fit_mixture` (per standardised volume)."""
    xs = (np.asarray(x, dtype=float) - params["mean"]) / params["std"]
    terms = []
    for w, mu, prec in zip(params["weights"], params["means"], params["precisions_cholesky"],
                           strict=True):
        y = (xs - mu) @ prec
        terms.append(np.log(w) + np.log(np.diag(prec)).sum()
                     - 0.5 * (np.sum(y**2, axis=1) + len(mu) * np.log(2 * np.pi)))
    return logsumexp(np.stack(terms), axis=0)
