"""
Conditional spline flows in pure torch (built from zuko transforms).

Nothing here knows about astropy: inputs and outputs are tensors of
standardised targets and standardised contexts.
"""

import math

import torch
import zuko
from torch import nn
from torch.distributions import Transform, constraints
from zuko.distributions import DiagNormal, NormalizingFlow
from zuko.transforms import (
    ComposedTransform,
    DependentTransform,
    MonotonicRQSTransform,
)

__all__ = []


class _UnitTriangularTransform(Transform):
    """
    ``y = M x`` with a unit-diagonal triangular matrix ``M`` per batch element.

    The determinant is one, so the log-Jacobian is zero; the inverse matrix is
    computed once, when the transform is built, so that both directions cost
    one small matrix product.
    """

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, matrix, inverse, **kwargs):
        super().__init__(**kwargs)
        self.matrix = matrix
        self.inverse_matrix = inverse

    def _call(self, x):
        return torch.einsum("...ij,...j->...i", self.matrix, x)

    def _inverse(self, y):
        return torch.einsum("...ij,...j->...i", self.inverse_matrix, y)

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(x.shape[:-1])

    def call_and_ladj(self, x):
        y = self._call(x)
        return y, x.new_zeros(x.shape[:-1])


class _StandardizeTransform(Transform):
    """``y = (x - shift) / exp(log_scale)`` per feature, on event vectors."""

    domain = constraints.real_vector
    codomain = constraints.real_vector
    bijective = True

    def __init__(self, shift, log_scale, **kwargs):
        super().__init__(**kwargs)
        self.shift = shift
        self.log_scale = log_scale

    def _call(self, x):
        return (x - self.shift) * torch.exp(-self.log_scale)

    def _inverse(self, y):
        return y * torch.exp(self.log_scale) + self.shift

    def log_abs_det_jacobian(self, x, y):
        return -self.log_scale.sum(-1).expand(x.shape[:-1])

    def call_and_ladj(self, x):
        return self._call(x), self.log_abs_det_jacobian(x, None)


def _soft_log_scale(raw, limit=7.0):
    """Keep a log-scale within ``(-limit, limit)`` smoothly."""
    return raw / (1 + abs(raw) / limit)


class ContextSplineFlow(nn.Module):
    """
    A conditional flow whose every parameter comes from the context alone.

    The transformation from targets ``x`` to the standard normal base is::

        x -> (x - mu(c)) / sigma(c) -> [M_l(c) x -> spline_l(c)] for l = 1..L

    with ``M_l`` unit-triangular mixing matrices (lower and upper in turn)
    and monotonic rational-quadratic splines (Durkan et al. 2019,
    arXiv:1906.04032) acting on each feature. A context network evaluates
    all parameters once per context; drawing ``S`` samples then costs only
    ``L`` element-wise analytic spline inversions and small matrix products
    per sample, with no network evaluation per sample and no autoregressive
    passes.

    Parameters
    ----------
    features : int
        Number of target dimensions.
    context : int
        Number of context dimensions.
    transforms : int
        Number of mixing + spline layers.
    hidden_features : sequence of int
        Widths of the context network.
    bins : int
        Number of spline bins.
    bound : float
        The splines act on ``[-bound, bound]`` and are the identity outside.
    """

    def __init__(self, features, context, *, transforms=4, hidden_features=(256, 256, 256),
                 bins=8, bound=5.0):
        super().__init__()
        self.features = features
        self.transforms = transforms
        self.bins = bins
        self.bound = bound
        n_tri = features * (features - 1) // 2
        self._sizes = [2 * features] + [n_tri + features * (3 * bins - 1)] * transforms
        layers = []
        width = context
        for hidden in hidden_features:
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(width, sum(self._sizes))
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        rows, cols = torch.tril_indices(features, features, offset=-1)
        self.register_buffer("_rows", rows, persistent=False)
        self.register_buffer("_cols", cols, persistent=False)
        self.register_buffer("_loc", torch.zeros(features), persistent=False)
        self.register_buffer("_scale", torch.ones(features), persistent=False)

    def _mixing(self, values, upper):
        batch = values.shape[:-1]
        eye = torch.eye(self.features, dtype=values.dtype, device=values.device)
        lower = eye.expand(*batch, -1, -1).clone()
        lower[..., self._rows, self._cols] = values
        inverse = torch.linalg.solve_triangular(
            lower, eye.expand_as(lower), upper=False, unitriangular=True
        )
        if upper:
            lower, inverse = lower.transpose(-1, -2), inverse.transpose(-1, -2)
        return _UnitTriangularTransform(lower, inverse)

    def transform(self, context):
        """Return the transformation from targets to the base, given contexts."""
        params = self.head(self.trunk(context))
        chunks = torch.split(params, self._sizes, dim=-1)
        shift, log_scale = chunks[0].chunk(2, dim=-1)
        parts = [_StandardizeTransform(shift, _soft_log_scale(log_scale))]
        n_tri = self.features * (self.features - 1) // 2
        for layer, chunk in enumerate(chunks[1:]):
            tri, spline = chunk[..., :n_tri], chunk[..., n_tri:]
            parts.append(self._mixing(tri, upper=layer % 2 == 1))
            spline = spline.unflatten(-1, (self.features, 3 * self.bins - 1))
            widths, heights, derivatives = spline.split(
                [self.bins, self.bins, self.bins - 1], dim=-1
            )
            parts.append(DependentTransform(
                MonotonicRQSTransform(widths, heights, derivatives, bound=self.bound), 1
            ))
        return ComposedTransform(*parts)

    def inverse_fast(self, z, context):
        """
        Map base samples ``z`` of shape ``(N, F, S)`` to targets, given ``(N, C)`` contexts.

        Mathematically identical to ``self(context).transform.inv`` but laid
        out so that every per-context parameter is used without broadcasting
        copies: bins are found with `torch.searchsorted` and the spline
        inverse is the closed-form root of Durkan et al. (2019), eq. 6-8.
        """
        params = self.head(self.trunk(context))
        chunks = torch.split(params, self._sizes, dim=-1)
        n_tri = self.features * (self.features - 1) // 2
        x = z
        for layer in reversed(range(self.transforms)):
            chunk = chunks[layer + 1]
            spline = chunk[..., n_tri:].unflatten(-1, (self.features, 3 * self.bins - 1))
            widths, heights, derivatives = spline.split(
                [self.bins, self.bins, self.bins - 1], dim=-1
            )
            x = _rqs_inverse(x, widths, heights, derivatives, self.bound)
            mixing = self._mixing(chunk[..., :n_tri], upper=layer % 2 == 1)
            x = torch.bmm(mixing.inverse_matrix, x)
        shift, log_scale = chunks[0].chunk(2, dim=-1)
        return x * torch.exp(_soft_log_scale(log_scale))[..., None] + shift[..., None]

    def forward(self, context):
        """Return the conditional distribution ``p(x | context)``."""
        base = DiagNormal(self._loc, self._scale)
        base = base.expand(context.shape[:-1])
        return NormalizingFlow(self.transform(context), base)


def _rqs_inverse(y, widths, heights, derivatives, bound, slope=1e-3):
    """
    Inverse of zuko's `~zuko.transforms.MonotonicRQSTransform` for ``y`` of shape ``(N, F, S)``.

    ``widths``, ``heights`` (N, F, K) and ``derivatives`` (N, F, K - 1) are the
    unconstrained parameters, mapped to knots exactly as zuko does.
    """
    log_slope = math.log(slope)
    widths = widths / (1 + abs(2 * widths / log_slope))
    heights = heights / (1 + abs(2 * heights / log_slope))
    derivatives = derivatives / (1 + abs(derivatives / log_slope))
    pad = torch.nn.functional.pad
    horizontal = bound * (2 * torch.cumsum(pad(torch.softmax(widths, -1), (1, 0)), -1) - 1)
    vertical = bound * (2 * torch.cumsum(pad(torch.softmax(heights, -1), (1, 0)), -1) - 1)
    slopes = torch.exp(pad(derivatives, (1, 1)))
    # Per-bin constants, so that the per-sample work is a few gathers and a root.
    dx = horizontal[..., 1:] - horizontal[..., :-1]
    dy = vertical[..., 1:] - vertical[..., :-1]
    s = dy / dx
    d0, d1 = slopes[..., :-1], slopes[..., 1:]
    curvature = d0 + d1 - 2 * s
    a0 = dy * (s - d0)
    b0 = dy * d0
    bins = widths.shape[-1]
    k = torch.searchsorted(vertical.contiguous(), y.contiguous()) - 1
    inside = (k >= 0) & (k < bins)
    k = k.clamp_(0, bins - 1)
    y_ = (y - vertical[..., :-1].gather(-1, k)) * inside
    kappa = curvature.gather(-1, k)
    a = a0.gather(-1, k) + y_ * kappa
    b = b0.gather(-1, k) - y_ * kappa
    c = -s.gather(-1, k) * y_
    root = 2 * c / (-b - (b * b - 4 * a * c).sqrt())
    x = horizontal[..., :-1].gather(-1, k) + root * dx.gather(-1, k)
    return torch.where(inside, x, y)


def build_flow(kind, features, context, *, transforms, hidden_features, bins):
    """Return a conditional flow module of the given kind."""
    if kind == "context":
        return ContextSplineFlow(features, context, transforms=transforms,
                                 hidden_features=tuple(hidden_features), bins=bins)
    if kind == "nsf":
        return zuko.flows.NSF(features, context, transforms=transforms,
                              hidden_features=tuple(hidden_features), bins=bins)
    msg = f"flow must be 'context' or 'nsf'; received {kind!r}."
    raise ValueError(msg)


def log_prob(flow, x, context):
    """Log density of ``x`` (N, F) under the flow conditioned on ``context`` (N, C)."""
    return flow(context).log_prob(x)


@torch.no_grad()
def sample(flow, context, n_samples, *, generator=None, chunk_size=1_000_000):
    """
    Draw ``n_samples`` per context row; return an ``(N, S, F)`` tensor.

    Contexts are processed in chunks of about ``chunk_size`` samples so that
    memory stays bounded. For `ContextSplineFlow` the context network runs
    once per row and the samples are pushed through the analytic inverse in
    a ``(rows, features, samples)`` layout; other flows go through zuko.
    """
    n = context.shape[0]
    rows = max(1, chunk_size // max(n_samples, 1))
    out = []
    for start in range(0, n, rows):
        chunk = context[start:start + rows]
        if isinstance(flow, ContextSplineFlow):
            z = torch.randn((chunk.shape[0], flow.features, n_samples), generator=generator,
                            dtype=context.dtype)
            out.append(flow.inverse_fast(z, chunk).transpose(1, 2))
        else:
            dist = flow(chunk)
            shape = (n_samples, *dist.base.batch_shape, *dist.base.event_shape)
            z = torch.randn(shape, generator=generator, dtype=context.dtype)
            out.append(dist.transform.inv(z).transpose(0, 1))
    return torch.cat(out, dim=0)
