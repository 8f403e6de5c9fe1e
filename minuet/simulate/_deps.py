"""Lazy imports of the optional simulation dependencies."""

import importlib

__all__ = []


def _import(name):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        msg = (
            f"minuet.simulate needs the optional package {name!r}, which could not be "
            f"imported ({exc}). Install it with: pip install 'minuet[simulate]'"
        )
        raise ImportError(msg) from exc


def import_galsim():
    """Return the ``galsim`` module or raise a helpful ImportError."""
    return _import("galsim")


def import_speclite():
    """Return ``speclite.filters`` or raise a helpful ImportError."""
    _import("speclite")
    return importlib.import_module("speclite.filters")
