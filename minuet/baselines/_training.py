"""A compact, seeded training loop shared by the network baselines."""

import math
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from .._fitting import EarlyStopping
from .._weights import as_state_dict, load_weights, save_weights

__all__ = []


def autocast(precision):
    """bf16 autocast on CPU for ``'bf16'``, and for ``'auto'`` where the CPU has native bf16."""
    from ..models import autocast as precision_context

    if precision not in ("auto", "bf16", "fp32"):
        msg = f"precision must be 'auto', 'bf16' or 'fp32'; received {precision!r}."
        raise ValueError(msg)
    return precision_context(precision, "cpu")


def check_positive(**values):
    for name, value in values.items():
        if value is not None and not value > 0:
            msg = f"{name} must be positive; received {value!r}."
            raise ValueError(msg)


def train(model, batch_loss, train_idx, val_idx, *, steps, batch_size, learning_rate, seed,
          max_minutes=None, patience=10, validate_every=50, precision="auto", progress=False,
          weight_decay=1e-4, max_validation=512, desc="training"):
    """Optimise ``model`` with AdamW on ``batch_loss`` and stop early on validation.

    Parameters
    ----------
    model : `torch.nn.Module`
        The network; its best weights (lowest validation loss) are restored
        at the end.
    batch_loss : callable
        ``batch_loss(indices, generator, training)`` returns the scalar loss
        of those examples, augmenting them when ``training``.
    train_idx, val_idx : `numpy.ndarray`
        Example indices; with no validation indices there is no early stopping.
    steps, batch_size, learning_rate, seed : int, int, float, int
        Optimiser steps, batch size, learning rate and the seed of the batch
        order and augmentations.
    max_minutes : float, optional
        Wall-clock budget; training stops at the first step past it.
    patience : int
        Validations without improvement before stopping.
    validate_every : int
        Steps between validations.
    max_validation : int
        At most this many validation examples (the same ones every time).

    Returns
    -------
    history : dict
        ``train_loss`` and ``val_loss`` lists of ``[step, loss]``,
        ``best_step``, ``best_val_loss``, ``steps``, ``seconds`` and
        ``stopped`` (``'steps'``, ``'early'`` or ``'time'``).
    """
    check_positive(steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                   max_minutes=max_minutes,
                   patience=patience, validate_every=validate_every)
    cast = autocast(precision)
    val_idx = val_idx[:max_validation]
    generator = torch.Generator().manual_seed(int(seed))
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    warmup = max(1, min(100, steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup)
    )
    batch_size = min(int(batch_size), len(train_idx))
    per_epoch = max(1, len(train_idx) // batch_size)
    history = {"train_loss": [], "val_loss": [], "best_step": 0, "best_val_loss": math.inf}
    stopper, stopped = EarlyStopping(model, patience=patience), "steps"
    start = time.perf_counter()

    def validate(step):
        model.eval()
        with torch.no_grad(), cast:
            losses = [
                float(batch_loss(val_idx[i : i + batch_size], None, False)) * len(chunk)
                for i in range(0, len(val_idx), batch_size)
                if len(chunk := val_idx[i : i + batch_size])
            ]
        model.train()
        loss = sum(losses) / len(val_idx)
        history["val_loss"].append([step, loss])
        return loss

    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False)
    step = 0
    for step in bar:
        epoch, offset = divmod(step, per_epoch)
        order = np.random.default_rng([seed, epoch]).permutation(train_idx)
        indices = order[offset * batch_size : (offset + 1) * batch_size]
        with cast:
            loss = batch_loss(indices, generator, True)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        history["train_loss"].append([step + 1, float(loss.detach())])
        out_of_time = max_minutes is not None and time.perf_counter() - start > 60 * max_minutes
        if len(val_idx) and ((step + 1) % validate_every == 0 or out_of_time
                             or step + 1 == steps):
            val = validate(step + 1)
            bar.set_postfix(loss=f"{float(loss.detach()):.4g}", val=f"{val:.4g}")
            if val < history["best_val_loss"]:
                history["best_val_loss"], history["best_step"] = val, step + 1
            if stopper.update(val):
                stopped = "early"
                break
        if out_of_time:
            stopped = "time"
            break
    bar.close()
    stopper.restore()
    model.eval()
    history["steps"] = step + 1
    history["seconds"] = time.perf_counter() - start
    history["stopped"] = stopped
    if not len(val_idx):
        history["best_step"], history["best_val_loss"] = step + 1, None
    return history


def forward_in_batches(function, x, *, batch_size, precision):
    """``function`` applied to ``x`` in batches under ``precision``, as one float32 tensor."""
    with autocast(precision):
        out = [function(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)]
    return torch.cat(out)


def _summary(history):
    """What a saved network records of its training history."""
    if history is None:
        return None
    keys = ("best_step", "best_val_loss", "steps", "seconds", "stopped")
    return {k: history[k] for k in keys} | {"val_loss": history["val_loss"]}


def save_network(baseline, path, kind, *, metadata=None, **extra):
    """Write a baseline's network and settings in minuet's weights format; return the SHA-256."""
    record = {"format": kind, "config": baseline.config.to_dict(),
              "stretch": baseline.stretch.to_dict(), "seed": baseline.seed,
              "history": _summary(baseline.history), "metadata": metadata or {}, **extra}
    return save_weights(baseline.network.state_dict(), record, path)


def load_network(cls, path, kind):
    """Rebuild a baseline of class ``cls`` written by `save_network`; return it and its record."""
    from ..cutouts import AsinhStretch

    tensors, record = load_weights(path, kind=kind)
    config = cls.config_class.from_dict(record["config"])
    self = cls(config, stretch=AsinhStretch.from_dict(record["stretch"]), seed=record["seed"])
    self.network.load_state_dict(as_state_dict(tensors))
    self.network.eval()
    self.history = record.get("history")
    self.record = record
    return self, record
