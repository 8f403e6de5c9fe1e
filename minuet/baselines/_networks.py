"""Convolutional networks of the baselines (pure torch)."""

import itertools

import torch
from torch import nn
from torch.nn import functional as F

__all__ = []


def _norm(width):
    groups = next(g for g in (8, 4, 2, 1) if width % g == 0)
    return nn.GroupNorm(groups, width)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with group norm and SiLU, plus the identity."""

    def __init__(self, width):
        super().__init__()
        self.body = nn.Sequential(
            _norm(width), nn.SiLU(), nn.Conv2d(width, width, 3, padding=1),
            _norm(width), nn.SiLU(), nn.Conv2d(width, width, 3, padding=1),
        )

    def forward(self, x):
        return x + self.body(x)


class ConvDecoder(nn.Module):
    """Map a latent ``(B, D)`` to an image ``(B, C, S, S)`` in one pass.

    The latent is projected to a ``widths[0]``-channel grid of side
    ``S / 2**(len(widths) - 1)``, which is refined by a residual block and
    doubled in size once per further width; the latent also shifts the
    channels of every stage.
    """

    def __init__(self, *, latent_dim, image_size, channels, widths):
        super().__init__()
        factor = 2 ** (len(widths) - 1)
        if image_size % factor:
            msg = (f"image_size ({image_size}) must be divisible by 2**(len(widths) - 1) = "
                   f"{factor}; use fewer decoder widths.")
            raise ValueError(msg)
        self.widths, self.start = tuple(widths), image_size // factor
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 64), nn.SiLU(), nn.Linear(64, widths[0] * self.start**2),
        )
        self.shifts = nn.ModuleList(nn.Linear(latent_dim, w) for w in widths)
        self.blocks = nn.ModuleList(ResBlock(w) for w in widths)
        self.ups = nn.ModuleList(
            nn.Conv2d(a, b, 3, padding=1) for a, b in itertools.pairwise(widths)
        )
        self.out = nn.Sequential(_norm(widths[-1]), nn.SiLU(),
                                 nn.Conv2d(widths[-1], channels, 3, padding=1))

    def forward(self, latent):
        h = self.project(latent).reshape(len(latent), self.widths[0], self.start, self.start)
        for i, block in enumerate(self.blocks):
            h = block(h + self.shifts[i](latent)[:, :, None, None])
            if i < len(self.ups):
                h = self.ups[i](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out(h)


class AutoencoderNet(nn.Module):
    """An encoder and a one-pass decoder; ``forward`` returns the reconstruction."""

    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        return self.decoder(self.encoder(x))


class ResNet(nn.Module):
    """Small residual CNN from images ``(B, C, H, W)`` to ``n_outputs`` numbers.

    A 3x3 stem, then per width a stride-2 convolution and a residual block,
    global average pooling and a two-layer head.
    """

    def __init__(self, *, channels, widths, n_outputs):
        super().__init__()
        self.stem = nn.Conv2d(channels, widths[0], 3, padding=1)
        stages = []
        for a, b in zip((widths[0], *widths[:-1]), widths, strict=True):
            stages += [nn.Conv2d(a, b, 3, stride=2, padding=1), ResBlock(b)]
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            _norm(widths[-1]), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(widths[-1], 2 * widths[-1]), nn.SiLU(),
            nn.Linear(2 * widths[-1], n_outputs),
        )

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def gaussian_nll(mean, log_var, target):
    """Mean Gaussian negative log-likelihood (without the constant)."""
    log_var = log_var.clamp(-12.0, 12.0)
    return 0.5 * (log_var + (target - mean) ** 2 * torch.exp(-log_var)).mean()
