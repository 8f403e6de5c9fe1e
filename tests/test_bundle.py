"""Model directories: the registry of heads, the current layout and the minuet-model-1 one."""

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from minuet import Minuet, _heads
from minuet._bundle import FORMAT, LEGACY_FORMAT
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig

# Written by minuet 0.1 (the code before heads owned their files); see the expected answers.
LEGACY = Path(__file__).parent / "data" / "minuet-model-1"
EXPECTED = json.loads((LEGACY.parent / "minuet-model-1.expected.json").read_text())


def _answers(model):
    rng = np.random.default_rng(0)
    z, stats = rng.normal(size=(300, 5)), rng.normal(size=(300, 7))
    return {
        "repr": repr(model),
        "posterior": model.posterior(z[:3], n_samples=50, seed=1)["redshift_hi68"].value,
        "classify": np.asarray(model.classify(z[:3])["p_edge_on"]),
        "neighbours": model.neighbours(z[:2], k=2)["name"].tolist(),
        "anomaly": np.asarray(model.anomaly_score(z[:3])["anomaly_score"]),
        "typicality": np.asarray(model.typicality_scorer.score(z[:3], stats[:3])["typicality"]),
    }


def _check(answers):
    assert answers["repr"] == EXPECTED["repr"]
    assert answers["neighbours"] == EXPECTED["neighbours"]
    for key in ("posterior", "classify", "anomaly", "typicality"):
        np.testing.assert_allclose(answers[key], EXPECTED[key], rtol=1e-6, err_msg=key)


def test_every_registered_head_follows_the_protocol():
    keys = [entry.key for entry in _heads.HEADS]
    assert len(set(keys)) == len(keys)
    for entry in _heads.HEADS:
        cls = entry.head_class()
        for name in ("fit_head", "save", "load", "describe"):
            assert callable(getattr(cls, name)), (entry.key, name)


def test_constructor_takes_the_registered_heads_only():
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    model = Minuet(net)
    assert set(model.heads) == set(_heads.attributes())
    assert all(head is None for head in model.heads.values())
    with pytest.raises(TypeError, match=r"unknown keyword arguments \['posterior'\]"):
        Minuet(net, posterior=object())


def test_minuet_model_1_directory_loads_and_answers_as_before():
    assert json.loads((LEGACY / "minuet.json").read_text())["format"] == LEGACY_FORMAT
    model = Minuet.load(LEGACY)
    _check(_answers(model))


def test_resaved_legacy_model_uses_the_one_format(tmp_path):
    path = Minuet.load(LEGACY).save(tmp_path / "again")
    manifest = json.loads((path / "minuet.json").read_text())
    assert manifest["format"] == FORMAT
    names = sorted(entry.name for entry in path.iterdir())
    assert not [name for name in names if name.endswith(".npz")]
    assert {"neighbours.safetensors", "neighbours.json", "neighbours.fits"} <= set(names)
    assert manifest["heads"]["neighbours"] == "neighbours.safetensors"
    assert set(manifest["files"]) == set(names) - {"minuet.json"}
    _check(_answers(Minuet.load(path)))


def test_legacy_files_are_still_checked(tmp_path):
    copy = tmp_path / "legacy"
    shutil.copytree(LEGACY, copy)
    catalogue = copy / "neighbours_catalogue.fits"
    catalogue.write_bytes(catalogue.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or altered"):
        Minuet.load(copy)


def test_unknown_head_is_refused(tmp_path):
    path = Minuet.load(LEGACY).save(tmp_path / "m")
    manifest = json.loads((path / "minuet.json").read_text())
    manifest["heads"]["redshift_oracle"] = "posterior.safetensors"
    (path / "minuet.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"heads \['redshift_oracle'\], which this version"):
        Minuet.load(path)


@pytest.mark.filterwarnings("ignore:'minuet-sim' is superseded")
@pytest.mark.parametrize(("name", "layout"), [("minuet-sim", LEGACY_FORMAT),
                                              ("minuet-sim-2", FORMAT)])
def test_bundled_models_are_read_in_their_own_layouts(name, layout):
    model = Minuet.pretrained(name)
    manifest = json.loads((model.path / "minuet.json").read_text())
    assert manifest["format"] == layout
    assert all(head is not None for head in model.heads.values())


class MeanLatent:
    """A toy head, written as docs/developer.rst tells: the mean latent of the fit set."""

    def __init__(self, mean=None):
        self.mean = mean

    @classmethod
    def fit_head(cls, request):
        return cls(request.latents.mean(axis=0))

    def save(self, path):
        from minuet._weights import save_fitted

        path, self.sha256 = save_fitted(path, "minuet-mean-latent-1", {"mean": self.mean}, {})
        return path

    @classmethod
    def load(cls, path):
        from minuet._weights import load_fitted

        tensors, _, _ = load_fitted(path, "minuet-mean-latent-1")
        return cls(tensors["mean"])

    def describe(self):
        return "mean latent"


def test_a_new_head_is_one_module_and_one_registry_line(monkeypatch, tmp_path):
    module = types.ModuleType("toy_heads")
    module.MeanLatent = MeanLatent
    monkeypatch.setitem(sys.modules, "toy_heads", module)
    entry = _heads.HeadEntry("mean_latent", "mean_latent", "toy_heads:MeanLatent")
    monkeypatch.setattr(_heads, "HEADS", (*_heads.HEADS, entry))
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    latents = np.random.default_rng(1).normal(size=(60, 5))
    model = Minuet(net, name="toy").fit_heads(latents, Table({"x": np.arange(60)}))
    np.testing.assert_allclose(model.mean_latent.mean, latents.mean(axis=0), rtol=1e-6)
    assert repr(model).endswith("anomaly scores; mean latent>")
    again = Minuet.load(model.save(tmp_path / "toy"))
    np.testing.assert_allclose(again.mean_latent.mean, model.mean_latent.mean)
    assert "mean_latent.safetensors" in json.loads((tmp_path / "toy" / "minuet.json").read_text())[
        "heads"].values()
