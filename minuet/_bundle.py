"""A model directory on disk: the autoencoder, the heads and a manifest of SHA-256s.

A directory holds ``minuet.json`` (the manifest: format, name, flux stretch,
the heads and the SHA-256 of every file), the autoencoder and one set of
files per head, each written by the head's own ``save``. It is written under
a temporary name and renamed into place, so that a path holds either the old
or the new model; on reading, every file is checked against its SHA-256
before anything is parsed.

Two layouts are read: ``minuet-model-2``, written now, whose heads each own
all of their files, and ``minuet-model-1``, written by minuet 0.1, where the
reference catalogue of the neighbours head was a separate entry and two
heads were ``.npz`` files.
"""

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from . import _heads
from ._vocabulary import MANIFEST, version
from ._weights import check_replaceable, contained_file, read_json, replace_directory, sha256

__all__ = []

FORMAT = "minuet-model-2"
LEGACY_FORMAT = "minuet-model-1"
AUTOENCODER = "autoencoder"

_REQUIRED_KEYS = {"name": str, "stretch": dict, "files": dict}


def bundled_models():
    """Names of the model directories shipped in ``minuet/data``."""
    root = resources.files("minuet.data")
    return sorted(
        entry.name for entry in root.iterdir() if entry.is_dir() and (entry / MANIFEST).is_file()
    )


def check_manifest(path, manifest):
    """Refuse a manifest that lacks a key, has one of the wrong kind, or names outside files."""
    if not isinstance(manifest, dict):
        msg = f"{path / MANIFEST} holds a {type(manifest).__name__}, not a minuet manifest."
        raise ValueError(msg)
    for key, kind in _REQUIRED_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            msg = (
                f"{path / MANIFEST} has no valid {key!r} entry (expected a {kind.__name__}, "
                f"found {manifest.get(key)!r}); the model directory is damaged. Save or copy "
                "the model again."
            )
            raise ValueError(msg)
    heads = manifest.get("heads", {})
    if not isinstance(heads, dict):
        msg = f"{path / MANIFEST} has a 'heads' entry that is not a mapping; it is damaged."
        raise ValueError(msg)
    files = manifest["files"]
    for name in [*files, *heads.values()]:
        contained_file(path, name)
    unhashed = sorted(set(heads.values()) - set(files))
    for required in (AUTOENCODER + ".safetensors", AUTOENCODER + ".json"):
        if required not in files:
            unhashed.append(required)
    if unhashed:
        msg = (
            f"{path / MANIFEST} lists no SHA-256 for {unhashed}; every file of a model must "
            "be hashed. The model directory is damaged: save or copy the model again."
        )
        raise ValueError(msg)


def verify_files(path, manifest):
    """Check every file the manifest lists against its SHA-256 before anything is read."""
    check_manifest(path, manifest)
    for name, expected in manifest["files"].items():
        file = path / name
        if not file.is_file():
            msg = f"{file} is missing from the model directory; save or copy the model again."
            raise FileNotFoundError(msg)
        digest = sha256(file)
        if digest != expected:
            msg = (
                f"SHA-256 of {file} is {digest}, but {MANIFEST} records {expected}: the file "
                "is truncated or altered. Save or copy the model again."
            )
            raise ValueError(msg)


def read_manifest(path):
    """Return the manifest of the model directory ``path``, after checking its files."""
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        msg = f"{path} is not a minuet model directory: {MANIFEST} is missing."
        raise FileNotFoundError(msg)
    manifest = read_json(manifest_path, remedy="save or copy the model again")
    if not isinstance(manifest, dict) or manifest.get("format") not in (FORMAT, LEGACY_FORMAT):
        msg = (
            f"{manifest_path} is not a minuet model manifest (expected format {FORMAT!r} or "
            f"{LEGACY_FORMAT!r})."
        )
        raise ValueError(msg)
    verify_files(path, manifest)
    return manifest


def load_heads(path, manifest):
    """Load the heads a manifest lists; return ``{attribute: head}``."""
    heads = dict(manifest.get("heads", {}))
    options = {}
    if manifest["format"] == LEGACY_FORMAT:
        from astropy.table import QTable

        catalogue = heads.pop("neighbours_catalogue", None)
        if catalogue is not None:
            options["neighbours"] = {"catalogue": QTable.read(path / catalogue)}
    known = {entry.key: entry for entry in _heads.HEADS}
    unknown = sorted(set(heads) - set(known))
    if unknown:
        msg = (
            f"{path / MANIFEST} lists the heads {unknown}, which this version of minuet "
            f"({version()}) does not know; install a newer minuet to load this model."
        )
        raise ValueError(msg)
    return {
        known[key].attribute: known[key].head_class().load(path / name, **options.get(key, {}))
        for key, name in heads.items()
    }


def save_bundle(model, path, *, overwrite=False):
    """Write ``model`` to the directory ``path`` atomically; return the path and SHA-256s.

    Returns
    -------
    path : `~pathlib.Path`
    weights_sha256, manifest_sha256 : str
    """
    from .models import save_model

    path = Path(os.path.abspath(path))  # so that "." has a name and a parent
    check_replaceable(path, marker=MANIFEST, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a saved model is meant to be shared
    try:
        digest = save_model(model.autoencoder, tmp / AUTOENCODER)
        heads = {}
        for entry in _heads.HEADS:
            head = getattr(model, entry.attribute)
            if head is not None:
                heads[entry.key] = head.save(tmp / entry.key).name
        manifest = {
            "format": FORMAT,
            "name": model.name,
            "minuet_version": version(),
            "latent_dim": model.latent_dim,
            "stretch": model.stretch.to_dict(),
            "heads": heads,
            "files": {
                entry.name: sha256(entry) for entry in sorted(tmp.iterdir()) if entry.is_file()
            },
            "info": model.info,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        for entry in tmp.iterdir():
            entry.chmod(0o644)
        manifest_sha256 = sha256(tmp / MANIFEST)
        replace_directory(tmp, path, marker=MANIFEST)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path, digest, manifest_sha256
