"""A latent-space explorer in the web browser (``minuet explore``)."""

from ._app import build_layout
from ._data import EXPORT_FORMATS, ExplorerData, reference_catalogue, umap_available
from ._serve import (
    LOOPBACK_HOSTS,
    ExplorerServer,
    RemoteAccessWarning,
    explore,
    make_application,
)

__all__ = [
    "EXPORT_FORMATS",
    "LOOPBACK_HOSTS",
    "ExplorerData",
    "ExplorerServer",
    "RemoteAccessWarning",
    "build_layout",
    "explore",
    "make_application",
    "reference_catalogue",
    "umap_available",
]
