import dataclasses

import numpy as np
import pytest

from minuet.simulate import SimulationConfig
from minuet.simulate.core import _draw_block, _truth_columns


@pytest.mark.parametrize("pixscale", [0.262, 0.5])
def test_psf_depth_uses_the_configured_pixel_scale(pixscale):
    config = dataclasses.replace(SimulationConfig(), pixscale=pixscale)
    gal = _draw_block(0, 7, config)
    cols = _truth_columns(gal, slice(0, 8), pixscale=config.pixscale)
    for band in "grz":
        sigma = cols[f"psf_fwhm_{band}"] / pixscale / 2.3548  # pixels
        nea = 4 * np.pi * sigma**2
        expected = 22.5 - 2.5 * np.log10(5 * cols[f"sky_sigma_{band}"] * np.sqrt(nea))
        np.testing.assert_allclose(cols[f"psfdepth_{band}"], expected, rtol=1e-12)


def test_the_same_galaxies_on_pixels_twice_as_large_have_their_depth_shifted():
    fine = dataclasses.replace(SimulationConfig(), pixscale=0.262)
    coarse = dataclasses.replace(SimulationConfig(), pixscale=0.524)
    a = _truth_columns(_draw_block(0, 7, fine), slice(0, 8), pixscale=0.262)
    b = _truth_columns(_draw_block(0, 7, coarse), slice(0, 8), pixscale=0.524)
    # the same PSF in arcsec covers a quarter of the pixels: 2.5 log10(2) mag deeper
    np.testing.assert_allclose(b["psfdepth_r"] - a["psfdepth_r"], 2.5 * np.log10(2), rtol=1e-9)
