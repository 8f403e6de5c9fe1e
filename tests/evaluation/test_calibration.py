import numpy as np
import pytest

from minuet.evaluation import coverage, pit, pit_histogram, plot_pit, plot_tarp, tarp


def gaussian_case(width, *, n=3000, n_samples=400, seed=0):
    """Truth drawn from N(mu, 1) and posterior samples from N(mu, width^2)."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n, 2))
    truth = mu + rng.normal(size=(n, 2))
    samples = mu[:, None, :] + width * rng.normal(size=(n, n_samples, 2))
    return samples, truth


@pytest.mark.parametrize(("width", "kind"), [(1.0, "calibrated"), (0.5, "narrow"),
                                             (2.0, "wide")])
def test_coverage_detects_dispersion(width, kind):
    samples, truth = gaussian_case(width)
    table = coverage(samples, truth, names=["a", "b"])
    assert list(table["property"]) == ["a", "b"]
    for level, key in [(0.68, "coverage_68"), (0.95, "coverage_95")]:
        cov = np.asarray(table[key])
        err = 4 * np.asarray(table[f"{key}_err"])
        if kind == "calibrated":
            assert np.all(np.abs(cov - level) < err)
        elif kind == "narrow":
            assert np.all(cov < level - err)
        else:
            assert np.all(cov > level + err)


def test_pit_histogram_shapes():
    calibrated = pit(*gaussian_case(1.0))[:, 0]
    narrow = pit(*gaussian_case(0.5))[:, 0]
    wide = pit(*gaussian_case(2.0))[:, 0]
    flat, edges = pit_histogram(calibrated, bins=5)
    assert edges.shape == (6,)
    assert np.all(np.abs(flat - 1) < 0.15)
    u_shape, _ = pit_histogram(narrow, bins=5)
    assert u_shape[0] > 1.5
    assert u_shape[-1] > 1.5
    assert u_shape[2] < 0.8
    peaked, _ = pit_histogram(wide, bins=5)
    assert peaked[2] > 1.5
    assert peaked[0] < 0.5


def test_pit_detects_bias():
    samples, truth = gaussian_case(1.0)
    values = pit(samples + 1.0, truth)
    assert values.shape == truth.shape
    assert values.mean() < 0.4


def test_tarp_detects_miscalibration():
    calibrated = tarp(*gaussian_case(1.0), seed=1, n_bootstrap=20)
    narrow = tarp(*gaussian_case(0.4), seed=1)
    wide = tarp(*gaussian_case(2.5), seed=1)
    assert calibrated.meta["max_deviation"] < 0.04
    assert "ecp_std" in calibrated.colnames
    assert narrow.meta["max_deviation"] > 0.1
    assert wide.meta["max_deviation"] > 0.1
    # Opposite S-shapes: narrow posteriors pile f at 0 and 1, wide ones at 1/2.
    quarter = np.searchsorted(narrow["alpha"], 0.25)
    assert narrow["ecp"][quarter] > 0.3
    assert wide["ecp"][quarter] < 0.2


def test_tarp_detects_bias_with_truth_references():
    samples, truth = gaussian_case(1.0)
    result = tarp(samples + 1.5, truth, references="truth", seed=2)
    assert result.meta["max_deviation"] > 0.1


def test_one_dimensional_input():
    rng = np.random.default_rng(3)
    truth = rng.normal(size=500)
    samples = rng.normal(size=(500, 200))
    assert pit(samples, truth).shape == (500,)
    assert len(coverage(samples, truth)) == 1
    assert len(tarp(samples, truth, n_alpha=11)) == 11


def test_bad_input():
    samples, truth = gaussian_case(1.0, n=10, n_samples=5)
    with pytest.raises(ValueError, match="do not match"):
        pit(samples, truth[:5])
    bad = samples.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        coverage(bad, truth)
    with pytest.raises(ValueError, match="levels"):
        coverage(samples, truth, levels=[1.5])
    with pytest.raises(ValueError, match="names"):
        coverage(samples, truth, names=["only one"])
    with pytest.raises(ValueError, match="references"):
        tarp(samples, truth, references="sky")


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples, truth = gaussian_case(1.0, n=200, n_samples=50)
    ax = plot_tarp(tarp(samples, truth, n_bootstrap=5, seed=0), label="flow")
    assert len(ax.lines) == 2
    ax2 = plot_pit(pit(samples, truth)[:, 0], ax=ax, label="pit")
    assert ax2 is ax
    plt.close("all")
