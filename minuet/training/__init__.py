"""Training the diffusion autoencoder: data pipeline, loop, checkpoints."""

from .config import TrainingConfig
from .data import CutoutFile, loss_weights, split_indices
from .engine import augment, train

__all__ = ["CutoutFile", "TrainingConfig", "augment", "loss_weights", "split_indices", "train"]
