"""The baselines benchmark trains some baselines and keeps the others' results."""

import importlib
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("bench_baselines")


def _earlier(path, **changes):
    record = {
        "date": "2026-01-01T00:00:00+00:00", "minutes": 10.0, "test": "/a/held_out.h5",
        "n_test": 64, "train": "/a/train.h5", "n_train": 100, "simulator": "s1",
        "reconstruction": {"pca": {"median_chi2_red": 6.0},
                           "deterministic_autoencoder": {"median_chi2_red": 5.0}},
        "training": {"pca": {"steps": None}, "deterministic_autoencoder": {"steps": 7},
                     "supervised_cnn": {"steps": 9}},
        "supervised_cnn": {"redshift": {"sigma_nmad": 0.03}},
        **changes,
    }
    path.write_text(json.dumps(record))
    return path


def test_only_the_cnn_keeps_the_other_baselines(bench, tmp_path):
    path = _earlier(tmp_path / "baselines_summary.json")
    run = {"date": "2026-02-02T00:00:00+00:00", "minutes": 30.0, "test": "held_out.h5",
           "n_test": 64, "simulator": "s2"}
    result = bench._earlier_results(path, run, ["supervised_cnn"])
    assert set(result["reconstruction"]) == {"pca", "deterministic_autoencoder"}
    assert "supervised_cnn" not in result
    assert set(result["training"]) == {"pca", "deterministic_autoencoder"}
    # the kept baselines carry the date and budget of the run that trained them
    assert result["training"]["deterministic_autoencoder"] == {
        "budget_minutes": 10.0, "date": "2026-01-01T00:00:00+00:00", "steps": 7}
    assert result["runs"]["pca"]["simulator"] == "s1"
    assert result["date"] == run["date"]


def test_only_refuses_another_held_out_set(bench, tmp_path):
    path = _earlier(tmp_path / "baselines_summary.json", n_test=2000)
    run = {"test": "held_out.h5", "n_test": 64}
    with pytest.raises(SystemExit, match="would not be comparable"):
        bench._earlier_results(path, run, ["supervised_cnn"])
    with pytest.raises(SystemExit, match="run all the baselines once"):
        bench._earlier_results(tmp_path / "absent.json", run, ["supervised_cnn"])
    # all three at once need nothing earlier
    assert bench._earlier_results(tmp_path / "absent.json", run,
                                  list(bench.BASELINES.values()))["training"] == {}


def test_a_quick_cnn_run_is_added_to_the_kept_results(bench, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _earlier(out / "baselines_quick.json", test="sim-test-20251205.h5", n_test=16)
    bench.main(["--quick", "--only", "cnn", "--n-test", "16", "--minutes", "0.02",
                "--weights-out", str(tmp_path / "weights"), "--output-dir", str(out)])
    result = json.loads((out / "baselines_quick.json").read_text())
    assert result["reconstruction"]["pca"] == {"median_chi2_red": 6.0}
    assert result["runs"]["supervised_cnn"]["minutes"] == 0.02
    assert result["training"]["supervised_cnn"]["budget_minutes"] == 0.02
    assert result["training"]["pca"]["date"].startswith("2026-01-01")
    assert result["supervised_cnn"]["redshift"]["sigma_nmad"] != 0.03
    page = (out / "baselines_quick.rst").read_text()
    assert "budget_minutes" in page
    assert "2026-01-01" in page
