"""Encoder, denoiser and diffusion formulation of the autoencoder (pure torch)."""

from .autoencoder import DiffusionAutoencoder, DiffusionAutoencoderConfig
from .denoiser import Denoiser, DenoiserConfig
from .diffusion import DDPM, EDM, DiffusionConfig, build_diffusion
from .encoder import Encoder, EncoderConfig
from .geometry import dihedral, rotate
from .heap import retained_heap
from .io import load_model, save_model, sha256
from .precision import (
    PRECISIONS,
    autocast,
    cached_inference_copy,
    compiled_network,
    cpu_has_native_bf16,
    cpu_matrix_extensions,
    inference_copy,
    resolve_precision,
)

__all__ = [
    "DDPM",
    "EDM",
    "PRECISIONS",
    "Denoiser",
    "DenoiserConfig",
    "DiffusionAutoencoder",
    "DiffusionAutoencoderConfig",
    "DiffusionConfig",
    "Encoder",
    "EncoderConfig",
    "autocast",
    "build_diffusion",
    "cached_inference_copy",
    "compiled_network",
    "cpu_has_native_bf16",
    "cpu_matrix_extensions",
    "dihedral",
    "inference_copy",
    "load_model",
    "resolve_precision",
    "retained_heap",
    "rotate",
    "save_model",
    "sha256",
]
