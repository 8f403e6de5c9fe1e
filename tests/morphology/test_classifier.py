import numpy as np
import pytest
from astropy.table import MaskedColumn, Table
from astropy.utils.exceptions import AstropyUserWarning

from minuet.evaluation import binary_metrics
from minuet.morphology import MorphologyClassifier


def synthetic(n, seed):
    """Labels drawn from known probabilities that depend on the latents."""
    rng = np.random.default_rng(seed)
    latents = rng.normal(size=(n, 5))
    p_edge = 1 / (1 + np.exp(-3 * (latents[:, 0] - 0.5)))
    p_round = 1 / (1 + np.exp(-4 * (1.0 - np.hypot(latents[:, 1], latents[:, 2]))))
    truth = Table({"edge_on": rng.uniform(size=n) < p_edge,
                   "round": rng.uniform(size=n) < p_round})
    return latents, truth, {"edge_on": p_edge, "round": p_round}


@pytest.fixture(scope="module")
def fitted():
    latents, truth, _ = synthetic(3000, seed=0)
    return MorphologyClassifier(max_epochs=60).fit(latents, truth, labels=["edge_on", "round"])


def test_close_to_bayes_optimal(fitted):
    latents, truth, probability = synthetic(3000, seed=1)
    table = fitted.predict_proba(latents)
    assert table.colnames == ["p_edge_on", "p_round"]
    for name in ("edge_on", "round"):
        best = binary_metrics(truth[name], probability[name])["roc_auc"]
        got = binary_metrics(truth[name], table[f"p_{name}"])["roc_auc"]
        assert got > best - 0.02
        # Probabilities, not just rankings: close to the true ones.
        assert np.mean(np.abs(table[f"p_{name}"] - probability[name])) < 0.06


def test_nonlinear_label_needs_nonlinear_model(fitted):
    # 'round' depends on a radius in latent space: a linear score has no skill.
    latents, truth, _ = synthetic(3000, seed=2)
    linear = binary_metrics(truth["round"], latents[:, 1])["roc_auc"]
    assert abs(linear - 0.5) < 0.05
    assert binary_metrics(truth["round"], fitted.predict_proba(latents)["p_round"])[
        "roc_auc"] > 0.8


def test_cross_validate():
    latents, truth, _ = synthetic(600, seed=3)
    result = MorphologyClassifier(max_epochs=30).cross_validate(latents, truth,
                                                            labels=["edge_on"], n_splits=3)
    assert list(result["label"]) == ["edge_on"]
    assert result["roc_auc"][0] > 0.8
    assert 0 < result["roc_auc_std"][0] < 0.1
    assert result["pr_auc"][0] > result["prevalence"][0]
    assert result["n"][0] == 600


def test_save_load(fitted, tmp_path):
    latents, _, _ = synthetic(20, seed=4)
    assert fitted.save(tmp_path / "morphology") == tmp_path / "morphology.safetensors"
    loaded = MorphologyClassifier.load(tmp_path / "morphology.json")
    assert loaded.sha256 == fitted.sha256
    assert loaded.labels == fitted.labels
    a, b = fitted.predict_proba(latents), loaded.predict_proba(latents)
    assert np.allclose(a["p_round"], b["p_round"])
    assert b.meta["morphology_weights_sha256"] == fitted.sha256


def test_masked_labels_are_left_out_with_warning():
    latents, truth, _ = synthetic(300, seed=5)
    column = MaskedColumn(truth["edge_on"], mask=np.arange(300) < 10)
    truth["edge_on"] = column
    with pytest.warns(AstropyUserWarning, match="leaving out 10"):
        MorphologyClassifier(max_epochs=2).fit(latents, truth, labels=["edge_on"])


def test_bad_input():
    latents, truth, _ = synthetic(100, seed=6)
    clf = MorphologyClassifier(max_epochs=2)
    with pytest.raises(ValueError, match="no label column"):
        clf.fit(latents, truth)  # default labels include 'merger'
    with pytest.raises(ValueError, match="0 positive"):
        clf.fit(latents, Table({"merger": np.zeros(100, bool)}), labels=["merger"])
    with pytest.raises(ValueError, match="boolean"):
        clf.fit(latents, Table({"merger": np.linspace(0, 2, 100)}), labels=["merger"])
    with pytest.raises(ValueError, match="rows"):
        clf.fit(latents[:50], truth, labels=["edge_on"])
    with pytest.raises(RuntimeError, match="not fitted"):
        clf.predict_proba(latents)
    clf.fit(latents, truth, labels=["edge_on"])
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        clf.predict_proba(latents[:, :3])
    bad = latents.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(bad)


def test_old_keyword_names_still_work():
    from astropy.utils.exceptions import AstropyDeprecationWarning

    latents, truth, _ = synthetic(200, seed=2)
    with pytest.warns(AstropyDeprecationWarning, match='"epochs" was deprecated'):
        clf = MorphologyClassifier(epochs=2)
    assert clf._settings.max_epochs == 2
    with pytest.warns(AstropyDeprecationWarning, match='"table" was deprecated'):
        clf.fit(latents, table=truth, labels=["edge_on"])
    assert clf.labels == ["edge_on"]


def test_classifier_saved_with_the_old_option_name_loads(tmp_path):
    import json

    latents, truth, _ = synthetic(200, seed=2)
    path = MorphologyClassifier(max_epochs=2).fit(latents, truth, labels=["edge_on"]).save(
        tmp_path / "clf")
    record = json.loads(path.with_suffix(".json").read_text())
    record["config"]["epochs"] = record["config"].pop("max_epochs")
    path.with_suffix(".json").write_text(json.dumps(record))
    assert MorphologyClassifier.load(path)._settings.max_epochs == 2
