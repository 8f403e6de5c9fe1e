"""Registered models: weights fetched once, verified and cached.

Models too large to ship inside the package are listed in a registry file
that is shipped with it (``minuet/data/registry.json``): each entry gives the
address of a zip archive of a saved model directory, its size in bytes, its
SHA-256 and its licence. `~minuet.Minuet.pretrained` accepts these names as
well as the bundled ones.
"""

from ._registry import conf, download_model, list_models, pack_model, registered_models

__all__ = ["conf", "download_model", "list_models", "pack_model", "registered_models"]
