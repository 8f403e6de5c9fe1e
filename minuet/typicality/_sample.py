"""Typicality of a whole sample: whether, as a population, it is drawn like the training set."""

import dataclasses
import math

import numpy as np
from scipy import stats

__all__ = ["SampleTypicality", "sample_typicality"]

#: Default level below which a sample is called unlike the training set.
ALPHA = 1e-3

#: Fewest galaxies for which `sample_typicality` gives an answer.
MIN_GALAXIES = 10


def _rank_sum(p_values, n_calibration):
    """Mann-Whitney AUC and one-sided p-value of a sample against the calibration set.

    A conformal p-value ``p = (1 + e) / (n + 1)``, with ``e`` the number of
    the ``n`` calibration galaxies at least as atypical, says that
    ``(n + 1) (1 - p)`` of them are less atypical: summed over the sample
    that is the Mann-Whitney U of the sample's atypicality scores against
    the calibration scores, so the test needs no scores beyond the p-values.
    """
    p = np.asarray(p_values, dtype=float)
    p = p[np.isfinite(p)]
    big_n, n = len(p), int(n_calibration)
    if big_n < MIN_GALAXIES:
        return big_n, math.nan, math.nan
    u = float((n + 1) * np.sum(1.0 - p))
    mean = big_n * n / 2.0
    sd = math.sqrt(big_n * n * (big_n + n + 1) / 12.0)
    return big_n, u / (big_n * n), float(stats.norm.sf((u - mean) / sd))


@dataclasses.dataclass(frozen=True)
class SampleTypicality:
    """Whether a sample of galaxies, as a whole, is drawn like the training set.

    Attributes
    ----------
    n_galaxies : int
        Galaxies with a latent typicality (refused cutouts are left out).
    auc_latent, auc_image : float
        Probability that a galaxy of the sample is less typical than a
        galaxy drawn like the training set, by the latent density and by the
        joint density of latent and pixel statistics: 0.5 for a sample drawn
        like the training set, 1 for one entirely unlike it. NaN where the
        sample has fewer than 10 galaxies with that p-value.
    p_latent, p_image : float
        One-sided p-values of those AUCs under the hypothesis that the
        sample is drawn like the training set (Mann-Whitney rank-sum test,
        normal approximation: the rank sum of a few galaxies has lighter
        tails than the normal, so for small samples these p-values err on
        the large side).
    p_value : float
        ``min(1, 2 * min(p_latent, p_image))``, or ``p_latent`` alone
        without pixel statistics.
    flagged_fraction : float
        Fraction of the sample flagged ``atypical``; at most ``threshold``
        is expected for a sample drawn like the training set.
    threshold : float
        The per-galaxy flag's threshold.
    alpha : float
        Level of the decision below.
    unlike_training : bool
        ``p_value < alpha``: the sample as a whole is unlike the training set.
    """

    n_galaxies: int
    auc_latent: float
    auc_image: float
    p_latent: float
    p_image: float
    p_value: float
    flagged_fraction: float
    threshold: float
    alpha: float
    unlike_training: bool

    def __str__(self):
        if not np.isfinite(self.p_value):
            return (f"{self.n_galaxies} galaxies: too few (at least {MIN_GALAXIES} are needed) "
                    "to compare the sample with the training set.")
        auc = max(v for v in (self.auc_latent, self.auc_image) if np.isfinite(v))
        verdict = "unlike" if self.unlike_training else "not distinguishable from"
        return (f"{self.n_galaxies} galaxies, {verdict} the training set as a whole "
                f"(p = {self.p_value:.2g}; a galaxy of the sample is less typical than a "
                f"training-like one with probability up to {auc:.3f}, 0.5 when alike); "
                f"{self.flagged_fraction:.1%} flagged atypical, at most "
                f"{self.threshold:.0%} expected when alike.")

    def as_dict(self):
        """The attributes as a plain dictionary (for JSON or a table's meta).

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.typicality import sample_typicality
        >>> p = np.linspace(0.01, 1, 100)
        >>> sorted(sample_typicality(p, n_calibration=1000).as_dict())[:3]
        ['alpha', 'auc_image', 'auc_latent']
        """
        return dataclasses.asdict(self)


def sample_typicality(p_latent, p_image=None, *, n_calibration, threshold=0.05, alpha=ALPHA):
    """Test whether a sample, as a whole, is drawn like the training set.

    The per-galaxy flag cannot see a shift that turns each galaxy into
    another ordinary-looking one: photometry miscalibrated by 0.1 mag in
    one band makes every galaxy's colours a little off, none of them
    unusual, and biases every answer. A whole sample shows it: for
    galaxies drawn like the training set the conformal p-values are
    uniform, so a sample whose p-values are too small *on average* is
    unlike the training set even when few of them fall below the flag's
    threshold. The test is the Mann-Whitney rank-sum test of the sample's
    atypicality scores against the scorer's calibration galaxies (exact
    from the conformal p-values alone), once for each density, combined by
    Bonferroni.

    A rejection says the *population* differs: a selection from the
    training-like population (only bright galaxies, say) is rejected too,
    and with many thousands of galaxies a shift too small to matter is
    detected; read the AUCs for the size of the difference.

    Parameters
    ----------
    p_latent : array-like
        ``typicality_latent`` of each galaxy (NaN entries are left out).
    p_image : array-like, optional
        ``typicality_image`` of each galaxy.
    n_calibration : int
        Number of calibration galaxies behind the p-values.
    threshold : float, optional
        The per-galaxy flag's threshold, for ``flagged_fraction``.
    alpha : float, optional
        Level below which the sample is called unlike the training set.

    Returns
    -------
    result : `SampleTypicality`

    Examples
    --------
    Uniform p-values are what a training-like sample gives; p-values
    squeezed towards zero are not:

    >>> import numpy as np
    >>> from minuet.typicality import sample_typicality
    >>> rng = np.random.default_rng(0)
    >>> alike = sample_typicality(rng.uniform(size=2000), n_calibration=10_000)
    >>> bool(alike.unlike_training), round(alike.auc_latent, 2)
    (False, 0.5)
    >>> shifted = sample_typicality(rng.uniform(size=2000) ** 1.2, n_calibration=10_000)
    >>> bool(shifted.unlike_training), round(shifted.auc_latent, 2)
    (True, 0.55)
    """
    if not 0 < alpha < 1:
        msg = f"alpha must lie in (0, 1); received {alpha!r}."
        raise ValueError(msg)
    if int(n_calibration) < 1:
        msg = f"n_calibration must be a positive number of galaxies; received {n_calibration!r}."
        raise ValueError(msg)
    p_latent = np.asarray(p_latent, dtype=float).ravel()
    p_image = (np.full(len(p_latent), np.nan) if p_image is None
               else np.asarray(p_image, dtype=float).ravel())
    if p_image.shape != p_latent.shape:
        msg = (f"p_latent and p_image must have one value per galaxy each; received "
               f"{p_latent.shape} and {p_image.shape}.")
        raise ValueError(msg)
    for name, p in (("p_latent", p_latent), ("p_image", p_image)):
        if np.any((p[np.isfinite(p)] <= 0) | (p[np.isfinite(p)] > 1)):
            msg = f"{name} must hold p-values in (0, 1] (the typicality columns of encode())."
            raise ValueError(msg)
    n, auc_latent, pv_latent = _rank_sum(p_latent, n_calibration)
    _, auc_image, pv_image = _rank_sum(p_image, n_calibration)
    p_value = min(1.0, 2.0 * min(pv_latent, pv_image)) if np.isfinite(pv_image) else pv_latent
    combined = np.where(np.isfinite(p_image), np.minimum(1.0, 2.0 * np.fmin(p_latent, p_image)),
                        p_latent)
    usable = np.isfinite(combined)
    flagged = float(np.mean(combined[usable] < threshold)) if usable.any() else math.nan
    return SampleTypicality(
        n_galaxies=n, auc_latent=auc_latent, auc_image=auc_image, p_latent=pv_latent,
        p_image=pv_image, p_value=p_value, flagged_fraction=flagged, threshold=float(threshold),
        alpha=float(alpha), unlike_training=bool(np.isfinite(p_value) and p_value < alpha))
