"""The flux unit, zero point, bands and pixel scale of Legacy Surveys cutouts."""

import numpy as np
from astropy import units as u

from .. import _vocabulary

__all__ = ["AB_ZEROPOINT", "BANDS", "CUTOUT_SIZE", "LEGACY_BANDS", "PIXSCALE", "nanomaggy"]

#: The Legacy Surveys flux unit: 1 nanomaggy = 3.631e-6 Jy, i.e. AB magnitude 22.5
#: (Finkbeiner et al. 2004, AJ 128, 2577; Dey et al. 2019, AJ 157, 168).
nanomaggy = u.def_unit(
    "nanomaggy",
    3.631e-6 * u.Jy,
    doc="Linear flux unit of the Legacy Surveys: the flux density of an AB magnitude 22.5 source.",
)

#: AB magnitude of a 1-nanomaggy source: ``m = AB_ZEROPOINT - 2.5 log10(flux / nanomaggy)``.
AB_ZEROPOINT = _vocabulary.AB_ZEROPOINT

#: The bands minuet works in, in the order of the flux array's band axis.
BANDS = _vocabulary.BANDS

#: Band names the Legacy Surveys images can carry (DR10 adds i).
LEGACY_BANDS = ("g", "r", "i", "z")

#: Native Legacy Surveys pixel scale (DECam, 0.262 arcsec per pixel).
PIXSCALE = _vocabulary.PIXEL_SCALE * u.arcsec

#: Side of the square cutouts minuet's networks see, in pixels.
CUTOUT_SIZE = 72

# astropy's own maggies are dimensionless; tie them to the AB system.
_AB_MAGGIES = u.zero_point_flux(3631.0 * u.Jy)


def _check_linear(unit, what="data"):
    """Refuse a logarithmic unit (magnitudes, dex), which no factor turns into flux.

    astropy converts a value in ``mag(AB)`` or ``dex(nanomaggy)`` to flux by
    exponentiating it, so multiplying pixels by the "factor" of such a unit
    (the flux of the value 1) gives fluxes off by orders of magnitude. Plain
    ``mag`` and ``dex`` are refused too. Returns the unit otherwise.
    """
    if unit is None:
        return None
    unit = u.Unit(unit) if isinstance(unit, str) else unit
    logarithmic = isinstance(unit, u.FunctionUnitBase) or any(
        unit == base for base in (u.mag, u.dex, u.dB)
    )
    if logarithmic:
        msg = (
            f"the {what} are in {unit!s}, a logarithmic unit (magnitudes or dex); minuet takes "
            "linear fluxes. Convert first, for example quantity.to(minuet.cutouts.nanomaggy) "
            "for AB magnitudes (10**(-0.4 * (m - 22.5)) nanomaggies), or give the linear "
            "unit (BUNIT 'nanomaggy')."
        )
        raise ValueError(msg)
    return unit


def _flux_factor(unit, *, zeropoint, pixscale, what="data"):
    """Return the factor that turns values in ``unit`` into nanomaggies."""
    _check_linear(unit, what)
    if unit is None or unit == u.dimensionless_unscaled:
        if zeropoint is None:
            return 1.0
        zeropoint = float(zeropoint)
        if not np.isfinite(zeropoint):
            msg = f"zeropoint must be a finite AB magnitude; got {zeropoint!r}."
            raise ValueError(msg)
        return float(10.0 ** (-0.4 * (zeropoint - AB_ZEROPOINT)))
    unit = u.Unit(unit)
    if zeropoint is not None:
        msg = (
            f"the {what} carry the unit {unit!s} and a zeropoint ({zeropoint}) was also given; "
            "a zeropoint only applies to unitless images. Drop one of the two."
        )
        raise ValueError(msg)
    try:
        return float(unit.to(nanomaggy, equivalencies=_AB_MAGGIES))
    except u.UnitConversionError:
        pass
    try:
        per_area = float(unit.to(nanomaggy / u.arcsec**2, equivalencies=_AB_MAGGIES))
    except u.UnitConversionError:
        msg = (
            f"the {what} are in {unit!s}, which is not a spectral flux density; expected a unit "
            "convertible to nanomaggies (for example nanomaggy, nJy, Jy, erg / (s cm2 Hz)) or to "
            "a surface brightness (Jy / arcsec2). Convert f_lambda images to f_nu first."
        )
        raise ValueError(msg) from None
    return per_area * float(u.Quantity(pixscale, u.arcsec).value) ** 2
