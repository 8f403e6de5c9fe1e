"""Baseline weights on disk: safetensors plus a JSON sidecar with the SHA-256."""

import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file

from minuet.models import sha256

__all__ = []


def paths(path):
    """Return the weights file and the JSON sidecar for ``path`` or its stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_weights(tensors, record, path):
    """Write tensors and a JSON record atomically; return the weights' SHA-256."""
    weights, sidecar = paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tmp = weights.with_name(weights.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp)
    digest = sha256(tmp)
    os.replace(tmp, weights)
    record = {**record, "weights": weights.name, "sha256": digest}
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
    os.replace(tmp, sidecar)
    return digest


def load_weights(path, *, kind):
    """Read tensors and record written by :func:`save_weights`, checking both."""
    weights, sidecar = paths(path)
    for p in (weights, sidecar):
        if not p.exists():
            msg = f"expected {p} beside the baseline weights; it does not exist."
            raise FileNotFoundError(msg)
    try:
        record = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        msg = f"{sidecar} is not valid JSON ({exc}); save the baseline again."
        raise ValueError(msg) from None
    if not isinstance(record, dict) or record.get("format") != kind:
        found = record.get("format") if isinstance(record, dict) else None
        msg = (f"{sidecar} holds {found!r} weights; expected {kind!r}. Load it with the "
               "matching class.")
        raise ValueError(msg)
    digest = sha256(weights)
    if digest != record.get("sha256"):
        msg = (f"SHA-256 of {weights} is {digest}, but {sidecar.name} records "
               f"{record.get('sha256')}: the file is truncated or altered. Save it again.")
        raise ValueError(msg)
    return load_file(weights), record
