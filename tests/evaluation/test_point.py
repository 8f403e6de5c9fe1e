import astropy.units as u
import numpy as np
import pytest

from minuet.evaluation import binary_metrics, log_quantity_metrics, redshift_metrics


def test_redshift_metrics_known_values():
    rng = np.random.default_rng(0)
    z = rng.uniform(0.1, 1.0, 20000)
    dz = rng.normal(0.01, 0.03, z.size)
    estimate = z + dz * (1 + z)
    estimate[:1000] = z[:1000] + 0.5 * (1 + z[:1000])  # 5 per cent catastrophic outliers
    m = redshift_metrics(estimate, z)
    assert m["n"] == z.size
    assert m["outlier_fraction"] == pytest.approx(0.05, abs=0.003)
    assert m["bias"] == pytest.approx(0.01, abs=0.003)
    assert m["sigma_nmad"] == pytest.approx(0.03, rel=0.1)


def test_redshift_metrics_ignore_nan_and_check_lengths():
    m = redshift_metrics([0.1, np.nan, 0.3], [0.1, 0.2, 0.3])
    assert m["n"] == 2
    assert m["sigma_nmad"] == 0
    with pytest.raises(ValueError, match="same length"):
        redshift_metrics([0.1], [0.1, 0.2])
    with pytest.raises(ValueError, match="no finite"):
        redshift_metrics([np.nan], [0.1])


def test_log_quantity_metrics_in_dex():
    rng = np.random.default_rng(1)
    truth = rng.uniform(9, 11.5, 20000) * u.dex(u.Msun)
    estimate = (truth.value + 0.1 + rng.normal(0, 0.2, truth.size)) * u.dex(u.Msun)
    m = log_quantity_metrics(estimate, truth)
    assert m["bias"].unit == u.dex
    assert m["bias"].value == pytest.approx(0.1, abs=0.01)
    assert m["scatter"].value == pytest.approx(0.2, rel=0.05)
    assert m["nmad"].value == pytest.approx(0.2, rel=0.05)


def test_binary_metrics():
    rng = np.random.default_rng(2)
    labels = rng.uniform(size=4000) < 0.2
    informative = labels + rng.normal(0, 0.5, labels.size)
    noise = rng.normal(size=labels.size)
    good = binary_metrics(labels, informative)
    chance = binary_metrics(labels, noise)
    assert good["roc_auc"] > 0.9
    assert good["pr_auc"] > 0.6
    assert abs(chance["roc_auc"] - 0.5) < 0.05
    assert chance["pr_auc"] == pytest.approx(chance["prevalence"], abs=0.05)
    with pytest.raises(ValueError, match="both classes"):
        binary_metrics(np.zeros(10, bool), noise[:10])
    with pytest.raises(ValueError, match="same length"):
        binary_metrics(labels[:5], noise)
