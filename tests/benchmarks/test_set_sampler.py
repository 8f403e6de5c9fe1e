"""benchmarks/set_sampler.py: the default sampler of a saved model changes, its weights do not."""

import json
import shutil
import warnings
from importlib import resources

import pytest

from minuet import Minuet


@pytest.fixture
def saved(tmp_path):
    target = tmp_path / "model"
    with resources.as_file(resources.files("minuet.data") / "minuet-sim-2") as bundled:
        shutil.copytree(bundled, target)
    return target


def test_set_sampler_changes_only_the_sampler(bench, saved):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    stored = json.loads(before["autoencoder.json"])["config"]["diffusion"]
    record = bench("set_sampler").main([str(saved), "--rho", "12.5", "--steps", "12",
                                        "--reason", "a test"])
    assert record["before"] == {"rho": stored["rho"], "steps": stored["steps"]}
    changed = {p.name for p in saved.iterdir() if p.read_bytes() != before[p.name]}
    assert changed == {"autoencoder.json", "minuet.json"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = Minuet.load(saved)  # the manifest's SHA-256s still hold
    diffusion = model.autoencoder.config.diffusion
    assert (diffusion.rho, diffusion.steps, diffusion.sigma_max) == (12.5, 12, stored["sigma_max"])
    assert model.sha256 == Minuet.pretrained().sha256
    manifest = json.loads((saved / "minuet.json").read_text())
    assert manifest["info"]["sampler_changes"][-1]["reason"] == "a test"


def test_set_sampler_refuses_what_is_not_a_sampler_setting(bench, saved):
    module = bench("set_sampler")
    with pytest.raises(ValueError, match="only the sampler settings"):
        module.set_sampler(saved, {"p_mean": 0.0})
    with pytest.raises(ValueError, match="does not belong"):
        module.set_sampler(saved, {"sampler": "ddim"})
