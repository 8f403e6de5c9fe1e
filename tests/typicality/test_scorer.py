import json

import numpy as np
import pytest

from minuet.typicality import TypicalityScorer

MIXING = np.random.default_rng(0).normal(size=(2, 7))


def _draw(rng, n, *, latent_shift=0.0, stat_shift=0.0):
    """Latents, and statistics that follow them as a cutout's colours follow its galaxy."""
    latents = rng.normal(size=(n, 5)) + latent_shift
    stats = (latents[:, :2] - latent_shift) @ MIXING * 0.5 + rng.normal(0, 0.3, size=(n, 7))
    return latents, stats + stat_shift


@pytest.fixture(scope="module")
def reference():
    return _draw(np.random.default_rng(1), 3000)


@pytest.fixture(scope="module")
def scorer(reference):
    latents, stats = reference
    return TypicalityScorer(n_components=(1, 2)).fit(latents, stats, seed=1)


def test_at_most_threshold_flagged_in_distribution(scorer):
    latents, stats = _draw(np.random.default_rng(5), 8000)
    table = scorer.score(latents, stats)
    assert 0.02 < np.mean(table["atypical"]) <= 0.05
    # each p-value is close to uniform for galaxies like the reference set
    for name in ("typicality_latent", "typicality_image"):
        assert np.mean(table[name] < 0.1) == pytest.approx(0.1, abs=0.015)


def test_pixel_statistics_catch_what_the_latent_misses(scorer):
    latents, stats = _draw(np.random.default_rng(6), 2000, stat_shift=1.0)
    table = scorer.score(latents, stats)
    assert np.mean(table["typicality_latent"] < 0.05) < 0.08  # the latents look ordinary
    assert np.mean(table["atypical"]) > 0.5


def test_shifted_latents_are_flagged(scorer):
    latents, stats = _draw(np.random.default_rng(7), 2000, latent_shift=2.0)
    assert np.mean(scorer.score(latents, stats)["atypical"]) > 0.5


def test_without_statistics_only_the_latent_counts(scorer):
    latents, _ = _draw(np.random.default_rng(8), 50)
    table = scorer.score(latents)
    assert np.all(np.isnan(table["typicality_image"]))
    assert np.array_equal(table["typicality"], table["typicality_latent"])


def test_refused_rows_get_nan_and_no_flag(scorer):
    latents, stats = _draw(np.random.default_rng(9), 3)
    latents[1] = np.nan
    table = scorer.score(latents, stats)
    assert np.isnan(table["typicality"][1])
    assert not table["atypical"][1]
    assert np.all(np.isfinite(table["typicality"][[0, 2]]))


def test_save_load_round_trip_and_checksum(scorer, tmp_path):
    latents, stats = _draw(np.random.default_rng(10), 20)
    path = tmp_path / "typicality.safetensors"
    assert scorer.save(path) == path
    again = TypicalityScorer.load(path)
    assert again.sha256 == scorer.sha256
    assert again.threshold == scorer.threshold
    assert np.array_equal(again.score(latents, stats)["typicality"],
                          scorer.score(latents, stats)["typicality"])
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        TypicalityScorer.load(path)


def test_other_files_and_statistics_are_refused(scorer, tmp_path):
    from minuet.posterior import PosteriorConfig, PosteriorEstimator

    rng = np.random.default_rng(0)
    from astropy.table import Table

    estimator = PosteriorEstimator(PosteriorConfig(transforms=1, hidden_features=(8,),
                                                   max_epochs=1))
    estimator.fit(rng.normal(size=(50, 5)), Table({"redshift": rng.uniform(size=50)}),
                  properties=["redshift"])
    estimator.save(tmp_path / "posterior.safetensors")
    with pytest.raises(ValueError, match="holds 'minuet-posterior-1'; expected 'minuet-typ"):
        TypicalityScorer.load(tmp_path / "posterior.safetensors")
    scorer.save(tmp_path / "typicality.safetensors")
    sidecar = tmp_path / "typicality.json"
    record = json.loads(sidecar.read_text())
    record["config"]["statistics"] = ["something_else"]
    sidecar.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="refit the scorer"):
        TypicalityScorer.load(tmp_path / "typicality.safetensors")


def test_bad_arguments(reference):
    latents, stats = reference
    with pytest.raises(ValueError, match="threshold"):
        TypicalityScorer(threshold=1.5)
    with pytest.raises(ValueError, match="calibration_fraction"):
        TypicalityScorer(calibration_fraction=0)
    with pytest.raises(ValueError, match=r"statistics must have shape \(3000, 7\)"):
        TypicalityScorer().fit(latents, stats[:, :3])
    with pytest.raises(ValueError, match="too few"):
        TypicalityScorer().fit(latents[:30], stats[:30])
    with pytest.raises(RuntimeError, match="not fitted"):
        TypicalityScorer().score(latents)
