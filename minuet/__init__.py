"""minuet: five numbers per galaxy.

A diffusion autoencoder that compresses 72x72-pixel g, r, z Legacy Surveys
cutouts to a five-dimensional latent and reconstructs calibrated-flux images
from it (Gagliano, Shen & Villar 2025, arXiv:2512.04145).
"""

from ._vocabulary import version as _version

__version__ = _version()

from .core import Minuet
from .explorer import explore

__all__ = ["Minuet", "__version__", "explore"]
