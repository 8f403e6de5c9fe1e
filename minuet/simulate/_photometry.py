"""Magnitudes of redshifted galaxy templates and stars in the DECam filters.

GalSim's Coleman, Wu & Weedman (1980) templates (extended to the UV and IR
as shipped with GalSim) are redshifted and integrated through the speclite
``decam2014`` g, r, z curves once, on a redshift grid; every galaxy then
interpolates in that grid, so that no spectral integral is done per galaxy.
"""

import functools

import numpy as np

from .._vocabulary import BANDS as _BANDS
from ._deps import import_galsim, import_speclite

__all__ = []

TEMPLATES = ("E", "Sbc", "Scd", "Im")
BANDS = _BANDS

# Absolute AB magnitude of the Sun in SDSS r (Willmer 2018, ApJS 236, 47).
SUN_ABS_MAG_R = 4.65

# Bell et al. (2003, ApJS 149, 289), Table 7: log(M/L_r) = a_r + b_r (g - r)
# for a "diet" Salpeter IMF; subtract 0.15 dex for a Kroupa/Chabrier IMF
# (their Section 2.4).
BELL_A_R = -0.306
BELL_B_R = 1.097
BELL_TO_CHABRIER = -0.15

_Z_GRID = np.linspace(0.0, 2.5, 251)


@functools.cache
def decam_bandpasses():
    """DECam g, r, z bandpasses as GalSim objects with AB zero points."""
    galsim = import_galsim()
    filters = import_speclite().load_filters("decam2014-g", "decam2014-r", "decam2014-z")
    bandpasses = []
    for curve in filters:
        wave_nm = np.asarray(curve.wavelength, dtype=float) / 10.0
        table = galsim.LookupTable(
            wave_nm, np.asarray(curve.response, dtype=float), interpolant="linear"
        )
        bandpass = galsim.Bandpass(table, "nm").truncate(relative_throughput=1e-3)
        bandpasses.append(bandpass.withZeropoint("AB"))
    return tuple(bandpasses)


@functools.cache
def template_grid():
    """K-correction grid and rest-frame colours of the CWW templates.

    Returns
    -------
    z_grid : ndarray, shape (nz,)
    kcorr : ndarray, shape (nz, 4, 3)
        ``m_b(z) - M_r - DM(z)`` for a template of unit rest-frame r-band
        luminosity: apparent magnitude in DECam band b minus the rest-frame
        absolute r magnitude minus the distance modulus.
    rest_gr : ndarray, shape (4,)
        Rest-frame g - r colour of each template.
    """
    galsim = import_galsim()
    bandpasses = decam_bandpasses()
    kcorr = np.empty((_Z_GRID.size, len(TEMPLATES), len(BANDS)))
    rest_gr = np.empty(len(TEMPLATES))
    for t, name in enumerate(TEMPLATES):
        sed = galsim.SED(f"CWW_{name}_ext.sed", wave_type="Ang", flux_type="flambda")
        rest = [sed.calculateMagnitude(bp) for bp in bandpasses]
        rest_gr[t] = rest[0] - rest[1]
        for i, z in enumerate(_Z_GRID):
            shifted = sed.atRedshift(z)
            # atRedshift stretches wavelengths only; the 2.5 log(1+z) term is
            # the bandwidth compression of f_nu that completes the K-correction.
            kcorr[i, t] = [
                shifted.calculateMagnitude(bp) - rest[1] + 2.5 * np.log10(1.0 + z)
                for bp in bandpasses
            ]
    return _Z_GRID.copy(), kcorr, rest_gr


def template_weights(index):
    """Interpolation weights over the four templates for a fractional index.

    ``index`` 0 is the elliptical, 3 the irregular template; a value of 1.4
    mixes Sbc and Scd 60:40 in rest-frame r-band light.
    """
    index = np.clip(np.asarray(index, dtype=float), 0.0, len(TEMPLATES) - 1)
    lower = np.minimum(np.floor(index).astype(int), len(TEMPLATES) - 2)
    frac = index - lower
    weights = np.zeros((*index.shape, len(TEMPLATES)))
    np.put_along_axis(weights, lower[..., None], (1.0 - frac)[..., None], axis=-1)
    np.put_along_axis(weights, (lower + 1)[..., None], frac[..., None], axis=-1)
    return weights


def observed_flux_factors(redshift):
    """Observed DECam flux per unit rest-frame r luminosity, per template.

    Returns an array of shape ``(n, 4, 3)``: ``10**(-0.4 K)`` interpolated at
    each redshift.
    """
    z_grid, kcorr, _ = template_grid()
    z = np.atleast_1d(np.asarray(redshift, dtype=float))
    flat = kcorr.reshape(z_grid.size, -1)
    k = np.stack([np.interp(z, z_grid, flat[:, j]) for j in range(flat.shape[1])], axis=-1)
    return 10.0 ** (-0.4 * k.reshape(z.size, len(TEMPLATES), len(BANDS)))


def mass_to_light_r(rest_gr):
    """log10 of the r-band stellar mass-to-light ratio (Bell et al. 2003, Chabrier IMF)."""
    return BELL_A_R + BELL_TO_CHABRIER + BELL_B_R * np.asarray(rest_gr)


@functools.cache
def _distmod_grid():
    from astropy.cosmology import Planck18

    z = np.linspace(1e-3, 3.0, 3000)
    return z, Planck18.distmod(z).value


def distance_modulus(redshift):
    """Planck 2018 distance modulus, interpolated on a fine grid."""
    z, dm = _distmod_grid()
    return np.interp(np.asarray(redshift, dtype=float), z, dm)


@functools.cache
def _kpc_per_arcsec_grid():
    from astropy.cosmology import Planck18

    z = np.linspace(1e-3, 3.0, 3000)
    return z, Planck18.kpc_proper_per_arcmin(z).to_value("kpc/arcmin") / 60.0


def kpc_per_arcsec(redshift):
    """Planck 2018 proper transverse scale in kpc per arcsec."""
    z, scale = _kpc_per_arcsec_grid()
    return np.interp(np.asarray(redshift, dtype=float), z, scale)


@functools.cache
def blackbody_colours():
    """DECam g - r and r - z of black bodies on a temperature grid (K)."""
    galsim = import_galsim()
    bandpasses = decam_bandpasses()
    wave = np.linspace(300.0, 1200.0, 901)  # nm
    temps = np.linspace(3000.0, 10000.0, 71)
    colours = np.empty((temps.size, 2))
    h_c_over_k = 1.4387769e7  # nm K
    for i, temp in enumerate(temps):
        flam = wave**-5 / np.expm1(h_c_over_k / (wave * temp))
        sed = galsim.SED(
            galsim.LookupTable(wave, flam / flam.max(), interpolant="linear"), "nm", "flambda"
        )
        g, r, z = (sed.calculateMagnitude(bp) for bp in bandpasses)
        colours[i] = g - r, r - z
    return temps, colours
