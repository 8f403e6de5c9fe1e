"""Logarithmic and other wrong units, through every way a unit can arrive."""

import h5py
import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import NDData

from minuet.cutouts import load_cutouts, nanomaggy, read_legacy_fits

LOG_UNITS = [u.ABmag, u.dex(nanomaggy), u.dex(u.Jy), u.mag, u.dex]


@pytest.mark.parametrize("unit", LOG_UNITS, ids=str)
def test_quantity_in_a_logarithmic_unit_is_refused(noise, unit):
    values = 20.0 + noise
    with pytest.raises(ValueError, match="logarithmic unit"):
        load_cutouts(values * unit)


@pytest.mark.parametrize("unit", [u.ABmag, u.dex(u.nJy)], ids=str)
def test_nddata_in_a_logarithmic_unit_is_refused(noise, unit):
    with pytest.raises(ValueError, match="logarithmic unit"):
        load_cutouts(NDData(20.0 + noise[0], unit=unit))


@pytest.mark.parametrize("bunit", ["mag(AB)", "dex(nanomaggy)", "mag"])
def test_fits_bunit_in_a_logarithmic_unit_is_refused(noise, tmp_path, bunit):
    path = tmp_path / "cutout.fits"
    header = fits.Header({"BANDS": "grz", "BUNIT": bunit})
    fits.PrimaryHDU((20 + noise[0]).astype("f4"), header=header).writeto(path)
    with pytest.raises(ValueError, match="logarithmic unit"):
        read_legacy_fits(path)
    with pytest.raises(ValueError, match="logarithmic unit"):
        load_cutouts(path)


@pytest.mark.parametrize("unit", ["mag(AB)", "dex(nanomaggy)"])
def test_hdf5_unit_attribute_in_a_logarithmic_unit_is_refused(noise, tmp_path, unit):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = 20 + noise
        f["images"].attrs["unit"] = unit
    with pytest.raises(ValueError, match="logarithmic unit"):
        load_cutouts(path)


def test_hdf5_unit_attribute_that_is_no_unit_names_the_file(noise, tmp_path):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = noise
        f.attrs["unit"] = "bananas per fortnight"
    with pytest.raises(ValueError, match=r"set.h5: the unit attribute 'bananas per fortnight'"):
        load_cutouts(path)


@pytest.mark.parametrize(
    ("unit", "match"),
    [
        (u.erg / u.s / u.cm**2 / u.AA, "not a spectral flux density"),
        (u.m, "not a spectral flux density"),
    ],
    ids=str,
)
def test_non_flux_units_are_refused(noise, unit, match):
    with pytest.raises(ValueError, match=match):
        load_cutouts(noise * unit)


def test_a_unit_and_a_zeropoint_together_are_refused(noise):
    with pytest.raises(ValueError, match="a zeropoint only applies to unitless"):
        load_cutouts(noise * u.nJy, zeropoint=30)


def test_linear_units_still_work(noise):
    cutouts = load_cutouts(noise * 3.631 * u.uJy)
    np.testing.assert_allclose(cutouts.flux, noise.astype("f4"), rtol=1e-5)
