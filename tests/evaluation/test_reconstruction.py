import astropy.units as u
import numpy as np
import pytest

from minuet.evaluation import (
    central_segmentation,
    compare_reconstructions,
    summarize_reconstructions,
)

SIZE = 40


def _galaxy(flux=(1.0, 2.0, 3.0), sigma=3.0, q=0.6, centre=(20.0, 20.0)):
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(float)
    r2 = (xx - centre[1]) ** 2 + ((yy - centre[0]) / q) ** 2
    profile = np.exp(-0.5 * r2 / sigma**2)
    profile /= profile.sum()
    return np.stack([f * profile for f in flux])


@pytest.fixture
def noisy():
    rng = np.random.default_rng(42)
    noise = np.array([0.002, 0.0025, 0.008])[:, None, None]
    truth = np.stack([_galaxy(), _galaxy(flux=(0.5, 1.0, 1.5), sigma=2.0, q=0.9)])
    data = truth + rng.normal(size=truth.shape) * noise
    invvar = np.broadcast_to(1 / noise**2, truth.shape).copy()
    return truth, data, invvar


def test_perfect_model_has_unit_chi2_and_no_bias(noisy):
    truth, data, invvar = noisy
    table = compare_reconstructions(data, truth, invvar=invvar)
    assert len(table) == 2
    assert np.all(np.abs(table["chi2_red"] - 1) < 0.25)
    assert np.all(np.abs(table["dmag_r"]) < 0.02 * u.mag)
    assert np.all(np.abs(table["frac_r_half_err"]) < 0.05)
    assert table["r_half_in"].unit == u.arcsec


def test_detects_flux_colour_and_size_errors(noisy):
    truth, data, invvar = noisy
    wrong = truth.copy()
    wrong[:, 0] *= 10 ** (-0.4 * 0.2)  # g fainter by 0.2 mag
    table = compare_reconstructions(data, wrong, invvar=invvar)
    perfect = compare_reconstructions(data, truth, invvar=invvar)
    # the same data and footprints: the noise cancels in the difference
    assert np.allclose((table["dmag_g"] - perfect["dmag_g"]).value, 0.2, atol=0.01)
    assert np.allclose((table["dcolor_gr"] - perfect["dcolor_gr"]).value, 0.2, atol=0.01)
    assert np.all(table["chi2_red"] > perfect["chi2_red"])
    assert table["chi2_red"][0] > perfect["chi2_red"][0] + 0.1

    bigger = np.stack([_galaxy(sigma=3.6), _galaxy(flux=(0.5, 1.0, 1.5), sigma=2.4, q=0.9)])
    table = compare_reconstructions(data, bigger, invvar=invvar)
    assert np.all(table["frac_r_half_err"] > 0.1)

    rounder = np.stack([_galaxy(q=1.0), _galaxy(flux=(0.5, 1.0, 1.5), sigma=2.0, q=1.0)])
    table = compare_reconstructions(data, rounder, invvar=invvar)
    assert table["d_ellipticity"][0] < -0.1


def test_truth_footprint_and_masked_pixels(noisy):
    truth, data, invvar = noisy
    footprint = truth[:, 1] > 1e-4
    invvar[0, :, 20, 20] = 0
    table = compare_reconstructions(data, truth, invvar=invvar, footprint=footprint)
    assert table["n_footprint"][0] == footprint[0].sum()
    assert np.isfinite(table["chi2_red"][0])


def test_empty_cutout_gives_nan_row():
    rng = np.random.default_rng(0)
    data = rng.normal(0, 0.01, (1, 3, SIZE, SIZE))
    table = compare_reconstructions(data, data, invvar=np.full(data.shape, 1e4))
    assert np.isnan(table["chi2_red"][0])
    assert summarize_reconstructions(table)["n_measured"] == 0


def test_central_segmentation_picks_nearest_source():
    off = _galaxy(flux=(5, 5, 5), centre=(10.0, 12.0)) + _galaxy(flux=(5, 5, 5), centre=(33, 33))
    segm, label = central_segmentation(off, np.full(off.shape, 1e6))
    assert segm.data[10, 12] == label


def test_summary(noisy):
    truth, data, invvar = noisy
    summary = summarize_reconstructions(compare_reconstructions(data, truth, invvar=invvar))
    assert summary["n_measured"] == 2
    assert summary["median_abs_dmag_r"].unit == u.mag


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"inputs": np.zeros((2, 3, 8))}, r"inputs must have shape \(N, 3, H, W\)"),
        ({"reconstructions": np.zeros((1, 3, 8, 8))}, "must have the same shape"),
        ({"footprint": np.zeros((2, 4, 4), bool)}, r"footprint must have shape \(N, H, W\)"),
        ({"shape_band": "i"}, "shape_band must be one of"),
    ],
)
def test_bad_input(kwargs, match):
    args = {
        "inputs": np.zeros((2, 3, 8, 8)),
        "reconstructions": np.zeros((2, 3, 8, 8)),
        "invvar": np.ones((2, 3, 8, 8)),
    } | kwargs
    inputs = args.pop("inputs")
    reconstructions = args.pop("reconstructions")
    if inputs.ndim != 4:
        args["invvar"] = np.ones(inputs.shape)
    with pytest.raises(ValueError, match=match):
        compare_reconstructions(inputs, reconstructions, **args)


def test_radial_power_spectrum_sees_blur():
    from scipy.ndimage import gaussian_filter

    from minuet.evaluation import radial_power_spectrum

    rng = np.random.default_rng(3)
    sharp = rng.normal(size=(16, 3, 36, 36))
    blurred = gaussian_filter(sharp, sigma=(0, 0, 1.5, 1.5))
    frequency, p_sharp = radial_power_spectrum(sharp)
    _, p_blur = radial_power_spectrum(blurred)
    assert frequency.shape == (18,)
    assert p_sharp.shape == (3, 18)
    # white noise is flat; the blur removes high frequencies far more than low ones
    assert np.allclose(p_sharp / p_sharp.mean(), 1, atol=0.2)
    ratio = p_blur / p_sharp
    assert ratio[:, -1].max() < 0.01
    assert ratio[:, 0].min() > 0.5


def test_radial_power_spectrum_bad_shape():
    from minuet.evaluation import radial_power_spectrum

    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        radial_power_spectrum(np.zeros((3, 8, 8)))
