"""Training the diffusion autoencoder: data pipeline, loop, checkpoints."""

from ._quality import max_abs_spearman, reconstruction_quality
from .config import TrainingConfig
from .data import CutoutFile, compact_cutouts, loss_weights, split_indices
from .engine import augment, decorrelation_penalty, learning_rate, train

__all__ = [
    "CutoutFile",
    "TrainingConfig",
    "augment",
    "compact_cutouts",
    "decorrelation_penalty",
    "learning_rate",
    "loss_weights",
    "max_abs_spearman",
    "reconstruction_quality",
    "split_indices",
    "train",
]
