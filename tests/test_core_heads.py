import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import QTable

from minuet import Minuet
from minuet.anomaly import AnomalyScorer
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
from minuet.morphology import MorphologyClassifier
from minuet.neighbours import LatentIndex
from minuet.posterior import PosteriorConfig, PosteriorEstimator

N = 600


@pytest.fixture(scope="module")
def truth():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(N, 5))
    table = QTable()
    table["redshift"] = np.clip(0.5 + 0.1 * latents[:, 0] + rng.normal(0, 0.02, N), 0.01, 1)
    table["log_mstar"] = (10 + 0.5 * latents[:, 1]) * u.dex(u.solMass)
    table["log_sfr"] = (0.3 * latents[:, 2]) * u.dex(u.solMass / u.yr)
    table["merger"] = latents[:, 3] > 0.5
    table["round"] = latents[:, 4] > 0
    return latents, table


@pytest.fixture(scope="module")
def model(truth):
    latents, table = truth
    torch.manual_seed(0)
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny"))
    posterior = PosteriorEstimator(PosteriorConfig(max_epochs=5, hidden_features=(32, 32),
                                                   transforms=2))
    posterior.fit(latents, table, seed=0)
    morphology = MorphologyClassifier().fit(latents, table, labels=["merger", "round"], seed=0)
    catalogue = QTable({"name": [f"g{i}" for i in range(N)], "redshift": table["redshift"]})
    index = LatentIndex(latents, catalogue=catalogue)
    anomaly = AnomalyScorer().fit(latents, seed=0)
    return Minuet(net, name="heads", posterior_estimator=posterior,
                  morphology_classifier=morphology, latent_index=index, anomaly_scorer=anomaly)


def _with_refused_row(latents):
    table = QTable({f"latent_{i}": latents[:4, i].astype(np.float32) for i in range(5)})
    table["latent_0"][2] = np.nan
    return table


def test_posterior_table_units_and_refused_rows(model, truth):
    latents, _ = truth
    table = model.posterior(_with_refused_row(latents), n_samples=200, seed=1)
    assert len(table) == 4
    assert table["log_mstar_median"].unit == u.dex(u.solMass)
    assert np.isnan(table["redshift_median"][2])
    assert np.all(np.isfinite(table["redshift_median"][[0, 1, 3]]))
    assert np.all(table["redshift_lo68"][[0, 1, 3]] <= table["redshift_median"][[0, 1, 3]])
    assert table.meta["model"] == "heads"
    only_z = model.posterior(latents[:3], properties=["redshift"], samples=True, n_samples=50)
    assert {name.split("_")[0] for name in only_z.colnames} == {"redshift"}
    assert only_z["redshift_samples"].shape == (3, 50)
    with pytest.raises(ValueError, match=r"\['age'\] are not among them"):
        model.posterior(latents[:3], properties=["age"])


def test_classify(model, truth):
    latents, table = truth
    probs = model.classify(_with_refused_row(latents))
    assert probs.colnames == ["p_merger", "p_round"]
    assert np.isnan(probs["p_round"][2])
    probs = model.classify(latents)
    p_round = np.asarray(probs["p_round"])
    assert p_round[table["round"]].mean() - p_round[~table["round"]].mean() > 0.3


def test_neighbours_default_and_given_catalogue(model, truth):
    latents, _ = truth
    near = model.neighbours(latents[:2], k=3)
    assert len(near) == 6
    assert near["catalog_index"][0] == 0
    assert near["name"][3] == "g1"
    other = QTable({f"latent_{i}": latents[::-1, i] for i in range(5)})
    other["tag"] = np.arange(N)[::-1]
    near = model.neighbours(latents[:1], k=1, catalogue=other)
    assert near["tag"][0] == 0
    with pytest.raises(ValueError, match="have no latent"):
        model.neighbours(_with_refused_row(latents), k=2)
    # refused rows of a catalogue are skipped, and indices still count the given rows
    refused = _with_refused_row(latents)
    near = model.neighbours(latents[3:4], k=1, catalogue=refused)
    assert near["catalog_index"][0] == 3


def test_neighbours_refuse_a_metric_an_index_does_not_use(model, truth):
    latents, _ = truth
    assert len(model.neighbours(latents[:1], metric="euclidean")) == 10
    with pytest.raises(ValueError, match="searches with the 'euclidean' metric"):
        model.neighbours(latents[:1], metric="cosine")
    table = QTable({f"latent_{i}": latents[:, i] for i in range(5)})
    assert model.neighbours(latents[:1], k=2, catalogue=table,
                            metric="cosine").meta["metric"] == "cosine"
    assert len(model.latent_index.query(latents[:1])) == 10  # the same default k


def test_anomaly_score(model, truth):
    latents, _ = truth
    odd = np.vstack([latents[:20], np.full((1, 5), 6.0)])
    scores = model.anomaly_score(odd)
    assert np.argmax(scores["anomaly_score"]) == 20


def test_heads_survive_save_and_load(model, truth, tmp_path):
    latents, _ = truth
    loaded = Minuet.load(model.save(tmp_path / "m"))
    a = model.posterior(latents[:5], seed=3, n_samples=100)
    b = loaded.posterior(latents[:5], seed=3, n_samples=100)
    np.testing.assert_allclose(a["redshift_median"], b["redshift_median"], rtol=1e-6)
    np.testing.assert_allclose(model.classify(latents[:5])["p_merger"],
                               loaded.classify(latents[:5])["p_merger"], rtol=1e-6)
    assert loaded.neighbours(latents[:1], k=1)["name"][0] == "g0"
    np.testing.assert_allclose(model.anomaly_score(latents[:5])["anomaly_score"],
                               loaded.anomaly_score(latents[:5])["anomaly_score"], rtol=1e-6)
    assert "posterior of redshift, log_mstar, log_sfr" in repr(loaded)
    corrupt = tmp_path / "m" / "anomaly.safetensors"
    corrupt.write_bytes(corrupt.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or altered"):
        Minuet.load(tmp_path / "m")


def test_missing_head_says_what_to_do(truth):
    latents, _ = truth
    bare = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")), name="bare")
    with pytest.raises(ValueError, match="has no posterior_estimator"):
        bare.posterior(latents[:2])
    with pytest.raises(ValueError, match="has no morphology_classifier"):
        bare.classify(latents[:2])
    with pytest.raises(ValueError, match="has no latent_index"):
        bare.neighbours(latents[:2])
    with pytest.raises(ValueError, match="has no anomaly_scorer"):
        bare.anomaly_score(latents[:2])


def test_fit_heads_from_truth(truth):
    latents, table = truth
    model = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")), name="own")
    model.fit_heads(latents, table, properties=["redshift"],
                    posterior_config=PosteriorConfig(max_epochs=3, hidden_features=(16,),
                                                     transforms=1))
    assert model.posterior_estimator.config.properties == ("redshift",)
    assert model.morphology_classifier.labels == ["merger", "round"]
    assert model.latent_index.catalogue.colnames == ["redshift", "merger", "round"]
    assert len(model.latent_index) == N
    assert model.anomaly_scorer is not None
    with pytest.raises(ValueError, match="same galaxies, row by row"):
        model.fit_heads(latents[:10], table)
