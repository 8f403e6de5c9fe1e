import h5py
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable, Table

from minuet.cli import main


@pytest.fixture(scope="module")
def model_dir(saved_tiny_model):
    return str(saved_tiny_model.path)


@pytest.fixture
def images():
    return np.random.default_rng(9).normal(0, 0.01, (6, 3, 72, 72)).astype(np.float32)


def test_encode_then_reconstruct(model_dir, images, tmp_path, capsys):
    source = tmp_path / "set.h5"
    with h5py.File(source, "w") as f:
        f["images"] = images
    latents = tmp_path / "latents.parquet"
    assert main(["encode", str(source), str(latents), "--model", model_dir, "--no-progress"]) == 0
    assert "encoded 6 cutouts (0 refused" in capsys.readouterr().out
    table = QTable.read(latents)
    assert len(table) == 6

    out = tmp_path / "recon.fits"
    status = main(["reconstruct", str(latents), str(out), "--model", model_dir, "--rows", "1:4",
                   "--n-samples", "2", "--steps", "2", "--seed", "3"])
    assert status == 0
    with fits.open(out) as hdul:
        assert hdul[0].data.shape == (3, 3, 72, 72)
        assert hdul[0].header["BUNIT"] == "nanomaggy"
        assert hdul[0].header["NSAMPLES"] == 2
        assert hdul["STD"].data.shape == (3, 3, 72, 72)


@pytest.mark.parametrize("suffix", [".parquet"])
def test_encode_table_input(model_dir, images, tmp_path, suffix):
    source = tmp_path / f"cutouts{suffix}"
    Table({"name": list("abcdef"), "cutout": images}).write(source)
    out = tmp_path / "latents.ecsv"
    assert main(["encode", str(source), str(out), "--model", model_dir, "--no-progress"]) == 0
    table = QTable.read(out)
    assert table["name"].tolist() == list("abcdef")
    assert "cutout" not in table.colnames
    assert "latent_4" in table.colnames


def test_errors_are_reported_not_raised(model_dir, tmp_path, capsys):
    status = main(["encode", str(tmp_path / "missing.h5"), str(tmp_path / "out.parquet"),
                   "--model", model_dir])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err
    Table({"x": np.zeros((2, 10))}).write(tmp_path / "flat.parquet")
    status = main(["encode", str(tmp_path / "flat.parquet"), str(tmp_path / "o.ecsv"),
                   "--column", "x", "--model", model_dir])
    assert status == 2
    assert "not 3 x size x size" in capsys.readouterr().err
    status = main(["reconstruct", str(tmp_path / "none.parquet"), str(tmp_path / "x.fits"),
                   "--model", model_dir])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err
