"""Inputs a careless user or an attacker would give: each fails clearly or falls back as told."""

import numpy as np
import pytest


@pytest.fixture
def noise():
    """Two sky-noise cutouts in nanomaggies: plausible, so every refusal comes from the change."""
    return np.random.default_rng(3).normal(0, 0.01, (2, 3, 72, 72))
