"""Carrying a patch-wise denoiser's weights over to overlapping windows."""

import torch

__all__ = []


def widen_patches(state, patch, channels=3):
    """Map a patch-wise denoiser's embedding and output onto overlapping windows.

    A denoiser with ``overlap=True`` cuts ``2p x 2p`` windows whose central
    ``p x p`` square is the patch of the patch-wise denoiser. The widened
    input embedding reads only that centre (its weights over the window's
    margin are zero), so every token is what it was; the output repeats each
    patch's edge pixels over the margin, so the tent-blended image starts
    close to the old one.

    Parameters
    ----------
    state : dict
        ``state_dict`` of a `~minuet.models.DiffusionAutoencoder` whose
        denoiser has no overlapping windows.
    patch : int
        That denoiser's patch size ``p`` (even).
    channels : int, optional
        Image channels.

    Returns
    -------
    state : dict
        A new ``state_dict`` that loads strictly into the same model with
        ``overlap=True``; the entries other than the embedding and the
        output are those of ``state``.
    """
    state = dict(state)
    half = patch // 2
    old = state["denoiser.embed.weight"].reshape(-1, channels, patch, patch)
    new = torch.zeros(old.shape[0], channels, 2 * patch, 2 * patch, dtype=old.dtype)
    new[..., half : half + patch, half : half + patch] = old
    state["denoiser.embed.weight"] = new.flatten(1)
    edge = torch.arange(2 * patch).sub(half).clamp(0, patch - 1)
    for name in ("denoiser.out.weight", "denoiser.out.bias"):
        value = state[name]
        rows = value.reshape(channels, patch, patch, *value.shape[1:])
        state[name] = rows[:, edge][:, :, edge].reshape(-1, *value.shape[1:])
    return state


def initial_state(source, config):
    """The ``state_dict`` of ``source`` to start a model of ``config`` from.

    Widened with :func:`widen_patches` when ``config`` asks for overlapping
    windows that ``source``'s denoiser, of the same patch size, lacks;
    otherwise as it is.
    """
    state = source.state_dict()
    old, new = source.config.denoiser, config.denoiser
    if new.overlap and not old.overlap and new.patch == old.patch:
        state = widen_patches(state, old.patch, old.channels)
    return state
