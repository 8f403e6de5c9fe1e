"""Small transformer building blocks shared by the encoder and the denoiser."""

import math

import torch
from torch import nn
from torch.nn import functional as F


def patchify(x, patch):
    """Cut ``(B, C, H, W)`` images into ``(B, N, C * patch**2)`` tokens."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // patch) * (w // patch), c * patch * patch)


def unpatchify(tokens, patch, channels, size):
    """Inverse of :func:`patchify` for square images of side ``size``."""
    b = tokens.shape[0]
    n = size // patch
    x = tokens.reshape(b, n, n, channels, patch, patch)
    return x.permute(0, 3, 1, 4, 2, 5).reshape(b, channels, size, size)


def fourier_features(t, dim, max_period=10_000.0):
    """Sinusoidal embedding of a scalar per sample, ``(B,)`` to ``(B, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


#: bytes of attention scores that one chunk of the CPU path holds at once, so that
#: they stay in cache between the two products and the softmax; for the bundled
#: encoder 4 MiB measured fastest of 128 KiB to the whole batch of 256 galaxies
_SCORE_CHUNK_BYTES = 4 << 20


class Attention(nn.Module):
    """Multi-head attention; keys and values come from ``context`` when given."""

    def __init__(self, width, heads):
        super().__init__()
        if width % heads:
            msg = f"width must be divisible by heads; got width={width}, heads={heads}."
            raise ValueError(msg)
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)
        self._fused = None  # projections of a frozen copy, set by `fuse`

    def fuse(self, dtype=None):
        """Prepare the projections once, for a copy whose weights will not change.

        The query and key-value projections are concatenated, so that
        self-attention makes one matrix product, and the softmax scale
        ``1 / sqrt(head width)`` is folded into the query weights. Both are
        computed in the weights' own precision and then cast to ``dtype``
        (default: the weights' dtype), so a bf16 copy fused from fp32
        weights rounds once. Without it the self-attention path concatenates
        the projections on every call, which keeps the module trainable; call
        it only on a copy whose weights will not change (see
        `minuet.models.inference_copy`). A fused layer on the CPU computes
        attention by `_cpu_attention`.
        """
        dtype = self.q.weight.dtype if dtype is None else dtype
        scale = (self.q.out_features // self.heads) ** -0.5
        q_weight, q_bias = self.q.weight * scale, self.q.bias * scale
        self._fused = tuple(t.detach().to(dtype) for t in (
            torch.cat([q_weight, self.kv.weight]), torch.cat([q_bias, self.kv.bias]),
            q_weight, q_bias))

    def forward(self, x, context=None):
        b, n, d = x.shape
        if self._fused is not None and x.device.type == "cpu":
            weight, bias, q_weight, q_bias = self._fused
            if context is None:
                qkv = F.linear(x, weight, bias).view(b, n, 3, self.heads, -1)
                q, k, v = qkv.permute(2, 0, 3, 1, 4)
            else:
                q = F.linear(x, q_weight, q_bias).view(b, n, self.heads, -1).transpose(1, 2)
                kv = self.kv(context).view(b, context.shape[1], 2, self.heads, -1)
                k, v = kv.permute(2, 0, 3, 1, 4)
            return self.out(_cpu_attention(q, k, v).view(b, n, d))
        if context is None:
            # self-attention: one projection to queries, keys and values
            if self._fused is not None:
                weight, bias = self._fused[:2]
                # the fused query weights carry the softmax scale already
                scale = 1.0
            else:
                weight = torch.cat([self.q.weight, self.kv.weight])
                bias = torch.cat([self.q.bias, self.kv.bias])
                scale = None
            qkv = F.linear(x, weight, bias).reshape(b, n, 3, self.heads, -1)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        else:
            if self._fused is not None:
                q = F.linear(x, *self._fused[2:])
                scale = 1.0
            else:
                q = self.q(x)
                scale = None
            q = q.reshape(b, n, self.heads, -1).transpose(1, 2)
            kv = self.kv(context).reshape(b, context.shape[1], 2, self.heads, -1)
            k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
        # the fused kernel reads the strided views directly; its output is laid out
        # (batch, token, head, channel), so the reshape below copies nothing
        y = F.scaled_dot_product_attention(q, k, v, scale=scale)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


def _cpu_attention(q, k, v):
    """Softmax attention of pre-scaled queries as two batched matrix products.

    Takes ``(B, heads, N, c)`` queries and ``(B, heads, M, c)`` keys and
    values (strided views are fine) and returns ``(B, N, heads, c)``. For
    the short sequences of 72-pixel cutouts (81 to 144 tokens) PyTorch's
    fused CPU kernel, tiled for long sequences, is slower than this: the
    products go to the matrix library, and the batch is taken in chunks
    whose scores stay in cache. The scores are kept in the inputs' dtype;
    the softmax accumulates in fp32 inside PyTorch's bf16 kernel.
    """
    b, h, n, c = q.shape
    m = k.shape[2]
    y = q.new_empty(b, n, h, c)
    chunk = max(1, _SCORE_CHUNK_BYTES // (h * n * m * q.element_size()))
    for start in range(0, b, chunk):
        part = slice(start, start + chunk)
        scores = torch.bmm(q[part].reshape(-1, n, c), k[part].reshape(-1, m, c).transpose(1, 2))
        out = torch.bmm(scores.softmax(-1), v[part].reshape(-1, m, c))
        y[part] = out.view(-1, h, n, c).transpose(1, 2)
    return y


def mlp(width, ratio=4):
    """The position-wise feed-forward block of a transformer."""
    return nn.Sequential(
        nn.Linear(width, ratio * width),
        nn.GELU(approximate="tanh"),
        nn.Linear(ratio * width, width),
    )


class Block(nn.Module):
    """Pre-norm transformer block (self-attention, optional cross-attention, MLP)."""

    def __init__(self, width, heads, *, cross=False):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.cross = Attention(width, heads) if cross else None
        self.norm_c = nn.LayerNorm(width) if cross else None
        self.norm2 = nn.LayerNorm(width)
        self.mlp = mlp(width)

    def forward(self, x, context=None):
        x = x + self.attn(self.norm1(x))
        if self.cross is not None:
            x = x + self.cross(self.norm_c(x), context)
        return x + self.mlp(self.norm2(x))


class AdaLNBlock(nn.Module):
    """Transformer block modulated by a conditioning vector (adaLN-Zero).

    Shift, scale and gate of both sub-layers are regressed from the
    conditioning vector and start at zero, so each block begins as the
    identity (Peebles & Xie 2023, ICCV, arXiv:2212.09748). Optional
    cross-attention to a set of conditioning tokens follows self-attention.
    """

    def __init__(self, width, heads, *, cross=False):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False)
        self.attn = Attention(width, heads)
        self.cross = Attention(width, heads) if cross else None
        self.norm_c = nn.LayerNorm(width) if cross else None
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = mlp(width)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, x, cond, context=None):
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond)[:, None].chunk(6, -1)
        x = x + gate1 * self.attn(self.norm1(x) * (1 + scale1) + shift1)
        if self.cross is not None:
            x = x + self.cross(self.norm_c(x), context)
        return x + gate2 * self.mlp(self.norm2(x) * (1 + scale2) + shift2)
