"""Hostile arguments to Minuet: counts, seeds, latents and head options."""

import numpy as np
import pytest
import torch
from astropy.table import QTable
from astropy.utils.exceptions import AstropyUserWarning

from minuet import Minuet
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    return Minuet(DiffusionAutoencoder(config), name="tiny")


@pytest.fixture(scope="module")
def bundled():
    return Minuet.pretrained()


@pytest.fixture
def sky():
    return np.random.default_rng(5).normal(0, 0.01, (3, 3, 24, 24))


@pytest.mark.parametrize(
    ("batch_size", "error", "match"),
    [
        (-1, ValueError, "batch_size must be a positive integer; got -1"),
        (0, ValueError, "batch_size must be a positive integer; got 0"),
        (2.5, ValueError, "batch_size must be a whole number; got 2.5"),
        ("8", TypeError, "batch_size must be a whole number"),
    ],
)
def test_encode_refuses_bad_batch_sizes(tiny, sky, batch_size, error, match):
    with pytest.raises(error, match=match):
        tiny.encode(sky, batch_size=batch_size)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": -1}, ValueError, "batch_size must be a positive integer"),
        ({"n_samples": 2.9}, ValueError, "n_samples must be a whole number; got 2.9"),
        ({"n_samples": True}, TypeError, "n_samples must be a whole number"),
        ({"steps": 0}, ValueError, "steps must be a positive integer"),
        ({"seed": 1.5}, TypeError, "seed must be a whole number"),
        ({"seed": 2**64 + 5}, ValueError, "would be wrapped onto other seeds"),
        ({"seed": -1}, ValueError, "seed must be a whole number between 0"),
    ],
)
def test_reconstruct_refuses_bad_counts_and_seeds(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny.reconstruct(np.zeros((1, 5)), **kwargs)


def test_reconstruct_records_a_seed_that_reproduces_it(tiny):
    first = tiny.reconstruct(np.zeros((1, 5)), steps=2)
    again = tiny.reconstruct(np.zeros((1, 5)), steps=2, seed=first.meta["seed"])
    np.testing.assert_array_equal(first.data, again.data)


def test_non_finite_latents_are_never_reported_valid(tiny, sky, monkeypatch):
    def broken(x, **kwargs):
        return torch.full((len(x), 5), float("nan"))

    monkeypatch.setattr(tiny.autoencoder, "encode", broken)
    table = tiny.encode(sky, on_invalid="flag")
    assert not table["valid"].any()
    assert all("non-finite latents" in flag for flag in table["flag"])
    with pytest.raises(ValueError, match="the encoder returned non-finite latents"):
        tiny.encode(sky)


def test_all_zero_cutouts_are_flagged_not_encoded(tiny, sky):
    sky[1] = 0.0
    table = tiny.encode(sky, on_invalid="flag")
    assert table["valid"].tolist() == [True, False, True]
    assert "holds no data" in table["flag"][1]
    assert np.isnan(table["latent_0"][1])


def test_overflowing_float64_pixels_are_flagged(tiny, sky):
    sky[2, 1, 3, 3] = 1e300
    table = tiny.encode(sky, on_invalid="flag")
    assert table["valid"].tolist() == [True, True, False]
    assert "overflow" in table["flag"][2]
    assert np.isfinite(table["latent_0"][:2]).all()


def test_far_away_latents_get_nan_posteriors_with_a_warning(bundled):
    latents = np.array([[0.0] * 5, [1e6] * 5])
    with pytest.warns(AstropyUserWarning, match="more than 10 standard deviations"):
        table = bundled.posterior(latents, properties=["redshift"], n_samples=50, seed=0)
    assert np.isfinite(table["redshift_median"][0])
    assert np.isnan(table["redshift_median"][1])


@pytest.mark.parametrize(
    ("n_samples", "error", "match"),
    [
        (1, ValueError, "n_samples must be an integer >= 20; got 1"),
        (2.9, ValueError, "n_samples must be a whole number"),
        (0, ValueError, "n_samples must be an integer >= 20"),
    ],
)
def test_posterior_refuses_too_few_or_fractional_samples(bundled, n_samples, error, match):
    with pytest.raises(error, match=match):
        bundled.posterior(np.zeros((1, 5)), n_samples=n_samples)


def test_posterior_takes_a_single_property_name_whole(bundled):
    table = bundled.posterior(np.zeros((1, 5)), properties="redshift", n_samples=50, seed=0)
    assert table.colnames[0] == "redshift_median"
    with pytest.raises(ValueError, match=r"\['z'\] are not among them"):
        bundled.posterior(np.zeros((1, 5)), properties=["z"], n_samples=50)


def test_posterior_refuses_a_bad_seed(bundled):
    with pytest.raises(ValueError, match="would be wrapped onto other seeds"):
        bundled.posterior(np.zeros((1, 5)), n_samples=50, seed=2**64 + 5)


@pytest.mark.parametrize(
    ("k", "error", "match"),
    [
        (2.7, ValueError, "k must be a whole number; got 2.7"),
        (0, ValueError, "k must be a positive integer; got 0"),
        (10**9, ValueError, "k must be between 1 and the catalogue size"),
        (None, TypeError, "k must be a whole number"),
    ],
)
def test_neighbours_refuse_bad_k(bundled, k, error, match):
    with pytest.raises(error, match=match):
        bundled.neighbours(np.zeros((1, 5)), k=k)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reconstruction_error": [-1.0, 1.0]}, ValueError, "must be >= 0"),
        ({"reconstruction_error": [1.0]}, ValueError, "one value per galaxy"),
        ({"reconstruction_error": [np.nan, 1.0]}, ValueError, "NaN or infinite"),
        ({"reconstruction_error": ["a", "b"]}, TypeError, "must be numbers"),
        ({"weight": np.nan}, ValueError, "weight must be a finite number >= 0; got nan"),
        ({"weight": -1.0}, ValueError, "weight must be a finite number >= 0"),
        ({"weight": "1"}, TypeError, "weight must be a finite number"),
    ],
)
def test_anomaly_score_refuses_bad_errors_and_weights(bundled, kwargs, error, match):
    with pytest.raises(error, match=match):
        bundled.anomaly_score(np.zeros((2, 5)), **kwargs)


def test_anomaly_score_keeps_refused_rows_with_any_error(bundled):
    latents = np.array([[0.0] * 5, [np.nan] * 5])
    table = bundled.anomaly_score(latents, reconstruction_error=[1.0, np.nan])
    assert np.isfinite(table["anomaly_score"][0])
    assert np.isnan(table["anomaly_score"][1])


@pytest.mark.parametrize(
    "method",
    [
        lambda m, z: m.posterior(z, n_samples=50),
        lambda m, z: m.classify(z),
        lambda m, z: m.anomaly_score(z),
        lambda m, z: m.neighbours(np.zeros((1, 5)), catalogue=QTable(z, names=m.latent_names)),
    ],
    ids=["posterior", "classify", "anomaly", "neighbours"],
)
def test_all_refused_rows_say_they_were_refused(bundled, method):
    with pytest.raises(ValueError, match="every cutout was refused when encoding"):
        method(bundled, np.full((3, 5), np.nan))


@pytest.mark.parametrize(
    ("latents", "match"),
    [
        (np.zeros((2, 4)), r"must have shape \(N, 5\)"),
        (np.zeros((0, 5)), "latents is empty"),
        (QTable({"x": [1.0]}), "a table without latent columns"),
    ],
    ids=["columns", "empty", "table"],
)
def test_latents_of_the_wrong_shape_are_refused(bundled, latents, match):
    with pytest.raises(ValueError, match=match):
        bundled.classify(latents)


@pytest.mark.parametrize(("seed", "error"), [(1.5, TypeError), (2**64 + 5, ValueError),
                                             (None, TypeError)])
def test_fit_heads_refuses_bad_seeds(tiny, seed, error):
    with pytest.raises(error, match="seed must be a whole number"):
        tiny.fit_heads(np.zeros((4, 5)), QTable({"redshift": [0.1, 0.2, 0.3, 0.4]}),
                       seed=seed)
