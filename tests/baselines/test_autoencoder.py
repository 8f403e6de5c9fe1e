import json

import numpy as np
import pytest
import torch

from minuet.baselines import (
    DeterministicAutoencoder,
    DeterministicAutoencoderConfig,
    SupervisedCNN,
)
from minuet.cutouts import AsinhStretch, nanomaggy
from minuet.models import DiffusionAutoencoderConfig, EncoderConfig

SIZE = 16  # side of the cutouts made by conftest.blobs

TINY = DeterministicAutoencoderConfig(
    EncoderConfig(image_size=SIZE, patch=4, width=16, depth=1, heads=2), decoder_widths=(16, 8)
)
FIT = {"steps": 40, "batch_size": 16, "learning_rate": 3e-3, "validate_every": 10}


def stretched_mse(ae, flux):
    stretch = ae.stretch
    rec = ae.reconstruct(ae.encode(flux)).to_value(nanomaggy)
    return float(np.mean((stretch.forward(rec) - stretch.forward(flux)) ** 2))


@pytest.fixture(scope="module")
def fitted(data):
    flux, invvar, footprint, _ = data
    return DeterministicAutoencoder(TINY, seed=3).fit(flux, invvar=invvar, footprint=footprint,
                                                      **FIT)


def test_default_uses_minuet_encoder():
    config = DeterministicAutoencoderConfig()
    assert config.encoder == DiffusionAutoencoderConfig.preset("default").encoder
    assert DeterministicAutoencoderConfig.from_json(config.to_json()) == config


def test_shapes_and_dtypes(fitted, data):
    flux = data[0][:5]
    latents = fitted.encode(flux)
    assert latents.shape == (5, 5)
    assert latents.dtype == np.float64
    rec = fitted.reconstruct(latents)
    assert rec.shape == flux.shape
    assert rec.unit == nanomaggy
    assert rec.dtype == np.float32


def test_loss_decreases(fitted, data):
    flux = data[0]
    untrained = DeterministicAutoencoder(TINY, seed=3)
    assert stretched_mse(fitted, flux) < 0.5 * stretched_mse(untrained, flux)
    val = [loss for _, loss in fitted.history["val_loss"]]
    assert fitted.history["best_val_loss"] == min(val) < val[0]


def test_deterministic_under_seed(fitted, data):
    flux, invvar, footprint, _ = data
    again = DeterministicAutoencoder(TINY, seed=3).fit(flux, invvar=invvar, footprint=footprint,
                                                       **FIT)
    for a, b in zip(fitted.network.state_dict().values(), again.network.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    first, other = DeterministicAutoencoder(TINY, seed=3), DeterministicAutoencoder(TINY, seed=4)
    assert not np.array_equal(other.encode(flux), first.encode(flux))


def test_fit_from_file_and_time_budget(h5file):
    ae = DeterministicAutoencoder(TINY).fit(h5file, steps=50, batch_size=8, max_minutes=1e-9)
    assert ae.history["stopped"] == "time"
    assert ae.history["steps"] == 1


def test_old_names_of_the_learning_rate_and_time_budget(data):
    from astropy.utils.exceptions import AstropyDeprecationWarning

    kwargs = {"steps": 20, "batch_size": 8, "validate_every": 5}
    new = DeterministicAutoencoder(TINY, seed=1).fit(data[0], learning_rate=1e-3,
                                                    max_minutes=1e-9, **kwargs)
    with pytest.warns(AstropyDeprecationWarning, match="was deprecated") as caught:
        old = DeterministicAutoencoder(TINY, seed=1).fit(data[0], lr=1e-3, minutes=1e-9,
                                                        **kwargs)
    assert len(caught) == 2
    assert old.history["stopped"] == new.history["stopped"] == "time"
    np.testing.assert_array_equal(old.encode(data[0][:4]), new.encode(data[0][:4]))


def test_early_stopping(data):
    ae = DeterministicAutoencoder(TINY).fit(data[0], steps=200, batch_size=8, learning_rate=1e-9,
                                            validate_every=1, patience=2)
    assert ae.history["stopped"] == "early"
    assert ae.history["steps"] < 200


def test_save_load_bit_identical(fitted, data, tmp_path):
    flux = data[0][:8]
    digest = fitted.save(tmp_path / "ae", metadata={"note": "tiny"})
    again = DeterministicAutoencoder.load(tmp_path / "ae.safetensors")
    assert again.record["sha256"] == digest
    assert again.config == fitted.config
    assert again.stretch == fitted.stretch
    latents = fitted.encode(flux)
    np.testing.assert_array_equal(again.encode(flux), latents)
    np.testing.assert_array_equal(again.reconstruct(latents), fitted.reconstruct(latents))


def test_load_checks_integrity_and_kind(fitted, tmp_path):
    fitted.save(tmp_path / "ae")
    with open(tmp_path / "ae.safetensors", "ab") as f:
        f.write(b"0")
    with pytest.raises(ValueError, match="truncated or altered"):
        DeterministicAutoencoder.load(tmp_path / "ae")
    fitted.save(tmp_path / "ae")
    with pytest.raises(ValueError, match="expected 'minuet-supervised-cnn-1'"):
        SupervisedCNN.load(tmp_path / "ae")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        DeterministicAutoencoder.load(tmp_path / "missing")
    record = json.loads((tmp_path / "ae.json").read_text())
    assert record["config"] == fitted.config.to_dict()


def test_bad_input(fitted, data):
    flux = data[0][:4]
    with pytest.raises(ValueError, match=r"shaped \(N, 3, 16, 16\)"):
        fitted.encode(np.zeros((2, 3, 24, 24)))
    with pytest.raises(ValueError, match=r"shaped \(N, 3, 16, 16\)"):
        DeterministicAutoencoder(TINY).fit(flux[:, :2], steps=1)
    bad = flux.copy()
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite pixels"):
        fitted.encode(bad)
    with pytest.raises(ValueError, match=r"latents must be finite and shaped \(N, 5\)"):
        fitted.reconstruct(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="footprint must be boolean"):
        DeterministicAutoencoder(TINY).fit(flux, footprint=np.ones((4, 8, 8)), steps=1)
    with pytest.raises(ValueError, match="precision must be"):
        DeterministicAutoencoder(TINY).fit(flux, steps=1, precision="fp16")
    with pytest.raises(ValueError, match="steps must be positive"):
        DeterministicAutoencoder(TINY).fit(flux, steps=0)
    with pytest.raises(ValueError, match="divisible by 2"):
        DeterministicAutoencoder(DeterministicAutoencoderConfig(TINY.encoder, (8,) * 6))


def test_stretch_is_used(data):
    flux = data[0][:4]
    a = DeterministicAutoencoder(TINY, stretch=AsinhStretch(scale=2.0))
    b = DeterministicAutoencoder(TINY)
    assert not np.array_equal(a.encode(flux), b.encode(flux))


def test_footprint_weights(data, h5file):
    from minuet.baselines._data import make_source

    flux, invvar, footprint, _ = data
    invvar = invvar.copy()
    invvar[0, 1, 0, 0] = 0
    source = make_source(flux, size=SIZE, stretch=AsinhStretch(), invvar=invvar,
                         footprint=footprint)
    _, weight = source.read(np.arange(len(flux)))
    assert weight[0, 1, 0, 0] == 0
    inside = np.broadcast_to(footprint[:, None], weight.shape) & (invvar > 0)
    np.testing.assert_allclose(weight[inside], 0.9)
    np.testing.assert_allclose(weight[~inside & (invvar > 0)], 0.1)
    _, from_file = make_source(h5file, size=SIZE, stretch=AsinhStretch()).read([3, 1])
    # files are cached in memory as float16
    np.testing.assert_allclose(from_file, weight[[3, 1]] + (invvar[[3, 1]] == 0) * 0.1,
                               rtol=1e-3)
    _, plain = make_source(flux, size=SIZE, stretch=AsinhStretch()).read([0])
    np.testing.assert_array_equal(plain, 1.0)
