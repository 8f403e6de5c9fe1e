"""Small transformer building blocks shared by the encoder and the denoiser."""

import functools
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

_LOG2_E, _LN_2 = math.log2(math.e), math.log(2.0)
#: row sums of ``2**score`` that `_cpu_attention` normalises by directly; a chunk
#: with any outside this range is recomputed with the max-subtracting softmax
_LOW_SUM, _HIGH_SUM = 2.0**-100, 2.0**100


@functools.cache
def _onednn_linear():
    """OneDNN's linear layer with a fused epilogue, or None where PyTorch lacks it.

    ``torch.ops.mkldnn._linear_pointwise`` is the operator that TorchInductor
    emits for frozen CPU graphs: it adds the bias, applies GELU or adds a
    residual inside the matrix product's own loop, where `torch.nn.functional.linear`
    first copies the broadcast bias into the output and GELU or an addition
    then make passes of their own. It is not public API, so it is looked up
    once, and every use falls back to the public operators where it is
    missing; ``tests/models/test_precision.py`` checks it against them.
    """
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        op = torch.ops.mkldnn._linear_pointwise
        _ = op.binary  # the overload with a residual operand
    except (AttributeError, RuntimeError):
        return None
    return op


def epilogue_linear(x, weight, bias, *, gelu=None, residual=None):
    """``linear(x)``, then optionally GELU or ``+ residual``, fused on bf16 CPU tensors.

    On bf16 CPU inputs, where oneDNN's fused operator is available
    (`_onednn_linear`), the bias and the GELU (``gelu``: ``'none'`` for the
    exact form, ``'tanh'`` for its approximation) or the residual addition
    happen inside the matrix product; this made the bundled encoder's bf16
    copy 7% faster. Anywhere else, including while gradients are needed
    and under `torch.compile`, it is `torch.nn.functional.linear` followed
    by the same operations.
    """
    if gelu is not None and residual is not None:
        msg = "epilogue_linear fuses GELU or a residual addition, not both."
        raise ValueError(msg)
    # under torch.compile the public operators, which the compiler fuses by itself
    op = None if _compiling() else _onednn_linear()
    if (op is None or x.dtype != torch.bfloat16 or x.device.type != "cpu"
            or weight.dtype != torch.bfloat16
            or (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))):
        y = F.linear(x, weight, bias)
        if gelu is not None:
            y = F.gelu(y, approximate=gelu)
        return y if residual is None else residual + y
    if residual is not None:
        return op.binary(x, residual, weight, bias, "add")
    if gelu is not None:
        return op(x, weight, bias, "gelu", [], gelu)
    return op(x, weight, bias, "none", [], "")


def frozen_mlp(block, x, residual=None):
    """The feed-forward block of a frozen copy: fused epilogues (`epilogue_linear`)."""
    first, activation, second = block
    hidden = epilogue_linear(x, first.weight, first.bias, gelu=activation.approximate)
    return epilogue_linear(hidden, second.weight, second.bias, residual=residual)


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
        ``1 / sqrt(head width)`` is folded into the query weights together
        with ``log2(e)``, so that the scores come out in base 2 (the
        softmax of ``s`` is that of ``2**s`` normalised; `_cpu_attention`
        takes `torch.exp2` of them, and elsewhere the fused kernel is given
        the scale ``ln 2``, which undoes the factor). Both are
        computed in the weights' own precision and then cast to ``dtype``
        (default: the weights' dtype), so a bf16 copy fused from fp32
        weights rounds once. Without it the self-attention path concatenates
        the projections on every call, which keeps the module trainable; call
        it only on a copy whose weights will not change (see
        `minuet.models.inference_copy`). A fused layer on the CPU computes
        attention by `_cpu_attention`.
        """
        dtype = self.q.weight.dtype if dtype is None else dtype
        scale = (self.q.out_features // self.heads) ** -0.5 * _LOG2_E
        q_weight, q_bias = self.q.weight * scale, self.q.bias * scale
        self._fused = tuple(t.detach().to(dtype) for t in (
            torch.cat([q_weight, self.kv.weight]), torch.cat([q_bias, self.kv.bias]),
            q_weight, q_bias))

    def forward(self, x, context=None, residual=None):
        """Attention of ``x`` to itself or to ``context``, plus ``residual`` when given."""
        b, n, d = x.shape
        if self._fused is not None and x.device.type == "cpu":
            weight, bias, q_weight, q_bias = self._fused
            if context is None:
                qkv = epilogue_linear(x, weight, bias).view(b, n, 3, self.heads, -1)
                q, k, v = qkv.permute(2, 0, 3, 1, 4)
            else:
                q = epilogue_linear(x, q_weight, q_bias).view(b, n, self.heads, -1)
                kv = epilogue_linear(context, self.kv.weight, self.kv.bias)
                k, v = kv.view(b, context.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)
                q = q.transpose(1, 2)
            y = _cpu_attention(q, k, v).view(b, n, d)
            return epilogue_linear(y, self.out.weight, self.out.bias, residual=residual)
        if context is None:
            # self-attention: one projection to queries, keys and values
            if self._fused is not None:
                weight, bias = self._fused[:2]
                # the fused query weights carry the softmax scale times log2(e)
                scale = _LN_2
            else:
                weight = torch.cat([self.q.weight, self.kv.weight])
                bias = torch.cat([self.q.bias, self.kv.bias])
                scale = None
            qkv = F.linear(x, weight, bias).reshape(b, n, 3, self.heads, -1)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        else:
            if self._fused is not None:
                q = F.linear(x, *self._fused[2:])
                scale = _LN_2
            else:
                q = self.q(x)
                scale = None
            q = q.reshape(b, n, self.heads, -1).transpose(1, 2)
            kv = self.kv(context).reshape(b, context.shape[1], 2, self.heads, -1)
            k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
        # the fused kernel reads the strided views directly; its output is laid out
        # (batch, token, head, channel), so the reshape below copies nothing
        y = F.scaled_dot_product_attention(q, k, v, scale=scale)
        y = self.out(y.transpose(1, 2).reshape(b, n, d))
        return y if residual is None else residual + y


def _compiling():
    """Whether `torch.compile` is tracing the caller (always False before PyTorch 2.3)."""
    is_compiling = getattr(torch.compiler, "is_compiling", None)
    return bool(is_compiling is not None and is_compiling())


def _cpu_attention(q, k, v):
    """Softmax attention of queries pre-scaled to base-2 scores, as two batched products.

    Takes ``(B, heads, N, c)`` queries and ``(B, heads, M, c)`` keys and
    values (strided views are fine) and returns ``(B, N, heads, c)``. The
    queries carry the softmax scale times ``log2(e)`` (`Attention.fuse`),
    so ``softmax(q k^T)`` in their units is ``2**s`` over its row sum. For
    the short sequences of 72-pixel cutouts (81 to 144 tokens) PyTorch's
    fused CPU kernel, tiled for long sequences, is slower than this: the
    products go to the matrix library, and the batch is taken in chunks
    whose scores stay in cache.

    The softmax is not taken row by row: its kernel spends more time per
    row of 81 scores than on their arithmetic. The scores are raised to
    ``2**s`` in place in one pass over the chunk and multiplied by the
    values unnormalised, and each output row is divided by its row sum,
    a division over ``c`` numbers instead of ``M``. Softmax does not
    change when a row is shifted, so this is the same function whenever
    ``2**s`` neither overflows nor underflows; a chunk with a row sum
    outside ``[2**-100, 2**100]`` (scores beyond about +-100, which trained
    networks do not produce, or non-finite inputs) is recomputed with
    PyTorch's softmax, which subtracts each row's maximum first. bf16 and
    fp32 share one exponent range, so the bounds hold for both; the row
    sums accumulate in fp32 inside PyTorch's bf16 kernel. Under
    `torch.compile` the softmax is taken directly, so that the graph has no
    branch on the data.
    """
    b, h, n, c = q.shape
    m = k.shape[2]
    y = q.new_empty(b, n, h, c)
    chunk = max(1, _SCORE_CHUNK_BYTES // (h * n * m * q.element_size()))
    for start in range(0, b, chunk):
        part = slice(start, start + chunk)
        queries, keys = q[part].reshape(-1, n, c), k[part].reshape(-1, m, c).transpose(1, 2)
        total = None
        if not _compiling():  # under compile: a graph without a branch on the data
            weights = torch.bmm(queries, keys).exp2_()
            total = weights.sum(-1, keepdim=True)
            low, high = torch.aminmax(total)
            if not (low >= _LOW_SUM and high <= _HIGH_SUM):
                total = None
        if total is None:
            weights = torch.bmm(queries, keys).mul_(_LN_2).softmax(-1)
        out = torch.bmm(weights, v[part].reshape(-1, m, c)).view(-1, h, n, c)
        if total is None:
            y[part] = out.transpose(1, 2)
        else:  # normalised straight into the (galaxy, token, head, channel) layout
            torch.div(out, total.view(-1, h, n, 1), out=y[part].transpose(1, 2))
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
        return pre_norm_block(self, x, context)


def pre_norm_block(block, x, context=None):
    """The unmodulated pre-norm block: self-attention, cross-attention if any, MLP.

    ``block`` has ``norm1``, ``attn``, ``cross`` (or None), ``norm_c``, ``norm2``
    and ``mlp``; in a frozen copy the residuals are added in the epilogues.
    """
    if block.attn._fused is not None:
        x = block.attn(block.norm1(x), residual=x)
        if block.cross is not None:
            x = block.cross(block.norm_c(x), context, residual=x)
        return frozen_mlp(block.mlp, block.norm2(x), residual=x)
    x = x + block.attn(block.norm1(x))
    if block.cross is not None:
        x = x + block.cross(block.norm_c(x), context)
    return x + block.mlp(block.norm2(x))


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
        hidden = self.norm2(x) * (1 + scale2) + shift2
        mlp = frozen_mlp(self.mlp, hidden) if self.attn._fused is not None else self.mlp(hidden)
        return x + gate2 * mlp
