"""Saving and loading model weights: safetensors plus a JSON sidecar, never pickle."""

import hashlib
import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from .autoencoder import DiffusionAutoencoder, DiffusionAutoencoderConfig

__all__ = ["load_model", "save_model", "sha256"]

_FORMAT = "minuet-weights-1"


def sha256(path):
    """Return the hexadecimal SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _paths(path):
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_model(model, path, *, metadata=None):
    """Write ``model`` as ``<path>.safetensors`` and ``<path>.json``.

    The JSON sidecar holds the configuration, the SHA-256 of the weights file
    and any extra ``metadata``. Both files are written to temporary names
    and renamed into place, so a crash never leaves a half-written file.

    Parameters
    ----------
    model : `~minuet.models.DiffusionAutoencoder`
        The model to save.
    path : str or path-like
        Destination; a ``.safetensors`` or ``.json`` suffix is replaced.
    metadata : dict, optional
        JSON-serialisable information to record (training run, data).

    Returns
    -------
    digest : str
        SHA-256 of the weights file.

    Examples
    --------
    >>> import tempfile, torch
    >>> from minuet.models import (DiffusionAutoencoder, DiffusionAutoencoderConfig,
    ...                            load_model, save_model)
    >>> model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = save_model(model, f"{tmp}/tiny")
    ...     again = load_model(f"{tmp}/tiny.safetensors")
    >>> all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
    ...                                        again.state_dict().values()))
    True
    """
    weights, sidecar = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = weights.with_name(weights.name + ".tmp")
    save_file(tensors, tmp)
    digest = sha256(tmp)
    os.replace(tmp, weights)
    record = {
        "format": _FORMAT,
        "config": model.config.to_dict(),
        "weights": weights.name,
        "sha256": digest,
        "metadata": metadata or {},
    }
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
    os.replace(tmp, sidecar)
    return digest


def load_model(path, *, device="cpu"):
    """Load a model written by :func:`save_model`, verifying its SHA-256.

    Parameters
    ----------
    path : str or path-like
        The ``.safetensors`` file, its ``.json`` sidecar or their common stem.
    device : str or `torch.device`
        Where to place the weights.

    Returns
    -------
    model : `~minuet.models.DiffusionAutoencoder`
        The model in evaluation mode, with the sidecar's contents in
        ``model.record``.

    Raises
    ------
    ValueError
        If the sidecar is not a minuet weights record, or the weights file
        does not match the recorded SHA-256 (truncated or altered).
    """
    weights, sidecar = _paths(path)
    for p in (weights, sidecar):
        if not p.exists():
            msg = f"expected {p} beside the weights; it does not exist."
            raise FileNotFoundError(msg)
    try:
        record = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        msg = f"{sidecar} is not valid JSON ({exc}); the file is damaged, save the model again."
        raise ValueError(msg) from None
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        msg = f"{sidecar} is not a minuet weights record (expected format {_FORMAT!r})."
        raise ValueError(msg)
    digest = sha256(weights)
    if digest != record["sha256"]:
        msg = (
            f"SHA-256 of {weights} is {digest}, but {sidecar.name} records "
            f"{record['sha256']}: the file is truncated or altered. Download or save it again."
        )
        raise ValueError(msg)
    model = DiffusionAutoencoder(DiffusionAutoencoderConfig.from_dict(record["config"]))
    model.load_state_dict(load_file(weights, device=str(device)))
    model.record = record
    return model.to(device).eval()
