"""Orientation transforms of image batches: the dihedral group and rotations."""

import torch
from torch.nn import functional as F

__all__ = ["dihedral", "rotate"]


def dihedral(x, k):
    """Apply the ``k``-th of the 8 lossless square symmetries to ``(..., H, W)``.

    ``k % 4`` quarter turns counter-clockwise, followed by a left-right flip
    when ``k >= 4``.

    Parameters
    ----------
    x : `torch.Tensor`
        Images whose last two axes are square, shape ``(..., H, W)``.
    k : int
        Which symmetry, from 0 (the identity) to 7.

    Returns
    -------
    out : `torch.Tensor`
        The transformed images, same shape as ``x``.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import dihedral
    >>> x = torch.arange(4.0).reshape(1, 2, 2)
    >>> dihedral(x, 1)
    tensor([[[1., 3.],
             [0., 2.]]])
    """
    if k not in range(8):
        msg = f"k must be an integer from 0 to 7; got {k!r}."
        raise ValueError(msg)
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if k >= 4 else x


def rotate(x, angle, *, mode="bilinear"):
    """Rotate ``(B, C, H, W)`` images about their centre by ``angle`` radians.

    Each image has its own angle (``angle`` of shape ``(B,)``). Pixels that
    come from outside the image are zero.

    Parameters
    ----------
    x : `torch.Tensor`
        Images, shape ``(B, C, H, W)``.
    angle : float or `torch.Tensor`
        Counter-clockwise angle in radians, one for all images or one per
        image (shape ``(B,)``).
    mode : {'bilinear', 'nearest', 'bicubic'}, optional
        Interpolation, as for `torch.nn.functional.grid_sample`.

    Returns
    -------
    out : `torch.Tensor`
        The rotated images, same shape as ``x``.

    Examples
    --------
    >>> import math, torch
    >>> from minuet.models import rotate
    >>> x = torch.rand(2, 3, 8, 8)
    >>> bool(torch.allclose(rotate(x, torch.zeros(2)), x, atol=1e-6))
    True
    """
    angle = torch.as_tensor(angle, dtype=x.dtype, device=x.device).expand(x.shape[0])
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], -1), torch.stack([sin, cos, zero], -1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
