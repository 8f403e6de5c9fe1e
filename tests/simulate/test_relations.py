import numpy as np
import pytest

from minuet.simulate.relations import (
    mass_size_relation,
    quenched_fraction,
    star_forming_main_sequence,
    stellar_mass_function,
)


def test_mass_function_matches_leja_at_anchor():
    # at z = 0.2 the Leja et al. (2020) parameters are the tabulated ones
    logm = 10.79
    expected = np.log(10) * np.exp(-1) * (10**-2.44 + 10**-2.89)
    assert stellar_mass_function(logm, 0.2) == pytest.approx(expected, rel=1e-10)
    # the number of massive galaxies falls towards z = 1
    assert stellar_mass_function(11.0, 1.0) < stellar_mass_function(11.0, 0.3)


def test_main_sequence_speagle():
    # Speagle et al. (2014) eq. 28 at t = 13.787 Gyr (Planck 2018, z = 0)
    t = 13.787
    expected = (0.84 - 0.026 * t) * 10.0 - (6.51 - 0.11 * t)
    assert star_forming_main_sequence(10.0, 0.0) == pytest.approx(expected, abs=0.01)


def test_quenched_fraction_bounds_and_trends():
    f = quenched_fraction(np.array([9.0, 10.0, 10.5, 11.0, 12.0]), 0.0)
    assert np.all((f >= 0) & (f <= 1))
    assert np.all(np.diff(f) >= 0)
    assert quenched_fraction(10.5, 1.0) < quenched_fraction(10.5, 0.2)


def test_mass_size_van_der_wel():
    log_re, sigma = mass_size_relation(np.log10(5e10), 0.25, quenched=True)
    assert log_re == pytest.approx(0.60)
    assert sigma == pytest.approx(0.10)
    log_re, _ = mass_size_relation(np.log10(5e10), 0.75, quenched=False)
    assert log_re == pytest.approx(0.78)
    # late types are larger than early types at low mass
    late, _ = mass_size_relation(9.5, 0.5, quenched=False)
    early, _ = mass_size_relation(9.5, 0.5, quenched=True)
    assert late > early
