"""The diffusion autoencoder: encoder, conditional denoiser and diffusion formulation."""

from dataclasses import dataclass, field

import torch
from torch import nn

from .._config import JSONConfig
from .denoiser import Denoiser, DenoiserConfig
from .diffusion import DiffusionConfig, build_diffusion
from .encoder import Encoder, EncoderConfig
from .geometry import dihedral

__all__ = ["DiffusionAutoencoder", "DiffusionAutoencoderConfig"]


@dataclass
class DiffusionAutoencoderConfig(JSONConfig):
    """Configuration of a :class:`DiffusionAutoencoder`.

    Parameters
    ----------
    encoder : `EncoderConfig`
        Encoder architecture.
    denoiser : `DenoiserConfig`
        Denoiser architecture.
    diffusion : `DiffusionConfig`
        Diffusion formulation and default sampler.

    Examples
    --------
    >>> from minuet.models import DiffusionAutoencoderConfig
    >>> config = DiffusionAutoencoderConfig.preset("reference")
    >>> config.encoder.kind, config.diffusion.steps
    ('perceiver', 200)
    >>> DiffusionAutoencoderConfig.from_json(config.to_json()) == config
    True
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)

    def __post_init__(self):
        e, d = self.encoder, self.denoiser
        if (e.image_size, e.channels, e.latent_dim) != (d.image_size, d.channels, d.latent_dim):
            msg = (
                "encoder and denoiser disagree on (image_size, channels, latent_dim): "
                f"{(e.image_size, e.channels, e.latent_dim)} vs "
                f"{(d.image_size, d.channels, d.latent_dim)}; make them equal."
            )
            raise ValueError(msg)

    @classmethod
    def preset(cls, name, *, latent_dim=5, image_size=72):
        """Return a named configuration.

        Parameters
        ----------
        name : {'default', 'reference', 'tiny'}
            ``'default'``: ViT encoder (8x8 patches, width 128, depth 4),
            adaLN DiT denoiser (6x6 patches, width 128, depth 4) whose tokens
            read and write overlapping 12x12 windows, with a convolutional
            head, EDM with training noise levels centred on
            ``ln sigma = -0.6`` (the stretched sky noise is about 0.2, so
            more training goes to the levels that decide the galaxy's
            structure) and DPM-Solver++(2M). ``'reference'``: the configuration of Gagliano,
            Shen & Villar (2025, arXiv:2512.04145): Perceiver encoder with 3x3
            patches, width 256, 4 layers and 4 heads; cross-attention
            denoiser with 3x3 patches, width 256, 4 blocks and a
            convolutional head; DDPM with 1000 steps and 200-step DDIM.
            ``'tiny'``: a few thousand parameters, for tests.
        latent_dim : int
            Size of the latent.
        image_size : int
            Side of the square cutouts.

        Returns
        -------
        config : `DiffusionAutoencoderConfig`

        Examples
        --------
        >>> from minuet.models import DiffusionAutoencoderConfig
        >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
        >>> config.encoder.width, config.denoiser.image_size, config.diffusion.steps
        (16, 24, 3)
        """
        common = {"latent_dim": latent_dim, "image_size": image_size}
        if name == "default":
            return cls(
                EncoderConfig(**common),
                DenoiserConfig(conv_head=True, overlap=True, **common),
                DiffusionConfig(p_mean=-0.6),
            )
        if name == "reference":
            return cls(
                EncoderConfig(kind="perceiver", patch=3, width=256, depth=4, heads=4, **common),
                DenoiserConfig(
                    patch=3,
                    width=256,
                    depth=4,
                    heads=4,
                    adaln=False,
                    cross_attention=True,
                    conv_head=True,
                    **common,
                ),
                DiffusionConfig(kind="ddpm", sampler="ddim", steps=200),
            )
        if name == "tiny":
            return cls(
                EncoderConfig(patch=8, width=16, depth=1, heads=2, **common),
                DenoiserConfig(patch=8, width=16, depth=1, heads=2, **common),
                DiffusionConfig(steps=3),
            )
        msg = f"unknown preset {name!r}; choose 'default', 'reference' or 'tiny'."
        raise ValueError(msg)


class DiffusionAutoencoder(nn.Module):
    """Encoder to a few numbers and a diffusion decoder conditioned on them.

    Images are the stretched network input (``AsinhStretch`` output),
    shaped ``(B, C, H, W)``.

    Parameters
    ----------
    config : `DiffusionAutoencoderConfig`
        Architecture and diffusion formulation.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    >>> model = DiffusionAutoencoder(config)
    >>> x = torch.zeros(2, 3, 24, 24)
    >>> model.encode(x).shape
    torch.Size([2, 5])
    >>> gen = torch.Generator().manual_seed(0)
    >>> model.reconstruct(x, steps=2, generator=gen).shape
    torch.Size([2, 3, 24, 24])
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder)
        self.denoiser = Denoiser(config.denoiser)
        self.diffusion = build_diffusion(config.diffusion)

    @property
    def image_shape(self):
        """Shape ``(C, H, W)`` of one image.

        Examples
        --------
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
        >>> model.image_shape
        (3, 24, 24)
        """
        c = self.config.denoiser
        return (c.channels, c.image_size, c.image_size)

    def _check(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            msg = (
                f"expected images shaped (batch, {', '.join(map(str, self.image_shape))}); "
                f"got {tuple(x.shape)}. Crop or resample the cutouts first."
            )
            raise ValueError(msg)

    def encode(self, x, *, average_dihedral=False, encoder=None):
        """Return the latent ``(B, latent_dim)`` of images ``x``.

        With ``average_dihedral=True`` the latent is the mean over the 8
        flips and quarter turns of each image, which removes most of its
        remaining dependence on orientation at 8 times the cost.

        Parameters
        ----------
        x : `torch.Tensor`
            Stretched images, shape ``(B, C, H, W)``.
        average_dihedral : bool, optional
            Average over the 8 flips and quarter turns.
        encoder : `~torch.nn.Module`, optional
            A copy of this model's encoder to run instead, such as its
            `~minuet.models.inference_copy`; ``x`` is cast to the copy's
            dtype.

        Returns
        -------
        latent : `torch.Tensor`
            Shape ``(B, latent_dim)``, float32.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
        >>> model.encode(torch.zeros(2, 3, 24, 24), average_dihedral=True).shape
        torch.Size([2, 5])
        """
        self._check(x)
        if encoder is None:
            encoder = self.encoder
        else:
            x = x.to(encoder.embed.weight.dtype)
        if not average_dihedral:
            return encoder(x).to(torch.float32)
        return torch.stack([encoder(dihedral(x, k)).float() for k in range(8)]).mean(0)

    def loss(self, x, *, weight=None, generator=None, latent=None):
        """Per-image diffusion loss ``(B,)`` for images ``x``.

        Parameters
        ----------
        x : `torch.Tensor`
            Clean stretched images.
        weight : `torch.Tensor`, optional
            Non-negative per-pixel loss weights shaped like ``x`` (zero for
            masked pixels).
        generator : `torch.Generator`, optional
            Seeded generator for the noise.
        latent : `torch.Tensor`, optional
            Latents to condition on; computed from ``x`` when omitted.

        Returns
        -------
        loss : `torch.Tensor`
            Shape ``(B,)``.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
        >>> gen = torch.Generator().manual_seed(0)
        >>> model.loss(torch.zeros(2, 3, 24, 24), generator=gen).shape
        torch.Size([2])
        """
        self._check(x)
        latent = self.encoder(x) if latent is None else latent
        return self.diffusion.loss(self.denoiser, x, latent, weight=weight, generator=generator)

    @torch.no_grad()
    def decode(self, latent, *, steps=None, sampler=None, generator=None, denoiser=None):
        """Draw one image per latent; a fresh draw per call unless seeded.

        Parameters
        ----------
        latent : `torch.Tensor`
            Shape ``(B, latent_dim)``.
        steps : int, optional
            Sampler steps; default the configuration's.
        sampler : str, optional
            Sampler; default the configuration's (see `EDM.sample`).
        generator : `torch.Generator`, optional
            Seeded generator for reproducible draws.
        denoiser : `~torch.nn.Module`, optional
            A copy of this model's denoiser to run instead, such as its
            `~minuet.models.inference_copy`; it takes the sampler's fp32
            arrays and casts them to its own dtype.

        Returns
        -------
        x : `torch.Tensor`
            Stretched images, shape ``(B, C, H, W)``.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
        >>> model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
        >>> draw = lambda: model.decode(torch.zeros(1, 5), steps=2,
        ...                             generator=torch.Generator().manual_seed(3))
        >>> bool(torch.equal(draw(), draw()))
        True
        """
        return self.diffusion.sample(
            self.denoiser if denoiser is None else denoiser,
            latent.to(torch.float32),
            self.image_shape,
            steps=steps,
            sampler=sampler,
            generator=generator,
        )

    @torch.no_grad()
    def reconstruct(self, x, *, steps=None, sampler=None, generator=None):
        """Encode ``x`` and draw a reconstruction from its latent.

        Parameters
        ----------
        x : `torch.Tensor`
            Stretched images, shape ``(B, C, H, W)``.
        steps, sampler, generator
            As for `decode`.

        Returns
        -------
        x : `torch.Tensor`
            Reconstructed stretched images, same shape.

        Examples
        --------
        See the class example.
        """
        return self.decode(self.encode(x), steps=steps, sampler=sampler, generator=generator)
