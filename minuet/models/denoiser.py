"""Transformer denoiser conditioned on the noise level and the latent."""

from dataclasses import dataclass

import torch
from torch import nn

from ._config import JSONConfig
from ._layers import AdaLNBlock, fourier_features, patchify, unpatchify

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
        Refine the unpatchified output with a small convolutional head, which
        removes patch-edge artefacts.
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

    def __post_init__(self):
        if self.image_size % self.patch:
            msg = (
                f"patch ({self.patch}) must divide image_size ({self.image_size}); "
                "choose e.g. 3, 4, 6 or 8 for 72-pixel cutouts."
            )
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
        self.embed = nn.Linear(c.channels * c.patch**2, c.width)
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
        self.out = nn.Linear(c.width, c.channels * c.patch**2)
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
        """Return the network output for noisy images ``x``."""
        c = self.config
        noise_emb = self.noise_embed(fourier_features(noise, c.width))
        cond = noise_emb + self.latent_embed(latent)
        context = None
        if c.cross_attention:
            latent_tokens = latent[..., None] * self.latent_tokens + self.latent_bias
            context = torch.cat([latent_tokens, noise_emb[:, None]], dim=1)
        tokens = self.embed(patchify(x, c.patch)) + self.position
        for block in self.blocks:
            tokens = block(tokens, cond, context)
        shift, scale = self.final_modulation(cond)[:, None].chunk(2, -1)
        tokens = self.out(self.norm(tokens) * (1 + scale) + shift)
        y = unpatchify(tokens, c.patch, c.channels, c.image_size)
        if self.head is not None:
            y = y + self.head(y)
        return y


class _UnmodulatedBlock(AdaLNBlock):
    """Cross-attention block that ignores the adaLN conditioning vector."""

    def __init__(self, width, heads):
        super().__init__(width, heads, cross=True)
        del self.modulation

    def forward(self, x, cond, context=None):
        x = x + self.attn(self.norm1(x))
        x = x + self.cross(self.norm_c(x), context)
        return x + self.mlp(self.norm2(x))
