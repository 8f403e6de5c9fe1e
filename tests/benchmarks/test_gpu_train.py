"""The prepared GPU training command, run on CPU with a tiny setting."""

import json
import subprocess

import pytest

from minuet.models import load_model


@pytest.fixture
def train_gpu(bench):
    return bench("gpu/train_gpu")


def test_tiny_run_writes_one_complete_folder(train_gpu, tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    summary = train_gpu.main([
        "--tiny", "--device", "cpu", "--precision", "fp32", "--n-train", "16", "--n-test", "6",
        "--n-curve", "4", "--processes", "1", "--steps", "6", "--curve-points", "2",
        "--minutes", "5", "--eval-minutes", "0", "--output-dir", str(out),
        "--work-dir", str(work),
    ])
    names = sorted(p.name for p in out.iterdir())
    assert names == ["config.json", "evaluation.json", "history.jsonl", "learning_curve.png",
                     "model.json", "model.safetensors", "summary.json"]
    model = load_model(out / "model")
    assert model.record["metadata"]["steps"] == 6
    assert summary["steps"] == 6
    assert summary["weights_under_limit"]
    assert set(summary["timings_s"]) == {"simulate_train_s", "simulate_test_s", "train_s",
                                         "evaluate_s", "total_s"}
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["n_galaxies"] == 6
    assert evaluation["n_draws"] == 4
    assert evaluation["weights_sha256"] == model.record["sha256"]
    rows = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    # the points of the curve carry held-out quality
    assert [r["step"] for r in rows] == [3, 6]
    curve = [r for r in rows if "chi2_mean" in r]
    assert [r["step"] for r in curve] == [3, 6]
    assert curve[-1]["images_seen"] == 6 * 8
    # simulated data stays in the work folder, out of the result folder
    assert (work / "train.h5").exists()


def test_time_limit_plans_the_steps(train_gpu, tmp_path):
    from minuet.simulate import write_dataset

    data = write_dataset(tmp_path / "given.h5", 12, seed=5)
    out = tmp_path / "out"
    summary = train_gpu.main([
        "--tiny", "--device", "cpu", "--precision", "fp32", "--data", str(data),
        "--n-test", "4", "--n-curve", "4", "--processes", "1", "--minutes", "0.6",
        "--eval-minutes", "0.05", "--output-dir", str(out),
    ])
    assert summary["data"] == [str(data)]
    config = json.loads((out / "config.json").read_text())
    # a planned horizon, not the open-ended placeholder, and the run stopped within it
    assert 2 < config["steps"] < 10**6
    assert 1 <= summary["steps"] <= config["steps"]
    assert summary["calibration_images_per_s"] > 0
    # training (timing run included) ends inside the limit, give or take the step in
    # flight when it is reached (seconds on a busy machine); evaluating and writing the
    # results after it take the few seconds kept for them, more on a busy machine
    timings = summary["timings_s"]
    assert timings["simulate_test_s"] + timings["train_s"] < 0.6 * 60 + 10
    assert timings["total_s"] < 0.6 * 60 + 60


def test_shell_entry_point_is_valid_bash(benchmarks_dir):
    script = benchmarks_dir / "gpu" / "train.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


def test_a_run_can_start_from_saved_weights(train_gpu, tmp_path):
    import torch

    from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig, save_model

    torch.manual_seed(3)
    config = DiffusionAutoencoderConfig.preset("tiny")
    config.encoder.width = 16  # not the tiny preset's: the run must take the saved architecture
    start = tmp_path / "start"
    save_model(DiffusionAutoencoder(config), start)
    out = tmp_path / "out"
    summary = train_gpu.main([
        "--tiny", "--device", "cpu", "--precision", "fp32", "--n-train", "16", "--n-test", "4",
        "--n-curve", "4", "--processes", "1", "--steps", "2", "--curve-points", "1",
        "--minutes", "5", "--eval-minutes", "0", "--output-dir", str(out),
        "--init", str(start),
    ])
    assert summary["init"]["sha256"] == load_model(start).record["sha256"]
    trained = load_model(out / "model")
    assert trained.config.encoder.width == 16
    assert json.loads((out / "config.json").read_text())["init"] == str(start)
