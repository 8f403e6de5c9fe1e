"""The morphology-size benchmark: ROC-AUC against the number of labelled galaxies."""

import json

import pytest


def test_the_curve_runs_end_to_end_on_a_tiny_setting(bench, saved_tiny_model, tmp_path):
    from minuet.simulate import write_dataset

    size = bench("bench_morphology_size")
    train = write_dataset(tmp_path / "train.h5", 90, seed=7)
    out = tmp_path / "out"
    size.main(["--model", str(saved_tiny_model.path), "--train", str(train), "--sizes", "30",
               "90", "500", "--n-test", "60", "--max-epochs", "2", "--width", "8",
               "--output-dir", str(out)])
    record = json.loads((out / "morphology_size.json").read_text())
    # sizes beyond the file are dropped, not padded
    assert [row["n_train"] for row in record["rows"]] == [30, 90]
    assert record["train_file"] == "train.h5"
    assert record["train_seed"] == 7
    assert record["n_test"] == 60
    assert record["classifier_options"] == {"max_epochs": 2, "width": 8}
    for row in record["rows"]:
        for label in size.LABELS:
            assert 0.0 <= row[label]["roc_auc"] <= 1.0
    text = (out / "morphology_size.rst").read_text()
    assert "the first N galaxies of ``train.h5``" in text
    assert "from 30 to 90" in text
    assert text.count("Command ``python benchmarks/bench_morphology_size.py") == 1
    assert (out / "morphology_size.png").stat().st_size > 10_000


def test_the_caption_names_the_labels_that_reach_the_goal(bench):
    size = bench("bench_morphology_size")

    def row(n, auc):
        return {"n_train": n, "fit_s": 1.0,
                **{label: {"roc_auc": auc[label], "pr_auc": 0.5} for label in size.LABELS}}

    low = dict.fromkeys(size.LABELS, 0.80)
    high = {**low, "merger": 0.86}
    record = {"rows": [row(1000, low), row(2000, high)], "n_test": 500, "test_seed": 9,
              "train_file": "t.h5", "model": "m"}
    text = "\n".join(size.report_lines(record))
    assert "At 2,000 labelled galaxies merger reaches the goal of 0.85." in text
    assert size._reaching(["merger", "edge on", "round"]) == "merger, edge on and round reach"
    assert "merger +0.060, spiral arms +0.000" in text
    record["rows"] = [row(1000, low)]
    assert "no label reaches the goal" in "\n".join(size.report_lines(record))


def test_asking_for_more_galaxies_than_there_are_is_refused(bench):
    import numpy as np
    from astropy.table import Table

    size = bench("bench_morphology_size")
    latents = Table({"latent_0": np.zeros(5), "valid": np.ones(5, bool)})
    truth = Table({label: np.zeros(5, bool) for label in size.LABELS})
    with pytest.raises(SystemExit, match="only 5 with valid latents"):
        size.auc_curve(latents, truth, latents, truth, [10])
