"""Hostile arrays: shapes, dtypes, bad pixels and implausible flux."""

import numpy as np
import pytest

from minuet.cutouts import load_cutouts
from minuet.cutouts._prepare import MAX_NEGATIVE_FRACTION, MIN_SURFACE_BRIGHTNESS


def _rows(noise, change):
    images = noise.copy()
    change(images)
    return load_cutouts(images, on_invalid="flag")


def _set_all_zero(x):
    x[1] = 0.0


def _set_negative(x):
    x[1] = -np.abs(x[1]) - 1e-4


def _set_sentinel(x):
    x[1, :, 36, 36] = 1e30


def _set_overflow(x):
    x[1, 0, 5, 5] = 1e39


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set_all_zero, "every valid pixel is exactly 0"),
        (_set_negative, "of the valid pixels are negative"),
        (_set_sentinel, "brighter than any galaxy"),
        (_set_overflow, "exceed the float32 range"),
    ],
)
def test_implausible_flux_is_flagged_with_its_reason(noise, change, reason):
    cutouts = _rows(noise, change)
    assert cutouts.valid.tolist() == [True, False]
    assert reason in cutouts.reason[1]
    assert np.isfinite(cutouts.flux).all()


@pytest.mark.parametrize("change", [_set_all_zero, _set_negative, _set_sentinel, _set_overflow])
def test_implausible_flux_is_refused_under_raise(noise, change):
    images = noise.copy()
    change(images)
    with pytest.raises(ValueError, match="cutout 1 has implausible flux"):
        load_cutouts(images)


def test_thresholds_leave_real_stamps_and_bright_galaxies_alone(noise, real_stamps):
    assert load_cutouts(real_stamps["images"]).valid.all()
    bright = noise.copy()
    bright[:, :, 36, 36] = 1e4  # a 12.5 mag pixel, a bright galaxy centre
    assert load_cutouts(bright).valid.all()
    assert MAX_NEGATIVE_FRACTION == 0.8
    assert MIN_SURFACE_BRIGHTNESS == 5.0


def test_a_cutout_just_below_the_negative_threshold_passes(noise):
    images = np.abs(noise)
    flat = images[1].reshape(-1)
    flat[: int(0.79 * flat.size)] *= -1
    assert load_cutouts(images).valid.all()


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.ones((72, 72)), {}, ValueError, "A single 2-D image has no band axis"),
        (np.ones((1, 1, 3, 72, 72)), {}, ValueError, "got 5 dimension"),
        (np.ones((0, 3, 72, 72)), {}, ValueError, "holds 0 images"),
        (np.ones((3, 72, 72), dtype=int), {}, ValueError, "integer dtype"),
        (np.ones((3, 72, 72), dtype=complex), {}, ValueError, "real floating-point"),
        (np.ones((3, 72, 72), dtype=bool), {}, ValueError, "integer dtype"),
        (np.ones((4, 72, 72)), {}, ValueError, "4 band plane"),
        (np.ones((3, 72, 72)), {"bands": "grx"}, ValueError, "unknown band"),
        (np.ones((3, 72, 72)), {"bands": "ggr"}, ValueError, "must be unique"),
        (np.ones((3, 72, 72)), {"bands": "gri"}, ValueError, r"missing band\(s\) \['z'\]"),
        (np.ones((3, 40, 40)), {}, ValueError, "smaller than the required 72"),
        (np.ones((3, 72, 72)), {"size": 0}, ValueError, "size must be a positive"),
        (np.ones((3, 72, 72)), {"size": 7.5}, ValueError, "size must be a positive"),
        (np.ones((3, 72, 72)), {"min_valid_fraction": 2}, ValueError, "must lie in"),
        (np.ones((3, 72, 72)), {"on_invalid": "ignore"}, ValueError, "on_invalid must be one"),
        (np.ones((3, 72, 72)), {"pixscale": -1}, ValueError, "pixscale must be one positive"),
        (np.ones((3, 72, 72)), {"mask": np.ones((5, 5), bool)}, ValueError, "the mask has shape"),
        (np.ones((3, 72, 72)), {"mask": np.ones((3, 72, 72))}, ValueError, "mask must be boolean"),
        (np.ones((3, 72, 72)), {"invvar": -np.ones((3, 72, 72))}, ValueError,
         "negative inverse variance"),
        (np.ones((3, 72, 72)), {"invvar": np.ones((3, 8, 8))}, ValueError,
         "the inverse variance has shape"),
        (np.full((3, 72, 72), np.nan), {}, ValueError, "has too few valid pixels"),
        (np.full((3, 72, 72), np.inf), {}, ValueError, "has too few valid pixels"),
        (np.ones((3, 72, 72)), {"zeropoint": np.nan}, ValueError, "zeropoint must be a finite"),
    ],
)
def test_bad_arrays_are_refused_with_a_message(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_cutouts(data, **kwargs)
