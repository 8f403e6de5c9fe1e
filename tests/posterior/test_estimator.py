import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from minuet.evaluation import coverage
from minuet.posterior import PosteriorConfig, PosteriorEstimator

PRIOR_MEAN = np.array([0.4, 10.2, 0.3])
PRIOR_STD = np.array([0.2, 0.5, 0.6])
MIXING = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.8], [0.7, 0.0, 1.0],
                   [0.3, -0.4, 0.2], [0.0, 0.0, 0.0]])
NOISE = 0.5


def linear_gaussian(n, seed):
    """
    Latents that are noisy linear functions of standardised properties.

    The posterior of the properties given a latent is then Gaussian with a
    known mean and covariance.
    """
    rng = np.random.default_rng(seed)
    standard = rng.normal(size=(n, 3))
    latents = standard @ MIXING.T + NOISE * rng.normal(size=(n, 5))
    props = PRIOR_MEAN + PRIOR_STD * standard
    truth = Table({"redshift": props[:, 0], "log_mstar": props[:, 1] * u.dex(u.Msun),
                   "log_sfr": props[:, 2]})
    return latents, truth


def exact_posterior(latents):
    precision = np.eye(3) + MIXING.T @ MIXING / NOISE**2
    cov = np.linalg.inv(precision)
    mean = latents @ MIXING @ cov.T / NOISE**2
    return PRIOR_MEAN + PRIOR_STD * mean, np.sqrt(np.diag(cov)) * PRIOR_STD


@pytest.fixture(scope="module")
def fitted():
    latents, truth = linear_gaussian(3000, seed=0)
    config = PosteriorConfig(transforms=2, hidden_features=(64, 64), max_epochs=100,
                             patience=10, learning_rate=3e-3)
    return PosteriorEstimator(config).fit(latents, truth, seed=1)


def test_recovers_known_posterior(fitted):
    latents, truth = linear_gaussian(2000, seed=5)
    samples = fitted.sample(latents, n_samples=500, seed=2)
    assert samples.shape == (2000, 500, 3)
    mean, std = exact_posterior(latents)
    assert np.all(np.abs(samples.mean(axis=1) - mean).mean(axis=0) < 0.2 * std)
    ratio = np.median(samples.std(axis=1), axis=0) / std
    assert np.all(np.abs(ratio - 1) < 0.15)
    table = coverage(samples, np.column_stack([np.asarray(truth[c]) for c in truth.colnames]))
    assert np.all(np.abs(table["coverage_68"] - 0.68) < 0.06)
    assert np.all(np.abs(table["coverage_95"] - 0.95) < 0.04)


def test_summary_units_and_samples(fitted):
    latents, _ = linear_gaussian(4, seed=6)
    table = fitted.summary(latents, n_samples=300, seed=3, samples=True)
    assert len(table) == 4
    assert table["redshift_median"].unit == u.dimensionless_unscaled
    assert table["log_mstar_lo95"].unit == u.dex(u.Msun)
    assert table["log_sfr_hi68"].unit == u.dex(u.Msun / u.yr)
    assert table["log_sfr_samples"].shape == (4, 300)
    assert np.all(table["redshift_lo95"] < table["redshift_lo68"])
    assert np.all(table["redshift_lo68"] < table["redshift_median"])
    assert np.all(table["redshift_median"] < table["redshift_hi68"])
    assert table.meta["properties"] == ["redshift", "log_mstar", "log_sfr"]
    again = fitted.summary(latents, n_samples=300, seed=3)
    assert np.all(again["redshift_median"] == table["redshift_median"])


def test_latent_table_input(fitted):
    latents, _ = linear_gaussian(3, seed=7)
    table = Table({f"latent_{i}": latents[:, i] for i in range(5)})
    a = fitted.sample(latents, n_samples=10, seed=0)
    b = fitted.sample(table, n_samples=10, seed=0)
    assert np.array_equal(a, b)


def test_log_prob_prefers_truth(fitted):
    latents, truth = linear_gaussian(500, seed=8)
    shuffled = truth[np.random.default_rng(0).permutation(len(truth))]
    assert fitted.log_prob(latents, truth).mean() > fitted.log_prob(latents, shuffled).mean() + 1


def test_save_load_round_trip(fitted, tmp_path):
    path = tmp_path / "posterior.safetensors"
    assert fitted.save(path) == path
    loaded = PosteriorEstimator.load(path)
    assert loaded.sha256 == fitted.sha256
    assert loaded.config == fitted.config
    latents, _ = linear_gaussian(5, seed=9)
    assert np.allclose(loaded.sample(latents, n_samples=20, seed=4),
                       fitted.sample(latents, n_samples=20, seed=4))
    assert loaded.summary(latents, n_samples=20).meta["posterior_weights_sha256"] == fitted.sha256
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ValueError, match="SHA-256"):
        PosteriorEstimator.load(path)
    with pytest.raises(OSError, match="does not exist"):
        PosteriorEstimator.load(tmp_path / "missing.safetensors")


def test_config_json_round_trip():
    config = PosteriorConfig(properties=("redshift",), units=("",), hidden_features=(8,))
    assert PosteriorConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError, match="unknown PosteriorConfig keys"):
        PosteriorConfig.from_json('{"depth": 3}')


def test_any_property_and_nsf_flow():
    rng = np.random.default_rng(10)
    x = rng.normal(size=200)
    truth = Table({"size": x * u.kpc})
    latents = np.column_stack([x + 0.1 * rng.normal(size=200), rng.normal(size=200)])
    config = PosteriorConfig(flow="nsf", transforms=1, hidden_features=(16,), max_epochs=3)
    estimator = PosteriorEstimator(config).fit(latents, truth, properties=["size"])
    assert estimator.summary(latents[:2], n_samples=20)["size_median"].unit == u.kpc
    assert "nsf" in repr(estimator)


def test_bad_input(fitted):
    latents, truth = linear_gaussian(50, seed=11)
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        fitted.sample(latents[:, :4])
    nan = latents.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.sample(nan)
    with pytest.raises(ValueError, match="no property column"):
        PosteriorEstimator().fit(latents, truth, properties=["metallicity"])
    with pytest.raises(ValueError, match="rows"):
        PosteriorEstimator().fit(latents[:10], truth)
    with pytest.raises(ValueError, match="n_samples"):
        fitted.sample(latents, n_samples=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        PosteriorEstimator().sample(latents)
    with pytest.raises(ValueError, match="latent columns"):
        fitted.sample(Table({"x": [1.0]}))


def test_non_finite_properties_are_dropped_with_warning():
    latents, truth = linear_gaussian(60, seed=12)
    truth["redshift"][0] = np.nan
    config = PosteriorConfig(transforms=1, hidden_features=(8,), max_epochs=1)
    with pytest.warns(AstropyUserWarning, match="Dropping 1"):
        PosteriorEstimator(config).fit(latents, truth)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PosteriorEstimator(config).fit(latents[1:], truth[1:])


def test_old_keyword_names_still_work():
    from astropy.utils.exceptions import AstropyDeprecationWarning

    latents, truth = linear_gaussian(60, seed=13)
    config = PosteriorConfig(transforms=1, hidden_features=(8,), max_epochs=50)
    with pytest.warns(AstropyDeprecationWarning, match="was deprecated") as caught:
        estimator = PosteriorEstimator(config).fit(latents, table=truth, epochs=1)
    messages = " ".join(str(w.message) for w in caught)
    assert '"table" was deprecated' in messages
    assert '"epochs" was deprecated' in messages
    assert len(estimator.history["validation"]) == 1
    with pytest.warns(AstropyDeprecationWarning, match='"table" was deprecated'):
        assert estimator.log_prob(latents[:3], table=truth[:3]).shape == (3,)
