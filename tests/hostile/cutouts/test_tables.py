"""Cutouts in tables: masks must survive, and columns must exist."""

import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, QTable, Table

from minuet.cutouts import load_cutouts, nanomaggy


def _masked(noise):
    images = noise.copy()
    images[1] = -99.0  # a sentinel under the mask
    mask = np.zeros(images.shape, bool)
    mask[1] = True
    return images, mask


@pytest.mark.parametrize("table_class", [Table, QTable])
@pytest.mark.parametrize("unit", [None, nanomaggy, u.nJy])
def test_masked_column_in_a_table_keeps_its_mask(noise, table_class, unit):
    images, mask = _masked(noise)
    table = table_class({"cutout": MaskedColumn(images, mask=mask, unit=unit)})
    cutouts = load_cutouts(table, column="cutout", on_invalid="flag")
    assert cutouts.valid.tolist() == [True, False]
    assert cutouts.mask[1].all()
    assert (cutouts.flux[1] == 0).all()


def test_masked_column_alone_and_in_a_table_agree(noise):
    images, mask = _masked(noise)
    column = MaskedColumn(images, mask=mask, name="cutout")
    alone = load_cutouts(column, on_invalid="flag")
    inside = load_cutouts(Table([column]), column="cutout", on_invalid="flag")
    assert alone.valid.tolist() == inside.valid.tolist() == [True, False]
    np.testing.assert_array_equal(alone.mask, inside.mask)


def test_masked_inverse_variance_cells_count_as_missing(noise):
    invvar = MaskedColumn(np.full(noise.shape, 1e4), mask=np.zeros(noise.shape, bool))
    invvar.mask[0, :, :40] = True
    table = Table({"cutout": noise, "ivar": invvar})
    cutouts = load_cutouts(table, column="cutout", invvar="ivar", on_invalid="flag")
    assert cutouts.valid.tolist() == [False, True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "give column= naming the image column"),
        ({"column": "image"}, "the table has no column 'image'"),
        ({"column": "cutout", "invvar": "ivar"}, "the table has no column 'ivar'"),
    ],
)
def test_table_errors_name_the_columns(noise, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_cutouts(Table({"cutout": noise}), **kwargs)


def test_an_empty_table_is_refused():
    with pytest.raises(ValueError, match="the table has no rows"):
        load_cutouts(Table({"cutout": np.zeros((0, 3, 72, 72))}), column="cutout")
