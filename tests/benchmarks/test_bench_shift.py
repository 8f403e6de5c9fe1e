"""The shifts of bench_shift.py do what their names say, and the command runs end to end."""

import json

import numpy as np
import pytest


@pytest.fixture
def shift(bench):
    return bench("bench_shift")


def _noise(n=16, size=72, sigma=2.0, seed=0):
    rng = np.random.default_rng(seed)
    images = (sigma * rng.standard_normal((n, 3, size, size))).astype(np.float32)
    return images, np.full(images.shape, 1 / sigma**2, dtype=np.float32)


def _by_name(shift):
    return {name: change for name, _, change in shift.shifts()}


def test_zero_point_shifts_scale_the_named_bands(shift):
    images, invvar = _noise()
    images += 10
    out, out_invvar = _by_name(shift)["g 0.3 mag fainter"](images, invvar, None)
    np.testing.assert_allclose(out[:, 0], images[:, 0] * 10 ** (-0.12), rtol=1e-6)
    np.testing.assert_array_equal(out[:, 1:], images[:, 1:])
    assert out_invvar is invvar


def test_noise_shifts_state_and_give_the_new_depth(shift):
    images, invvar = _noise(sigma=2.0)
    out, out_invvar = _by_name(shift)["noise x2"](images, invvar, np.random.default_rng(1))
    assert np.std(out) == pytest.approx(4.0, rel=0.02)
    np.testing.assert_allclose(out_invvar, invvar / 4)


@pytest.mark.parametrize("name", ["seeing +0.8 arcsec", "angular size x0.8",
                                  "angular size x1.25"])
def test_smoothing_shifts_restore_the_per_pixel_noise(shift, name):
    images, invvar = _noise(sigma=2.0)
    out, out_invvar = _by_name(shift)[name](images, invvar, np.random.default_rng(2))
    assert out.shape == images.shape
    assert np.std(out[..., 10:-10, 10:-10]) == pytest.approx(2.0, rel=0.05)
    np.testing.assert_array_equal(out_invvar, invvar)


def test_zoom_changes_the_size_of_a_source(shift):
    yy, xx = np.mgrid[:72, :72] - 35.5
    disc = (np.hypot(yy, xx) < 10).astype(np.float32)
    images = np.broadcast_to(disc, (1, 3, 72, 72)).copy()
    for factor in (0.8, 1.25):
        area = shift._zoom(factor)(images)[0, 0].sum()
        assert area == pytest.approx(disc.sum() * factor**2, rel=0.05)


def test_quick_run_end_to_end(shift, tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    shift.main(["--data", str(data), "--n", "40", "--samples", "40", "--processes", "1",
                "--no-variant", "--output-dir", str(out)])
    res = json.loads((out / "shift.json").read_text())
    assert [row["shift"] for row in res["rows"]] == [name for name, _, _ in shift.shifts()]
    for row in res["rows"]:
        assert 0 <= row["flagged"] <= 1
        assert 0 <= row["redshift"]["coverage68"] <= row["redshift"]["coverage95"] <= 1
        assert row["subsample"]["n"] == 40
    text = (out / "shift.rst").read_text()
    assert "sample test" in text
    (out / "shift.rst").unlink()
    shift.main(["--rewrite", str(out / "shift.json")])
    assert (out / "shift.rst").read_text() == text
