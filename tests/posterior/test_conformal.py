import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable, Table
from scipy.stats import norm

from minuet.posterior import IntervalCalibration


def _gaussian_summary(mean, sigma, unit=None):
    """Summaries of Gaussian posteriors N(mean, sigma) at the reported percentiles."""
    table = QTable()
    for suffix, q in (("median", 0.5), ("lo68", 0.158655), ("hi68", 0.841345),
                      ("lo95", 0.025), ("hi95", 0.975)):
        values = mean + sigma * norm.ppf(q)
        table[f"z_{suffix}"] = values if unit is None else values * unit
    return table


def _population(rng, n, *, scale):
    """Truths whose spread about the posterior medians is ``scale`` times the claimed sigma."""
    mean = rng.uniform(0, 1, n)
    sigma = rng.uniform(0.05, 0.2, n)
    truth = mean + scale * sigma * rng.normal(size=n) + 0.3 * sigma
    return _gaussian_summary(mean, sigma), Table({"z": truth})


def _coverage(summary, truth, level):
    lo, hi = summary[f"z_lo{level}"], summary[f"z_hi{level}"]
    lo, hi = getattr(lo, "value", lo), getattr(hi, "value", hi)
    return np.mean((truth["z"] >= lo) & (truth["z"] <= hi))


@pytest.mark.parametrize("scale", [0.6, 2.0])
def test_coverage_is_restored_for_the_calibrated_population(scale):
    # one calibration on n galaxies reaches nominal coverage up to the binomial scatter
    # sqrt(level (1 - level) / n), 2.1 points at 68% for n = 500: five independent
    # recalibrations on 500 galaxies each are checked one by one and on average
    rng = np.random.default_rng(1)
    fresh, truth = _population(rng, 20000, scale=scale)
    assert abs(_coverage(fresh, truth, 68) - 0.68) > 0.1  # badly off before
    covered = {68: [], 95: []}
    for _ in range(5):
        adjusted = IntervalCalibration().fit(*_population(rng, 500, scale=scale)).apply(fresh)
        for level in covered:
            covered[level].append(_coverage(adjusted, truth, level))
    assert np.mean(covered[68]) == pytest.approx(0.68, abs=0.02)
    assert np.mean(covered[95]) == pytest.approx(0.95, abs=0.01)
    assert np.all(np.abs(np.array(covered[68]) - 0.68) < 0.05)
    assert np.all(np.abs(np.array(covered[95]) - 0.95) < 0.025)
    assert np.array_equal(adjusted["z_median"], fresh["z_median"])
    assert "500 labelled galaxies" in adjusted.meta["interval_calibration"]


def test_mean_coverage_over_calibration_draws_is_nominal():
    # the split-conformal guarantee: nominal <= E[coverage] <= nominal + 1 / (n + 1)
    rng = np.random.default_rng(2)
    fresh, truth = _population(rng, 5000, scale=1.7)
    covered = [_coverage(IntervalCalibration().fit(*_population(rng, 200, scale=1.7))
                         .apply(fresh), truth, 95) for _ in range(40)]
    assert 0.945 <= np.mean(covered) <= 0.962


def test_groups_get_their_own_adjustment():
    rng = np.random.default_rng(3)
    good, good_truth = _population(rng, 1000, scale=1.0)
    bad, bad_truth = _population(rng, 1000, scale=3.0)
    from astropy.table import vstack

    summary, truth = vstack([good, bad]), vstack([good_truth, bad_truth])
    typicality = np.r_[rng.uniform(0.3, 1, 1000), rng.uniform(0, 0.05, 1000)]
    calibration = IntervalCalibration(edges=[0.05, 0.3]).fit(summary, truth, groups=typicality)
    assert calibration.counts.tolist() == [1000, 0, 1000, 2000]
    low, empty, high, pooled = calibration.adjustment[:, 0, 1]
    assert low > 1.0 > high
    assert empty == pooled
    adjusted = calibration.apply(summary, groups=typicality)
    assert _coverage(adjusted[1000:], bad_truth, 95) == pytest.approx(0.95, abs=0.02)
    assert _coverage(adjusted[:1000], good_truth, 95) == pytest.approx(0.95, abs=0.02)
    pooled_only = calibration.apply(summary)
    assert "pooled" in pooled_only.meta["interval_calibration"]
    # NaN typicality (refused or unscored rows) also uses the pool
    partly = calibration.apply(summary[:2], groups=[np.nan, 0.01])
    assert partly["z_hi95"][0] == pooled_only["z_hi95"][0]
    assert partly["z_hi95"][1] != pooled_only["z_hi95"][1]


def test_units_and_save_load(tmp_path):
    rng = np.random.default_rng(4)
    summary, truth = _population(rng, 300, scale=1.5)
    summary = QTable({name: summary[name] * u.dex(u.solMass) for name in summary.colnames})
    calibration = IntervalCalibration(edges=[0.1]).fit(summary, truth,
                                                       groups=rng.uniform(size=300))
    path = calibration.save(tmp_path / "cal.safetensors")
    again = IntervalCalibration.load(path)
    assert again.sha256 == calibration.sha256
    assert again.group_by == "typicality"
    assert np.array_equal(again.edges, calibration.edges)
    out = again.apply(summary)
    assert out["z_lo95"].unit == u.dex(u.solMass)


def test_errors():
    rng = np.random.default_rng(5)
    summary, truth = _population(rng, 100, scale=1.0)
    with pytest.raises(ValueError, match="increasing"):
        IntervalCalibration(edges=[0.3, 0.1])
    with pytest.raises(ValueError, match="pass groups="):
        IntervalCalibration(edges=[0.1]).fit(summary, truth)
    with pytest.raises(ValueError, match="none of the summary's properties"):
        IntervalCalibration().fit(summary, Table({"other": truth["z"]}))
    with pytest.raises(ValueError, match="row by row"):
        IntervalCalibration().fit(summary, truth[:50])
    with pytest.raises(ValueError, match="at least 50"):
        IntervalCalibration().fit(summary[:20], truth[:20])
    with pytest.raises(RuntimeError, match="not fitted"):
        IntervalCalibration().apply(summary)
