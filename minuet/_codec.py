"""Cutouts to latents and back: the methods behind `Minuet.encode` and `Minuet.reconstruct`.

These functions are methods of `~minuet.Minuet` (their first argument is the
model); they live here so that each room of the class is short.
"""

import numpy as np
from astropy.nddata import NDData, StdDevUncertainty
from astropy.table import QTable, Table
from tqdm.auto import tqdm

from ._latents import latent_array, refuse_nonfinite_latents
from ._validation import SEED_LIMIT, count
from ._validation import seed as validate_seed
from ._vocabulary import BANDS, encoded_columns
from .cutouts import Cutouts, load_cutouts, nanomaggy

__all__ = []


def _resolved(precision):
    """The precision, ``'bf16'`` or ``'fp32'``, that a ``precision`` option means on the CPU."""
    from .models import resolve_precision

    return resolve_precision(precision)


def _show_progress(progress, n_batches):
    """Progress bars appear by default only for work of more than a few batches."""
    return n_batches > 4 if progress is None else bool(progress)


_REQUIRED_KEYS = {"name": str, "stretch": dict, "files": dict}


def encode_cutouts(self, cutouts, *, batch_size=256, progress=None, average_dihedral=False,
                   precision="auto", compile=False):
    """Encode standardised cutouts to a plain latent array.

    This is the array-level step behind :meth:`encode`, for pipelines
    that manage their own tables.

    Parameters
    ----------
    cutouts : `~minuet.cutouts.Cutouts`
        Standardised cutouts, as returned by `~minuet.cutouts.load_cutouts`.
    batch_size : int, optional
        Cutouts per network call.
    progress : bool or None, optional
        Show a progress bar; by default only for more than four batches.
    average_dihedral : bool, optional
        Average the latent over the 8 flips and quarter turns of each
        cutout: less sensitive to orientation, 8 times slower.
    precision : {'auto', 'bf16', 'fp32'}, optional
        Arithmetic of the network. ``'auto'``: bf16 where the processor
        computes bf16 natively, fp32 elsewhere (see
        `~minuet.models.resolve_precision`). In bf16 the encoder runs as a
        copy with bf16 weights (`~minuet.models.cached_inference_copy`),
        made again only when the weights change. With the bundled model,
        bf16 moves the latents of simulated galaxies by under 2% of their
        spread in every dimension.
    compile : bool, optional
        Run the encoder compiled by `torch.compile` with frozen weights
        (`~minuet.models.compiled_network`), after a one-off compilation of
        10-40 s per process; on a two-core CPU with native bf16 the gain
        measured from nothing to 1.7 times the eager rate (the validation
        page's performance rows), so it can pay only for catalogues of tens
        of thousands of cutouts. Every batch is padded to
        ``batch_size`` so that one compilation serves them all. Where
        compiling fails it warns (`~astropy.utils.exceptions.AstropyUserWarning`)
        and encodes eagerly.

    Returns
    -------
    latents : `~numpy.ndarray`
        Shape ``(N, latent_dim)``, float32; NaN for refused cutouts.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.cutouts import load_cutouts
    >>> from minuet import Minuet
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    >>> model = Minuet(DiffusionAutoencoder(config), name="untrained-tiny")
    >>> cutouts = load_cutouts(np.ones((2, 3, 24, 24)), size=model.image_size)
    >>> latents = model.encode_cutouts(cutouts)
    >>> latents.shape, latents.dtype
    ((2, 5), dtype('float32'))
    """
    import torch

    from .models import cached_inference_copy, retained_heap

    precision = _resolved(precision)
    if not isinstance(compile, bool):
        msg = f"compile must be True or False; got {compile!r}."
        raise TypeError(msg)
    if not isinstance(cutouts, Cutouts):
        msg = f"encode_cutouts expects minuet.cutouts.Cutouts; got {type(cutouts).__name__}."
        raise TypeError(msg)
    if cutouts.size != self.image_size:
        msg = (
            f"the model takes {self.image_size}x{self.image_size} cutouts; got "
            f"{cutouts.size}x{cutouts.size}. Load them with size={self.image_size}."
        )
        raise ValueError(msg)
    batch_size = count(batch_size, "batch_size")
    latents = np.full((len(cutouts), self.latent_dim), np.nan, dtype=np.float32)
    rows = np.flatnonzero(cutouts.valid)
    starts = range(0, len(rows), batch_size)
    bar = tqdm(
        total=len(rows), desc="encoding", unit="galaxy",
        disable=not _show_progress(progress, len(starts)),
    )
    # a bf16 copy of the encoder runs without autocast's casts of every weight and
    # layer-norm output on every call; it is made again whenever the weights change
    encoder = (cached_inference_copy(self.autoencoder.encoder) if precision == "bf16"
               and len(rows) else None)
    if compile and len(rows):
        encoder = _compiled_encoder(self, encoder, batch_size)
    with torch.inference_mode(), retained_heap(), bar:
        for start in starts:
            index = rows[start:start + batch_size]
            # consecutive rows (no refused cutout among them) are read as a view
            flux = (cutouts.flux[index[0]:index[-1] + 1] if index[-1] - index[0] == len(index) - 1
                    else cutouts.flux[index])
            x = torch.from_numpy(self.stretch.forward(flux))
            if compile and len(index) < batch_size:  # the compiled graph takes one shape
                x = torch.cat([x, x.new_zeros((batch_size - len(index), *x.shape[1:]))])
            z = self.autoencoder.encode(x, average_dihedral=average_dihedral, encoder=encoder)
            latents[index] = z[:len(index)].numpy()
            bar.update(len(index))
    return latents


def _compiled_encoder(self, encoder, batch_size):
    """The frozen encoder compiled for batches of ``batch_size``, or eager with a warning."""
    import warnings

    import torch
    from astropy.utils.exceptions import AstropyUserWarning

    from .models import cached_inference_copy, compiled_network

    if encoder is None:
        encoder = cached_inference_copy(self.autoencoder.encoder, torch.float32)
    example = torch.zeros((batch_size, *self.autoencoder.image_shape),
                          dtype=encoder.embed.weight.dtype)
    network, why_not = compiled_network(encoder, example)
    if why_not is not None:
        warnings.warn(f"torch.compile could not compile the encoder ({why_not}); encoding "
                      "without compiling instead, which gives the same latents more slowly.",
                      AstropyUserWarning, stacklevel=3)
    return network


def encode(self, data, *, batch_size=256, progress=None, average_dihedral=False,
           precision="auto", compile=False, **cutout_options):
    """Encode cutouts to a table of latents.

    Parameters
    ----------
    data : array-like, `~astropy.nddata.NDData`, `~astropy.table.Table` or path-like
        Anything `~minuet.cutouts.load_cutouts` takes: arrays of shape
        ``(3, H, W)`` or ``(N, 3, H, W)`` in nanomaggies, NDData (unit,
        mask, uncertainty and ``meta['bands']`` are used), a Table with
        ``column=`` naming its image column, or a FITS or HDF5 file.
    batch_size : int, optional
        Cutouts per network call.
    progress : bool or None, optional
        Show a progress bar; by default only for more than four batches.
    average_dihedral : bool, optional
        Average each latent over the 8 flips and quarter turns.
    precision : {'auto', 'bf16', 'fp32'}, optional
        Arithmetic of the network, as for :meth:`encode_cutouts`; the
        precision used is recorded as ``meta['precision']``.
    compile : bool, optional
        Run a compiled encoder, as for :meth:`encode_cutouts`: worth it for
        tens of thousands of cutouts or more. Recorded as
        ``meta['compile']``.
    **cutout_options
        Passed to `~minuet.cutouts.load_cutouts` (``bands``, ``invvar``,
        ``mask``, ``zeropoint``, ``column``, ``on_invalid``, ...). With
        ``on_invalid='flag'`` refused cutouts keep their row with NaN
        latents and the reason in ``flag``.

    Returns
    -------
    table : `~astropy.table.QTable`
        One row per input cutout, in input order: ``id``, the latent
        columns ``latent_0`` ... , ``valid``, ``flag`` and
        ``masked_fraction``. When the model has a typicality head (the
        bundled one does), also ``typicality``, ``typicality_latent``,
        ``typicality_image`` (conformal p-values in (0, 1]: the
        fraction of training-like galaxies less typical than this one)
        and the boolean ``atypical`` (``typicality`` below the head's
        threshold, 0.05: at most 5% of galaxies like the training set
        are flagged); see `~minuet.typicality.TypicalityScorer`. When
        ``data`` is a Table, its own columns come first. ``meta``
        records the package version, the model name, the weights'
        SHA-256 and the date, and says when typicality is unavailable.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet import Minuet
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> model = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")))
    >>> table = model.encode(np.ones((2, 3, 80, 80)))
    >>> table.colnames  # doctest: +NORMALIZE_WHITESPACE
    ['id', 'latent_0', 'latent_1', 'latent_2', 'latent_3', 'latent_4',
     'valid', 'flag', 'masked_fraction']
    """
    cutouts_options = {"size": self.image_size} | cutout_options
    cutouts = load_cutouts(data, **cutouts_options)
    latents = self.encode_cutouts(
        cutouts, batch_size=batch_size, progress=progress, average_dihedral=average_dihedral,
        precision=precision, compile=compile,
    )
    refuse_nonfinite_latents(latents, cutouts,
                             on_invalid=cutouts_options.get("on_invalid", "raise"))
    if isinstance(data, Table):
        table = QTable(data, copy=False)
        taken = [name for name in self.latent_names if name in table.colnames]
        if taken:
            msg = (
                f"the input table already has columns {taken}; rename or remove them "
                "before encoding."
            )
            raise ValueError(msg)
    else:
        table = QTable()
        table["id"] = cutouts.ids
    for name, column in encoded_columns(latents, cutouts.valid, cutouts.reason,
                                        cutouts.mask).items():
        table[name] = column
    self._add_typicality(table, latents, cutouts)
    table.meta.update(self.provenance())
    table.meta["precision"] = _resolved(precision)
    table.meta["compile"] = compile
    return table


def no_typicality_head(name):
    """What an encoded table's ``meta['typicality']`` says for a model without the head."""
    return (
        f"not available: the model {name!r} has no typicality head, so nothing "
        "says which galaxies are unlike its training set. Fit one with "
        "fit_heads(..., statistics=cutout_statistics(...)) or use Minuet.pretrained()."
    )


def _add_typicality(self, table, latents, cutouts):
    if self.typicality_scorer is None:
        table.meta["typicality"] = no_typicality_head(self.name)
        return
    scores = self.typicality_scorer.score_cutouts(latents, cutouts)
    for name in scores.colnames:
        table[name] = scores[name]
    table.meta.update(scores.meta)


def reconstruct(self, latents, *, n_samples=1, steps=None, seed=None, batch_size=64,
                progress=None, precision="auto"):
    """Draw images in calibrated flux from latents.

    Each call draws fresh samples unless ``seed`` is given.

    Parameters
    ----------
    latents : `~astropy.table.Table` or array-like
        Output of :meth:`encode`, or an array of shape ``(N, latent_dim)``.
        Rows with NaN latents (refused cutouts) give NaN images.
    n_samples : int, optional
        Samples per galaxy. With more than one, the image is their
        per-pixel mean and the uncertainty their standard deviation.
    steps : int, optional
        Sampler steps; default the model's own.
    seed : int, optional
        Seed for reproducible draws.
    batch_size : int, optional
        Images per network call.
    progress : bool or None, optional
        Show a progress bar; by default only for more than four batches.
    precision : {'auto', 'bf16', 'fp32'}, optional
        Arithmetic of the denoiser network (the sampler itself always
        runs in fp32). ``'auto'``: bf16 where the processor computes bf16
        natively, fp32 elsewhere. In bf16 the denoiser runs as a copy with
        bf16 weights (`~minuet.models.cached_inference_copy`), as the
        encoder does. Recorded as ``meta['precision']``.

    Returns
    -------
    images : `~astropy.nddata.NDData`
        Flux in nanomaggies, shape ``(N, 3, H, W)``, bands g, r, z; with
        `~astropy.nddata.StdDevUncertainty` when ``n_samples > 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet import Minuet
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> model = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")))
    >>> images = model.reconstruct(np.zeros((2, 5)), n_samples=2, seed=1)
    >>> images.data.shape, images.unit
    ((2, 3, 72, 72), Unit("nanomaggy"))
    """
    import torch

    from .models import cached_inference_copy, retained_heap

    precision = _resolved(precision)
    z = latent_array(latents, n_features=self.latent_dim, allow_nan=True).astype(np.float32)
    n_samples = count(n_samples, "n_samples")
    batch_size = count(batch_size, "batch_size")
    steps = None if steps is None else count(steps, "steps")
    seed = validate_seed(seed)
    seed = np.random.SeedSequence().entropy % SEED_LIMIT if seed is None else seed
    generator = torch.Generator().manual_seed(seed)
    good = np.flatnonzero(np.all(np.isfinite(z), axis=1))
    shape = (len(z), 3, self.image_size, self.image_size)
    mean = np.full(shape, np.nan, dtype=np.float32)
    spread = np.full(shape, np.nan, dtype=np.float32) if n_samples > 1 else None
    starts = range(0, len(good), batch_size)
    bar = tqdm(total=len(good) * n_samples, desc="reconstructing", unit="image",
               disable=not _show_progress(progress, len(starts) * n_samples))
    # in bf16 a frozen copy of the denoiser with bf16 weights, as for the encoder
    denoiser = (cached_inference_copy(self.autoencoder.denoiser) if precision == "bf16"
                and len(good) else None)
    with torch.inference_mode(), retained_heap(), bar:
        for start in starts:
            index = good[start:start + batch_size]
            latent = torch.from_numpy(z[index])
            draws = []
            for _ in range(n_samples):
                x = self.autoencoder.decode(latent, steps=steps, generator=generator,
                                            denoiser=denoiser)
                draws.append(self.stretch.inverse(x.numpy()))
                bar.update(len(index))
            draws = np.stack(draws)
            mean[index] = draws.mean(axis=0)
            if spread is not None:
                spread[index] = draws.std(axis=0, ddof=1)
    meta = self.provenance() | {
        "bands": BANDS,
        "n_samples": int(n_samples),
        "steps": int(steps or self.autoencoder.config.diffusion.steps),
        "seed": int(seed),
        "precision": precision,
    }
    uncertainty = None if spread is None else StdDevUncertainty(spread, unit=nanomaggy)
    return NDData(mean, unit=nanomaggy, uncertainty=uncertainty, meta=meta)
