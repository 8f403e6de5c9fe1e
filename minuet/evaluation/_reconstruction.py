"""Reconstruction quality in astronomers' terms.

Every measurement is made the same way on the input and on its
reconstruction, inside the same segmentation map (that of the input), so that
the differences reflect the reconstruction and not the measurement.
"""

import numpy as np
from astropy import units as u
from astropy.table import QTable
from photutils.segmentation import SegmentationImage, SourceCatalog

from .._vocabulary import BANDS as _BANDS
from .._vocabulary import PIXEL_SCALE
from ..cutouts import central_segmentation

__all__ = [
    "compare_reconstructions",
    "radial_power_spectrum",
    "summarize_reconstructions",
]



def _measure(image, segm, label):
    """Half-light radius (pixels) and ellipticity of one source in one band."""
    catalog = SourceCatalog(image, segm).select_label(label)
    radius = float(catalog.flux_radius(0.5).value)
    ellipticity = float(catalog.ellipticity.value)
    return radius, ellipticity


def compare_reconstructions(
    inputs, reconstructions, *, invvar, footprint=None, pixscale=PIXEL_SCALE, shape_band="r"
):
    r"""Compare reconstructions with their inputs galaxy by galaxy.

    For each galaxy, with input flux :math:`d`, reconstruction :math:`m` and
    inverse variance :math:`w` in the central galaxy's footprint :math:`F`
    (all three bands, pixels with :math:`w > 0`):

    - reduced chi-squared :math:`\chi^2_\nu = \sum_F w (d - m)^2 / N_F`;
    - magnitude errors :math:`\Delta m_b = -2.5 \log_{10}(\sum_F m_b / \sum_F d_b)`
      per band, and the colour errors
      :math:`\Delta(g-r) = \Delta m_g - \Delta m_r`,
      :math:`\Delta(r-z) = \Delta m_r - \Delta m_z`;
    - half-light radius (radius enclosing half the Kron flux) and ellipticity
      (from the second moments) measured with `photutils.segmentation.SourceCatalog`
      in ``shape_band``, in the input's segmentation map, on both images.

    Parameters
    ----------
    inputs, reconstructions : array-like
        Flux in nanomaggies, shape ``(N, 3, H, W)``, bands g, r, z.
    invvar : array-like
        Inverse variance of ``inputs``, shape ``(N, 3, H, W)``; 0 marks
        masked pixels.
    footprint : array-like, optional
        Boolean ``(N, H, W)`` footprints of the central galaxies (the
        simulator's truth). Where absent, each is found with
        :func:`central_segmentation` on the input.
    pixscale : float, optional
        Pixel scale in arcsec, for the radii.
    shape_band : {'g', 'r', 'z'}, optional
        Band in which radius and ellipticity are measured.

    Returns
    -------
    table : `~astropy.table.QTable`
        One row per galaxy: ``chi2_red``, ``dmag_g``, ``dmag_r``, ``dmag_z``,
        ``dcolor_gr``, ``dcolor_rz`` (mag), ``r_half_in``, ``r_half_rec``
        (arcsec), ``frac_r_half_err``, ``ellipticity_in``, ``ellipticity_rec``,
        ``d_ellipticity`` and ``n_footprint`` (pixels). Galaxies with no
        detectable central source have NaN measurements.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.evaluation import compare_reconstructions
    >>> yy, xx = np.mgrid[:32, :32]
    >>> blob = np.exp(-((xx - 16) ** 2 + 2 * (yy - 16) ** 2) / 10.0)
    >>> truth = np.stack([blob, blob, blob])[None]
    >>> data = truth + np.random.default_rng(1).normal(0, 0.01, truth.shape)
    >>> invvar = np.full(truth.shape, 1e4)
    >>> table = compare_reconstructions(data, truth, invvar=invvar)
    >>> bool(0.5 < table["chi2_red"][0] < 1.5)
    True
    """
    inputs = np.asarray(inputs, dtype=float)
    reconstructions = np.asarray(reconstructions, dtype=float)
    invvar = np.asarray(invvar, dtype=float)
    if inputs.ndim != 4 or inputs.shape[1] != 3:
        msg = f"inputs must have shape (N, 3, H, W); got {inputs.shape}."
        raise ValueError(msg)
    if reconstructions.shape != inputs.shape or invvar.shape != inputs.shape:
        msg = (
            "inputs, reconstructions and invvar must have the same shape; got "
            f"{inputs.shape}, {reconstructions.shape} and {invvar.shape}."
        )
        raise ValueError(msg)
    if footprint is not None:
        footprint = np.asarray(footprint, dtype=bool)
        if footprint.shape != (inputs.shape[0], *inputs.shape[2:]):
            msg = (
                f"footprint must have shape (N, H, W) = {(inputs.shape[0], *inputs.shape[2:])}; "
                f"got {footprint.shape}."
            )
            raise ValueError(msg)
    if shape_band not in _BANDS:
        msg = f"shape_band must be one of {_BANDS}; got {shape_band!r}."
        raise ValueError(msg)
    iband = _BANDS.index(shape_band)

    n = len(inputs)
    columns = {
        name: np.full(n, np.nan)
        for name in (
            "chi2_red", "dmag_g", "dmag_r", "dmag_z", "r_half_in", "r_half_rec",
            "ellipticity_in", "ellipticity_rec",
        )
    }
    n_footprint = np.zeros(n, dtype=int)
    for i in range(n):
        segm, label = central_segmentation(inputs[i], invvar[i])
        if segm is not None and label == 0:
            segm = None
        if footprint is not None:
            central = footprint[i]
            # the central galaxy takes the truth footprint; other detections
            # keep their labels so that they are masked in the photometry
            data = np.zeros(central.shape, dtype=int) if segm is None else segm.data.copy()
            data[data == label] = 0
            label = int(data.max()) + 1
            data[central] = label
            segm = SegmentationImage(data) if central.any() else None
        if segm is None:
            continue
        central = segm.data == label
        weight = invvar[i][:, central]
        good = weight > 0
        resid = (inputs[i][:, central] - reconstructions[i][:, central]) ** 2 * weight
        n_footprint[i] = int(central.sum())
        columns["chi2_red"][i] = resid[good].sum() / max(good.sum(), 1)
        for b, band in enumerate(_BANDS):
            f_in = inputs[i, b][central].sum()
            f_rec = reconstructions[i, b][central].sum()
            if f_in > 0 and f_rec > 0:
                columns[f"dmag_{band}"][i] = -2.5 * np.log10(f_rec / f_in)
        try:
            columns["r_half_in"][i], columns["ellipticity_in"][i] = _measure(
                inputs[i, iband], segm, label
            )
            columns["r_half_rec"][i], columns["ellipticity_rec"][i] = _measure(
                reconstructions[i, iband], segm, label
            )
        except (ValueError, IndexError):
            pass  # a source photutils cannot measure keeps NaN

    table = QTable()
    table["chi2_red"] = columns["chi2_red"]
    for band in _BANDS:
        table[f"dmag_{band}"] = columns[f"dmag_{band}"] * u.mag
    table["dcolor_gr"] = table["dmag_g"] - table["dmag_r"]
    table["dcolor_rz"] = table["dmag_r"] - table["dmag_z"]
    table["r_half_in"] = columns["r_half_in"] * pixscale * u.arcsec
    table["r_half_rec"] = columns["r_half_rec"] * pixscale * u.arcsec
    table["frac_r_half_err"] = table["r_half_rec"] / table["r_half_in"] - 1
    table["ellipticity_in"] = columns["ellipticity_in"]
    table["ellipticity_rec"] = columns["ellipticity_rec"]
    table["d_ellipticity"] = table["ellipticity_rec"] - table["ellipticity_in"]
    table["n_footprint"] = n_footprint
    return table


def summarize_reconstructions(table):
    """Median figures of merit of a :func:`compare_reconstructions` table.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        Output of :func:`compare_reconstructions`.

    Returns
    -------
    summary : dict
        ``median_chi2_red``, ``median_abs_dmag_r`` (mag),
        ``median_abs_dcolor_gr`` (mag), ``median_abs_frac_r_half_err``,
        ``median_abs_d_ellipticity`` and ``n_measured``; NaN rows ignored.

    Examples
    --------
    >>> from astropy.table import QTable
    >>> import astropy.units as u
    >>> from minuet.evaluation import summarize_reconstructions
    >>> t = QTable({"chi2_red": [1.0, 1.2], "dmag_r": [0.01, -0.03] * u.mag,
    ...             "dcolor_gr": [0.0, 0.02] * u.mag, "frac_r_half_err": [0.1, -0.02],
    ...             "d_ellipticity": [0.0, 0.1]})
    >>> summarize_reconstructions(t)["median_abs_dmag_r"]
    <Quantity 0.02 mag>
    """

    def median(column, absolute=True):
        values = table[column]
        values = np.abs(values) if absolute else values
        finite = np.isfinite(values)
        return np.median(values[finite]) if np.any(finite) else np.nan

    return {
        "median_chi2_red": float(median("chi2_red", absolute=False)),
        "median_abs_dmag_r": median("dmag_r"),
        "median_abs_dcolor_gr": median("dcolor_gr"),
        "median_abs_frac_r_half_err": float(median("frac_r_half_err")),
        "median_abs_d_ellipticity": float(median("d_ellipticity")),
        "n_measured": int(np.sum(np.isfinite(table["chi2_red"]))),
    }


def radial_power_spectrum(images, *, n_bins=None):
    r"""Azimuthally averaged power spectrum of each band, averaged over images.

    The sharpness of reconstructions: a model that blurs loses power at high
    spatial frequencies, and the ratio of a reconstruction's spectrum to its
    input's shows at which scales. Each image is mean-subtracted, Fourier
    transformed, and :math:`|F|^2` is averaged in annuli of spatial frequency.

    Parameters
    ----------
    images : array-like
        ``(N, C, H, W)`` images (for example stretched cutouts or residuals).
    n_bins : int, optional
        Number of frequency bins, centred on ``0.5 (i + 1) / n_bins`` cycles
        per pixel for ``i = 0 ... n_bins - 1`` (the last one on the Nyquist
        frequency, the zero frequency left out); default ``H // 2``, one bin
        per Fourier mode along an axis.

    Returns
    -------
    frequency : `~numpy.ndarray`
        Bin centres in cycles per pixel, shape ``(n_bins,)``.
    power : `~numpy.ndarray`
        Mean power per band and bin, shape ``(C, n_bins)``.

    Examples
    --------
    White noise has a flat spectrum:

    >>> import numpy as np
    >>> from minuet.evaluation import radial_power_spectrum
    >>> noise = np.random.default_rng(0).normal(size=(64, 1, 32, 32))
    >>> frequency, power = radial_power_spectrum(noise, n_bins=4)
    >>> frequency
    array([0.125, 0.25 , 0.375, 0.5  ])
    >>> bool(np.allclose(power / power.mean(), 1, atol=0.1))
    True
    """
    images = np.asarray(images, dtype=float)
    if images.ndim != 4:
        msg = f"images must have shape (N, C, H, W); got {images.shape}."
        raise ValueError(msg)
    h, w = images.shape[-2:]
    n_bins = h // 2 if n_bins is None else n_bins
    centred = images - images.mean(axis=(-2, -1), keepdims=True)
    power = np.abs(np.fft.fft2(centred)) ** 2 / (h * w)
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    edges = (np.arange(n_bins + 1) + 0.5) * (0.5 / n_bins)
    which = np.digitize(radius, edges) - 1
    inside = (which >= 0) & (which < n_bins)
    counts = np.bincount(which[inside], minlength=n_bins)
    mean_power = power.mean(axis=0)  # (C, H, W)
    spectrum = np.stack([np.bincount(which[inside], weights=band[inside], minlength=n_bins)
                         for band in mean_power]) / np.maximum(counts, 1)
    return 0.5 * (edges[1:] + edges[:-1]), spectrum
