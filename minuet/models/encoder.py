"""Transformer encoders from a g, r, z cutout to a few latent numbers."""

from dataclasses import dataclass

import torch
from torch import nn

from .._config import JSONConfig
from ._layers import Block, patchify

__all__ = ["Encoder", "EncoderConfig"]


@dataclass
class EncoderConfig(JSONConfig):
    """Configuration of an :class:`Encoder`.

    Parameters
    ----------
    kind : {'vit', 'perceiver'}
        ``'vit'``: a vision transformer over all patches, mean-pooled and
        projected to the latent. ``'perceiver'``: ``latent_dim`` learned query
        tokens cross-attend to the patches and each query is reduced to one
        scalar (the configuration of Gagliano, Shen & Villar 2025,
        arXiv:2512.04145).
    image_size, channels : int
        Side of the square input and number of bands.
    patch : int
        Side of the square patches; must divide ``image_size``.
    width, depth, heads : int
        Token width, number of transformer layers and attention heads.
    latent_dim : int
        Number of latent numbers per galaxy.

    Examples
    --------
    >>> from minuet.models import EncoderConfig
    >>> config = EncoderConfig(kind="perceiver", image_size=24, width=32, depth=1)
    >>> config.to_dict()["kind"], config.latent_dim
    ('perceiver', 5)
    >>> EncoderConfig.from_json(config.to_json()) == config
    True
    """

    kind: str = "vit"
    image_size: int = 72
    channels: int = 3
    patch: int = 8
    width: int = 128
    depth: int = 4
    heads: int = 4
    latent_dim: int = 5

    def __post_init__(self):
        if self.kind not in ("vit", "perceiver"):
            msg = f"kind must be 'vit' or 'perceiver'; got {self.kind!r}."
            raise ValueError(msg)
        if self.image_size % self.patch:
            msg = (
                f"patch ({self.patch}) must divide image_size ({self.image_size}); "
                "choose e.g. 3, 6, 8 or 9 for 72-pixel cutouts."
            )
            raise ValueError(msg)


class Encoder(nn.Module):
    """Transformer encoder from ``(B, C, H, W)`` images to ``(B, latent_dim)``.

    Parameters
    ----------
    config : `EncoderConfig`
        Architecture.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import Encoder, EncoderConfig
    >>> config = EncoderConfig(image_size=24, patch=8, width=32, depth=1, heads=2)
    >>> Encoder(config)(torch.zeros(2, 3, 24, 24)).shape
    torch.Size([2, 5])
    """

    def __init__(self, config):
        super().__init__()
        self.config = c = config
        n_tokens = (c.image_size // c.patch) ** 2
        self.embed = nn.Linear(c.channels * c.patch**2, c.width)
        self.position = nn.Parameter(torch.randn(1, n_tokens, c.width) * 0.02)
        if c.kind == "vit":
            self.blocks = nn.ModuleList(Block(c.width, c.heads) for _ in range(c.depth))
            self.norm = nn.LayerNorm(c.width)
            self.head = nn.Linear(c.width, c.latent_dim)
        else:
            self.queries = nn.Parameter(torch.randn(1, c.latent_dim, c.width) * 0.02)
            self.blocks = nn.ModuleList(Block(c.width, c.heads, cross=True) for _ in range(c.depth))
            self.norm = nn.LayerNorm(c.width)
            self.head = nn.Linear(c.width, 1)

    def forward(self, x):
        """Return the latent of each image in the batch ``x``.

        Parameters
        ----------
        x : `torch.Tensor`
            Stretched images, ``(B, C, H, W)``.

        Returns
        -------
        latent : `torch.Tensor`
            Shape ``(B, latent_dim)``.

        Examples
        --------
        See the class example.
        """
        c = self.config
        tokens = self.embed(patchify(x, c.patch))
        # the residual stream keeps the dtype of the matrix products (bf16 under autocast)
        tokens = tokens + self.position.to(tokens.dtype)
        if c.kind == "vit":
            for block in self.blocks:
                tokens = block(tokens)
            return self.head(self.norm(tokens).mean(dim=1))
        queries = self.queries.to(tokens.dtype).expand(x.shape[0], -1, -1)
        for block in self.blocks:
            queries = block(queries, tokens)
        return self.head(self.norm(queries))[..., 0]
