"""Encoder, denoiser and diffusion formulation of the autoencoder (pure torch)."""

from .autoencoder import DiffusionAutoencoder, DiffusionAutoencoderConfig
from .denoiser import Denoiser, DenoiserConfig
from .diffusion import DDPM, EDM, DiffusionConfig, build_diffusion
from .encoder import Encoder, EncoderConfig
from .geometry import dihedral, rotate
from .io import load_model, save_model, sha256

__all__ = [
    "DDPM",
    "EDM",
    "Denoiser",
    "DenoiserConfig",
    "DiffusionAutoencoder",
    "DiffusionAutoencoderConfig",
    "DiffusionConfig",
    "Encoder",
    "EncoderConfig",
    "build_diffusion",
    "dihedral",
    "load_model",
    "rotate",
    "save_model",
    "sha256",
]
