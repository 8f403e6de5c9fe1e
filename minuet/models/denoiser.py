"""Transformer denoiser conditioned on the noise level and the latent."""

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .._config import JSONConfig
from ._layers import AdaLNBlock, fourier_features, patchify, pre_norm_block, unpatchify

__all__ = ["Denoiser", "DenoiserConfig"]


@dataclass
class DenoiserConfig(JSONConfig):
    """Configuration of a :class:`Denoiser`.

    Parameters
    ----------
    image_size, channels : int
        Side of the square image and number of bands.
    patch : int
        Side of the square patches; must divide ``image_size``.
    width, depth, heads : int
        Token width, number of blocks and attention heads.
    latent_dim : int
        Size of the conditioning latent.
    adaln : bool
        Modulate every block by the sum of the noise-level and latent
        embeddings (adaLN-Zero, Peebles & Xie 2023, arXiv:2212.09748).
    cross_attention : bool
        Let the image tokens attend to ``latent_dim`` latent tokens plus one
        noise-level token in every block.
    conv_head : bool
        Refine the unpatchified output with a small convolutional head.
    overlap : bool
        Let every token read, and write, a window of side ``2 * patch``
        centred on its patch instead of the patch alone. The written windows
        are blended with tent weights that sum to one at every pixel, so the
        output cannot jump at patch edges; without it an undertrained network
        shows a checkerboard of ``patch``-sized blocks.

    Examples
    --------
    >>> from minuet.models import DenoiserConfig
    >>> config = DenoiserConfig(image_size=24, patch=6, width=32, depth=1, overlap=True)
    >>> DenoiserConfig.from_json(config.to_json()) == config
    True
    >>> DenoiserConfig(image_size=24, patch=5)
    Traceback (most recent call last):
        ...
    ValueError: patch (5) must divide image_size (24); ...
    """

    image_size: int = 72
    channels: int = 3
    patch: int = 6
    width: int = 128
    depth: int = 4
    heads: int = 4
    latent_dim: int = 5
    adaln: bool = True
    cross_attention: bool = False
    conv_head: bool = False
    overlap: bool = False

    def __post_init__(self):
        if self.image_size % self.patch:
            msg = (
                f"patch ({self.patch}) must divide image_size ({self.image_size}); "
                "choose e.g. 3, 4, 6 or 8 for 72-pixel cutouts."
            )
            raise ValueError(msg)
        if self.overlap and self.patch % 2:
            msg = f"overlapping windows need an even patch; got patch={self.patch}."
            raise ValueError(msg)
        if not (self.adaln or self.cross_attention):
            msg = "the denoiser needs a conditioning path: set adaln or cross_attention to True."
            raise ValueError(msg)


class Denoiser(nn.Module):
    """Transformer that maps a noisy image, a noise level and a latent to an image.

    ``forward(x, noise, latent)`` takes images ``(B, C, H, W)``, a noise
    conditioning scalar per image ``(B,)`` and latents ``(B, latent_dim)``,
    and returns a tensor shaped like ``x``; what that output means (clean
    image, noise) is decided by the diffusion formulation that wraps it.

    Parameters
    ----------
    config : `DenoiserConfig`
        Architecture.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import Denoiser, DenoiserConfig
    >>> net = Denoiser(DenoiserConfig(image_size=24, width=32, depth=1, heads=2))
    >>> net(torch.zeros(2, 3, 24, 24), torch.zeros(2), torch.zeros(2, 5)).shape
    torch.Size([2, 3, 24, 24])
    """

    def __init__(self, config):
        super().__init__()
        self.config = c = config
        n_tokens = (c.image_size // c.patch) ** 2
        self.windows = _Windows(c.patch, c.image_size) if c.overlap else None
        window = 2 * c.patch if c.overlap else c.patch
        self.embed = nn.Linear(c.channels * window**2, c.width)
        self.position = nn.Parameter(torch.randn(1, n_tokens, c.width) * 0.02)
        self.noise_embed = nn.Sequential(
            nn.Linear(c.width, c.width), nn.SiLU(), nn.Linear(c.width, c.width)
        )
        self.latent_embed = nn.Sequential(
            nn.Linear(c.latent_dim, c.width), nn.SiLU(), nn.Linear(c.width, c.width)
        )
        if c.cross_attention:
            # one token per latent number, each a learned direction scaled by the value
            self.latent_tokens = nn.Parameter(torch.randn(c.latent_dim, c.width) * 0.02)
            self.latent_bias = nn.Parameter(torch.zeros(c.latent_dim, c.width))
        if c.adaln:
            self.blocks = nn.ModuleList(
                AdaLNBlock(c.width, c.heads, cross=c.cross_attention) for _ in range(c.depth)
            )
        else:
            # plain blocks: conditioning only through cross-attention
            self.blocks = nn.ModuleList(_UnmodulatedBlock(c.width, c.heads) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.width, elementwise_affine=False)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(c.width, 2 * c.width))
        self.out = nn.Linear(c.width, c.channels * window**2)
        for layer in (self.final_modulation[1], self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.head = (
            nn.Sequential(
                nn.Conv2d(c.channels, 32, 3, padding=1),
                nn.SiLU(),
                nn.Conv2d(32, c.channels, 3, padding=1),
            )
            if c.conv_head
            else None
        )
        if self.head is not None:
            # the head starts as the identity, so it can be added to a trained network
            nn.init.zeros_(self.head[2].weight)
            nn.init.zeros_(self.head[2].bias)

    def forward(self, x, noise, latent):
        """Return the network output for noisy images ``x``.

        Parameters
        ----------
        x : `torch.Tensor`
            Noisy images, ``(B, C, H, W)``.
        noise : `torch.Tensor`
            Noise-level embedding input of each image, ``(B,)``.
        latent : `torch.Tensor`
            Latents, ``(B, latent_dim)``.

        Returns
        -------
        out : `torch.Tensor`
            Same shape as ``x``.

        Examples
        --------
        See the class example.
        """
        c = self.config
        # inputs take the weights' dtype: a no-op in fp32 and under autocast, and what
        # lets a bf16 copy (`minuet.models.inference_copy`) take the sampler's fp32 arrays
        dtype = self.embed.weight.dtype
        x, latent = x.to(dtype), latent.to(dtype)
        noise_emb = self.noise_embed(fourier_features(noise, c.width).to(dtype))
        cond = noise_emb + self.latent_embed(latent)
        context = None
        if c.cross_attention:
            latent_tokens = latent[..., None] * self.latent_tokens + self.latent_bias
            context = torch.cat([latent_tokens, noise_emb[:, None]], dim=1)
        if self.windows is None:
            tokens = self.embed(patchify(x, c.patch))
        else:
            tokens = self.embed(self.windows.cut(x))
        # the residual stream keeps the dtype of the matrix products (bf16 under autocast)
        tokens = tokens + self.position.to(tokens.dtype)
        for block in self.blocks:
            tokens = block(tokens, cond, context)
        shift, scale = self.final_modulation(cond)[:, None].chunk(2, -1)
        tokens = self.out(self.norm(tokens) * (1 + scale) + shift)
        if self.windows is None:
            y = unpatchify(tokens, c.patch, c.channels, c.image_size)
        else:
            y = self.windows.blend(tokens)
        if self.head is not None:
            y = y + self.head(y)
        return y


class _Windows(nn.Module):
    """Overlapping ``2p x 2p`` windows at stride ``p``, one per patch.

    Window ``k`` along an axis covers pixels ``p k - p/2`` to ``p k + 3p/2``,
    so its central ``p x p`` square is patch ``k``. Writing back multiplies
    each window by a separable tent and divides by the summed tents, which
    is exactly one away from the image edges.
    """

    def __init__(self, patch, size):
        super().__init__()
        self.patch, self.size = patch, size
        u = torch.arange(2 * patch, dtype=torch.float32) + 0.5
        tent = 1 - (u - patch).abs() / patch
        self.register_buffer("tent", torch.outer(tent, tent), persistent=False)
        ones = torch.ones(1, 1, size, size)
        self.register_buffer("norm", self._fold(self._unfold(ones) * self._flat_tent(1)),
                             persistent=False)

    def _unfold(self, x):
        return F.unfold(x, 2 * self.patch, stride=self.patch, padding=self.patch // 2)

    def _fold(self, cols):
        return F.fold(cols, (self.size, self.size), 2 * self.patch, stride=self.patch,
                      padding=self.patch // 2)

    def _flat_tent(self, channels):
        return self.tent.flatten().repeat(channels)[None, :, None]

    def cut(self, x):
        """``(B, C, H, W)`` images to ``(B, N, C * (2p)**2)`` window tokens."""
        return self._unfold(x).transpose(1, 2)

    def blend(self, tokens):
        """``(B, N, C * (2p)**2)`` window tokens to tent-blended images."""
        channels = tokens.shape[-1] // (2 * self.patch) ** 2
        cols = tokens.transpose(1, 2) * self._flat_tent(channels).to(tokens.dtype)
        return self._fold(cols) / self.norm.to(tokens.dtype)


class _UnmodulatedBlock(AdaLNBlock):
    """Cross-attention block that ignores the adaLN conditioning vector."""

    def __init__(self, width, heads):
        super().__init__(width, heads, cross=True)
        del self.modulation

    def forward(self, x, cond, context=None):
        return pre_norm_block(self, x, context)
