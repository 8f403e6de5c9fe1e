"""The training loop: augmentations, EMA, mixed precision, DDP, checkpoints."""

import copy
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from astropy.utils.exceptions import AstropyDeprecationWarning
from torch import distributed as dist
from torch import nn
from tqdm.auto import tqdm

from .._fitting import seeded, threads
from ..models import DiffusionAutoencoder, dihedral, load_model, rotate, save_model
from ..models import autocast as precision_context
from ._checkpoint import load_checkpoint, save_checkpoint
from ._widen import initial_state
from .config import TrainingConfig
from .data import CutoutFile, split_indices

__all__ = ["augment", "decorrelation_penalty", "learning_rate", "train"]


def augment(x, weight, *, generator, rotation_probability=0.5):
    """Randomly flip and rotate images and their loss weights together.

    Every image gets one of the 8 lossless flips and quarter turns; with
    probability ``rotation_probability`` it is then rotated by a uniform
    angle (bilinear interpolation; pixels from outside the cutout get zero
    weight).

    Parameters
    ----------
    x : `torch.Tensor`
        Stretched images, shape ``(B, C, H, W)``.
    weight : `torch.Tensor`
        Per-pixel loss weights shaped like ``x``.
    generator : `torch.Generator`
        Seeded generator for the choice of flips, turns and angles.
    rotation_probability : float, optional
        Probability that an image is also rotated by a random angle.

    Returns
    -------
    x, weight : `torch.Tensor`
        The transformed images and weights (new tensors; the inputs are
        left unchanged).

    Examples
    --------
    >>> import torch
    >>> from minuet.training import augment
    >>> x, w = torch.rand(4, 3, 8, 8), torch.ones(4, 3, 8, 8)
    >>> gen = torch.Generator().manual_seed(0)
    >>> [t.shape for t in augment(x, w, generator=gen)]
    [torch.Size([4, 3, 8, 8]), torch.Size([4, 3, 8, 8])]
    """
    b, device = x.shape[0], x.device
    k = torch.randint(0, 8, (b,), generator=generator, device=device)
    angle = torch.rand(b, generator=generator, device=device) * (2 * math.pi)
    turn = torch.rand(b, generator=generator, device=device) < rotation_probability
    x, weight = x.clone(), weight.clone()
    for j in range(8):
        sel = k == j
        if j and sel.any():
            x[sel], weight[sel] = dihedral(x[sel], j), dihedral(weight[sel], j)
    if turn.any():
        x[turn] = rotate(x[turn], angle[turn])
        weight[turn] = rotate(weight[turn], angle[turn])
    return x, weight


def decorrelation_penalty(latent):
    """Mean squared correlation between different latent dimensions of a batch.

    Zero when the dimensions are uncorrelated across the batch, one when
    every pair is perfectly (anti-)correlated; the redundancy-reduction term
    of Zbontar et al. (2021, ICML, arXiv:2103.03230) computed on one view.

    Parameters
    ----------
    latent : `torch.Tensor`
        Latents of a batch, ``(B, D)`` with ``B >= 2`` and ``D >= 2``.

    Returns
    -------
    penalty : `torch.Tensor`
        A scalar in [0, 1].

    Examples
    --------
    >>> import torch
    >>> from minuet.training import decorrelation_penalty
    >>> a = torch.randn(256, 1, generator=torch.Generator().manual_seed(0))
    >>> round(float(decorrelation_penalty(torch.cat([a, 2 * a], 1))), 3)
    1.0
    >>> b = torch.randn(256, 1, generator=torch.Generator().manual_seed(1))
    >>> float(decorrelation_penalty(torch.cat([a, b], 1))) < 0.05
    True
    """
    if latent.ndim != 2 or latent.shape[0] < 2 or latent.shape[1] < 2:
        msg = (
            "decorrelation_penalty needs latents shaped (batch >= 2, dimensions >= 2); "
            f"got {tuple(latent.shape)}."
        )
        raise ValueError(msg)
    z = latent.float()
    z = (z - z.mean(0)) / (z.std(0) + 1e-6)
    corr = z.T @ z / (len(z) - 1)
    d = corr.shape[0]
    off = corr - torch.diag(torch.diagonal(corr))
    return (off**2).sum() / (d * (d - 1))


def learning_rate(config, step):
    """Learning rate of optimiser step ``step`` (counted from 0).

    A linear warm-up over ``warmup_steps``, then ``learning_rate``
    (``learning_rate_schedule='constant'``) or a half cosine down to
    ``min_learning_rate_fraction * learning_rate`` at ``steps``
    (``'cosine'``, Loshchilov & Hutter 2017, arXiv:1608.03983).

    Parameters
    ----------
    config : `TrainingConfig`
        The run's schedule options.
    step : int
        The step.

    Returns
    -------
    rate : float

    Examples
    --------
    >>> from minuet.training import TrainingConfig, learning_rate
    >>> config = TrainingConfig(learning_rate=1e-3, warmup_steps=10, steps=110,
    ...                         learning_rate_schedule="cosine",
    ...                         min_learning_rate_fraction=0.1)
    >>> [round(learning_rate(config, s), 6) for s in (0, 9, 60, 110)]
    [0.0001, 0.001, 0.00055, 0.0001]
    """
    warm = max(config.warmup_steps, 1)
    if config.learning_rate_schedule == "constant" or step < warm:
        return config.learning_rate * min(1.0, (step + 1) / warm)
    progress = min(1.0, (step - warm) / max(config.steps - warm, 1))
    floor = config.min_learning_rate_fraction
    return config.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


class _TrainStep(nn.Module):
    """The loss of one batch as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, model, consistency_weight, decorrelation_weight=0.0):
        super().__init__()
        self.model = model
        self.consistency_weight = consistency_weight
        self.decorrelation_weight = decorrelation_weight

    def forward(self, x, weight, generator, second_view=None):
        latent = self.model.encoder(x)
        loss = self.model.loss(x, weight=weight, generator=generator, latent=latent).mean()
        diffusion_loss = loss.detach()
        if self.decorrelation_weight > 0:
            loss = loss + self.decorrelation_weight * decorrelation_penalty(latent)
        if second_view is None:
            return loss, diffusion_loss
        other = self.model.encoder(second_view)
        a, b = latent.float(), other.float()
        # scale-free: squared difference relative to the latent's spread in the batch
        spread = 0.5 * (a.var(0) + b.var(0)) + 1e-6
        consistency = (((a - b) ** 2).mean(0) / spread).mean()
        return loss + self.consistency_weight * consistency, diffusion_loss


class _Data:
    """Several cutout files seen as one indexable collection."""

    def __init__(self, config):
        inside = config.footprint_weight
        self.files = [
            CutoutFile(
                p,
                size=config.model.encoder.image_size,
                in_memory=config.in_memory,
                inside=inside,
                outside=1 - inside,
            )
            for p in config.data
        ]
        if not self.files:
            msg = "the configuration lists no data files; set 'data' to one or more HDF5 paths."
            raise ValueError(msg)
        self.offsets = np.cumsum([0] + [len(f) for f in self.files])

    def __len__(self):
        return int(self.offsets[-1])

    def read(self, indices):
        indices = np.asarray(indices)
        which = np.searchsorted(self.offsets, indices, side="right") - 1
        xs, ws = [None] * len(indices), [None] * len(indices)
        for i, f in enumerate(self.files):
            sel = np.flatnonzero(which == i)
            if len(sel):
                x, w = f.read(indices[sel] - self.offsets[i])
                for j, s in enumerate(sel):
                    xs[s], ws[s] = x[j], w[j]
        return np.stack(xs), np.stack(ws)


def _batch(train_idx, step, batch_size, seed):
    per_epoch = len(train_idx) // batch_size
    epoch, offset = divmod(step, per_epoch)
    order = np.random.default_rng([seed, 1, epoch]).permutation(train_idx)
    return order[offset * batch_size : (offset + 1) * batch_size]


class _Batches(torch.utils.data.Dataset):
    """Item ``i``: this process's share of the batch of step ``first + i``.

    A batch depends only on its step, so reading them in background worker
    processes, in any number, gives the same batches as reading them here.
    """

    def __init__(self, data, train_idx, config, *, rank, world, first, stop):
        self.data, self.train_idx = data, train_idx
        self.batch_size, self.seed = config.batch_size, config.seed
        self.rank, self.world = rank, world
        self.first, self.stop = first, stop

    def __len__(self):
        return max(self.stop - self.first, 0)

    def __getitem__(self, i):
        step = self.first + i
        batch = _batch(self.train_idx, step, self.batch_size, self.seed)[self.rank :: self.world]
        x, w = self.data.read(batch)
        return step, torch.from_numpy(x), torch.from_numpy(w)


def _batch_stream(batches, config, device):
    """Yield ``(step, x, weight)``; read ahead by ``config.workers`` processes."""
    if config.workers == 0:
        return (batches[i] for i in range(len(batches)))
    return iter(
        torch.utils.data.DataLoader(
            batches,
            batch_size=None,
            shuffle=False,
            num_workers=config.workers,
            prefetch_factor=config.prefetch,
            pin_memory=device.type == "cuda",
        )
    )


def _setup_distributed(config):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and config.device in ("auto", "cuda")
    if config.device in ("auto", "cuda"):
        device = torch.device(f"cuda:{local}" if cuda else "cpu")
    else:
        device = torch.device(config.device)
    started = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        started = True
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return world, rank, device, started


def _autocast(config, device):
    # 'auto' means bf16 only where the device multiplies it natively: emulated bf16
    # (x86 CPUs without AVX512-BF16 or AMX) is several times slower than fp32
    return precision_context(config.precision, device)


@torch.no_grad()
def _validate(model, data, indices, config, device, autocast):
    model.eval()
    gen = torch.Generator(device).manual_seed(config.seed + 7919)
    losses = []
    for start in range(0, len(indices), config.batch_size):
        chunk = indices[start : start + config.batch_size]
        x, w = (torch.from_numpy(a).to(device) for a in data.read(chunk))
        with autocast:
            losses.append(model.loss(x, weight=w, generator=gen).float())
    return float(torch.cat(losses).mean())


def _initialise(model, path):
    """Start ``model`` from the weights at ``path`` (widened to windows when it asks for them)."""
    state = initial_state(load_model(path), model.config)
    own = model.state_dict()
    bad = sorted(k for k, v in state.items() if k not in own or own[k].shape != v.shape)
    if bad:
        msg = (
            f"the weights in {path} do not fit the configured model ({len(bad)} tensors "
            f"differ, e.g. {bad[:3]}); start from weights of the same architecture."
        )
        raise ValueError(msg)
    model.load_state_dict(state, strict=False)


def _read_history(path, until):
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    # rows written before the learning rate was called by its full name
    rows = [{("learning_rate" if k == "lr" else k): v for k, v in row.items()} for row in rows]
    return [row for row in rows if row["step"] <= until]


def train(
    config, *, resume=True, max_steps=None, max_minutes=None, progress=True, callback=None,
    max_seconds=None,
):
    """Train a diffusion autoencoder; resume from the run folder's checkpoint.

    Runs as a single process or, under ``torchrun``, as one process per
    device with DistributedDataParallel (NCCL on GPUs, gloo on CPUs); the
    global batch is split evenly over the processes. Every
    ``checkpoint_every`` steps the model, its exponential moving average
    (EMA), the optimiser, the random states and the data position are
    written atomically to ``<output>/checkpoint.safetensors``; a run killed
    at any moment and started again continues to the same weights. When all
    ``steps`` are done, the EMA weights are saved as ``<output>/model``
    (`~minuet.models.save_model`).

    Parameters
    ----------
    config : `TrainingConfig` or dict
        The run.
    resume : bool
        Continue from ``<output>/checkpoint.safetensors`` when it exists.
    max_steps : int, optional
        Stop (with a checkpoint) after this many steps in this call.
    max_minutes : float, optional
        Stop (with a checkpoint) after the first step that ends this many
        minutes after the loop started.
    progress : bool
        Show a tqdm progress bar with the loss and the throughput.
    callback : callable, optional
        ``callback(step, ema)``, called by the first process at every
        validation and at the last step of the call, returns a dict (or
        ``None``) whose entries join that step's history row: for example
        the held-out quality of `reconstruction_quality`. Its time counts
        towards ``max_minutes`` but not towards the logged throughput.
    max_seconds : float, optional
        Deprecated: the time limit in seconds; use ``max_minutes``.

    Returns
    -------
    ema : `~minuet.models.DiffusionAutoencoder`
        The EMA model, in evaluation mode.
    history : list of dict
        One row per ``log_every`` steps: step, loss, validation loss
        (``None`` between validations), images per second, learning rate.

    Examples
    --------
    Two steps of a tiny model on twelve cutouts of pure noise (see
    :ref:`training` for a run on simulated galaxies):

    >>> import tempfile
    >>> from pathlib import Path
    >>> import h5py
    >>> import numpy as np
    >>> from minuet.models import DiffusionAutoencoderConfig
    >>> from minuet.training import TrainingConfig, train
    >>> rng = np.random.default_rng(0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with h5py.File(f"{tmp}/cutouts.h5", "w") as f:
    ...         _ = f.create_dataset("images", data=rng.normal(0, 0.003, (12, 3, 24, 24)))
    ...     config = TrainingConfig(
    ...         data=(f"{tmp}/cutouts.h5",), output=f"{tmp}/run",
    ...         model=DiffusionAutoencoderConfig.preset("tiny", image_size=24),
    ...         steps=2, batch_size=4, log_every=1, validate_every=2,
    ...         validation_fraction=0.2, precision="fp32")
    ...     ema, history = train(config, progress=False)
    ...     written = sorted(p.name for p in Path(tmp, "run").iterdir())
    >>> [row["step"] for row in history], history[-1]["val_loss"] is not None
    ([1, 2], True)
    >>> written  # doctest: +NORMALIZE_WHITESPACE
    ['checkpoint.safetensors', 'config.json', 'history.jsonl', 'model.json',
     'model.safetensors']
    """
    if isinstance(config, dict):
        config = TrainingConfig.from_dict(config)
    if max_seconds is not None:
        warnings.warn(
            "train's max_seconds is deprecated; give the time limit as max_minutes.",
            AstropyDeprecationWarning,
            stacklevel=2,
        )
        if max_minutes is not None:
            msg = "give the time limit once, as max_minutes (max_seconds is deprecated)."
            raise TypeError(msg)
    elif max_minutes is not None:
        max_seconds = 60 * max_minutes
    # the caller's thread count and global random state are back as they were afterwards
    with threads(config.threads), seeded(config.seed):
        return _run(config, resume=resume, max_steps=max_steps, max_seconds=max_seconds,
                    progress=progress, callback=callback)


def _run(config, *, resume, max_steps, max_seconds, progress, callback):
    """The training run behind `train`, with the configuration's threads and seed set.

    Each step of the run is a function below, in the order they happen:
    set-up (model, EMA and optimiser, from a checkpoint when resuming), the
    run folder, the data and its split, then for every step one optimisation
    step, logging with validation, and checkpointing.
    """
    world, rank, device, started = _setup_distributed(config)
    _check_batch_size(config, world)
    output = Path(config.output)
    checkpoint = output / "checkpoint.safetensors"
    model, ema, optimizer, step = _set_up(config, device, checkpoint if resume else None)
    log = _Log(output / "history.jsonl", step, writer=rank == 0)
    if rank == 0:
        _start_run_folder(output, config, log)
    data, train_idx, val_idx = _data_and_split(config)
    runner = _runner(model, config, world, device)
    autocast = _autocast(config, device)
    stop = config.steps if max_steps is None else min(config.steps, step + max_steps)
    log.bar = tqdm(
        total=config.steps,
        initial=step,
        disable=not progress or rank != 0,
        dynamic_ncols=True,
        desc="minuet train",
    )
    log.restart()
    deadline = None if max_seconds is None else log.tick + max_seconds
    stream = _batch_stream(
        _Batches(data, train_idx, config, rank=rank, world=world, first=step, stop=stop),
        config,
        device,
    )
    while step < stop:
        batch_step, x, w = next(stream)
        if batch_step != step:  # pragma: no cover - a broken reader, never expected
            msg = f"the data pipeline delivered the batch of step {batch_step} at step {step}."
            raise RuntimeError(msg)
        x, w = x.to(device, non_blocking=True), w.to(device, non_blocking=True)
        lr, loss = _optimisation_step(
            runner, model, ema, optimizer, x, w, step=step, rank=rank, config=config,
            autocast=autocast,
        )
        step += 1
        if deadline is not None and time.perf_counter() > deadline:
            stop = step
        log.add(loss, len(x) * world)
        last = step == stop
        if step % config.log_every == 0 or last:
            row = log.row(step, lr)
            validating = step % config.validate_every == 0 or step == config.steps
            if rank == 0 and len(val_idx) and validating:
                row["val_loss"] = _validate(ema, data, val_idx, config, device, autocast)
            if rank == 0 and callback is not None and (validating or last):
                row.update(callback(step, ema) or {})
            log.write(row)
        if step % config.checkpoint_every == 0 or last:
            if rank == 0:
                save_checkpoint(
                    checkpoint,
                    model=model,
                    ema=ema,
                    optimizer=optimizer,
                    step=step,
                    extra={"config": config.to_dict()},
                )
            if world > 1:
                dist.barrier()
    del stream  # stops the reader processes of a run cut short
    log.bar.close()
    if step == config.steps and rank == 0:
        save_model(ema, output / "model", metadata={"steps": step, "training": config.to_dict()})
    if started:
        dist.destroy_process_group()
    return ema.eval(), log.history


def _check_batch_size(config, world):
    if config.batch_size % world:
        msg = (
            f"batch_size ({config.batch_size}) must be divisible by the number of "
            f"processes ({world})."
        )
        raise ValueError(msg)


def _set_up(config, device, checkpoint):
    """Model, EMA, optimiser and first step: fresh, from ``config.init``, or from ``checkpoint``.

    ``checkpoint`` is None for a run that must not resume; a path that does
    not exist yet starts the run afresh.
    """
    model = DiffusionAutoencoder(config.model).to(device)
    resuming = checkpoint is not None and checkpoint.exists()
    if config.init and not resuming:
        _initialise(model, config.init)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    step = 0
    if resuming:
        step, _ = load_checkpoint(
            checkpoint, model=model, ema=ema, optimizer=optimizer, device=device
        )
    return model, ema, optimizer, step


def _start_run_folder(output, config, log):
    """Create the run folder and write its configuration and the history kept so far."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "config.json").write_text(config.to_json())
    log.path.write_text("".join(json.dumps(row) + "\n" for row in log.history))


def _data_and_split(config):
    """The data files as one collection, and the training and validation indices."""
    data = _Data(config)
    train_idx, val_idx = split_indices(
        len(data), validation_fraction=config.validation_fraction, seed=config.seed
    )
    val_idx = val_idx[: config.validation_size]
    if len(train_idx) < config.batch_size:
        msg = (
            f"{len(train_idx)} training images is fewer than one batch of "
            f"{config.batch_size}; lower batch_size or add data."
        )
        raise ValueError(msg)
    return data, train_idx, val_idx


def _runner(model, config, world, device):
    """The loss of a batch as a module, wrapped for DistributedDataParallel when ``world > 1``."""
    runner = _TrainStep(model, config.consistency_weight, config.decorrelation_weight)
    if world > 1:
        runner = nn.parallel.DistributedDataParallel(
            runner, device_ids=[device.index] if device.type == "cuda" else None
        )
    return runner


def _optimisation_step(runner, model, ema, optimizer, x, weight, *, step, rank, config,
                       autocast):
    """Augment a batch, take one AdamW step, update the EMA; return the rate and the loss.

    Everything random is drawn from a generator seeded by the seed, the step
    and the process, so a resumed run draws what an uninterrupted one does.
    """
    model.train()
    gen = torch.Generator(x.device).manual_seed(
        int(np.random.default_rng([config.seed, 2, step, rank]).integers(2**62))
    )
    view, view_w = augment(
        x, weight, generator=gen, rotation_probability=config.rotation_probability
    )
    second = None
    if config.consistency_weight > 0:
        second, _ = augment(
            x, weight, generator=gen, rotation_probability=config.rotation_probability
        )
    lr = learning_rate(config, step)
    for group in optimizer.param_groups:
        group["lr"] = lr
    with autocast:
        loss, diffusion_loss = runner(view, view_w, gen, second)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    decay = min(config.ema_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
            p_ema.lerp_(p, 1 - decay)
    return lr, float(diffusion_loss)


class _Log:
    """The run's history: losses and throughput since the last row, rows, the progress bar.

    Rows are appended to ``path`` (one JSON object a line) by the process
    that writes (``writer``); on resume the rows up to the checkpoint's step
    are kept.
    """

    def __init__(self, path, step, *, writer):
        self.path, self.writer = path, writer
        self.history = _read_history(path, step)
        self.bar = None

    def restart(self):
        """Start measuring the next row's loss and throughput."""
        self.losses, self.seen, self.tick = [], 0, time.perf_counter()

    def add(self, loss, images):
        self.losses.append(loss)
        self.seen += images
        self.bar.update(1)

    def row(self, step, lr):
        """The row of ``step``, without a validation loss yet."""
        return {
            "step": step,
            "loss": float(np.mean(self.losses)),
            "val_loss": None,
            "images_per_s": self.seen / (time.perf_counter() - self.tick),
            "learning_rate": lr,
        }

    def write(self, row):
        """Add ``row`` to the history, the file and the bar, and start the next row."""
        self.bar.set_postfix(loss=f"{row['loss']:.4f}", img_s=f"{row['images_per_s']:.0f}")
        self.history.append(row)
        if self.writer:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        self.restart()
