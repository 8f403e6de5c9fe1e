"""Weights on disk: a safetensors file and a JSON record that holds its SHA-256.

Every trained part of minuet (the autoencoder, the science heads, the
baselines) is stored this way. Both files are written under temporary names
and renamed into place, so a crash never leaves a half-written file; on
reading, the SHA-256 of the tensors is checked against the record before the
file is parsed. Nothing is pickled.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

__all__ = []


def sha256(path):
    """Return the hexadecimal SHA-256 digest of the file at ``path``.

    Parameters
    ----------
    path : str or path-like
        The file; it is read in blocks of 1 MiB, so its size does not matter.

    Returns
    -------
    digest : str
        64 hexadecimal digits.

    Examples
    --------
    >>> from minuet.models import sha256
    >>> path = getfixture("tmp_path") / "empty.bin"
    >>> _ = path.write_bytes(b"")
    >>> sha256(path)
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weight_paths(path):
    """Return the ``.safetensors`` file and the ``.json`` record for ``path`` or its stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def _as_numpy(value):
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(value)


def save_weights(tensors, record, path):
    """Write tensors (numpy arrays or torch tensors) and a JSON record, atomically.

    The record gains ``weights`` (the file name) and ``sha256``. Returns the SHA-256.
    """
    from safetensors.numpy import save_file

    weights, sidecar = weight_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tmp = weights.with_name(weights.name + ".tmp")
    save_file({key: _as_numpy(value) for key, value in tensors.items()}, str(tmp))
    digest = sha256(tmp)
    os.replace(tmp, weights)
    record = {**record, "weights": weights.name, "sha256": digest}
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, sidecar)
    return digest


def load_weights(path, *, kind=None):
    """Read what :func:`save_weights` wrote, after checking the SHA-256.

    Parameters
    ----------
    path : str or path-like
        The ``.safetensors`` file, its ``.json`` record, or their common stem.
    kind : str, optional
        Expected value of the record's ``format``.

    Returns
    -------
    tensors : dict of `~numpy.ndarray`
    record : dict
    """
    from safetensors.numpy import load_file

    weights, sidecar = weight_paths(path)
    for required in (weights, sidecar):
        if not required.exists():
            msg = (
                f"cannot load {path}: {required} does not exist; the .safetensors weights and "
                "their .json record are both needed."
            )
            raise FileNotFoundError(msg)
    try:
        record = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        msg = f"{sidecar} is not valid JSON ({exc}); the file is damaged, save it again."
        raise ValueError(msg) from None
    if not isinstance(record, dict) or (kind is not None and record.get("format") != kind):
        found = record.get("format") if isinstance(record, dict) else None
        msg = (
            f"{sidecar} holds {found!r} weights; expected {kind!r}. Load it with the "
            "matching class."
        )
        raise ValueError(msg)
    digest = sha256(weights)
    if digest != record.get("sha256"):
        msg = (
            f"SHA-256 of {weights} is {digest}, but {sidecar.name} records "
            f"{record.get('sha256')}: the file is truncated or altered. Save or copy it again."
        )
        raise ValueError(msg)
    return load_file(str(weights)), record


def as_state_dict(tensors):
    """Turn the numpy arrays of :func:`load_weights` into a torch ``state_dict``."""
    import torch

    return {key: torch.from_numpy(value) for key, value in tensors.items()}
