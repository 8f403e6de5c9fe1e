"""Simulated colours against published DESI colour-redshift selections.

LRG: the DESI Luminous Red Galaxy cuts of Zhou et al. (2023, AJ 165, 58) for
the southern (DECaLS) imaging, extinction-corrected AB magnitudes:
``z - W1 > 0.8 (r - z) - 0.6`` (stellar rejection) and
``g - W1 > 2.9 or r - W1 > 1.8`` (removes low-redshift galaxies). They were
designed to keep massive quiescent galaxies at 0.4 < z < 1.

ELG: the colour box of the DESI Emission Line Galaxy sample of Raichoor et
al. (2023, AJ 165, 126), the union of its LOP and VLO parts:
``r - z > 0.15``, ``g - r < 0.5 (r - z) + 0.1`` and
``g - r < -1.2 (r - z) + 1.6``; it selects star-forming galaxies beyond
z ~ 0.6 and rejects those at lower redshift.

Tolerances are stated beside each assertion; the measured values at the time
of writing are in the docs (``docs/simulate/index.rst``).
"""

import numpy as np
import pytest

from minuet.simulate import SimulationConfig, variant_choices
from minuet.simulate import _population as pop
from minuet.simulate import _seds as seds


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(20251201)
    config = SimulationConfig(mag_limit=23.0, nearby_fraction=0.0)
    gal = pop.draw_centrals(5000, rng, config, variant_choices("reference"))
    mags = seds.magnitudes(
        gal["template_coeffs"], gal["redshift"], gal["dust_av"], "calzetti00", ("g", "r", "z", "w1")
    )
    return gal, mags


def _lrg(mags):
    g, r, z, w1 = mags.T
    return ((z - w1) > 0.8 * (r - z) - 0.6) & (((g - w1) > 2.9) | ((r - w1) > 1.8))


def _elg(mags):
    g, r, z, _ = mags.T
    gr, rz = g - r, r - z
    return (rz > 0.15) & (gr < 0.5 * rz + 0.1) & (gr < -1.2 * rz + 1.6)


def test_massive_quiescent_galaxies_pass_the_lrg_cuts(sample):
    gal, mags = sample
    z = gal["redshift"]
    sel = gal["quenched"] & (gal["log_mstar"] > 11.0) & (z > 0.4) & (z < 0.9)
    assert sel.sum() >= 30
    # measured 0.87-0.99 depending on the draw; at least 80% required
    assert _lrg(mags)[sel].mean() >= 0.8


def test_low_redshift_star_forming_galaxies_fail_the_lrg_cuts(sample):
    gal, mags = sample
    sel = ~gal["quenched"] & (gal["redshift"] < 0.25)
    assert _lrg(mags)[sel].mean() <= 0.05


def test_elg_box_selects_distant_star_forming_galaxies(sample):
    gal, mags = sample
    z = gal["redshift"]
    bright = mags[:, 0] < 23.5
    far = ~gal["quenched"] & bright & (z > 0.8)
    near = ~gal["quenched"] & bright & (z < 0.6)
    assert far.sum() >= 100
    # the box is built to keep z > 0.6 star formers: at least half at 0.8 < z < 1
    assert _elg(mags)[far].mean() >= 0.5
    # and to reject z < 0.6: at most 5% inside
    assert _elg(mags)[near].mean() <= 0.05


def test_red_galaxies_redden_in_r_minus_z_with_redshift(sample):
    # the LRG locus: r - z of quiescent galaxies rises steadily over 0.3 < z < 1 as the
    # 4000 A break moves through r (Zhou et al. 2023, their colour-redshift figures)
    gal, mags = sample
    rz = mags[:, 1] - mags[:, 2]
    q = gal["quenched"] & (gal["log_mstar"] > 10.8)
    medians = [
        np.median(rz[q & (gal["redshift"] > lo) & (gal["redshift"] < hi)])
        for lo, hi in ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9))
    ]
    assert medians[0] + 0.2 < medians[1] < medians[2] - 0.2
    # star formers stay bluer in r - z than quiescent galaxies at the same redshift
    sf = ~gal["quenched"] & (gal["log_mstar"] > 10.0)
    for lo, hi in ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9)):
        zs = (gal["redshift"] > lo) & (gal["redshift"] < hi)
        assert np.median(rz[sf & zs]) < np.median(rz[q & zs]) - 0.2
