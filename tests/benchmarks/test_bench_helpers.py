"""Pure helpers of the learning-curve and sampler-step benchmarks; nothing is measured."""

import json
from pathlib import Path

import pytest


def row(steps, chi2, one, dr, dc):
    return {"steps": steps, "chi2_mean": chi2, "chi2_one": one, "abs_dmag_r": dr,
            "abs_dcolor_gr": dc}


def test_sampler_recommendation_needs_every_measurement_within_tolerance(bench):
    recommend = bench("bench_sampler_steps").recommend
    rows = [row(2, 3.0, 3.0, 0.10, 0.05),    # smoother: chi2 far lower, not "better"
            row(4, 4.1, 6.3, 0.13, 0.05),    # |delta r| 30% off
            row(8, 4.1, 6.4, 0.102, 0.051),  # all within 5%
            row(30, 4.0, 6.5, 0.10, 0.05)]
    assert recommend(rows, 0.05) == 8
    assert recommend(rows, 0.01) == 30
    assert recommend(rows, 0.5) == 4


@pytest.mark.parametrize("quick", [True, False])
def test_learning_curve_candidates_differ_as_labelled(bench, quick):
    candidates = bench("bench_learning_curves").candidates(quick=quick)
    assert set(candidates) == {"default", "cosine_decorrelation", "narrow", "noise_edm",
                               "warm_start", "narrow_encoder"}
    base = candidates["default"][1]
    assert candidates["cosine_decorrelation"][1] == base
    assert candidates["cosine_decorrelation"][2] == {"learning_rate_schedule": "cosine",
                                                     "decorrelation_weight": 0.1}
    assert candidates["narrow"][1].encoder.width < base.encoder.width
    assert candidates["narrow"][1].denoiser.width < base.denoiser.width
    assert candidates["narrow_encoder"][1].encoder.width < base.encoder.width
    assert candidates["narrow_encoder"][1].denoiser == base.denoiser
    noise = candidates["noise_edm"][1].diffusion.p_mean
    assert noise != base.diffusion.p_mean
    assert candidates["noise_edm"][0] == f"noise at ln sigma {noise:g}"
    assert candidates["warm_start"][1] == base
    assert Path(candidates["warm_start"][2]["init"]).name == "autoencoder.safetensors"
    assert Path(candidates["warm_start"][2]["init"]).is_file()


def test_learning_curve_records_merge_only_with_equal_settings(bench, tmp_path):
    curves = bench("bench_learning_curves")
    settings = dict.fromkeys(curves.SETTINGS, 1)
    path = tmp_path / "curves.json"
    first = {**settings, "candidates": {"default": {"label": "a"}}}
    assert curves.merged_candidates(path, first) == {"default": {"label": "a"}}
    path.write_text(json.dumps(first))
    second = {**settings, "candidates": {"narrow": {"label": "b"}}}
    assert set(curves.merged_candidates(path, second)) == {"default", "narrow"}
    with pytest.raises(SystemExit, match="n_eval"):
        curves.merged_candidates(path, {**second, "n_eval": 2})


def test_production_training_refuses_unknown_recipes_and_unplanned_schedules(bench, tmp_path):
    production = bench("train_production")
    base = ["data.h5", "--output", str(tmp_path / "run"), "--minutes", "1"]
    with pytest.raises(SystemExit, match="unknown recipe 'nope'"):
        production.main([*base, "--recipe", "nope"])
    with pytest.raises(SystemExit, match="needs --steps"):
        production.main([*base, "--recipe", "cosine_decorrelation"])
    assert not (tmp_path / "run").exists()


def test_production_learning_curve_point_measures_the_held_out_galaxies(bench):
    import argparse
    import math

    from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig

    callback = bench("train_production").held_out_curve(argparse.Namespace(n_eval=3, draws=1))
    model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")).eval()
    point = callback(7, model)
    quality = point["held_out"]
    assert set(quality) >= {"chi2_mean", "abs_dmag_r", "abs_dcolor_gr", "max_abs_spearman"}
    assert quality["chi2_mean"] > 0
    assert math.isfinite(quality["chi2_mean"])
    assert point["sitting_cpu_minutes"] >= 0


def test_reconstruction_targets_are_judged_on_their_own_rows(bench):
    check = bench("bench_reconstruction").check_targets
    one = {"median_abs_dmag_r": 0.04, "median_abs_dcolor_gr": 0.05,
           "median_abs_frac_r_half_err": 0.07, "median_chi2_red": 6.0}
    mean4 = {**one, "median_chi2_red": 2.9}
    targets = check(one, mean4, 0.81)
    assert targets["median_abs_dmag_r"]["met"]
    assert not targets["median_abs_dcolor_gr"]["met"]
    assert targets["median_abs_frac_r_half_err"]["met"]  # at the limit counts as met
    assert not targets["median_chi2_red"]["met"]
    assert targets["median_chi2_red_mean4"] == {"value": 2.9, "limit": 3.0, "met": True}
    assert not targets["latent_max_abs_spearman"]["met"]


def test_production_sittings_record_their_data_and_code(bench, tmp_path):
    from minuet.simulate import write_dataset

    production = bench("train_production")
    path = write_dataset(tmp_path / "train.h5", 2, seed=5)
    (row,) = production.data_provenance([path])
    assert row["file"] == "train.h5"
    assert row["n"] == 2
    assert row["seed"] == 5
    assert len(row["simulator_sha256"]) == 64
    code = production.code_version()
    assert "minuet" in code
    if "commit" in code:
        assert len(code["commit"]) == 40


def test_training_run_report_assigns_points_to_their_sittings(bench, tmp_path):
    report = bench("report_training_run")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"batch_size": 32}))
    quality = {"chi2_mean": 9.0, "abs_dmag_r": 0.1, "abs_dcolor_gr": 0.05,
               "max_abs_spearman": 0.3}
    rows = [{"step": 50, "loss": 0.2},
            {"step": 100, "loss": 0.2, "held_out": quality},
            {"step": 200, "loss": 0.2, "held_out": {**quality, "chi2_mean": 8.0}}]
    (run / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    sittings = [{"until_step": 100, "minutes": 10.0,
                 "data": [{"file": "a.h5", "seed": 0, "n": 10}], "code": {"commit": "f" * 40}},
                {"until_step": 200, "minutes": 12.0, "precision": "fp32",
                 "cpu_bf16_extensions": []}]
    (run / "sittings.json").write_text(json.dumps(sittings))
    points, read_sittings, batch = report.read_run(run)
    assert batch == 32
    assert [(p["step"], p["sitting"], p["images_seen"]) for p in points] == [
        (100, 1, 3200), (200, 2, 6400)]
    table = report.sitting_rows(read_sittings, batch)
    assert table[0] == ("1", "0-100", "3,200", "10", "a.h5 (seed 0, 10 galaxies)", "f" * 10,
                        "not recorded")
    assert table[1][-3:] == ("not recorded", "not recorded", "fp32 (no native bf16)")
    record = report.main([str(run), "--name", "toy-model", "--output-dir",
                          str(tmp_path / "out")])
    assert record["command"].endswith("report_training_run.py run --name toy-model")
    assert (tmp_path / "out" / "toy_model_training.png").stat().st_size > 0
    assert "8.00" in (tmp_path / "out" / "toy_model_training.rst").read_text()
    with pytest.raises(SystemExit, match=r"no history\.jsonl"):
        report.read_run(tmp_path)


def test_a_sitting_continues_from_the_later_of_kept_and_working_state(bench, tmp_path,
                                                                       monkeypatch):
    long_run = bench("long_run")
    calls = []

    def fake_train(argv):
        run = Path(argv[argv.index("--output") + 1])
        before = long_run.last_step(run)
        calls.append((before, argv))
        run.mkdir(parents=True, exist_ok=True)
        (run / "checkpoint.safetensors").write_bytes(b"x")
        sittings = json.loads((run / "sittings.json").read_text()) if before else []
        sittings.append({"until_step": before + 10})
        (run / "sittings.json").write_text(json.dumps(sittings))

    monkeypatch.setattr(bench("train_production"), "main", fake_train)
    monkeypatch.setattr(bench("report_training_run"), "main", lambda argv: None)
    monkeypatch.setattr(long_run, "shard", lambda work, seed, n: work / f"shard{seed}.h5")
    args = ["--minutes", "1", "--work", str(tmp_path / "work"),
            "--state-dir", str(tmp_path / "kept")]
    long_run.main(["--shard", "0", *args])
    kept = tmp_path / "kept" / "minuet-sim-2"
    assert long_run.last_step(kept) == 10
    plan = json.loads((kept / "plan.json").read_text())
    assert plan["recipe"] == "warm_start"
    argv = calls[0][1]
    assert argv[argv.index("--steps") + 1] == str(plan["steps"])
    assert argv[0].endswith("shard0.h5")
    # a fresh machine: the work folder is gone and the kept state carries the run on
    import shutil

    shutil.rmtree(tmp_path / "work")
    long_run.main(["--shard", "1", *args])
    assert calls[1][0] == 10
    assert long_run.last_step(kept) == 20
    # a work folder ahead of the kept state is never overwritten by the older state
    (kept / "sittings.json").write_text(json.dumps([{"until_step": 5}]))
    long_run.main(["--shard", "2", *args])
    assert calls[2][0] == 20
    assert long_run.last_step(kept) == 30
    # the schedule's end moves from the current step on, and the plan says so
    long_run.main(["--shard", "3", "--plan-steps", "500", *args])
    argv = calls[3][1]
    assert argv[argv.index("--steps") + 1] == "500"
    plan_now = json.loads((kept / "plan.json").read_text())
    assert plan_now["steps"] == 500
    assert plan_now["replanned"] == [{"at_step": 30, "steps_before": plan["steps"],
                                      "steps": 500}]
    long_run.main(["--shard", "4", *args])
    assert calls[4][1][calls[4][1].index("--steps") + 1] == "500"
    with pytest.raises(SystemExit, match="not after the run's current step"):
        long_run.main(["--shard", "5", "--plan-steps", "40", *args])


def test_a_bundle_names_its_files_without_this_machines_folders(bench):
    names = bench("build_pretrained")._file_names
    assert names(["/home/a/train_seed0_100k.h5", "runs/b/train_seed1_100k.h5"]) == [
        "train_seed0_100k.h5", "train_seed1_100k.h5"]
    assert names("/scratch/run/widened-init.safetensors") == "widened-init.safetensors"
    assert names(None) is None


def _earlier_baselines(path, **changes):
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
    baselines = bench("bench_baselines")
    path = _earlier_baselines(tmp_path / "baselines_summary.json")
    run = {"date": "2026-02-02T00:00:00+00:00", "minutes": 30.0, "test": "held_out.h5",
           "n_test": 64, "simulator": "s2"}
    result = baselines._earlier_results(path, run, ["supervised_cnn"])
    assert set(result["reconstruction"]) == {"pca", "deterministic_autoencoder"}
    assert "supervised_cnn" not in result
    assert set(result["training"]) == {"pca", "deterministic_autoencoder"}
    # the kept baselines carry the date and budget of the run that trained them
    assert result["training"]["deterministic_autoencoder"] == {
        "budget_minutes": 10.0, "date": "2026-01-01T00:00:00+00:00", "steps": 7}
    assert result["runs"]["pca"]["simulator"] == "s1"
    assert result["date"] == run["date"]


def test_only_refuses_another_held_out_set(bench, tmp_path):
    baselines = bench("bench_baselines")
    path = _earlier_baselines(tmp_path / "baselines_summary.json", n_test=2000)
    run = {"test": "held_out.h5", "n_test": 64}
    with pytest.raises(SystemExit, match="would not be comparable"):
        baselines._earlier_results(path, run, ["supervised_cnn"])
    with pytest.raises(SystemExit, match="run all the baselines once"):
        baselines._earlier_results(tmp_path / "absent.json", run, ["supervised_cnn"])
    # all three at once need nothing earlier
    assert baselines._earlier_results(tmp_path / "absent.json", run,
                                      list(baselines.BASELINES.values()))["training"] == {}


def test_a_quick_cnn_run_is_added_to_the_kept_results(bench, tmp_path):
    baselines = bench("bench_baselines")
    out = tmp_path / "out"
    out.mkdir()
    _earlier_baselines(out / "baselines_quick.json", test="sim-test-20251205.h5", n_test=16)
    baselines.main(["--quick", "--only", "cnn", "--n-test", "16", "--minutes", "0.02",
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


def test_sampler_steps_schedule_options_reach_the_sampler(bench, monkeypatch, tmp_path):
    import minuet.training

    seen = []

    def spy(model, images, invvar, footprint, *, steps, **kwargs):
        seen.append(model.diffusion.sigmas(steps))
        return {"chi2_mean": 1.0, "chi2_one": 2.0, "abs_dmag_r": 0.1, "abs_dcolor_gr": 0.05}

    monkeypatch.setattr(minuet.training, "reconstruction_quality", spy)
    module = bench("bench_sampler_steps")
    record = module.main(["--quick", "--sigma-max", "20", "--rho", "5",
                          "--output-dir", str(tmp_path)])
    assert (record["sigma_max"], record["rho"]) == (20.0, 5.0)
    # 2 steps: sigma_max, sigma_min, then zero
    assert seen[0].tolist() == pytest.approx([20.0, 0.002, 0.0])
    # the middle level of 4 steps follows rho 5, not the model's 7
    lo, hi = 0.002 ** (1 / 5), 20.0 ** (1 / 5)
    assert seen[1][1].item() == pytest.approx((hi + (lo - hi) / 3) ** 5, rel=1e-5)
    assert "sigma_max 20 with rho 5" in (tmp_path / "sampler_steps_quick.rst").read_text()


def test_encoder_flops_count_the_fused_attention(bench):
    """Linear layers and attention of a tiny encoder, counted by hand."""
    import torch

    from minuet.models import Encoder, EncoderConfig, inference_copy

    perf = bench("bench_performance")
    c = EncoderConfig(image_size=24, patch=8, width=32, depth=2, heads=2)
    counts = perf.count_flops(Encoder(c), torch.zeros(3, 3, 24, 24))
    tokens = (24 // 8) ** 2
    linear = 2 * 3 * tokens * (3 * 64 * 32 + c.depth * (3 * 32 * 32 + 32 * 32 + 2 * 4 * 32 * 32))
    linear += 2 * 3 * 32 * c.latent_dim  # the head, on the pooled token
    attention = c.depth * 2 * (2 * 3 * c.heads * tokens * tokens * (32 // c.heads))
    attention_counts = sum(v for op, v in counts.items() if "scaled_dot_product" in op)
    assert attention_counts == attention
    assert sum(counts.values()) - attention_counts == linear
    # the frozen copy's CPU attention is two batched products: the same arithmetic
    frozen = inference_copy(Encoder(c), torch.float32)
    counts = perf.count_flops(frozen, torch.zeros(3, 3, 24, 24))
    assert sum(v for op, v in counts.items() if "bmm" in op) == attention
    assert sum(counts.values()) == linear + attention
    # a bf16 copy's linear layers may run as oneDNN's fused operator: counted all the same
    counts = perf.count_flops(inference_copy(Encoder(c)), torch.zeros(3, 3, 24, 24).bfloat16())
    assert sum(v for op, v in counts.items() if "bmm" in op) == attention
    assert sum(counts.values()) == linear + attention


def test_encoder_profile_shares_add_up(bench):
    from minuet.models import Encoder, EncoderConfig

    perf = bench("bench_performance")
    encoder = Encoder(EncoderConfig(image_size=24, patch=8, width=32, depth=1, heads=2))
    prof = perf.encoder_profile(encoder, 4, calls=2)
    groups = prof["groups"]
    assert set(groups) == {*perf.PROFILE_GROUPS, "other"}
    assert sum(g["time_fraction"] for g in groups.values()) == pytest.approx(1)
    assert sum(g["flop_fraction"] for g in groups.values()) == pytest.approx(1)
    assert groups["matrix products"]["flop_fraction"] > 0.5
    assert groups["attention"]["flop_fraction"] > 0


def test_consecutive_calls_share_one_retained_heap_on_the_current_path_only(bench,
                                                                           monkeypatch):
    import contextlib
    import os

    perf = bench("bench_performance")
    entered = []

    @contextlib.contextmanager
    def counting_heap():
        entered.append(1)
        yield

    monkeypatch.setattr(perf, "retained_heap", counting_heap)
    calls = []
    assert perf.consecutive(lambda: calls.append(1) or len(calls), heap=True, calls=3)() == 3
    assert (len(calls), len(entered)) == (3, 1)
    perf.consecutive(lambda: calls.append(1), heap=False, calls=2)()
    assert (len(calls), len(entered)) == (5, 1)
    # the earlier path leaves the C library's heap settings alone
    monkeypatch.delenv("MINUET_RETAIN_HEAP", raising=False)
    legacy = bench("_legacy")
    with legacy.legacy_inference():
        assert os.environ["MINUET_RETAIN_HEAP"] == "0"
    assert "MINUET_RETAIN_HEAP" not in os.environ
