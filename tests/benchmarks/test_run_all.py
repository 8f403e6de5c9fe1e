"""The benchmark driver's stages and options; nothing is measured here."""

from pathlib import Path

import pytest


@pytest.fixture
def run_all(bench):
    return bench("run_all")


def test_every_stage_has_a_script(run_all, benchmarks_dir):
    assert len(set(run_all.NAMES)) == len(run_all.NAMES)
    for stage in run_all.STAGES:
        assert (benchmarks_dir / stage.script).is_file(), stage.name
    scripts = {p.name for p in benchmarks_dir.glob("bench_*.py")}
    assert scripts <= {stage.script for stage in run_all.STAGES}


def test_quick_mode_never_writes_the_full_files(run_all):
    for stage in run_all.STAGES:
        args = stage.arguments(quick=True)
        assert stage.redirect or "--quick" in args or any(a.endswith("_quick") for a in args), (
            stage.name)


def test_only_and_skip_keep_the_usual_order(run_all):
    args = run_all.parse_args(["--quick", "--only", "scaling", "latents", "models"])
    assert args.quick
    assert [s.name for s in run_all.selected(args)] == ["models", "latents", "scaling"]
    args = run_all.parse_args(["--skip", "baselines", "scale"])
    names = [s.name for s in run_all.selected(args)]
    assert "baselines" not in names
    assert "scale" not in names
    assert names[0] == "simulate"
    assert len(names) == len(run_all.NAMES) - 2


def test_extra_arguments_reach_one_stage(run_all):
    args = run_all.parse_args(["--only", "heads", "latents",
                               "--extra", "latents", "--n 50 --steps 3"])
    heads, latents = run_all.selected(args)
    assert latents.arguments(quick=False)[-4:] == ["--n", "50", "--steps", "3"]
    assert "--steps" not in heads.arguments(quick=False)
    assert latents.command(quick=True).endswith("bench_latents.py --quick --n 50 --steps 3")


@pytest.mark.parametrize("argv", [["--only", "nonsense"], ["--extra", "nonsense", "--n 3"]])
def test_unknown_stages_are_refused(run_all, argv, capsys):
    with pytest.raises(SystemExit):
        run_all.parse_args(argv)
    assert "nonsense" in capsys.readouterr().err


def test_missing_baseline_files_say_how_to_make_them(run_all, tmp_path):
    problems = run_all._check_baselines(["--train", str(tmp_path / "a.h5"),
                                         "--test", str(tmp_path / "b.h5")])
    assert len(problems) == 1
    assert "minuet simulate" in problems[0]
    assert "a.h5" in problems[0]


def test_quick_names(run_all):
    assert run_all._quick_name(Path("heads.rst")) == "heads_quick.rst"
    assert run_all._quick_name(Path("scale_quick.json")) == "scale_quick.json"


def test_losses_name_the_cnn_only_where_it_wins(run_all):
    heads = {"point": {"redshift": {"sigma_nmad": 0.06}, "log_mstar": {"scatter": 0.30}},
             "cnn": {"redshift": {"sigma_nmad": 0.04}, "log_mstar": {"scatter": 0.35}}}
    text = run_all._cnn_point(heads)
    assert "redshift sigma_nmad 0.040 against 0.060 (1.50x)" in text
    assert "log_mstar" not in text
    heads["cnn"]["redshift"]["sigma_nmad"] = 0.07
    assert run_all._cnn_point(heads) is None
    assert run_all._cnn_point({"point": {}}) is None


def test_losses_compare_one_draw_with_the_blurred_decoders(run_all):
    def row(name, chi2, power):
        return {"decoder": name, "median_chi2_red": chi2, "high_frequency_power_ratio": power}

    rows = [row("PCA, 5 components", 6.0, 0.001), row("deterministic autoencoder", 9.0, 0.002),
            row("minuet, one draw", 8.0, 0.6), row("minuet, mean of 4 draws", 4.5, 0.2)]
    text = run_all._tradeoff_point(rows)
    assert "(PCA, 5 components 6)" in text
    assert "autoencoder" not in text
    assert "The mean of 4 draws reaches 4.5 with a power ratio of 0.20" in text
    rows[0]["median_chi2_red"] = 9.0
    assert run_all._tradeoff_point(rows) is None


def test_load_goes_to_the_record_not_the_footer(run_all, monkeypatch):
    import _report

    monkeypatch.setenv(_report.PREVIOUS_STAGE_VARIABLE, "scale")
    record = _report.new_record("bench_latents.py", [])
    assert record["after_stage"] == "scale"
    assert isinstance(record["load_average"], float)
    record["load_average"] = 64.0
    text = _report.footer(record)
    assert text == (f"Command ``python benchmarks/bench_latents.py``; {record['machine']}, "
                    f"{record['date']}.")
    monkeypatch.setenv(_report.PREVIOUS_STAGE_VARIABLE, "")
    record = _report.new_record("bench_latents.py", [])
    assert "after_stage" not in record


def test_chi2_target_scales_the_noise_floor(run_all):
    def row(sampler, chi2):
        return {"sampler": sampler, "median_chi2_red": chi2, "median_abs_dmag_r": 0.01,
                "median_abs_dcolor_gr": 0.01, "median_abs_frac_r_half_err": 0.01}

    floor = row("noise alone: a perfect single sample", 2.0)
    assert run_all._missed_targets([row("default", 2.5), floor]) == []
    assert run_all._missed_targets([row("default", 2.7), floor]) == [
        "chi2_red 2.7 against at most 2.6 (1.3 times the 2.00 of a perfect draw)"]


def test_a_partial_run_merges_into_the_summary(run_all, monkeypatch, tmp_path):
    import json

    monkeypatch.setattr(run_all, "GENERATED", tmp_path)
    full = {"status": "ok", "seconds": 500.0, "command": "python benchmarks/bench_simulate.py",
            "files": [], "note": "", "machine": "big (64 cores, x86_64)", "date": "2026-01-02"}
    stored = {"stages": {"simulate": full, "losses": {**full, "seconds": 0.0,
                                                      "date": "2026-01-02"}},
              "notes": "what else ran"}
    (tmp_path / "run_all.json").write_text(json.dumps(stored))
    assert run_all.main(["--only", "losses"]) == 0
    merged = json.loads((tmp_path / "run_all.json").read_text())
    assert list(merged["stages"]) == ["simulate", "losses"]
    assert merged["stages"]["simulate"] == full
    assert merged["stages"]["losses"]["date"] != "2026-01-02"
    assert merged["notes"] == "what else ran"
    assert merged["stages"]["losses"]["files"] == [str(tmp_path / "losses.rst")]
    text = (tmp_path / "run_all.rst").read_text()
    assert "bench_simulate.py" in text
    assert "--only losses" in text
    assert "between 2026-01-02 and" in text
    assert "big (64 cores, x86_64)" in text
    # the quick summary is a file of its own, and a first run starts it
    assert run_all.main(["--quick", "--only", "losses"]) == 0
    assert list(json.loads((tmp_path / "run_all_quick.json").read_text())["stages"]) == [
        "losses"]
    assert json.loads((tmp_path / "run_all.json").read_text()) == merged


def test_every_stage_script_takes_an_output_dir(run_all, bench, capsys):
    scripts = {stage.script for stage in run_all.STAGES} | {"train_models_demo.py",
                                                              "report_training_run.py"}
    for script in sorted(scripts):
        module = bench(Path(script).stem)
        with pytest.raises(SystemExit):
            module.main(["--help"])
        assert "--output-dir" in capsys.readouterr().out, script


def test_the_recorded_command_names_paths_in_the_checkout_relative_to_it(run_all):
    import _report

    inside = _report.ROOT / "runs" / "x.h5"
    command = _report.command_line("bench_x.py", [str(inside), f"--data={inside}",
                                                  "--keep", "/elsewhere/y", "--n", "3"])
    assert command == ("python benchmarks/bench_x.py runs/x.h5 --data=runs/x.h5 "
                       "--keep /elsewhere/y --n 3")


def test_the_recorded_command_leaves_out_the_output_folder(run_all, tmp_path):
    import _report

    command = _report.command_line("bench_x.py", ["--n", "3", "--output-dir", "/tmp/a"])
    assert command == "python benchmarks/bench_x.py --n 3"
    assert _report.command_line("bench_x.py", ["--output-dir=/tmp/a", "--quick"]) == (
        "python benchmarks/bench_x.py --quick")
    record = {"command": command, "machine": "m", "date": "d"}
    json_path, rst_path = _report.write_results("thing", record, ["a line"],
                                                directory=tmp_path / "new")
    assert json_path.parent == rst_path.parent == tmp_path / "new"
    assert "a line" in rst_path.read_text()


def test_stages_get_the_output_folder(run_all, monkeypatch, tmp_path):
    calls = []

    def call(command, **kwargs):
        calls.append(command)
        # the last --output-dir counts, as for argparse
        last = len(command) - command[::-1].index("--output-dir")
        out = Path(command[last])
        (out / "made.json").write_text("{}")
        return 0

    monkeypatch.setattr(run_all.subprocess, "call", call)
    monkeypatch.setattr(run_all, "GENERATED", tmp_path)
    heads = next(s for s in run_all.STAGES if s.name == "heads")
    # a redirected quick stage writes into a scratch folder; its files come back renamed
    code, written = run_all._run_script(heads, quick=True)
    assert code == 0
    assert written == [tmp_path / "made_quick.json"]
    assert calls[-1][-2] == "--output-dir"
    assert Path(calls[-1][-1]) != tmp_path
    # another results folder reaches every stage
    models = next(s for s in run_all.STAGES if s.name == "models")
    code, written = run_all._run_script(models, quick=True)
    assert calls[-1][-2:] == ["--output-dir", str(tmp_path)]
    assert written == [tmp_path / "made.json"]


def test_a_run_that_judged_its_own_targets_is_reported_as_judged(run_all):
    judged = {"median_abs_dmag_r": {"value": 0.06, "limit": 0.05, "met": False},
              "median_chi2_red_mean4": {"value": 2.5, "limit": 3.0, "met": True}}
    assert run_all._missed_targets([], judged) == ["abs_dmag_r 0.06 against at most 0.05"]


def test_a_training_sitting_records_paths_in_the_checkout_relative_to_it(bench):
    import _report

    production = bench("train_production")
    inside = _report.ROOT / "runs" / "long_run" / "train_seed4_100k.h5"
    command = production.recorded_command([str(inside), "--output", "/elsewhere/run",
                                           f"--init={_report.ROOT / 'minuet' / 'w.safetensors'}"])
    assert command == ["python", "benchmarks/train_production.py",
                       "runs/long_run/train_seed4_100k.h5", "--output", "/elsewhere/run",
                       "--init=minuet/w.safetensors"]
    assert _report.portable("--minutes") == "--minutes"
    assert _report.portable("12000") == "12000"
