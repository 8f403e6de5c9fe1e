"""Colour composites of g, r, z cutouts."""

import numpy as np
from astropy.visualization import make_lupton_rgb

__all__ = ["rgb_composite"]

#: Per-band multipliers applied before the composite, in g, r, z order. These
#: are the scales of the Legacy Surveys' own colour images, as used for the
#: Minuet reference preprocessing (Gagliano, Shen & Villar 2025).
LEGACY_SCALES = (6.0, 3.4, 2.2)


def rgb_composite(flux, *, scales=LEGACY_SCALES, stretch=0.3, q=8.0, minimum=0.0):
    """Make a Lupton et al. (2004) arcsinh colour composite of g, r, z flux.

    The z band is shown in red, r in green and g in blue. This is for display
    only: unlike :class:`~minuet.cutouts.AsinhStretch` it clips, and it is not
    inverted anywhere in the package.

    Parameters
    ----------
    flux : array-like
        Flux in nanomaggies, shape ``(3, H, W)`` or ``(N, 3, H, W)``, bands
        in g, r, z order.
    scales : tuple of float, optional
        Multipliers for g, r and z before combining.
    stretch, q, minimum : float, optional
        Linear stretch, softening parameter and black level of
        `~astropy.visualization.make_lupton_rgb`, in scaled nanomaggies.

    Returns
    -------
    rgb : `~numpy.ndarray`
        ``uint8`` image(s) of shape ``(H, W, 3)`` or ``(N, H, W, 3)``.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.visualization import rgb_composite
    >>> rgb_composite(np.zeros((3, 8, 8))).shape
    (8, 8, 3)
    """
    flux = np.asarray(flux, dtype=float)
    if flux.ndim not in (3, 4) or flux.shape[-3] != 3:
        msg = (
            "rgb_composite expects g, r, z flux of shape (3, H, W) or (N, 3, H, W); "
            f"got shape {flux.shape}."
        )
        raise ValueError(msg)
    if flux.ndim == 4:
        return np.stack(
            [
                rgb_composite(cube, scales=scales, stretch=stretch, q=q, minimum=minimum)
                for cube in flux
            ]
        )
    g, r, z = (np.nan_to_num(band) * scale for band, scale in zip(flux, scales, strict=True))
    # Black pixels (all three bands at the black level) divide zero by zero
    # inside the composite; they stay black.
    with np.errstate(invalid="ignore", divide="ignore"):
        return make_lupton_rgb(z, r, g, minimum=minimum, stretch=stretch, Q=q)
