"""Atomic, pickle-free training checkpoints (safetensors + JSON metadata).

A checkpoint is one file, rewritten every few hundred steps: the model, its
EMA, the optimiser's state and the random states as tensors, and a JSON
header with the step, the optimiser's settings, the run's configuration and
the SHA-256 of the tensors. It stays one file (rather than weights and a
record beside them, as fitted objects are stored) so that one rename replaces
all of it: a run killed between two renames could otherwise be left with a
record that belongs to other weights, and would refuse to resume.

Formats: ``minuet-checkpoint-2`` records ``sha256`` (of the tensors, see
`minuet._weights.tensors_sha256`), ``minuet_version`` and ``date``, and is
checked on reading; ``minuet-checkpoint-1``, written before, has no digest
and is read as it is.
"""

import datetime
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .._vocabulary import version
from .._weights import tensors_sha256

_FORMAT = "minuet-checkpoint-2"
_FORMATS = ("minuet-checkpoint-1", _FORMAT)


def _rng_state():
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    tensors["rng.numpy"] = torch.from_numpy(keys.astype(np.int64))
    version, internal, gauss = random.getstate()
    meta = {
        "numpy": [name, int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss],
    }
    return tensors, meta


def _set_rng_state(tensors, meta):
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    name, pos, has_gauss, cached = meta["numpy"]
    keys = tensors["rng.numpy"].numpy().astype(np.uint32)
    np.random.set_state((name, keys, pos, has_gauss, cached))  # noqa: NPY002
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path, *, model, ema, optimizer, step, extra):
    """Write everything needed to resume exactly, atomically, to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in ema.state_dict().items()}
    opt = optimizer.state_dict()
    for index, state in opt["state"].items():
        for key, value in state.items():
            tensors[f"optimizer.{index}.{key}"] = torch.as_tensor(value)
    rng_tensors, rng_meta = _rng_state()
    tensors |= rng_tensors
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {
        "format": _FORMAT,
        "step": int(step),
        "param_groups": opt["param_groups"],
        "rng": rng_meta,
        "extra": extra,
        "sha256": tensors_sha256(tensors),
        "minuet_version": version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, tmp, metadata={"minuet": json.dumps(meta)})
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path, *, model, ema, optimizer, device="cpu"):
    """Restore a checkpoint in place; return ``(step, extra)``."""
    path = Path(path)
    try:
        with safe_open(path, framework="pt", device=str(device)) as f:
            meta = json.loads((f.metadata() or {}).get("minuet", "{}"))
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as exc:
        msg = (
            f"could not read checkpoint {path} ({exc}); it is damaged or not a minuet "
            "checkpoint. Delete it to start afresh."
        )
        raise ValueError(msg) from None
    if meta.get("format") not in _FORMATS:
        msg = f"{path} is not a minuet checkpoint (expected one of the formats {_FORMATS})."
        raise ValueError(msg)
    if "sha256" in meta or meta["format"] != _FORMATS[0]:
        digest = tensors_sha256(tensors)
        if digest != meta.get("sha256"):
            msg = (
                f"the tensors of checkpoint {path} have SHA-256 {digest}, but the checkpoint "
                f"records {meta.get('sha256')}: it is damaged or was altered. Delete it to "
                "start afresh, or put back a good copy."
            )
            raise ValueError(msg)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value if name != "step" else value.cpu()
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    _set_rng_state({k: v.cpu() for k, v in tensors.items() if k.startswith("rng.")}, meta["rng"])
    return meta["step"], meta["extra"]
