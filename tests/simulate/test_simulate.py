import numpy as np
import pytest
from astropy import units as u

from minuet.simulate import LABELS, SimulationConfig, simulate
from minuet.simulate import _population as pop
from minuet.simulate._photometry import kpc_per_arcsec

N = 160


@pytest.fixture(scope="module")
def sample():
    return simulate(N, seed=11)


def test_shapes_and_types(sample):
    images, invvar, footprint, truth = sample
    assert images.shape == invvar.shape == (N, 3, 72, 72)
    assert images.dtype == invvar.dtype == np.float32
    assert footprint.shape == (N, 72, 72)
    assert footprint.dtype == bool
    assert len(truth) == N
    assert np.all(np.isfinite(images))
    assert np.all(invvar >= 0)
    assert truth["mag_r"].unit == u.mag
    assert truth["half_light_radius"].unit == u.arcsec
    for name in ("redshift", "log_mstar", "log_sfr", "mag_g", "mag_r", "mag_z", *LABELS):
        assert name in truth.colnames
    assert np.all((truth["redshift"] > 0) & (truth["redshift"] <= 1))
    assert np.all(truth["mag_r"].value < SimulationConfig().mag_limit)


def test_masked_pixels_are_zero(sample):
    images, invvar, _, _ = sample
    masked = invvar == 0
    assert masked.any()  # bad columns and edges occur at the configured rates
    assert np.all(images[masked] == 0)
    assert np.mean(masked) < 0.05


def test_footprint_holds_the_centre(sample):
    _, _, footprint, truth = sample
    assert np.all(footprint[:, 35:37, 35:37].any(axis=(1, 2)))
    # bright nearby galaxies (and their PSF wings) may fill the stamp; others do not
    faint = (truth["mag_r"] > 17.5 * u.mag) & (truth["half_light_radius"] < 3 * u.arcsec)
    assert faint.mean() > 0.8
    assert np.all(footprint[faint].mean(axis=(1, 2)) < 0.9)


def test_total_flux_matches_catalogue(sample):
    images, invvar, _, truth = sample
    isolated = (
        ~truth["companion"]
        & (truth["n_neighbours"] == 0)
        & (truth["n_stars"] == 0)
        & (truth["masked_fraction"] == 0)
        & (truth["half_light_radius"] < 1.5 * u.arcsec)
    )
    assert isolated.sum() >= 10
    for b, band in enumerate("grz"):
        measured = images[isolated, b].sum(axis=(1, 2))
        noise = np.sqrt((1.0 / invvar[isolated, b]).sum(axis=(1, 2)))
        expected = 10 ** (-0.4 * (truth[f"mag_{band}"][isolated].value - 22.5))
        # the residual sky level left by sky subtraction adds to the sum
        measured = measured - 72 * 72 * truth[f"sky_offset_{band}"][isolated].value
        # the stamp misses a little of the profiles' far wings
        pull = (measured - 0.98 * expected) / np.hypot(noise, 0.02 * expected)
        assert np.all(np.abs(pull) < 5), band
        assert abs(np.median(pull)) < 1.5, band


def test_quenched_redder_at_fixed_redshift():
    rng = np.random.default_rng(3)
    gal = pop.draw_centrals(3000, rng, SimulationConfig())
    mags = 22.5 - 2.5 * np.log10(gal["fluxes"].sum(axis=1))
    gr = mags[:, 0] - mags[:, 1]
    for lo, hi in ((0.1, 0.3), (0.3, 0.5), (0.5, 0.8)):
        sel = (gal["redshift"] > lo) & (gal["redshift"] < hi)
        q = sel & gal["quenched"]
        sf = sel & ~gal["quenched"]
        assert q.sum() > 10
        assert sf.sum() > 10
        assert np.median(gr[q]) > np.median(gr[sf]) + 0.3


def test_angular_size_falls_with_redshift_at_fixed_mass():
    rng = np.random.default_rng(4)
    gal = pop.draw_centrals(4000, rng, SimulationConfig())
    re = gal["re_disk_kpc"] / kpc_per_arcsec(gal["redshift"])
    mass = (gal["log_mstar"] > 10.0) & (gal["log_mstar"] < 10.5) & ~gal["quenched"]
    medians = [
        np.median(re[mass & (gal["redshift"] > lo) & (gal["redshift"] < hi)])
        for lo, hi in ((0.05, 0.15), (0.2, 0.35), (0.4, 0.7))
    ]
    assert medians[0] > medians[1] > medians[2]


def test_edge_on_disks_are_thin(sample):
    truth = sample[3]
    assert truth["edge_on"].any()
    assert np.all(truth["axis_ratio"][truth["edge_on"]] < 0.3)
    assert np.all(truth["inclination"][truth["edge_on"]] >= 77 * u.deg)


@pytest.mark.parametrize("label", LABELS)
def test_label_rates(sample, label):
    rate = np.mean(sample[3][label])
    assert 0.1 <= rate <= 0.6


def test_background_rms_matches_depth(sample):
    images, invvar, _, truth = sample
    config = SimulationConfig()
    # sky_sigma is the DECaLS depth; DES and BASS/MzLS cutouts are offset from it
    # and bright nearby galaxies spread light (and its noise) over the whole stamp
    clean = (
        (truth["n_neighbours"] == 0)
        & (truth["n_stars"] == 0)
        & (truth["survey"] == "DECaLS")
        & (truth["mag_r"] > 17.5 * u.mag)
        & (truth["half_light_radius"] < 3 * u.arcsec)
    )
    border = np.zeros((72, 72), dtype=bool)
    border[:8] = border[-8:] = True
    border[:, :8] = border[:, -8:] = True
    for b, band in enumerate("grz"):
        sigma = truth[f"sky_sigma_{band}"].value
        decals = np.median(sigma[truth["survey"] == "DECaLS"])
        assert decals == pytest.approx(config.sky_sigma[b], rel=0.05)
        pix = images[clean, b][:, border] / sigma[clean, None]
        good = invvar[clean, b][:, border] > 0
        normalised = pix[good]
        mad = 1.4826 * np.median(np.abs(normalised - np.median(normalised)))
        assert mad == pytest.approx(1.0, rel=0.05), band
        # absolute: the measured background RMS equals the configured depth
        rms = mad * decals
        assert rms == pytest.approx(config.sky_sigma[b], rel=0.05), band


def test_reproducible_and_independent_of_start():
    a = simulate(3, seed=7, start=254)
    b = simulate(1, seed=7, start=255)
    assert np.array_equal(a[0][1], b[0][0])
    assert np.array_equal(a[1][1], b[1][0])
    assert a[3]["redshift"][1] == b[3]["redshift"][0]
    c = simulate(3, seed=8, start=254)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_count(bad):
    with pytest.raises(ValueError, match="n must be an integer"):
        simulate(bad)


def test_config_validation_and_round_trip():
    config = SimulationConfig(mag_limit=20.0, merger_fraction=0.3)
    assert SimulationConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="z_max"):
        SimulationConfig(z_max=1.5)
    with pytest.raises(ValueError, match="merger_fraction"):
        SimulationConfig(merger_fraction=2.0)
    with pytest.raises(ValueError, match="unknown SimulationConfig keys"):
        SimulationConfig.from_dict({"not_a_setting": 1})


def test_breadth_of_conditions_and_sizes(sample):
    truth = sample[3]
    config = SimulationConfig()
    # bright nearby galaxies as large as a good part of the stamp are present
    assert np.any(truth["half_light_radius"] > 4 * u.arcsec)
    assert np.mean(truth["redshift"] < config.nearby_z_max) >= 0.03
    # cutouts from every survey area, with their depth offsets
    surveys = set(truth["survey"])
    assert surveys == {"DECaLS", "DES", "BASS/MzLS"}
    des = np.median(truth["sky_sigma_r"].value[truth["survey"] == "DES"])
    decals = np.median(truth["sky_sigma_r"].value[truth["survey"] == "DECaLS"])
    assert des / decals == pytest.approx(10 ** (-0.4 * 0.5), rel=0.1)
    # a spread of Moffat indices and wings, per cutout
    beta = truth["psf_beta"][truth["psf_family"] == "moffat"]
    assert beta.min() >= 2.5
    assert beta.max() <= 4.8
    assert np.ptp(beta) > 1.5
    assert np.all(truth["psf_wing_r"] >= 0.01)
    assert np.all(truth["psf_wing_r"] <= 0.04)
