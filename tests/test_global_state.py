"""Fitting anything leaves the caller's random state and thread count as they were."""

import h5py
import numpy as np
import pytest
import torch
from astropy.table import Table

from minuet import Minuet
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
from minuet.posterior import PosteriorConfig
from minuet.training import TrainingConfig, train


def _state():
    # numpy's legacy global generator is what a caller's old script may rely on
    return torch.random.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002


def _unchanged(state):
    now = _state()
    assert torch.equal(now[0], state[0])
    assert np.array_equal(now[1], state[1])


@pytest.fixture
def caller_state():
    before = torch.get_num_threads()
    torch.manual_seed(12345)
    np.random.seed(54321)  # noqa: NPY002
    yield _state()
    torch.set_num_threads(before)


def test_fit_heads_leaves_the_callers_state(caller_state):
    threads = torch.get_num_threads()
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(400, 5))
    truth = Table({"redshift": rng.uniform(0.1, 0.5, 400), "edge_on": latents[:, 0] > 0})
    config = PosteriorConfig(transforms=1, hidden_features=(8,), max_epochs=2)
    caller_state = _state()  # after the network drew its initial weights
    Minuet(net).fit_heads(latents, truth, posterior_config=config,
                          statistics=rng.normal(size=(400, 7)))
    _unchanged(caller_state)
    assert torch.get_num_threads() == threads


def test_training_leaves_the_callers_state(caller_state, tmp_path):
    threads = torch.get_num_threads()
    with h5py.File(tmp_path / "cutouts.h5", "w") as handle:
        handle["images"] = np.random.default_rng(0).normal(0, 0.003, (12, 3, 24, 24))
    config = TrainingConfig(
        data=(str(tmp_path / "cutouts.h5"),), output=str(tmp_path / "run"),
        model=DiffusionAutoencoderConfig.preset("tiny", image_size=24), steps=1, batch_size=4,
        log_every=1, validate_every=1, validation_fraction=0.2, precision="fp32",
        threads=1 if threads > 1 else 2)
    train(config, progress=False)
    _unchanged(caller_state)
    assert torch.get_num_threads() == threads


def test_two_fits_with_one_seed_agree():
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(120, 5))
    truth = Table({"redshift": rng.uniform(0.1, 0.5, 120)})
    config = PosteriorConfig(transforms=1, hidden_features=(8,), max_epochs=2)
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    a = Minuet(net).fit_heads(latents, truth, labels=[], posterior_config=config, seed=4)
    torch.rand(10)  # the global generator moves between the fits
    b = Minuet(net).fit_heads(latents, truth, labels=[], posterior_config=config, seed=4)
    np.testing.assert_array_equal(a.posterior_estimator.sample(latents[:3], n_samples=5, seed=1),
                                  b.posterior_estimator.sample(latents[:3], n_samples=5, seed=1))
