"""Registered models: weights fetched once, verified and cached.

Models too large to ship inside the package are listed in a registry file
that is shipped with it (``minuet/data/registry.json``): each entry gives the
address of a zip archive of a saved model directory, its size in bytes, its
SHA-256 and its licence. `~minuet.Minuet.pretrained` accepts these names as
well as the bundled ones, and ``minuet models`` lists both kinds.

The astropy configuration ``minuet.registry.conf`` has three items:
``mirror``, the base URL of a mirror of the archives, tried before each
archive's own URL; ``timeout``, the seconds to wait for the server; and
``extra_registry``, the path of a JSON registry file of further models, in
the format of the shipped one.
"""

from ._registry import conf, download_model, list_models, pack_model, registered_models

__all__ = ["conf", "download_model", "list_models", "pack_model", "registered_models"]
