import numpy as np
import pytest
import torch

from minuet.cutouts import AsinhStretch
from minuet.training import reconstruction_quality


class EchoModel(torch.nn.Module):
    """Reconstructs every galaxy as ``scale`` times its input; latents share a dimension."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.stretch = AsinhStretch()
        self.last = None

    def encode(self, x):
        self.last = x
        m = x.mean(dim=(1, 2, 3))
        other = x[:, 0, 0, 0]
        return torch.stack([m, 3 * m + 1, other], 1)

    def decode(self, z, *, steps=None, generator=None):
        flux = self.scale * self.stretch.inverse(self.last.numpy())
        return torch.from_numpy(self.stretch.forward(flux).astype(np.float32))


def galaxies(n=6, size=16, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    blob = np.exp(-0.5 * (xx**2 + yy**2) / 4)
    images = rng.uniform(0.5, 2, (n, 3, 1, 1)) * blob + rng.normal(0, 0.01, (n, 3, size, size))
    invvar = np.full(images.shape, 1e4)
    invvar[:, :, 0, 0] = 0  # masked pixels never count
    return images, invvar, np.broadcast_to(blob > 0.3, (n, size, size)).copy()


def test_perfect_and_scaled_reconstructions():
    images, invvar, footprint = galaxies()
    q = reconstruction_quality(EchoModel(), images, invvar, footprint, n_draws=2)
    assert q["chi2_mean"] == pytest.approx(0, abs=1e-6)
    assert q["abs_dmag_r"] == pytest.approx(0, abs=1e-5)
    assert q["abs_dcolor_gr"] == pytest.approx(0, abs=1e-5)
    assert q["max_abs_spearman"] == pytest.approx(1)
    assert (q["n_draws"], q["n_galaxies"]) == (2, 6)
    q = reconstruction_quality(EchoModel(2.0), images, invvar, footprint, n_draws=1)
    # twice the flux in every band: 0.753 mag brighter, colours unchanged
    assert q["abs_dmag_r"] == pytest.approx(2.5 * np.log10(2), rel=1e-4)
    assert q["abs_dcolor_gr"] == pytest.approx(0, abs=1e-5)
    fp = footprint[:, None] & (invvar > 0)
    expected = np.median(
        [(images[i] ** 2 * invvar[i])[fp[i]].sum() / fp[i].sum() for i in range(6)]
    )
    assert q["chi2_one"] == pytest.approx(expected, rel=1e-4)


def test_bad_shapes():
    images, invvar, footprint = galaxies()
    with pytest.raises(ValueError, match="footprint"):
        reconstruction_quality(EchoModel(), images, invvar, footprint[:3])
    with pytest.raises(ValueError, match="n_draws"):
        reconstruction_quality(EchoModel(), images, invvar, footprint, n_draws=0)


def test_latent_rank_correlation_finds_a_duplicated_dimension():
    from astropy.table import Table

    from minuet.training import max_abs_spearman

    rng = np.random.default_rng(0)
    independent = rng.standard_normal((500, 4))
    assert max_abs_spearman(independent) < 0.2
    duplicated = np.column_stack([independent, -np.exp(independent[:, 1])])
    assert max_abs_spearman(duplicated) == pytest.approx(1.0)
    table = Table({f"latent_{i}": duplicated[:, i] for i in range(5)})
    assert max_abs_spearman(table) == pytest.approx(1.0)
    with_nan = duplicated.copy()
    with_nan[0] = np.nan  # a refused cutout's row is left out, not propagated
    assert max_abs_spearman(with_nan) == pytest.approx(1.0)
