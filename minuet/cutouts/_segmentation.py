"""The central galaxy's segment of a cutout, shared by training and evaluation."""

import warnings

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["central_segmentation"]


def central_segmentation(flux, invvar=None, *, nsigma=2.0, npixels=10, smooth_fwhm=3.0,
                         search_radius=None):
    """Segment the sources of one cutout and find the central galaxy.

    The detection image is the inverse-variance weighted sum of the bands
    (a plain sum without inverse variance), smoothed by a Gaussian of
    ``smooth_fwhm`` pixels; pixels ``nsigma`` times its sigma-clipped noise
    above its background, in 8-connected groups of at least ``npixels``, are
    segmented with `photutils.segmentation.detect_sources`. The central
    galaxy is the segment nearest to the centre pixel (the one covering it,
    when one does). This one definition serves both the training loss weights
    of data without a footprint and the reconstruction metrics, so that both
    look at the same pixels.

    Parameters
    ----------
    flux : array-like
        g, r, z flux in nanomaggies, shape ``(3, H, W)``.
    invvar : array-like, optional
        Inverse variance, same shape; 0 marks masked pixels.
    nsigma : float, optional
        Detection threshold in units of the detection image's noise.
    npixels : int, optional
        Minimum number of connected pixels of a source.
    smooth_fwhm : float, optional
        FWHM in pixels of the Gaussian that smooths the detection image;
        0 for none.
    search_radius : float, optional
        Accept a central segment only within this many pixels of the centre.

    Returns
    -------
    segmentation : `~photutils.segmentation.SegmentationImage` or None
        All detected sources; `None` when nothing is detected.
    label : int
        Label of the central galaxy in ``segmentation``; 0 when there is none.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.cutouts import central_segmentation
    >>> yy, xx = np.mgrid[:32, :32]
    >>> blob = np.exp(-((xx - 16) ** 2 + (yy - 16) ** 2) / 8.0)
    >>> flux = np.stack([blob, blob, blob]) + np.random.default_rng(0).normal(0, 0.01, (3, 32, 32))
    >>> segm, label = central_segmentation(flux)
    >>> bool(segm.data[16, 16] == label)
    True
    """
    from astropy.convolution import convolve
    from astropy.stats import sigma_clipped_stats
    from photutils.segmentation import detect_sources, make_2dgaussian_kernel
    from photutils.utils.exceptions import NoDetectionsWarning

    flux = np.nan_to_num(np.asarray(flux, dtype=float))
    if invvar is None:
        detection = flux.sum(axis=0)
        mask = None
    else:
        invvar = np.nan_to_num(np.asarray(invvar, dtype=float))
        weight = invvar.sum(axis=0)
        detection = (flux * invvar).sum(axis=0) / np.sqrt(np.clip(weight, 1e-30, None))
        mask = weight <= 0
    with warnings.catch_warnings():
        # an empty cutout is an expected outcome here, reported by returning None
        warnings.simplefilter("ignore", NoDetectionsWarning)
        warnings.simplefilter("ignore", AstropyUserWarning)
        if smooth_fwhm:
            detection = convolve(detection, make_2dgaussian_kernel(smooth_fwhm, size=5),
                                 mask=mask)
        _, median, std = sigma_clipped_stats(detection, mask=mask)
        if not np.isfinite(std) or std <= 0:
            return None, 0
        segm = detect_sources(detection - median, nsigma * std, npixels, mask=mask)
    if segm is None:
        return None, 0
    ny, nx = detection.shape
    yy, xx = np.nonzero(segm.data)
    distance = np.hypot(yy - (ny - 1) / 2, xx - (nx - 1) / 2)
    nearest = np.argmin(distance)
    if search_radius is not None and distance[nearest] > search_radius:
        return segm, 0
    return segm, int(segm.data[yy[nearest], xx[nearest]])
