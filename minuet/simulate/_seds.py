"""Galaxy spectra from the kcorrect templates, attenuated by dust, through DECam.

The kcorrect v4 templates (Blanton & Roweis 2007, AJ 133, 734) are five
non-negative spectra fitted to SDSS, GALEX and 2MASS galaxies, each the
light of one solar mass of stars formed with a known star-formation
history, so a non-negative mixture gives the stellar mass (``mremain``),
the mass formed in the last 300 Myr (``m300``) and the spectrum at once.
The package also ships a template for luminous red galaxies, used as a
sixth template here.

Observed DECam fluxes per unit of each template are tabulated once on a
grid of redshift and V-band attenuation, for each dust law; galaxies then
interpolate in that grid (linearly in redshift, linearly in log flux in
attenuation), so no spectral integral is done per galaxy.
"""

import functools
import os

import numpy as np

from .._vocabulary import AB_ZEROPOINT, BANDS
from ._deps import import_speclite

__all__ = []

# Template order: the five kcorrect v4 NMF templates, then the LRG one.
N_NMF = 5
LRG = 5

# Speed of light in Angstrom per second, and one nanomaggy in erg/s/cm^2/Hz.
_C_AA = 2.99792458e18
_NMGY = 3.631e-29

_Z_GRID = np.linspace(0.0, 2.5, 126)
_AV_GRID = np.linspace(0.0, 4.0, 17)
# Rest-frame wavelengths that the DECam g, r, z curves can reach at 0 < z < 2.5.
_WAVE_RANGE = (900.0, 11500.0)
# Mass formed in the last 300 Myr over 300 Myr: the template's star-formation rate.
_SFR_TIMESCALE_YR = 3.0e8

# Noll et al. (2009, A&A 507, 1793) modified Calzetti curve,
# k(lambda) * (lambda / 5500 A)**delta; Salim, Boquien & Lee (2018, ApJ 859,
# 11) find local star-forming galaxies' curves on average as steep as the
# SMC's, which delta = -0.4 approaches in the optical.
NOLL_DELTA = -0.4

DUST_LAWS = ("calzetti00", "ccm89", "noll09")


def _import(name):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        msg = (
            f"minuet.simulate needs the optional package {name!r}, which could not be "
            f"imported ({exc}). Install it with: pip install 'minuet[simulate]'"
        )
        raise ImportError(msg) from exc


def template_dir():
    """Folder of the template files shipped in the kcorrect wheel.

    Found without importing kcorrect (whose import pulls in matplotlib and
    takes seconds in every worker process); the loader below reads the same
    FITS extensions as ``kcorrect.template.Template``, and the tests check
    that both give the same numbers.
    """
    import importlib.util

    spec = importlib.util.find_spec("kcorrect")
    if spec is None or not spec.submodule_search_locations:
        msg = (
            "minuet.simulate needs the optional package 'kcorrect' for its galaxy "
            "templates. Install it with: pip install 'minuet[simulate]'"
        )
        raise ImportError(msg)
    return os.path.join(next(iter(spec.submodule_search_locations)), "data", "templates")


TEMPLATE_FILES = ("kcorrect-default-v4.fits", "kcorrect-lrg1-v4.fits")


def _read_template_file(path):
    from astropy.io import fits

    with fits.open(path) as hdul:
        row = hdul["FLUX"].data
        wave = np.asarray(row["wave"], dtype=float).ravel()
        flux = np.asarray(row["flux"], dtype=float).reshape(-1, wave.size)
        meta = {
            key: np.atleast_1d(np.asarray(hdul[key.upper()].data, dtype=float))
            for key in ("intsfh", "mremain", "m300")
        }
    return wave, flux, meta


@functools.cache
def templates(wave_max=_WAVE_RANGE[1]):
    """Wavelength (A), fluxes (6, nwave) and mass bookkeeping of the templates.

    Rest wavelengths from 900 A to ``wave_max``.

    Fluxes are erg/s/cm^2/A at 10 pc per solar mass formed. Returns a dict
    with ``wave``, ``flux``, ``mremain`` (surviving stellar mass per solar
    mass formed) and ``sfr`` (star-formation rate averaged over the last
    300 Myr, per solar mass formed, in solar masses per year).
    """
    root = template_dir()
    (wave, flux_nmf, meta_nmf), (wave_lrg, flux_lrg, meta_lrg) = (
        _read_template_file(os.path.join(root, name)) for name in TEMPLATE_FILES
    )
    keep = (wave >= _WAVE_RANGE[0]) & (wave <= wave_max)
    flux = np.concatenate(
        [flux_nmf[:, keep], np.interp(wave[keep], wave_lrg, flux_lrg[0])[None, :]]
    )
    intsfh = np.concatenate([meta_nmf["intsfh"], meta_lrg["intsfh"]])
    mremain = np.concatenate([meta_nmf["mremain"], meta_lrg["mremain"]])
    m300 = np.concatenate([meta_nmf["m300"], meta_lrg["m300"]])
    return {
        "wave": wave[keep],
        "flux": flux / intsfh[:, None],
        "mremain": mremain / intsfh,
        "sfr": m300 / intsfh / _SFR_TIMESCALE_YR,
    }


def attenuation_curve(law, wave):
    """A_lambda / A_V of an internal dust law at rest wavelengths (A)."""
    extinction = _import("extinction")
    wave = np.asarray(wave, dtype=float)
    if law == "calzetti00":
        # Calzetti et al. (2000, ApJ 533, 682), R_V = 4.05, valid 0.12-2.2 um;
        # held at its 1200 A value below.
        return extinction.calzetti00(np.maximum(wave, 1200.0), 1.0, 4.05)
    if law == "ccm89":
        # Cardelli, Clayton & Mathis (1989, ApJ 345, 245), R_V = 3.1.
        return extinction.ccm89(np.maximum(wave, 1000.0), 1.0, 3.1)
    if law == "noll09":
        return (
            extinction.calzetti00(np.maximum(wave, 1200.0), 1.0, 4.05)
            * (np.maximum(wave, 1200.0) / 5500.0) ** NOLL_DELTA
        )
    msg = f"unknown dust law {law!r}; expected one of {DUST_LAWS}."
    raise ValueError(msg)


@functools.cache
def response_curves(bands=BANDS):
    """Wavelength (A) and response of DECam g, r, z (speclite) and WISE W1 (kcorrect).

    W1 is only used to check colours against selections that need it.
    """
    out = []
    decam = {"g": "decam2014-g", "r": "decam2014-r", "z": "decam2014-z"}
    for band in bands:
        if band in decam:
            (curve,) = import_speclite().load_filters(decam[band])
            out.append(
                (np.asarray(curve.wavelength, dtype=float), np.asarray(curve.response, dtype=float))
            )
        elif band == "w1":
            path = os.path.join(os.path.dirname(template_dir()), "responses", "wise_w1.dat")
            with open(path) as f:
                lines = f.read().splitlines()
            rows = [
                line.strip().strip("|").split("|")
                for line in lines
                if line.startswith("|") and not line.strip("| ").startswith("lambda")
            ]
            table = np.array([[float(x) for x in row[:2]] for row in rows])
            out.append((table[:, 0], table[:, 1]))
        else:
            msg = f"unknown band {band!r}; expected g, r, z or w1."
            raise ValueError(msg)
    return tuple(out)


@functools.cache
def flux_grid(law, bands=BANDS):
    """Observed flux per solar mass formed, before the distance dimming.

    Returns ``(z_grid, av_grid, log_flux)`` with ``log_flux`` of shape
    (nz, nav, 6, nband): log10 of the flux in nanomaggies (AB) that one
    solar mass formed in each template would have at 10 pc luminosity
    distance (multiply by ``10**(-0.4 DM)``), through a screen of ``A_V``.
    """
    curves = response_curves(bands)
    tpl = templates(max(w.max() for w, _ in curves) / (1.0 + _Z_GRID[0]) + 100.0)
    wave = tpl["wave"]
    dwave = np.gradient(wave)
    curve = attenuation_curve(law, wave)
    trans = 10.0 ** (-0.4 * _AV_GRID[:, None] * curve[None, :])  # (nav, nwave)
    # f_nu,eff = (1 + z) * int f_lambda,10pc R((1+z) lambda) lambda dlambda / int c R / lambda_obs
    weights = np.empty((_Z_GRID.size, len(bands), wave.size))
    for b, (w_obs, resp) in enumerate(curves):
        norm = np.trapezoid(_C_AA * resp / w_obs, w_obs)
        for i, z in enumerate(_Z_GRID):
            r = np.interp((1.0 + z) * wave, w_obs, resp, left=0.0, right=0.0)
            weights[i, b] = (1.0 + z) * r * wave * dwave / norm / _NMGY
    # (nz, b, w) x (a, w) x (t, w) -> (nz, a, t, b)
    flux = np.einsum("zbw,aw,tw->zatb", weights, trans, tpl["flux"], optimize=True)
    return _Z_GRID.copy(), _AV_GRID.copy(), np.log10(np.maximum(flux, 1e-300))


def template_fluxes(law, redshift, a_v, bands=BANDS):
    """Observed flux factors of the six templates, shape (n, 6, nband).

    Linear in redshift, linear in log flux in ``a_v``; multiply by
    ``10**(-0.4 * DM(z))`` and by the mass formed in each template.
    """
    z_grid, av_grid, log_flux = flux_grid(law, tuple(bands))
    z = np.clip(np.asarray(redshift, dtype=float), z_grid[0], z_grid[-1])
    a_v = np.clip(np.asarray(a_v, dtype=float), av_grid[0], av_grid[-1])
    iz = np.minimum(np.searchsorted(z_grid, z, side="right") - 1, z_grid.size - 2)
    ia = np.minimum(np.searchsorted(av_grid, a_v, side="right") - 1, av_grid.size - 2)
    fz = ((z - z_grid[iz]) / (z_grid[iz + 1] - z_grid[iz]))[:, None, None]
    fa = ((a_v - av_grid[ia]) / (av_grid[ia + 1] - av_grid[ia]))[:, None, None]
    out = (
        (1 - fz) * (1 - fa) * log_flux[iz, ia]
        + fz * (1 - fa) * log_flux[iz + 1, ia]
        + (1 - fz) * fa * log_flux[iz, ia + 1]
        + fz * fa * log_flux[iz + 1, ia + 1]
    )
    return 10.0**out


def magnitudes(coeffs, redshift, a_v, law, bands=BANDS):
    """AB magnitudes of template mixtures (solar masses formed per template).

    Before Galactic extinction; used to check colours against published
    selections, including WISE W1 where they need it.
    """
    from ._photometry import distance_modulus

    z = np.atleast_1d(np.asarray(redshift, dtype=float))
    factors = (
        template_fluxes(law, z, a_v, bands) * 10.0 ** (-0.4 * distance_modulus(z))[:, None, None]
    )
    flux = np.einsum("nt,ntb->nb", np.asarray(coeffs, dtype=float), factors)
    return AB_ZEROPOINT - 2.5 * np.log10(np.maximum(flux, 1e-30))
