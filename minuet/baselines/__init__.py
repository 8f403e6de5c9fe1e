"""Baselines that minuet is judged against: PCA, a deterministic autoencoder, a supervised CNN."""

from ._autoencoder import DeterministicAutoencoder, DeterministicAutoencoderConfig
from ._pca import PCABaseline
from ._supervised import SupervisedCNN, SupervisedCNNConfig

__all__ = [
    "DeterministicAutoencoder",
    "DeterministicAutoencoderConfig",
    "PCABaseline",
    "SupervisedCNN",
    "SupervisedCNNConfig",
]
