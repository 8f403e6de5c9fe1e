import json

import numpy as np
import pytest
import torch
from astropy.nddata import NDData, StdDevUncertainty
from astropy.table import Table

from minuet import Minuet, __version__
from minuet.cutouts import load_cutouts, nanomaggy
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny"))
    return Minuet(net, name="tiny-test")


@pytest.fixture
def cutouts():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:72, :72]
    blob = np.exp(-((xx - 36) ** 2 + (yy - 36) ** 2) / 20.0)
    return rng.normal(0, 0.003, (4, 3, 72, 72)) + blob * np.array([0.2, 0.4, 0.6])[:, None, None]


def test_encode_table(model, cutouts):
    table = model.encode(cutouts)
    assert len(table) == 4
    assert table["id"].tolist() == [0, 1, 2, 3]
    latents = np.stack([table[f"latent_{i}"] for i in range(5)], axis=1)
    assert latents.dtype == np.float32
    assert np.all(np.isfinite(latents))
    assert table.meta["minuet_version"] == __version__
    assert table.meta["model"] == "tiny-test"
    assert "date" in table.meta
    # batching does not change the answer
    again = model.encode(cutouts, batch_size=3)
    np.testing.assert_allclose(again["latent_0"], table["latent_0"], rtol=1e-5, atol=1e-6)


def test_encode_adds_columns_to_table(model, cutouts):
    table = Table({"name": ["a", "b", "c", "d"], "cutout": cutouts})
    out = model.encode(table, column="cutout")
    assert out["name"].tolist() == ["a", "b", "c", "d"]
    assert "latent_4" in out.colnames
    with pytest.raises(ValueError, match="already has columns"):
        model.encode(out, column="cutout")


def test_refused_cutout_is_flagged_not_lost(model, cutouts):
    cutouts[1] = np.nan
    table = model.encode(cutouts, on_invalid="flag")
    assert table["valid"].tolist() == [True, False, True, True]
    assert table["flag"][1] != ""
    assert np.isnan(table["latent_0"][1])
    images = model.reconstruct(table, seed=0)
    assert np.all(np.isnan(images.data[1]))
    assert np.all(np.isfinite(images.data[[0, 2, 3]]))


def test_encode_cutouts_checks_size(model, cutouts):
    small = load_cutouts(cutouts, size=64)
    with pytest.raises(ValueError, match="takes 72x72 cutouts"):
        model.encode_cutouts(small)
    with pytest.raises(TypeError, match=r"expects minuet\.cutouts\.Cutouts"):
        model.encode_cutouts(cutouts)


def test_reconstruct_units_seed_and_spread(model):
    latents = np.zeros((2, 5), dtype=np.float32)
    a = model.reconstruct(latents, seed=5)
    b = model.reconstruct(latents, seed=5)
    c = model.reconstruct(latents)
    assert isinstance(a, NDData)
    assert a.unit == nanomaggy
    assert a.data.shape == (2, 3, 72, 72)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    multi = model.reconstruct(latents, n_samples=3, seed=1)
    assert isinstance(multi.uncertainty, StdDevUncertainty)
    assert np.all(multi.uncertainty.array > 0)
    assert multi.meta["n_samples"] == 3


@pytest.mark.parametrize(
    ("latents", "match"),
    [
        (np.zeros((2, 4)), r"latents must have shape \(N, 5\)"),
        (Table({"latent_0": [0.0]}), r"must have shape \(N, 5\)"),
        (Table({"flux": [0.0]}), "without latent columns"),
    ],
)
def test_reconstruct_bad_latents(model, latents, match):
    with pytest.raises(ValueError, match=match):
        model.reconstruct(latents)


def test_reconstruct_bad_n_samples(model):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        model.reconstruct(np.zeros((1, 5)), n_samples=0)


def test_save_load_round_trip(model, cutouts, tmp_path):
    path = model.save(tmp_path / "m")
    loaded = Minuet.load(path)
    assert loaded.name == "tiny-test"
    assert loaded.sha256 == model.sha256
    np.testing.assert_array_equal(
        loaded.encode(cutouts)["latent_2"], model.encode(cutouts)["latent_2"]
    )
    assert loaded.sha256[:12] in repr(loaded)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path)
    model.save(path, overwrite=True)


def test_altered_or_truncated_weights_are_refused(model, tmp_path):
    path = model.save(tmp_path / "m")
    weights = path / "autoencoder.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or altered"):
        Minuet.load(path)
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF
    weights.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="truncated or altered"):
        Minuet.load(path)


def test_manifest_checks(model, tmp_path):
    path = model.save(tmp_path / "m")
    manifest = json.loads((path / "minuet.json").read_text())
    good = manifest["files"]["autoencoder.json"]
    manifest["files"]["autoencoder.json"] = "0" * 64
    (path / "minuet.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"autoencoder\.json is [0-9a-f]+, but .* altered"):
        Minuet.load(path)
    manifest["files"]["autoencoder.json"] = good
    manifest["files"]["extra.npz"] = "0" * 64
    (path / "minuet.json").write_text(json.dumps(manifest))
    with pytest.raises(FileNotFoundError, match=r"extra\.npz is missing"):
        Minuet.load(path)
    (path / "minuet.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Minuet.load(path)
    with pytest.raises(FileNotFoundError, match=r"minuet\.json is missing"):
        Minuet.load(tmp_path)


def test_pretrained_unknown_name():
    with pytest.raises(ValueError, match="no model named 'nope'; the bundled models are"):
        Minuet.pretrained("nope")
