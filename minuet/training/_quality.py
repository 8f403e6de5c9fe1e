"""Held-out reconstruction quality measured quickly, for learning curves."""

import warnings

import numpy as np
import torch
from scipy.stats import spearmanr

from minuet.cutouts import AsinhStretch

from .._latents import latent_array

__all__ = ["max_abs_spearman", "reconstruction_quality"]


def _median(values):
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def max_abs_spearman(latents):
    """Largest absolute Spearman rank correlation between two latent dimensions.

    A value near 1 means two of the numbers carry the same information (one
    dimension spent twice); constant dimensions are left out.

    Parameters
    ----------
    latents : array-like or `~astropy.table.Table`
        ``(N, D)`` latents, or a table with columns ``latent_0`` ...
        ``latent_{D-1}`` (the output of `~minuet.Minuet.encode`); rows with
        NaN are dropped.

    Returns
    -------
    rho : float
        The largest off-diagonal absolute correlation; NaN for fewer than
        two dimensions that vary.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.training import max_abs_spearman
    >>> x = np.random.default_rng(0).normal(size=(200, 2))
    >>> round(max_abs_spearman(np.column_stack([x, np.exp(x[:, 0])])), 6)
    1.0
    """
    latents = latent_array(latents, allow_nan=True)
    latents = latents[np.isfinite(latents).all(axis=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant dimension has no rank correlation
        rho = np.atleast_2d(spearmanr(latents).statistic)
    off = np.abs(rho[~np.eye(len(rho), dtype=bool)]) if len(rho) > 1 else np.array([np.nan])
    return float(np.nanmax(off)) if np.isfinite(off).any() else float("nan")


def _footprint_scores(images, recon, invvar, footprint):
    """Per-galaxy reduced chi-squared and r, g-r errors over the footprint."""
    fp = footprint[:, None] & (invvar > 0)
    n = fp.sum(axis=(1, 2, 3))
    chi2 = np.where(fp, (images - recon) ** 2 * invvar, 0).sum(axis=(1, 2, 3)) / np.maximum(n, 1)
    flux_in = np.where(fp, images, 0).sum(axis=(2, 3))
    flux_rec = np.where(fp, recon, 0).sum(axis=(2, 3))
    with np.errstate(divide="ignore", invalid="ignore"):
        dmag = -2.5 * np.log10(flux_rec / flux_in)
    dmag[~((flux_in > 0) & (flux_rec > 0))] = np.nan
    chi2[n == 0] = np.nan
    return chi2, dmag[:, 1], dmag[:, 0] - dmag[:, 1]


def reconstruction_quality(
    model,
    images,
    invvar,
    footprint,
    *,
    stretch=None,
    n_draws=4,
    steps=None,
    seed=0,
    batch_size=256,
    device="cpu",
):
    r"""Held-out reconstruction quality of a diffusion autoencoder, quickly.

    For each galaxy, with input flux :math:`d`, inverse variance :math:`w`
    and its true footprint :math:`F` (all three bands, pixels with
    :math:`w > 0`), the same definitions as
    `~minuet.evaluation.compare_reconstructions`: reduced chi-squared
    :math:`\sum_F w (d - m)^2 / N_F` of the mean :math:`m` of ``n_draws``
    reconstructions and of the first draw alone, the r-band magnitude error
    and the g-r colour error in the footprint. Without the shape
    measurements of that function it costs only the draws, which suits
    evaluations repeated during training. The latents give the largest
    absolute Spearman rank correlation between two of their dimensions.

    Parameters
    ----------
    model : `~minuet.models.DiffusionAutoencoder`
        The model.
    images, invvar : `numpy.ndarray`
        Flux in nanomaggies and inverse variance (0 = masked),
        ``(N, 3, H, W)``.
    footprint : `numpy.ndarray`
        Boolean ``(N, H, W)`` footprints of the central galaxies.
    stretch : `~minuet.cutouts.AsinhStretch`, optional
        Flux to network-input mapping of the model.
    n_draws : int
        Reconstructions averaged per galaxy.
    steps : int, optional
        Sampler steps; the model's default when omitted.
    seed : int
        Seed of the draws.
    batch_size : int
        Galaxies per network call.
    device : str or `torch.device`
        Where the model runs (it is moved there).

    Returns
    -------
    quality : dict
        ``chi2_mean`` and ``chi2_one`` (medians of the reduced chi-squared
        of the mean of the draws and of one draw), ``abs_dmag_r`` and
        ``abs_dcolor_gr`` (medians, mag), ``max_abs_spearman``,
        ``n_draws`` and ``n_galaxies``.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> from minuet.training import reconstruction_quality
    >>> model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    >>> rng = np.random.default_rng(0)
    >>> images = rng.normal(0, 0.01, (8, 3, 24, 24)) + 0.05
    >>> invvar = np.full(images.shape, 1e4)
    >>> footprint = np.zeros((8, 24, 24), bool)
    >>> footprint[:, 8:16, 8:16] = True
    >>> quality = reconstruction_quality(model, images, invvar, footprint, n_draws=2)
    >>> sorted(quality)  # doctest: +NORMALIZE_WHITESPACE
    ['abs_dcolor_gr', 'abs_dmag_r', 'chi2_mean', 'chi2_one', 'max_abs_spearman',
     'n_draws', 'n_galaxies']
    """
    stretch = AsinhStretch() if stretch is None else stretch
    images = np.asarray(images, dtype=np.float32)
    invvar = np.asarray(invvar, dtype=np.float32)
    footprint = np.asarray(footprint, dtype=bool)
    if images.ndim != 4 or invvar.shape != images.shape or footprint.shape != (
        images.shape[0],
        *images.shape[2:],
    ):
        msg = (
            "expected images and invvar shaped (N, 3, H, W) and footprint (N, H, W); got "
            f"{images.shape}, {invvar.shape} and {footprint.shape}."
        )
        raise ValueError(msg)
    if int(n_draws) != n_draws or n_draws < 1:
        msg = f"n_draws must be a positive integer; got {n_draws!r}."
        raise ValueError(msg)
    device = torch.device(device)
    was_training = model.training
    model.eval().to(device)
    generator = torch.Generator(device).manual_seed(int(seed))
    clean = np.where(np.isfinite(images) & (invvar > 0), images, 0).astype(np.float32)
    x_all = stretch.forward(clean).astype(np.float32)
    latents, mean, first = [], np.empty_like(clean), np.empty_like(clean)
    with torch.inference_mode():
        for start in range(0, len(clean), batch_size):
            x = torch.from_numpy(x_all[start : start + batch_size]).to(device)
            z = model.encode(x)
            latents.append(z.cpu().numpy())
            draws = [
                stretch.inverse(model.decode(z, steps=steps, generator=generator).cpu().numpy())
                for _ in range(n_draws)
            ]
            first[start : start + len(x)] = draws[0]
            mean[start : start + len(x)] = np.mean(draws, axis=0)
    model.train(was_training)
    chi2_mean, dmag_r, dcolor = _footprint_scores(clean, mean, invvar, footprint)
    chi2_one, _, _ = _footprint_scores(clean, first, invvar, footprint)
    rho = max_abs_spearman(np.concatenate(latents))
    return {
        "chi2_mean": _median(chi2_mean),
        "chi2_one": _median(chi2_one),
        "abs_dmag_r": _median(np.abs(dmag_r)),
        "abs_dcolor_gr": _median(np.abs(dcolor)),
        "max_abs_spearman": rho,
        "n_draws": int(n_draws),
        "n_galaxies": len(clean),
    }
