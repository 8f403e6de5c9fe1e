import numpy as np
import pytest

from minuet.anomaly import AnomalyScorer


def population(n, seed):
    """Two clumps of ordinary galaxies on a curved sequence in 5-D."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-1, 1, n)
    clump = rng.uniform(size=n) < 0.5
    base = np.column_stack([t, t**2, np.where(clump, 1.0, -1.0), 0.5 * t, np.zeros(n)])
    return base + 0.1 * rng.normal(size=(n, 5))


def test_injected_outliers_rank_high():
    scorer = AnomalyScorer().fit(population(3000, seed=0))
    rng = np.random.default_rng(1)
    normal = population(1000, seed=2)
    # Outliers sit between the clumps and off the sequence, inside the latents' range.
    outliers = population(20, seed=3)
    outliers[:, 2] = rng.uniform(-0.2, 0.2, 20)
    outliers[:, 1] -= 0.6
    scores = scorer.score(np.vstack([normal, outliers]))["anomaly_score"]
    top = np.argsort(scores)[::-1][:20]
    assert np.mean(top >= 1000) >= 0.9
    assert abs(np.median(scores[:1000])) < 0.2
    assert scorer.score(normal).meta["components"] > 1


def test_reconstruction_term_flags_bad_reconstructions():
    latents = population(2000, seed=4)
    rng = np.random.default_rng(5)
    errors = rng.chisquare(50, 2000) / 50
    scorer = AnomalyScorer().fit(latents, reconstruction_error=errors)
    query = population(500, seed=6)
    query_errors = rng.chisquare(50, 500) / 50
    query_errors[:5] = 3.0  # typical latents, but badly reconstructed
    without = scorer.score(query)["anomaly_score"]
    table = scorer.score(query, reconstruction_error=query_errors, weight=1.0)
    assert np.all(np.argsort(table["anomaly_score"])[::-1][:5] < 5)
    assert not np.all(np.argsort(without)[::-1][:5] < 5)
    assert np.allclose(table["anomaly_score"],
                       table["density_score"] + table["reconstruction_score"])


def test_reconstruction_term_without_reference():
    scorer = AnomalyScorer(n_components=1).fit(population(500, seed=7))
    table = scorer.score(population(100, seed=8), reconstruction_error=np.arange(100.0))
    assert abs(np.median(table["reconstruction_score"])) < 1e-12


def test_log_density_is_normalised():
    rng = np.random.default_rng(9)
    latents = rng.normal(size=(5000, 2)) * [1.0, 3.0]
    scorer = AnomalyScorer(n_components=1).fit(latents)
    grid = np.linspace(-15, 15, 301)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(scorer.log_density(np.column_stack([xx.ravel(), yy.ravel()])))
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1, abs=0.01)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_save_load(tmp_path, covariance_type):
    latents = population(800, seed=10)
    errors = np.abs(latents[:, 0])
    scorer = AnomalyScorer(covariance_type=covariance_type).fit(latents,
                                                               reconstruction_error=errors)
    path = scorer.save(tmp_path / "scorer")
    loaded = AnomalyScorer.load(path)
    assert np.allclose(loaded.score(latents[:10])["anomaly_score"],
                       scorer.score(latents[:10])["anomaly_score"])
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="not an AnomalyScorer"):
        AnomalyScorer.load(tmp_path / "other.npz")


def test_bad_input():
    latents = population(300, seed=11)
    with pytest.raises(RuntimeError, match="not fitted"):
        AnomalyScorer().score(latents)
    with pytest.raises(ValueError, match="covariance_type"):
        AnomalyScorer(covariance_type="tied")
    with pytest.raises(ValueError, match="Too few"):
        AnomalyScorer(n_components=8).fit(latents[:20])
    scorer = AnomalyScorer(n_components=1).fit(latents)
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        scorer.score(latents[:, :3])
    with pytest.raises(ValueError, match="one value per galaxy"):
        scorer.score(latents, reconstruction_error=[1.0])
    with pytest.raises(ValueError, match="NaN"):
        scorer.score(latents[:1], reconstruction_error=[np.nan])
