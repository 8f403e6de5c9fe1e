"""Weights on disk: a safetensors file and a JSON record that holds its SHA-256.

Every trained part of minuet (the autoencoder, the science heads, the
baselines) is stored this way: :func:`save_fitted` and :func:`load_fitted`
for a fitted object, whose record names its ``format`` with a version
(``minuet-posterior-1``), holds its configuration and the SHA-256 of the
tensors and of any companion file (a table of the reference catalogue).
Every file is written under a temporary name and renamed into place, so a
crash never leaves a half-written file; on reading, every SHA-256 is checked
against the record before the file is parsed. Nothing is pickled.
"""

import datetime
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
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "empty.bin"
    >>> _ = path.write_bytes(b"")
    >>> sha256(path)
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensors_sha256(tensors):
    """SHA-256 of named arrays (numpy or torch): each name, dtype, shape and bytes, in name order.

    For a file that carries its own checksum, where a record beside it could
    not be replaced in the same rename (a training checkpoint, a part of a
    catalogue run): the digest of the contents is stored inside the file and
    compared with the contents read back.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet._weights import tensors_sha256
    >>> a = tensors_sha256({"x": np.zeros(3), "y": np.arange(2)})
    >>> a == tensors_sha256({"y": np.arange(2), "x": np.zeros(3)})
    True
    >>> a == tensors_sha256({"x": np.zeros(3), "y": np.arange(2.0)})
    False
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name]
        if hasattr(value, "detach"):  # a torch tensor, whose dtype numpy may lack (bfloat16)
            import torch

            value = value.detach().cpu().contiguous()
            kind, shape = str(value.dtype), list(value.shape)
            data = value.reshape(-1).view(torch.uint8).numpy().tobytes()
        else:
            value = np.ascontiguousarray(value)
            kind, shape, data = value.dtype.str, list(value.shape), value.tobytes()
        digest.update(json.dumps([name, kind, shape]).encode())
        digest.update(data)
    return digest.hexdigest()


def weight_paths(path):
    """Return the ``.safetensors`` file and the ``.json`` record for ``path`` or its stem."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def read_json(path, *, remedy="save it again"):
    """Parse the JSON file at ``path``; a damaged one raises a `ValueError` saying so."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        msg = f"{path} is not valid JSON ({exc}); the file is damaged, {remedy}."
        raise ValueError(msg) from None


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
    record = read_json(sidecar)
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


def write_atomic(path, write):
    """Call ``write(tmp)`` for a temporary name beside ``path``, then rename it into place.

    Returns the SHA-256 of the file written.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        digest = sha256(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return digest


def save_fitted(path, kind, tensors, config, *, companions=None):
    """Write a fitted object in minuet's one format; return its path and SHA-256.

    Parameters
    ----------
    path : str or path-like
        The ``.safetensors`` file, its ``.json`` record, or their common stem.
    kind : str
        The format and its version, ``minuet-<object>-<version>``.
    tensors : dict
        Arrays (numpy or torch) to store.
    config : dict
        JSON-serialisable settings needed to rebuild the object.
    companions : dict, optional
        ``{suffix: write}``: extra files ``<stem><suffix>`` written with
        ``write(path)`` (for example a FITS table); their SHA-256 are
        recorded and checked by :func:`load_fitted`.

    Returns
    -------
    path : `~pathlib.Path`
        The weights file; its ``.json`` record lies beside it.
    sha256 : str
        The SHA-256 of the weights file.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from minuet._weights import load_fitted, save_fitted
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path, _ = save_fitted(f"{tmp}/thing", "minuet-thing-1", {"a": np.ones(3)}, {"k": 2})
    ...     tensors, config, record = load_fitted(path, "minuet-thing-1")
    >>> path.name, config, tensors["a"].tolist(), len(record["sha256"])
    ('thing.safetensors', {'k': 2}, [1.0, 1.0, 1.0], 64)
    """
    from ._vocabulary import version

    weights, _ = weight_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    for suffix, write in (companions or {}).items():
        companion = weights.with_suffix(suffix)
        files[companion.name] = write_atomic(companion, write)
    record = {
        "format": kind,
        "config": config,
        "files": files,
        "minuet_version": version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    return weights, save_weights(tensors, record, weights)


def load_fitted(path, kind, *, legacy_kind=None):
    """Read what :func:`save_fitted` wrote, after checking every SHA-256.

    Parameters
    ----------
    path : str or path-like
        The ``.safetensors`` file, its ``.json`` record, or their common stem.
    kind : str
        The expected format.
    legacy_kind : str, optional
        The ``config['kind']`` of records written before formats were
        versioned; such records are read too.

    Returns
    -------
    tensors : dict of `~numpy.ndarray`
    config : dict
    record : dict
        The whole record, with ``sha256`` and the companion ``files``.
    """
    tensors, record = load_weights(path)
    config = dict(record.get("config") or {})
    found = record.get("format")
    if found is None and legacy_kind is not None and config.get("kind") == legacy_kind:
        config.pop("kind")
        found = kind
    if found != kind:
        msg = (
            f"{weight_paths(path)[1]} holds {found or config.get('kind')!r}; expected {kind!r}. "
            "Load it with the class that wrote it."
        )
        raise ValueError(msg)
    weights = weight_paths(path)[0]
    for name, expected in (record.get("files") or {}).items():
        companion = contained_file(weights.parent, name)
        if not companion.is_file() or sha256(companion) != expected:
            msg = (
                f"{companion} is missing or does not match the SHA-256 in "
                f"{weight_paths(path)[1].name}; save the object again."
            )
            raise ValueError(msg)
    return tensors, config, record


def as_state_dict(tensors):
    """Turn the numpy arrays of :func:`load_weights` into a torch ``state_dict``."""
    import torch

    return {key: torch.from_numpy(value) for key, value in tensors.items()}


def contained_file(directory, name, *, what="file"):
    """Return ``directory / name`` after checking that it stays inside ``directory``.

    A model directory's manifest names its files; a name that is absolute,
    climbs out with ``..`` or leads out through a symbolic link would make
    minuet read (and hash, and load) a file the directory does not hold.

    Parameters
    ----------
    directory : path-like
        The model directory.
    name : str
        A file name from its manifest.
    what : str, optional
        What the name is, for the error message.

    Returns
    -------
    path : `~pathlib.Path`

    Raises
    ------
    ValueError
        If the name is not a plain relative path inside the directory.

    Examples
    --------
    >>> from minuet._weights import contained_file
    >>> contained_file("model", "posterior.safetensors").as_posix()
    'model/posterior.safetensors'
    >>> contained_file("model", "../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the manifest of model names the file '../../etc/passwd', which lies outside ...
    """
    directory = Path(directory)
    bad = not isinstance(name, str) or not name or "\0" in name
    if not bad:
        relative = Path(name)
        root = directory.resolve()
        bad = relative.is_absolute() or ".." in relative.parts
        bad = bad or not (directory / relative).resolve().is_relative_to(root)
    if bad:
        msg = (
            f"the manifest of {directory} names the {what} {name!r}, which lies outside the "
            "model directory; a model directory holds its own files only. The directory is "
            "damaged or was tampered with: save or copy the model again."
        )
        raise ValueError(msg)
    return directory / relative


def check_replaceable(path, *, marker, overwrite):
    """Raise unless a model may be written at ``path`` (see `replace_directory`)."""
    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        return
    if path.is_symlink() or not path.is_dir():
        msg = (
            f"{path} exists and is not a directory; refusing to replace it with a model. "
            "Choose another path."
        )
        raise FileExistsError(msg)
    if not any(path.iterdir()):
        return  # an empty directory: nothing to lose
    if not (path / marker).is_file():
        msg = (
            f"{path} is a directory but not a minuet model (it has no {marker}); a model is "
            "only ever written over another model directory, never over other data. Choose "
            "another path, or remove the directory yourself."
        )
        raise FileExistsError(msg)
    if not overwrite:
        msg = f"{path} holds a minuet model; pass overwrite=True to replace it."
        raise FileExistsError(msg)


def replace_directory(new, path, *, marker):
    """Move the finished directory ``new`` to ``path``, replacing a previous one atomically.

    Only a directory holding ``marker`` (a minuet model's manifest) is ever
    replaced: anything else at ``path`` is left alone and refused. The old
    directory is first renamed aside, so that ``path`` always holds either the
    old or the new model, and is deleted only once the new one is in place.

    Raises
    ------
    FileExistsError
        If ``path`` is a file, or a directory that is not a minuet model.
    """
    new, path = Path(new), Path(path)
    check_replaceable(path, marker=marker, overwrite=True)
    if not path.exists():
        os.replace(new, path)
        return
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    os.replace(path, old)
    try:
        os.replace(new, path)
    except OSError:
        os.replace(old, path)
        raise
    import shutil

    shutil.rmtree(old, ignore_errors=True)
