import h5py
import numpy as np
import pytest


def write_cutouts(path, n=48, size=24, *, footprint=True, invvar=True, seed=0):
    """Write a tiny HDF5 file in the simulator's layout: blobs plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    radius = rng.uniform(1.5, 4.0, n)[:, None, None]
    profile = np.exp(-0.5 * (yy**2 + xx**2) / radius**2)
    colour = rng.uniform(0.2, 1.0, (n, 3))
    images = colour[:, :, None, None] * profile[:, None] + rng.normal(0, 0.003, (n, 3, size, size))
    with h5py.File(path, "w") as f:
        f["images"] = images.astype(np.float32)
        if invvar:
            iv = np.full(images.shape, 1 / 0.003**2, dtype=np.float32)
            iv[:, :, 0, :3] = 0
            f["invvar"] = iv
        if footprint:
            f["footprint"] = profile > 0.1
        f["truth"] = np.zeros(n, dtype=[("redshift", "f4")])
        f.attrs["bands"] = "grz"
        f.attrs["pixscale"] = 0.262
    return path


@pytest.fixture
def make_cutouts():
    return write_cutouts


@pytest.fixture
def cutout_file(tmp_path):
    return write_cutouts(tmp_path / "cutouts.h5")
