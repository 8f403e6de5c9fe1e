"""Segmentation footprint of the central galaxy for data that lacks one."""

import warnings

import numpy as np
from astropy.convolution import convolve
from astropy.stats import sigma_clipped_stats
from photutils.segmentation import detect_sources, make_2dgaussian_kernel


def central_footprint(image, invvar=None, *, n_sigma=1.5, n_pixels=10, search_radius=4):
    """Boolean footprint of the source at the centre of a ``(C, H, W)`` cutout.

    The detection image is the inverse-variance weighted band sum smoothed
    by a 3-pixel FWHM Gaussian; pixels ``n_sigma`` above the sigma-clipped
    background in connected groups of at least ``n_pixels`` are segmented
    with photutils. The segment under the centre (or the nearest one within
    ``search_radius`` pixels) is returned; an all-False footprint when none
    is found, which gives the whole cutout the background weight.
    """
    image = np.asarray(image, dtype=np.float64)
    if invvar is None:
        invvar = np.ones_like(image)
    invvar = np.asarray(invvar, dtype=np.float64)
    detection = (image * invvar).sum(0) / np.sqrt(np.clip(invvar.sum(0), 1e-30, None))
    h, w = detection.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smooth = convolve(detection, make_2dgaussian_kernel(3.0, size=5))
        _, median, std = sigma_clipped_stats(smooth)
        if not np.isfinite(std) or std <= 0:
            return np.zeros((h, w), dtype=bool)
        segments = detect_sources(smooth - median, n_sigma * std, n_pixels)
    if segments is None:
        return np.zeros((h, w), dtype=bool)
    labels = segments.data
    yy, xx = np.mgrid[:h, :w]
    dist = np.hypot(yy - (h - 1) / 2, xx - (w - 1) / 2)
    near = (dist <= search_radius) & (labels > 0)
    if not near.any():
        return np.zeros((h, w), dtype=bool)
    label = labels[near][np.argmin(dist[near])]
    return labels == label
