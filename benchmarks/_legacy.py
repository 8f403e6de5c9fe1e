"""The inference path of minuet 0.x before bf16 and fused projections, for side-by-side timing.

:func:`legacy_inference` puts back, for the duration of a ``with`` block, the
attention forward pass that projected queries and key-values separately and
transposed them into contiguous copies, and leaves the C library's heap
settings alone (``MINUET_RETAIN_HEAP=0``, see `minuet.models.retained_heap`),
so that a benchmark can time "before" and "after" on the same data in the
same process.
"""

import contextlib
import os
from unittest import mock

from torch.nn import functional as F

from minuet.models import _layers

__all__ = ["legacy_inference"]


def _attention_forward(self, x, context=None):
    context = x if context is None else context
    b, n, d = x.shape
    q = self.q(x).reshape(b, n, self.heads, -1).transpose(1, 2)
    k, v = self.kv(context).reshape(b, context.shape[1], 2, self.heads, -1).unbind(2)
    y = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2))
    return self.out(y.transpose(1, 2).reshape(b, n, d))


@contextlib.contextmanager
def legacy_inference():
    """Run the networks with the earlier attention forward pass and heap inside the block."""
    saved = _layers.Attention.forward
    _layers.Attention.forward = _attention_forward
    try:
        with mock.patch.dict(os.environ, {"MINUET_RETAIN_HEAP": "0"}):
            yield
    finally:
        _layers.Attention.forward = saved
