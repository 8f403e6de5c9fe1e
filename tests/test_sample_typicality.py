"""The sample-level typicality test: its null calibration, its power and where it warns."""

import warnings

import numpy as np
import pytest
from astropy.table import Table
from scipy import stats

from minuet.typicality import AtypicalWarning, TypicalityScorer, sample_typicality


@pytest.fixture(scope="module")
def pretrained():
    from minuet import Minuet

    return Minuet.pretrained()


@pytest.fixture(scope="module")
def scorer():
    rng = np.random.default_rng(0)
    return TypicalityScorer(n_components=(1,)).fit(rng.normal(size=(4000, 5)),
                                                   rng.normal(size=(4000, 7)))


def test_auc_and_p_value_are_the_rank_sum_test_of_the_raw_scores(scorer):
    """The conformal p-values alone give the Mann-Whitney test of scores against calibration."""
    from minuet.typicality._density import log_density

    rng = np.random.default_rng(1)
    latents = rng.normal(size=(300, 5)) * 1.1
    table = scorer.score(latents)
    result = scorer.sample(table)
    calibration = scorer._arrays["calibration.latent"]
    scores = -log_density(scorer._mixture("latent"), latents)
    expected = stats.mannwhitneyu(scores, calibration, alternative="greater",
                                  method="asymptotic", use_continuity=False)
    assert result.auc_latent == pytest.approx(expected.statistic / (300 * len(calibration)),
                                              rel=1e-9)
    assert result.p_latent == pytest.approx(expected.pvalue, rel=1e-6)
    assert np.isnan(result.p_image)
    assert result.p_value == result.p_latent


def test_samples_drawn_like_the_reference_are_rejected_at_the_nominal_rate(scorer):
    rng = np.random.default_rng(2)
    rejected = []
    for _ in range(200):
        table = scorer.score(rng.normal(size=(100, 5)), rng.normal(size=(100, 7)))
        rejected.append(scorer.sample(table, alpha=0.05).unlike_training)
    # Bonferroni over two tests keeps the rate at or below 5%; 200 draws
    assert np.mean(rejected) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)


@pytest.mark.parametrize("n", [10, 30])
def test_the_normal_approximation_errs_on_the_safe_side_for_small_samples(n):
    """Uniform conformal p-values of 10 or 30 galaxies are rejected no more often than alpha."""
    rng = np.random.default_rng(n)
    n_cal = 10_000
    p = (1 + rng.integers(0, n_cal + 1, size=(8_000, n))) / (n_cal + 1)
    for alpha in (0.05, 0.01):
        rate = np.mean([sample_typicality(row, n_calibration=n_cal, alpha=alpha).unlike_training
                        for row in p])
        assert rate <= alpha + 3 * np.sqrt(alpha / 8_000)
        assert rate >= 0.5 * alpha  # still a test, not a constant


def test_a_shift_the_flag_does_not_see_is_found_in_the_sample(scorer):
    """Every statistic off by a third of its spread: few galaxies flagged, the sample rejected."""
    rng = np.random.default_rng(3)
    table = scorer.score(rng.normal(size=(1000, 5)), rng.normal(size=(1000, 7)) + 0.35)
    result = scorer.sample(table)
    assert result.flagged_fraction < 0.12
    assert result.unlike_training
    assert result.auc_image > 0.55
    assert "unlike the training set" in str(result)


def test_too_few_galaxies_give_no_verdict():
    result = sample_typicality(np.full(9, 0.01), n_calibration=1000)
    assert np.isnan(result.p_value)
    assert not result.unlike_training
    assert "too few" in str(result)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"p_latent": [0.0, 0.5]}, "p-values in"),
    ({"p_latent": [0.5, 0.5], "p_image": [0.5]}, "one value per galaxy"),
    ({"p_latent": [0.5], "alpha": 0}, "alpha"),
    ({"p_latent": [0.5], "n_calibration": 0}, "n_calibration"),
])
def test_bad_input_is_refused(kwargs, message):
    kwargs = {"n_calibration": 100, **kwargs}
    with pytest.raises(ValueError, match=message):
        sample_typicality(**kwargs)


def test_scorer_sample_needs_the_typicality_columns(scorer):
    with pytest.raises(ValueError, match="typicality_latent"):
        scorer.sample(Table({"x": [1.0]}))


def _encode_like_table(p_latent, p_image, n_calibration=10_000):
    n = len(p_latent)
    table = Table({f"latent_{i}": np.zeros(n) for i in range(5)})
    table["typicality_latent"] = p_latent
    table["typicality_image"] = p_image
    table["typicality"] = np.minimum(1, 2 * np.minimum(p_latent, p_image))
    table["atypical"] = np.zeros(n, dtype=bool)
    table.meta.update(typicality_calibration_galaxies=n_calibration, typicality_threshold=0.05)
    return table


def test_posterior_warns_for_an_unlike_sample_and_keeps_the_test(pretrained):
    rng = np.random.default_rng(4)
    unlike = _encode_like_table(rng.uniform(size=300), rng.uniform(size=300) ** 1.5)
    with pytest.warns(AtypicalWarning, match="as a whole are unlike the training set"):
        table = pretrained.posterior(unlike, properties=["redshift"], n_samples=50, seed=0)
    assert table.meta["sample_typicality"]["unlike_training"]
    alike = _encode_like_table(rng.uniform(size=300), rng.uniform(size=300))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = pretrained.posterior(alike, properties=["redshift"], n_samples=50, seed=0)
    assert not table.meta["sample_typicality"]["unlike_training"]
    assert pretrained.sample_typicality(alike).n_galaxies == 300


def test_encode_tables_carry_the_number_of_calibration_galaxies(pretrained):
    from minuet.simulate import simulate

    images, invvar, _, _ = simulate(3, seed=5)
    table = pretrained.encode(images, invvar=invvar, progress=False)
    n = pretrained.typicality_scorer._record.n_calibration
    assert table.meta["typicality_calibration_galaxies"] == n
    assert np.isnan(pretrained.sample_typicality(table).p_value)  # three galaxies: no verdict
