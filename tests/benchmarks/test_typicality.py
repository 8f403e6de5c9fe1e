"""The refit and typicality benchmark commands end to end on a tiny setting.

Simulating the few hundred galaxies takes minutes on two shared cores, so the
test is marked slow: ``python -m pytest tests/benchmarks/test_typicality.py -m slow``.
"""

import json

import numpy as np
import pytest


@pytest.fixture
def scripts(bench):
    return bench("refit_heads"), bench("bench_typicality")


@pytest.mark.slow
def test_refit_then_benchmark(scripts, saved_tiny_model, tmp_path, monkeypatch):
    from minuet import Minuet

    refit, bench = scripts
    data, out = tmp_path / "data", tmp_path / "refit"
    refit.main(["--model", str(saved_tiny_model.path), "--data", str(data), "--out", str(out),
                "--n-train", "240", "--n-calibration", "100", "--processes", "1",
                "--max-epochs", "2"])
    model = Minuet.load(out)
    assert model.typicality_scorer is not None
    assert model.posterior_calibration.grouped
    assert model.info["heads_data"]["n_train"] == 240
    assert "reference" in model.info["heads_data"]["variants"]
    assert sorted(p.name for p in data.iterdir()) == ["calibration.h5", "train.h5"]
    # the cached sets are read back, not simulated again
    mtime = (data / "train.h5").stat().st_mtime
    refit.main(["--model", str(saved_tiny_model.path), "--data", str(data), "--out", str(out),
                "--n-train", "240", "--n-calibration", "100", "--max-epochs", "1"])
    assert (data / "train.h5").stat().st_mtime == mtime

    monkeypatch.setattr(bench, "REAL", tmp_path / "no-real-stamps")
    results = tmp_path / "results"
    bench.main(["--model", str(out), "--data", str(data), "--n-test", "80",
                "--n-held-out", "120", "--n-recalibrate", "60", "--draws", "2",
                "--samples", "50", "--processes", "1", "--out", str(results)])
    res = json.loads((results / "typicality.json").read_text())
    assert res["n_pool"] == 60
    assert res["n_fresh"] == 60
    for key in ("raw", "shipped", "recalibrated_first", "recalibrated_mean"):
        assert set(res["held_out"][key]) == {"redshift", "log_mstar", "log_sfr"}
    assert 0 <= res["auc"]["typicality"] <= 1
    assert np.isfinite(res["in_distribution"]["tarp_atc"])
    assert "Coverage of the 68% / 95% intervals" in (results / "typicality.rst").read_text()
    (results / "typicality.rst").unlink()
    bench.main(["--rewrite", str(results / "typicality.json")])
    assert "Coverage of the 68% / 95% intervals" in (results / "typicality.rst").read_text()

