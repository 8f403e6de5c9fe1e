import h5py
import numpy as np
import pytest
import torch
from astropy.io.misc.hdf5 import write_table_hdf5
from astropy.table import Table

SIZE = 16


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks run fastest, and steadiest on a shared machine, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(n, *, seed=0, size=SIZE):
    """Elliptical Gaussian galaxies whose size, brightness and shape follow a truth table."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    redshift = rng.uniform(0.05, 0.9, n)
    log_mstar = rng.normal(10.0, 0.5, n)
    log_sfr = 0.8 * (log_mstar - 10) + rng.normal(0, 0.3, n)
    axis_ratio = rng.uniform(0.2, 1.0, n)
    angle = rng.uniform(0, np.pi, n)
    radius = 1.0 + 3.0 * (1 - redshift)
    amplitude = 0.05 * 10 ** (0.4 * (log_mstar - 10)) / (1 + redshift) ** 2
    colour = np.array([0.6, 1.0, 1.4])
    flux = np.empty((n, 3, size, size), np.float32)
    footprint = np.empty((n, size, size), bool)
    for i in range(n):
        c, s = np.cos(angle[i]), np.sin(angle[i])
        u, v = c * xx + s * yy, (-s * xx + c * yy) / axis_ratio[i]
        profile = np.exp(-0.5 * (u**2 + v**2) / radius[i] ** 2)
        flux[i] = amplitude[i] * colour[:, None, None] * profile
        footprint[i] = profile > 0.1
    flux += rng.normal(0, 0.003, flux.shape).astype(np.float32)
    truth = Table({
        "redshift": redshift, "log_mstar": log_mstar, "log_sfr": log_sfr,
        "merger": rng.random(n) < 0.3, "spiral_arms": rng.random(n) < 0.3,
        "edge_on": axis_ratio < 0.35, "round": axis_ratio > 0.8,
    })
    invvar = np.full(flux.shape, 1 / 0.003**2, np.float32)
    return flux, invvar, footprint, truth


@pytest.fixture(scope="module")
def data():
    return blobs(96, seed=1)


@pytest.fixture(scope="module")
def h5file(tmp_path_factory, data):
    flux, invvar, footprint, truth = data
    path = tmp_path_factory.mktemp("baselines") / "tiny.h5"
    with h5py.File(path, "w") as f:
        f["images"], f["invvar"], f["footprint"] = flux, invvar, footprint
        write_table_hdf5(truth, f, path="truth", serialize_meta=True)
    return path
