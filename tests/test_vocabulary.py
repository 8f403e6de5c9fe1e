"""The columns that every encoded table shares."""

import numpy as np
import pytest

from minuet._vocabulary import ENCODE_COLUMNS, encoded_columns


@pytest.mark.parametrize("masked", ["none", "some", "all"])
def test_masked_fraction_counts_every_band_of_each_cutout(masked):
    rng = np.random.default_rng(3)
    mask = np.zeros((5, 3, 8, 8), dtype=bool)
    if masked == "some":
        mask[1, 0, :2] = True  # 16 of 192 pixels
        mask[3] = rng.random((3, 8, 8)) < 0.3
    elif masked == "all":
        mask[:] = True
    columns = encoded_columns(np.zeros((5, 2)), np.ones(5, bool), [""] * 5, mask)
    expected = np.count_nonzero(mask.reshape(5, -1), axis=1) / 192
    assert columns["masked_fraction"].dtype == ENCODE_COLUMNS["masked_fraction"]
    np.testing.assert_allclose(columns["masked_fraction"], expected, rtol=1e-6)
    if masked == "some":
        assert columns["masked_fraction"][1] == pytest.approx(16 / 192)


def test_masked_fraction_of_a_mask_shared_by_the_bands_and_of_a_strided_mask():
    plane = np.zeros((4, 1, 6, 6), dtype=bool)
    plane[2, 0, :3] = True
    shared = np.broadcast_to(plane, (4, 3, 6, 6))  # a view, as load_cutouts may give
    columns = encoded_columns(np.zeros((4, 1)), np.ones(4, bool), [""] * 4, shared)
    np.testing.assert_allclose(columns["masked_fraction"], [0, 0, 0.5, 0])
    strided = np.zeros((4, 3, 12, 12), dtype=bool)[:, :, ::2, ::2]
    strided[1, 1] = True
    columns = encoded_columns(np.zeros((4, 1)), np.ones(4, bool), [""] * 4, strided)
    np.testing.assert_allclose(columns["masked_fraction"], [0, 1 / 3, 0, 0])
