import numpy as np
import pytest

from minuet.typicality import STATISTIC_NAMES, cutout_statistics


def _column(stats, name):
    return stats[:, STATISTIC_NAMES.index(name)]


def _galaxy(flux_g, flux_r, flux_z, *, sigma=1.5, noise=0.01, n=1, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:72, :72]
    profile = np.exp(-((yy - 35.5) ** 2 + (xx - 35.5) ** 2) / (2 * sigma**2))
    profile /= profile.sum()
    images = rng.normal(0, noise, size=(n, 3, 72, 72))
    for band, total in enumerate((flux_g, flux_r, flux_z)):
        images[:, band] += total * profile
    return images


def test_noise_is_measured_in_nanomaggies():
    stats = cutout_statistics(_galaxy(0, 0, 0, noise=0.004, n=3))
    for band in "grz":
        assert np.allclose(_column(stats, f"log_noise_{band}"), np.log10(0.004), atol=0.05)


def test_brightness_colour_and_concentration_follow_the_source():
    faint = cutout_statistics(_galaxy(1, 1, 1))
    bright = cutout_statistics(_galaxy(10, 10, 10))
    red = cutout_statistics(_galaxy(3, 10, 20, noise=0.001))
    broad = cutout_statistics(_galaxy(10, 10, 10, sigma=4.0))
    assert _column(bright, "snr_r")[0] > _column(faint, "snr_r")[0] + 1
    # a flat spectrum in nanomaggies has colour 0 in AB; a red one is redder
    assert abs(_column(bright, "colour_gr")[0]) < 0.05
    assert _column(red, "colour_gr")[0] == pytest.approx(2.5 * np.log10(10 / 3), abs=0.05)
    assert _column(red, "colour_rz")[0] == pytest.approx(2.5 * np.log10(2), abs=0.05)
    # a broader light profile puts less light in the central 2 pixels
    assert _column(broad, "concentration_r")[0] > _column(bright, "concentration_r")[0] + 0.5


def test_masked_pixels_are_left_out():
    images = _galaxy(5, 5, 5)
    mask = np.zeros(images.shape, dtype=bool)
    mask[:, :, 30:33, 2:70] = True  # a bad row across the galaxy's outskirts and the sky
    spoiled = images.copy()
    spoiled[mask] = 1e3
    clean = cutout_statistics(images, mask)
    assert np.allclose(cutout_statistics(spoiled, mask), clean)
    assert not np.allclose(cutout_statistics(spoiled), clean)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        cutout_statistics(np.zeros((3, 72, 72)))
    with pytest.raises(ValueError, match="mask must have the shape"):
        cutout_statistics(np.zeros((1, 3, 72, 72)), np.zeros((1, 72, 72), dtype=bool))


def test_blank_cutout_gives_nan_not_an_error():
    stats = cutout_statistics(np.zeros((1, 3, 24, 24)))
    assert np.all(np.isnan(stats))


def test_threaded_noise_equals_one_plane_at_a_time(monkeypatch):
    from minuet.typicality import _statistics

    images = _galaxy(5, 5, 5, n=200, seed=3)
    images[:, :, 40:] *= np.linspace(0.5, 2.0, 200)[:, None, None, None]  # planes differ
    monkeypatch.setattr(_statistics, "_usable_cpus", lambda: 1)
    alone = cutout_statistics(images)
    monkeypatch.setattr(_statistics, "_usable_cpus", lambda: 4)
    monkeypatch.setattr(_statistics, "_PLANES_PER_THREAD", 16)
    threaded = cutout_statistics(images)
    assert np.array_equal(alone, threaded)
    # and each plane's value is the one a cutout measured by itself gets
    assert np.array_equal(cutout_statistics(images[117:118]), threaded[117:118])


def test_float32_cutouts_give_the_statistics_of_their_float64_values():
    # float32 pixels are measured without a float64 copy of the whole cutout
    rng = np.random.default_rng(4)
    images = _galaxy(5, 8, 12, n=4).astype(np.float32)
    mask = rng.random(images.shape) < 0.05
    for m in (None, mask):
        np.testing.assert_array_equal(cutout_statistics(images, m),
                                      cutout_statistics(images.astype(np.float64), m))
    assert np.isfinite(cutout_statistics((images * 1e3).astype(np.int32))).all()
