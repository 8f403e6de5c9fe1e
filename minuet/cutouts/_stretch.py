"""The invertible per-band arcsinh stretch between flux and network input."""

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["AsinhStretch"]


@dataclass(frozen=True)
class AsinhStretch:
    r"""Invertible per-band arcsinh stretch from flux to network input.

    For band :math:`b` with softening :math:`a_b` (nanomaggies) and a common
    scale :math:`s`, a pixel flux :math:`f` maps to

    .. math::

        x = \frac{1}{s}\,\operatorname{arcsinh}\!\left(\frac{f}{a_b}\right),
        \qquad
        f = a_b \sinh(s\,x).

    The stretch is linear for :math:`|f| \lesssim a_b` (so the noise keeps
    its Gaussian shape) and logarithmic for bright pixels. Nothing is
    clipped: every finite flux maps to a finite value and back. The default
    softenings are the median per-pixel noise of DECaLS DR9 (south) coadds in
    g, r and z, measured from the inverse-variance maps of real cutouts.

    Parameters
    ----------
    softening : tuple of float
        Per-band softening :math:`a_b` in nanomaggies, in g, r, z order.
    scale : float
        Divisor :math:`s` that brings typical galaxy pixels to order unity.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.cutouts import AsinhStretch
    >>> stretch = AsinhStretch()
    >>> flux = np.array([[0.0], [0.01], [1.0]])[:, :, None]  # (band, y, x)
    >>> x = stretch.forward(flux)
    >>> bool(np.allclose(stretch.inverse(x), flux))
    True
    """

    softening: tuple[float, float, float] = (0.002, 0.0025, 0.008)
    scale: float = 4.0

    def __post_init__(self):
        soft = np.asarray(self.softening, dtype=float)
        if soft.ndim != 1 or not np.all(np.isfinite(soft)) or np.any(soft <= 0):
            msg = (
                "softening must be a sequence of positive finite fluxes in nanomaggies, "
                f"one per band; got {self.softening!r}."
            )
            raise ValueError(msg)
        if not (np.isfinite(self.scale) and self.scale > 0):
            msg = f"scale must be a positive finite number; got {self.scale!r}."
            raise ValueError(msg)
        object.__setattr__(self, "softening", tuple(float(v) for v in soft))

    def _soft(self, ndim, dtype):
        # bands sit on axis -3: (..., band, y, x)
        return np.asarray(self.softening, dtype=dtype).reshape((-1,) + (1,) * 2)

    def forward(self, flux):
        """Map flux in nanomaggies, shape ``(..., 3, H, W)``, to network input.

        Parameters
        ----------
        flux : array_like
            Flux in nanomaggies, bands on the third axis from the end.

        Returns
        -------
        x : `~numpy.ndarray`
            Stretched values, same shape; float32 (float64 for float64 input).

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import AsinhStretch
        >>> x = AsinhStretch().forward(np.zeros((2, 3, 4, 4), dtype=np.float32))
        >>> x.shape, x.dtype, float(x.max())
        ((2, 3, 4, 4), dtype('float32'), 0.0)
        """
        flux = np.asarray(flux)
        dtype = np.result_type(flux.dtype, np.float32)
        soft = self._soft(flux.ndim, dtype)
        # one new array, overwritten in place: the same values as
        # ``arcsinh(flux / soft) / scale`` in less than half the time
        x = np.divide(flux, soft, dtype=dtype)
        np.arcsinh(x, out=x)
        return np.divide(x, dtype.type(self.scale), out=x)

    def inverse(self, x):
        """Map network values, shape ``(..., 3, H, W)``, back to nanomaggies.

        Parameters
        ----------
        x : array_like
            Stretched values, bands on the third axis from the end.

        Returns
        -------
        flux : `~numpy.ndarray`
            Flux in nanomaggies, same shape; float32 (float64 for float64 input).

        Examples
        --------
        One unit of ``x`` in the g band, whose softening is 0.002 nanomaggies:

        >>> import numpy as np
        >>> from minuet.cutouts import AsinhStretch
        >>> flux = AsinhStretch().inverse(np.ones((3, 1, 1)))
        >>> flux[:, 0, 0]  # doctest: +FLOAT_CMP
        array([0.05457983, 0.06822479, 0.21831934])
        """
        x = np.asarray(x)
        dtype = np.result_type(x.dtype, np.float32)
        soft = self._soft(x.ndim, dtype)
        return (soft * np.sinh(self.scale * x)).astype(dtype, copy=False)

    def derivative(self, flux):
        """Return ``dx/df`` at ``flux``: converts flux errors to stretched errors.

        Parameters
        ----------
        flux : array_like
            Flux in nanomaggies, bands on the third axis from the end.

        Returns
        -------
        slope : `~numpy.ndarray`
            ``dx/df`` in 1/nanomaggy, same shape.

        Examples
        --------
        At zero flux the slope is ``1 / (scale * softening)``:

        >>> import numpy as np
        >>> from minuet.cutouts import AsinhStretch
        >>> AsinhStretch().derivative(np.zeros((3, 1, 1)))[:, 0, 0]  # doctest: +FLOAT_CMP
        array([125. , 100. ,  31.25])
        """
        flux = np.asarray(flux)
        dtype = np.result_type(flux.dtype, np.float32)
        soft = self._soft(flux.ndim, dtype)
        return (1.0 / (self.scale * np.hypot(soft, flux))).astype(dtype, copy=False)

    def to_dict(self):
        """Return a JSON-serialisable dictionary of the parameters.

        Returns
        -------
        config : dict
            ``softening`` (a list) and ``scale``.

        Examples
        --------
        >>> from minuet.cutouts import AsinhStretch
        >>> AsinhStretch().to_dict()
        {'softening': [0.002, 0.0025, 0.008], 'scale': 4.0}
        """
        return asdict(self) | {"softening": list(self.softening)}

    @classmethod
    def from_dict(cls, config):
        """Build a stretch from :meth:`to_dict` output.

        Parameters
        ----------
        config : dict
            With ``softening`` (sequence of three floats) and ``scale``.

        Returns
        -------
        stretch : `AsinhStretch`

        Examples
        --------
        >>> from minuet.cutouts import AsinhStretch
        >>> stretch = AsinhStretch(scale=3.0)
        >>> AsinhStretch.from_dict(stretch.to_dict()) == stretch
        True
        """
        return cls(softening=tuple(config["softening"]), scale=float(config["scale"]))
