"""A small residual MLP for binary classification (pure torch)."""

import numpy as np
import torch
from torch import nn

from .._fitting import EarlyStopping, seeded

__all__ = []


class ResidualMLP(nn.Module):
    """
    ``Linear -> [x + Linear(SiLU(Linear(x)))] * blocks -> Linear`` giving one logit.

    Parameters
    ----------
    features : int
        Input dimension.
    width : int
        Hidden width.
    blocks : int
        Number of residual blocks.
    """

    def __init__(self, features, *, width=64, blocks=2):
        super().__init__()
        self.inp = nn.Linear(features, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
            for _ in range(blocks)
        )
        self.out = nn.Sequential(nn.SiLU(), nn.Linear(width, 1))

    def forward(self, x):
        """Return logits of shape ``(N,)``."""
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h).squeeze(-1)


def train_binary(x, y, *, width, blocks, max_epochs, learning_rate, weight_decay, patience,
                 batch_size, seed):
    """
    Fit a `ResidualMLP` with early stopping on a stratified 20% validation split.

    ``x`` is a float32 array (N, D), ``y`` a boolean array (N,).
    """
    rng = np.random.default_rng(seed)
    val = np.zeros(len(y), bool)
    for cls in (False, True):
        idx = np.flatnonzero(y == cls)
        val[rng.choice(idx, max(1, len(idx) // 5), replace=False)] = True
    xt, yt = torch.as_tensor(x[~val]), torch.as_tensor(y[~val], dtype=torch.float32)
    xv, yv = torch.as_tensor(x[val]), torch.as_tensor(y[val], dtype=torch.float32)
    with seeded(seed):
        model = ResidualMLP(x.shape[1], width=width, blocks=blocks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate,
                                  weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(int(seed))
    stopper = EarlyStopping(model, patience=patience, min_delta=1e-5)
    for _ in range(max_epochs):
        model.train()
        order = torch.randperm(len(yt), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(xt[idx]), yt[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(xv), yv).item()
        if stopper.update(val_loss):
            break
    stopper.restore()
    model.eval()
    return model
