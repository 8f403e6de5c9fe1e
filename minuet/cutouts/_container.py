"""The container of standardised g, r, z cutouts."""

import numpy as np
from astropy import units as u
from astropy.nddata import InverseVariance, NDData

from ._stretch import AsinhStretch
from ._units import BANDS, PIXSCALE, nanomaggy

__all__ = ["Cutouts"]


class Cutouts:
    r"""A batch of standardised g, r, z cutouts in nanomaggies.

    This is what :func:`~minuet.cutouts.load_cutouts` returns and what every
    other part of minuet consumes. All arrays share the leading axis of length
    ``N`` (one row per input cutout, in input order).

    Parameters
    ----------
    flux : array_like
        Flux in nanomaggies, shape ``(N, 3, size, size)``, bands in g, r, z
        order; stored as float32. Masked pixels hold the fill value 0 (the sky
        level of sky-subtracted coadds).
    invvar : array_like or None, optional
        Inverse variance in nanomaggies\ :sup:`-2`, same shape as ``flux``.
        ``None`` means unknown for every row and is stored as zeros with
        ``has_invvar`` all False.
    mask : array_like or None, optional
        Boolean mask, same shape as ``flux``, True where a pixel was missing,
        non-finite, masked on input, of zero inverse variance or padded.
    ids : array_like or None, optional
        One identifier per row; default the input index ``0 .. N-1``.
    has_invvar : array_like of bool or None, optional
        Per row, whether ``invvar`` was known. Where it is False the row's
        ``invvar`` is all zeros and means "unknown", not "masked".
    valid : array_like of bool or None, optional
        Per row, whether the cutout passed validation; default all True.
    reason : array_like of str or None, optional
        Per row, why a cutout was refused (empty string when valid).
    footprint : array_like of bool or None, optional
        Optional per-row segmentation footprint of the central galaxy,
        shape ``(N, size, size)``.
    bands : tuple of str, optional
        Band names along axis 1; always ``('g', 'r', 'z')`` when built by
        :func:`~minuet.cutouts.load_cutouts`.
    pixscale : `~astropy.units.Quantity`, optional
        Pixel scale (angle per pixel); default 0.262 arcsec.
    stretch : `~minuet.cutouts.AsinhStretch` or None, optional
        The stretch used by :meth:`normalized`; default ``AsinhStretch()``.
    meta : dict or None, optional
        Free-form metadata (source file, dataset name, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.cutouts import load_cutouts
    >>> cutouts = load_cutouts(np.ones((2, 3, 80, 80)))
    >>> len(cutouts), cutouts.flux.shape
    (2, (2, 3, 72, 72))
    >>> cutouts[1:].ids
    array([1])
    """

    def __init__(
        self,
        flux,
        *,
        invvar=None,
        mask=None,
        ids=None,
        has_invvar=None,
        valid=None,
        reason=None,
        footprint=None,
        bands=BANDS,
        pixscale=PIXSCALE,
        stretch=None,
        meta=None,
    ):
        flux = np.asarray(flux, dtype=np.float32)
        if flux.ndim != 4:
            msg = f"flux must have shape (N, bands, size, size); got shape {flux.shape}."
            raise ValueError(msg)
        n = flux.shape[0]
        self.flux = flux
        if invvar is None:
            # np.zeros, unlike zeros_like, takes zeroed pages from the system without writing them
            self.invvar = np.zeros(flux.shape, dtype=np.float32)
            self.has_invvar = np.zeros(n, dtype=bool)
        else:
            self.invvar = self._row_array(invvar, flux.shape, np.float32, "invvar")
            self.has_invvar = (
                np.ones(n, dtype=bool)
                if has_invvar is None
                else self._row_array(has_invvar, (n,), bool, "has_invvar")
            )
        self.mask = (
            np.zeros(flux.shape, dtype=bool)
            if mask is None
            else self._row_array(mask, flux.shape, bool, "mask")
        )
        self.ids = np.arange(n) if ids is None else self._row_array(ids, (n,), None, "ids")
        self.valid = (
            np.ones(n, dtype=bool) if valid is None else self._row_array(valid, (n,), bool, "valid")
        )
        self.reason = (
            np.full(n, "", dtype=object)
            if reason is None
            else self._row_array(reason, (n,), object, "reason")
        )
        self.footprint = (
            None
            if footprint is None
            else self._row_array(footprint, (n, *flux.shape[2:]), bool, "footprint")
        )
        self.bands = tuple(bands)
        if len(self.bands) != flux.shape[1]:
            msg = f"got {len(self.bands)} band names for {flux.shape[1]} bands in flux."
            raise ValueError(msg)
        self.pixscale = u.Quantity(pixscale, u.arcsec)
        self.stretch = AsinhStretch() if stretch is None else stretch
        self.meta = {} if meta is None else dict(meta)

    @staticmethod
    def _row_array(values, shape, dtype, name):
        values = np.asarray(values, dtype=dtype)
        if values.shape != shape:
            msg = f"{name} must have shape {shape} to match flux; got shape {values.shape}."
            raise ValueError(msg)
        return values

    def __len__(self):
        return self.flux.shape[0]

    @property
    def size(self):
        """Side of the square cutouts in pixels.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> load_cutouts(np.ones((3, 80, 80))).size  # centre-cropped to 72 by default
        72
        """
        return self.flux.shape[-1]

    def __repr__(self):
        return (
            f"<Cutouts: {len(self)} cutouts ({int(self.valid.sum())} valid), "
            f"bands {','.join(self.bands)}, {self.size}x{self.size} px at {self.pixscale:g}/px>"
        )

    def __getitem__(self, index):
        """Select rows: an integer gives a one-row `Cutouts`, slices and index arrays a subset."""
        if isinstance(index, (int, np.integer)):
            n = len(self)
            if not -n <= index < n:
                msg = f"row index {index} is out of range for {n} cutouts."
                raise IndexError(msg)
            index = slice(index % n, index % n + 1)
        return Cutouts(
            self.flux[index],
            invvar=self.invvar[index],
            mask=self.mask[index],
            ids=self.ids[index],
            has_invvar=self.has_invvar[index],
            valid=self.valid[index],
            reason=self.reason[index],
            footprint=None if self.footprint is None else self.footprint[index],
            bands=self.bands,
            pixscale=self.pixscale,
            stretch=self.stretch,
            meta=self.meta,
        )

    @classmethod
    def concatenate(cls, parts):
        """Join several `Cutouts` row-wise; bands and pixel scale must agree.

        Parameters
        ----------
        parts : sequence of `Cutouts`
            The batches to join, in order.

        Returns
        -------
        cutouts : `Cutouts`

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import Cutouts, load_cutouts
        >>> a = load_cutouts(np.ones((2, 3, 24, 24)), size=24)
        >>> b = load_cutouts(np.ones((3, 3, 24, 24)), size=24)
        >>> len(Cutouts.concatenate([a, b]))
        5
        """
        parts = list(parts)
        if not parts:
            msg = "concatenate needs at least one Cutouts object; got an empty sequence."
            raise ValueError(msg)
        first = parts[0]
        for part in parts[1:]:
            if part.bands != first.bands or part.flux.shape[1:] != first.flux.shape[1:]:
                msg = (
                    "cannot concatenate cutouts with different bands or sizes: "
                    f"{first.bands} {first.flux.shape[1:]} vs {part.bands} {part.flux.shape[1:]}."
                )
                raise ValueError(msg)
        footprints = [p.footprint for p in parts]
        footprint = None if any(f is None for f in footprints) else np.concatenate(footprints)
        return cls(
            np.concatenate([p.flux for p in parts]),
            invvar=np.concatenate([p.invvar for p in parts]),
            mask=np.concatenate([p.mask for p in parts]),
            ids=np.concatenate([p.ids for p in parts]),
            has_invvar=np.concatenate([p.has_invvar for p in parts]),
            valid=np.concatenate([p.valid for p in parts]),
            reason=np.concatenate([p.reason for p in parts]),
            footprint=footprint,
            bands=first.bands,
            pixscale=first.pixscale,
            stretch=first.stretch,
            meta=first.meta,
        )

    def valid_only(self):
        """Return the rows that passed validation.

        Returns
        -------
        cutouts : `Cutouts`

        Examples
        --------
        An all-NaN cutout is kept with ``on_invalid='flag'``, then dropped:

        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> flux = np.ones((2, 3, 24, 24))
        >>> flux[1] = np.nan
        >>> cutouts = load_cutouts(flux, size=24, on_invalid="flag")
        >>> cutouts.valid.tolist(), len(cutouts.valid_only())
        ([True, False], 1)
        """
        return self[self.valid]

    def to_nddata(self, index):
        """Return one cutout as `~astropy.nddata.NDData`.

        Parameters
        ----------
        index : int
            Row number.

        Returns
        -------
        nddata : `~astropy.nddata.NDData`
            Flux of shape ``(3, size, size)`` with unit ``minuet.cutouts.nanomaggy``,
            an `~astropy.nddata.InverseVariance` uncertainty (None where the
            inverse variance is unknown), the boolean mask and ``meta`` with
            ``bands``, ``pixscale``, ``id``, ``valid`` and ``reason``.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> nd = load_cutouts(np.ones((3, 72, 72)), invvar=np.ones((3, 72, 72))).to_nddata(0)
        >>> nd.unit, nd.meta["bands"], type(nd.uncertainty).__name__
        (Unit("nanomaggy"), ('g', 'r', 'z'), 'InverseVariance')
        """
        index = int(index)
        row = self[index]
        uncertainty = (
            InverseVariance(row.invvar[0], unit=nanomaggy**-2) if row.has_invvar[0] else None
        )
        meta = {
            "bands": self.bands,
            "pixscale": self.pixscale,
            "id": row.ids[0],
            "valid": bool(row.valid[0]),
            "reason": row.reason[0],
        }
        return NDData(
            row.flux[0], uncertainty=uncertainty, mask=row.mask[0], unit=nanomaggy, meta=meta
        )

    def normalized(self):
        """Return the flux through ``self.stretch``: the networks' float32 input.

        Returns
        -------
        x : `~numpy.ndarray`
            Shape ``(N, 3, size, size)``, float32; masked pixels map to 0.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> x = load_cutouts(np.full((1, 3, 24, 24), 0.01), size=24).normalized()
        >>> x.shape, x.dtype
        ((1, 3, 24, 24), dtype('float32'))
        """
        return self.stretch.forward(self.flux).astype(np.float32, copy=False)

    def normalized_invvar(self):
        r"""Return the inverse variance propagated through the stretch.

        To first order :math:`\sigma_x = \sigma_f\,|dx/df|`, so the stretched
        inverse variance is ``invvar / (dx/df)**2``; zero where unknown or masked.

        Returns
        -------
        invvar : `~numpy.ndarray`
            Shape ``(N, 3, size, size)``, float32, in units of the stretched
            values to the power -2.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> flux = np.zeros((1, 3, 24, 24))
        >>> flux[..., 12, 12] = 1.0  # a blank sky is refused as holding no data
        >>> cutouts = load_cutouts(flux, size=24, invvar=np.full((1, 3, 24, 24), 1e4))
        >>> cutouts.normalized_invvar()[0, :, 0, 0].astype(float).round(2).tolist()
        [0.64, 1.0, 10.24]
        """
        slope = self.stretch.derivative(self.flux)
        return (self.invvar / slope**2).astype(np.float32, copy=False)

    def from_normalized(self, x):
        """Map network output back to flux in nanomaggies through ``self.stretch``.

        Parameters
        ----------
        x : array_like
            Stretched values, shape ``(..., 3, H, W)``.

        Returns
        -------
        flux : `~numpy.ndarray`
            Flux in nanomaggies, float32 (float64 for float64 input).

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.cutouts import load_cutouts
        >>> cutouts = load_cutouts(np.full((1, 3, 24, 24), 0.01), size=24)
        >>> flux = cutouts.from_normalized(cutouts.normalized())
        >>> bool(np.allclose(flux, cutouts.flux, rtol=1e-5))
        True
        """
        return self.stretch.inverse(x)
