"""A deterministic autoencoder with minuet's encoder and a one-pass decoder."""

from dataclasses import dataclass, field

import numpy as np
import torch
from astropy.utils.decorators import deprecated_renamed_argument

from .._config import RENAMED_SINCE, JSONConfig
from .._fitting import seeded
from ..cutouts import nanomaggy
from ..models import DiffusionAutoencoderConfig, Encoder, EncoderConfig
from ..training import augment
from ._data import check_flux, default_stretch, make_source, split
from ._networks import AutoencoderNet, ConvDecoder
from ._training import forward_in_batches, load_network, save_network, train

__all__ = ["DeterministicAutoencoder", "DeterministicAutoencoderConfig"]

_FORMAT = "minuet-deterministic-autoencoder-1"


def _default_encoder():
    return DiffusionAutoencoderConfig.preset("default").encoder


@dataclass
class DeterministicAutoencoderConfig(JSONConfig):
    """Configuration of a `DeterministicAutoencoder`; round-trips through JSON.

    Parameters
    ----------
    encoder : `~minuet.models.EncoderConfig`
        The encoder, by default that of minuet's ``'default'`` preset.
    decoder_widths : tuple of int
        Channels of the decoder stages, from the coarsest grid (side
        ``image_size / 2**(len - 1)``) to full resolution. The default
        decoder has 1.4 million parameters, about as many as the denoiser
        of minuet's ``'default'`` preset (1.3 million).

    Examples
    --------
    >>> from minuet.baselines import DeterministicAutoencoderConfig
    >>> config = DeterministicAutoencoderConfig(decoder_widths=(64, 32))
    >>> DeterministicAutoencoderConfig.from_json(config.to_json()) == config
    True
    """

    encoder: EncoderConfig = field(default_factory=_default_encoder)
    decoder_widths: tuple = (128, 96, 64, 32)


class DeterministicAutoencoder:
    """Minuet's encoder with a decoder that maps the latent to one image.

    The encoder (`~minuet.models.Encoder`) is minuet's; the decoder is a
    small convolutional network trained jointly with it to minimise the
    mean squared error of the stretched image, with footprint pixels
    weighted 0.9 and background pixels 0.1 when the data carry the central
    galaxy's footprint (as minuet's diffusion loss does). A mean-squared
    error decoder returns the average of all images compatible with a
    latent, so its reconstructions are blurred where minuet's diffusion
    decoder draws sharp, plausible ones: the pair shows the trade-off.

    Parameters
    ----------
    config : `DeterministicAutoencoderConfig`, optional
        Architecture; the default uses minuet's default encoder.
    stretch : `~minuet.cutouts.AsinhStretch`, optional
        Flux to network-input mapping.
    seed : int
        Seed of the weight initialisation.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.models import EncoderConfig
    >>> from minuet.baselines import (DeterministicAutoencoder,
    ...                                          DeterministicAutoencoderConfig)
    >>> config = DeterministicAutoencoderConfig(
    ...     EncoderConfig(image_size=16, patch=8, width=16, depth=1, heads=2),
    ...     decoder_widths=(16, 8))
    >>> flux = np.random.default_rng(0).normal(0, 0.01, (16, 3, 16, 16))
    >>> ae = DeterministicAutoencoder(config).fit(flux, steps=3, batch_size=8)
    >>> ae.encode(flux).shape, ae.reconstruct(ae.encode(flux)).shape
    ((16, 5), (16, 3, 16, 16))
    """

    #: The configuration class, rebuilt from a saved record.
    config_class = DeterministicAutoencoderConfig

    def __init__(self, config=None, *, stretch=None, seed=0):
        self.config = DeterministicAutoencoderConfig() if config is None else config
        self.stretch = default_stretch(stretch)
        self.seed = int(seed)
        e = self.config.encoder
        with seeded(self.seed):
            decoder = ConvDecoder(latent_dim=e.latent_dim, image_size=e.image_size,
                                  channels=e.channels, widths=self.config.decoder_widths)
            self.network = AutoencoderNet(Encoder(e), decoder).eval()
        self.history = None

    @property
    def image_size(self):
        """Side of the square cutouts the networks take.

        Examples
        --------
        >>> from minuet.baselines import DeterministicAutoencoder
        >>> DeterministicAutoencoder().image_size
        72
        """
        return self.config.encoder.image_size

    @deprecated_renamed_argument(["lr", "minutes"], ["learning_rate", "max_minutes"],
                                 [RENAMED_SINCE, RENAMED_SINCE])
    def fit(self, flux, *, invvar=None, footprint=None, footprint_weight=0.9, steps=2000,
            batch_size=64, learning_rate=3e-4, max_minutes=None, validation_fraction=0.1,
            patience=10,
            validate_every=100, augmentation=True, precision="auto", progress=False):
        """Train encoder and decoder on stretched cutouts.

        Parameters
        ----------
        flux : array-like, `~astropy.units.Quantity`, str or list of str
            g, r, z flux ``(N, 3, S, S)`` in nanomaggies, or HDF5 files of the
            simulator (their ``images``, ``invvar`` and ``footprint`` are used).
        invvar : array-like, optional
            Inverse variance of ``flux``; pixels with zero weigh nothing.
        footprint : array-like, optional
            Boolean ``(N, S, S)`` footprints of the central galaxies.
        footprint_weight : float
            Loss weight of footprint pixels; the background weighs the rest.
        steps, batch_size, learning_rate : int, int, float
            Optimiser steps, batch size and AdamW learning rate (``lr`` is
            the deprecated name of ``learning_rate``).
        max_minutes : float, optional
            Wall-clock budget of the training (``minutes`` is its deprecated
            name).
        validation_fraction : float
            Held-out fraction for the validation loss and early stopping.
        patience, validate_every : int
            Early stopping after ``patience`` validations (every
            ``validate_every`` steps) without improvement.
        augmentation : bool
            Random flips, quarter turns and rotations of the training images.
        precision : {'auto', 'bf16', 'fp32'}
            ``'bf16'`` trains under bf16 autocast; ``'auto'`` does so where
            the CPU computes bf16 natively and trains in fp32 elsewhere.
        progress : bool
            Show a progress bar.

        Returns
        -------
        self : `DeterministicAutoencoder`
            With the training record in ``history``.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.models import EncoderConfig
        >>> from minuet.baselines import (DeterministicAutoencoder,
        ...                                          DeterministicAutoencoderConfig)
        >>> config = DeterministicAutoencoderConfig(
        ...     EncoderConfig(image_size=16, patch=8, width=16, depth=1, heads=2),
        ...     decoder_widths=(16, 8))
        >>> ae = DeterministicAutoencoder(config)  # untrained
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (4, 3, 16, 16))
        >>> ae = ae.fit(flux, steps=2, batch_size=2, validation_fraction=0.25)
        >>> ae.history is not None
        True
        """
        source = make_source(flux, size=self.image_size, stretch=self.stretch, invvar=invvar,
                             footprint=footprint, footprint_weight=footprint_weight)
        train_idx, val_idx = split(len(source), validation_fraction=validation_fraction,
                                   seed=self.seed)
        net = self.network

        def batch_loss(indices, generator, training):
            x, w = (torch.from_numpy(a) for a in source.read(np.sort(indices)))
            if training and augmentation:
                x, w = augment(x, w, generator=generator)
            error = (net(x).float() - x) ** 2 * w
            return error.sum() / w.sum().clamp_min(1.0)

        self.history = train(net, batch_loss, train_idx, val_idx, steps=steps,
                             batch_size=batch_size, learning_rate=learning_rate, seed=self.seed,
                             max_minutes=max_minutes,
                             patience=patience, validate_every=validate_every,
                             precision=precision, progress=progress,
                             desc="deterministic autoencoder")
        return self

    def _x(self, flux):
        flux = check_flux(flux, size=self.image_size)
        return torch.from_numpy(self.stretch.forward(flux).astype(np.float32))

    @torch.no_grad()
    def encode(self, flux, *, batch_size=256, precision="fp32"):
        """Return the ``(N, latent_dim)`` latents of ``flux`` (nanomaggies).

        Parameters
        ----------
        flux : array-like or `~astropy.units.Quantity`
            g, r, z flux ``(N, 3, S, S)`` in nanomaggies.
        batch_size : int
            Cutouts per forward pass.
        precision : {'fp32', 'bf16', 'auto'}
            Arithmetic of the forward pass.

        Returns
        -------
        latents : `~numpy.ndarray`
            Shape ``(N, latent_dim)``, float64.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.models import EncoderConfig
        >>> from minuet.baselines import (DeterministicAutoencoder,
        ...                                          DeterministicAutoencoderConfig)
        >>> config = DeterministicAutoencoderConfig(
        ...     EncoderConfig(image_size=16, patch=8, width=16, depth=1, heads=2),
        ...     decoder_widths=(16, 8))
        >>> ae = DeterministicAutoencoder(config)  # untrained
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (4, 3, 16, 16))
        >>> ae.encode(flux).shape
        (4, 5)
        """
        out = forward_in_batches(self.network.encoder, self._x(flux), batch_size=batch_size,
                                 precision=precision)
        return out.numpy().astype(np.float64)

    @torch.no_grad()
    def reconstruct(self, latents, *, batch_size=256, precision="fp32"):
        """Return the decoded cutouts ``(N, 3, S, S)`` of ``latents``, in nanomaggies.

        Parameters
        ----------
        latents : array-like
            Shape ``(N, latent_dim)``, as returned by `encode`.
        batch_size : int
            Latents per forward pass.
        precision : {'fp32', 'bf16', 'auto'}
            Arithmetic of the forward pass.

        Returns
        -------
        flux : `~astropy.units.Quantity`
            Shape ``(N, 3, S, S)``, in nanomaggies.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.models import EncoderConfig
        >>> from minuet.baselines import (DeterministicAutoencoder,
        ...                                          DeterministicAutoencoderConfig)
        >>> config = DeterministicAutoencoderConfig(
        ...     EncoderConfig(image_size=16, patch=8, width=16, depth=1, heads=2),
        ...     decoder_widths=(16, 8))
        >>> ae = DeterministicAutoencoder(config)  # untrained
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (4, 3, 16, 16))
        >>> images = ae.reconstruct(np.zeros((2, 5)))
        >>> images.shape, images.unit
        ((2, 3, 16, 16), Unit("nanomaggy"))
        """
        dim = self.config.encoder.latent_dim
        latents = np.asarray(latents, dtype=np.float32)
        if latents.ndim != 2 or latents.shape[1] != dim or not np.isfinite(latents).all():
            msg = (f"latents must be finite and shaped (N, {dim}); received shape "
                   f"{latents.shape}. Pass the output of encode().")
            raise ValueError(msg)
        out = forward_in_batches(self.network.decoder, torch.from_numpy(latents),
                                 batch_size=batch_size, precision=precision)
        return self.stretch.inverse(out.numpy()) * nanomaggy

    def save(self, path, *, metadata=None):
        """Write ``<path>.safetensors`` and ``<path>.json``; return the weights' SHA-256.

        Parameters
        ----------
        path : str or path-like
            Destination; a ``.safetensors`` or ``.json`` suffix is replaced.
        metadata : dict, optional
            JSON-serialisable information to record.

        Returns
        -------
        digest : str
            SHA-256 of the weights file.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from minuet.models import EncoderConfig
        >>> from minuet.baselines import (DeterministicAutoencoder,
        ...                                          DeterministicAutoencoderConfig)
        >>> config = DeterministicAutoencoderConfig(
        ...     EncoderConfig(image_size=16, patch=8, width=16, depth=1, heads=2),
        ...     decoder_widths=(16, 8))
        >>> ae = DeterministicAutoencoder(config)  # untrained
        >>> flux = np.random.default_rng(0).normal(0, 0.01, (4, 3, 16, 16))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     digest = ae.save(f"{tmp}/ae", metadata={"note": "untrained"})
        ...     again = DeterministicAutoencoder.load(f"{tmp}/ae")
        >>> bool(np.allclose(again.encode(flux), ae.encode(flux))), again.record["metadata"]
        (True, {'note': 'untrained'})
        """
        return save_network(self, path, _FORMAT, metadata=metadata)

    @classmethod
    def load(cls, path):
        """Read an autoencoder written by :meth:`save`, checking its SHA-256.

        Parameters
        ----------
        path : str or path-like
            The ``.safetensors`` file, its ``.json`` sidecar or their common stem.

        Returns
        -------
        autoencoder : `DeterministicAutoencoder`
            With the sidecar's contents in ``record``.

        Examples
        --------
        See :meth:`save`.
        """
        return load_network(cls, path, _FORMAT)[0]
