import warnings

import numpy as np
import pytest
import torch
from astropy.table import QTable

from minuet import Minuet
from minuet.cutouts import load_cutouts
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
from minuet.posterior import PosteriorConfig
from minuet.typicality import AtypicalWarning, cutout_statistics

N = 400


def _images(rng, n, *, noise=0.01):
    yy, xx = np.mgrid[:72, :72]
    sigma = rng.uniform(1.5, 4.0, n)
    flux = rng.uniform(2, 20, n)
    blob = np.exp(-((yy - 35.5) ** 2 + (xx - 35.5) ** 2)[None] / (2 * sigma[:, None, None] ** 2))
    blob /= blob.sum(axis=(1, 2), keepdims=True)
    colour = np.array([0.5, 1.0, 1.5])
    images = flux[:, None, None, None] * colour[None, :, None, None] * blob[:, None]
    images = images + rng.normal(0, noise, size=images.shape)
    truth = QTable({"redshift": 0.1 + 0.02 * sigma + rng.normal(0, 0.01, n)})
    return images.astype(np.float32), truth


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny"))
    model = Minuet(net, name="typical")
    images, truth = _images(rng, N)
    latents = model.encode(images)
    cutouts = load_cutouts(images, size=72)
    config = PosteriorConfig(transforms=1, hidden_features=(16,), max_epochs=20)
    return model.fit_heads(latents, truth, labels=[], posterior_config=config,
                           statistics=cutout_statistics(cutouts.flux, cutouts.mask))


def test_encode_adds_typicality_and_flags_few_ordinary_galaxies(model):
    images, _ = _images(np.random.default_rng(1), 300)
    table = model.encode(images)
    for name in ("typicality", "typicality_latent", "typicality_image", "atypical"):
        assert name in table.colnames
    assert np.mean(table["atypical"]) <= 0.08
    assert table.meta["typicality_threshold"] == 0.05
    noisy, _ = _images(np.random.default_rng(2), 100, noise=0.05)  # five times shallower
    assert np.mean(model.encode(noisy)["atypical"]) > 0.9


def test_heads_carry_the_flag_and_warn_once(model):
    images, _ = _images(np.random.default_rng(3), 20)
    images[:5] += np.random.default_rng(4).normal(0, 0.05, size=images[:5].shape)
    table = model.encode(images)
    assert table["atypical"][:5].all()
    with pytest.warns(AtypicalWarning, match=f"{int(table['atypical'].sum())} of 20") as record:
        post = model.posterior(table, n_samples=50, seed=0)
    assert len([w for w in record if issubclass(w.category, AtypicalWarning)]) == 1
    assert np.array_equal(post["atypical"], table["atypical"])
    with pytest.warns(AtypicalWarning):
        found = model.neighbours(table[:6], k=2)
    assert np.array_equal(found["query_atypical"], np.repeat(table["atypical"][:6], 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = model.posterior(table[~table["atypical"]], n_samples=50, seed=0)
        plain = model.posterior(np.zeros((2, 5)), n_samples=50, seed=0)
    assert not quiet["atypical"].any()
    assert "atypical" not in plain.colnames


def test_typicality_head_survives_save_and_load(model, tmp_path):
    images, _ = _images(np.random.default_rng(5), 10)
    model.save(tmp_path / "m")
    again = Minuet.load(tmp_path / "m")
    assert "typicality" in repr(again)
    assert np.allclose(again.encode(images)["typicality"], model.encode(images)["typicality"])


def test_models_without_typicality_still_work_and_say_so(model, tmp_path):
    images, _ = _images(np.random.default_rng(6), 4)
    old = Minuet(model.autoencoder, name="old", posterior_estimator=model.posterior_estimator)
    old.save(tmp_path / "old")
    table = Minuet.load(tmp_path / "old").encode(images)
    assert "typicality" not in table.colnames
    assert "atypical" not in table.colnames
    assert "no typicality head" in table.meta["typicality"]
    assert len(old.posterior(table, n_samples=20, seed=0)) == 4


def test_recalibrate_round_trips_and_can_be_switched_off(model, tmp_path):
    rng = np.random.default_rng(7)
    images, truth = _images(rng, 300)
    truth["redshift"] += 0.05 * rng.normal(size=300)  # a population the flow knows less well
    table = model.encode(images)
    recalibrated = model.recalibrate(table, truth, n_samples=200)
    assert model.posterior_calibration is None  # the original is left alone
    table.remove_column("atypical")  # the flag and its warning are tested above
    raw = recalibrated.posterior(table, n_samples=200, seed=1, calibrated=False)
    new = recalibrated.posterior(table, n_samples=200, seed=1)
    width = np.asarray(new["redshift_hi95"] - new["redshift_lo95"])
    assert np.all(width > np.asarray(raw["redshift_hi95"] - raw["redshift_lo95"]))
    recalibrated.save(tmp_path / "r")
    again = Minuet.load(tmp_path / "r")
    assert "conformalised intervals" in repr(again)
    assert np.allclose(again.posterior(table, n_samples=200, seed=1)["redshift_hi95"],
                       new["redshift_hi95"])


def test_recalibrate_by_typicality_and_errors(model):
    rng = np.random.default_rng(8)
    images, truth = _images(rng, 200)
    table = model.encode(images)
    grouped = model.recalibrate(table, truth, n_samples=100, by_typicality=True)
    assert grouped.posterior_calibration.grouped
    with pytest.raises(ValueError, match="typicality' column"):
        model.recalibrate(np.zeros((200, 5)), truth, by_typicality=True)
    with pytest.raises(ValueError, match="one row per latent"):
        model.recalibrate(table, truth[:10])
    with pytest.raises(ValueError, match="statistics has 3 rows"):
        model.fit_heads(table, truth, labels=[], properties=[], statistics=np.zeros((3, 7)))
