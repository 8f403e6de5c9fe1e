"""Saving and loading model weights: safetensors plus a JSON sidecar, never pickle."""

from .._weights import as_state_dict, load_weights, save_weights, sha256
from .autoencoder import DiffusionAutoencoder, DiffusionAutoencoderConfig

__all__ = ["load_model", "save_model", "sha256"]

_FORMAT = "minuet-weights-1"


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
    record = {
        "format": _FORMAT,
        "config": model.config.to_dict(),
        "metadata": metadata or {},
    }
    return save_weights(model.state_dict(), record, path)


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

    Examples
    --------
    >>> import tempfile
    >>> from minuet.models import (DiffusionAutoencoder, DiffusionAutoencoderConfig,
    ...                            load_model, save_model)
    >>> model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     digest = save_model(model, f"{tmp}/tiny", metadata={"note": "untrained"})
    ...     again = load_model(f"{tmp}/tiny")
    >>> again.record["sha256"] == digest, again.record["metadata"]
    (True, {'note': 'untrained'})
    >>> again.training
    False
    """
    tensors, record = load_weights(path, kind=_FORMAT)
    model = DiffusionAutoencoder(DiffusionAutoencoderConfig.from_dict(record["config"]))
    model.load_state_dict(as_state_dict(tensors))
    model.record = record
    return model.to(device).eval()
