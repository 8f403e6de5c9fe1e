"""Segmentation footprint of the central galaxy for data that lacks one."""

import numpy as np

from ..cutouts import central_segmentation


def central_footprint(image, invvar=None, *, search_radius=4):
    """Boolean footprint of the source at the centre of a ``(C, H, W)`` cutout.

    The segment that `~minuet.cutouts.central_segmentation` finds nearest
    the centre, when it lies within ``search_radius`` pixels; an all-False
    footprint otherwise, which gives the whole cutout the background weight.
    """
    segm, label = central_segmentation(image, invvar, search_radius=search_radius)
    if segm is None or label == 0:
        return np.zeros(np.shape(image)[-2:], dtype=bool)
    return segm.data == label
