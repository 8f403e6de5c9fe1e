import h5py
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from minuet.catalogue import encode_catalogue, encode_dask_array, encode_files_dask
from minuet.cli import main
from minuet.models import resolve_precision


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.random.default_rng(3).normal(0, 0.05, (5, 3, 72, 72)).astype("f4")
    return path


def test_encode_catalogue_records_precision(saved_tiny_model, source, tmp_path):
    out = {}
    for precision in ("fp32", "bf16", "auto"):
        table = encode_catalogue(source, tmp_path / f"{precision}.ecsv", model=saved_tiny_model,
                                 precision=precision, progress=False)
        assert table.meta["precision"] == resolve_precision(precision)
        assert QTable.read(tmp_path / f"{precision}.ecsv").meta["precision"] == \
            resolve_precision(precision)
        out[precision] = np.asarray(table["latent_0"])
    assert not np.array_equal(out["fp32"], out["bf16"])
    fits_table = encode_catalogue(source, tmp_path / "x.fits", model=saved_tiny_model,
                                  precision="bf16", progress=False)
    assert fits_table.meta["precision"] == "bf16"
    assert fits.getheader(tmp_path / "x.fits", 1)["PRECISN"] == "bf16"


def test_resume_refuses_another_precision(saved_tiny_model, source, tmp_path):
    out = tmp_path / "latents.ecsv"
    encode_catalogue(source, out, model=saved_tiny_model, precision="fp32", chunk_size=2,
                     keep_parts=True, progress=False)
    out.unlink()
    refusal = r"cannot be resumed: it used another model setting \(precision\)"
    with pytest.raises(ValueError, match=refusal):
        encode_catalogue(source, out, model=saved_tiny_model, precision="bf16", chunk_size=2,
                         progress=False)


def test_dask_encoders_take_precision(saved_tiny_model, source, tmp_path):
    import dask.array as da

    images = np.random.default_rng(4).normal(0, 0.05, (4, 3, 72, 72)).astype("f4")
    z16 = encode_dask_array(da.from_array(images, chunks=2), model=saved_tiny_model,
                            precision="bf16").compute()
    z32 = saved_tiny_model.encode(images, precision="fp32")
    assert z16.shape == (4, 5)
    assert not np.array_equal(z16[:, 0], np.asarray(z32["latent_0"]))
    table = encode_files_dask([source], tmp_path / "d.ecsv", model=saved_tiny_model,
                              precision="fp32")
    assert table.meta["precision"] == "fp32"


def test_cli_precision(saved_tiny_model, source, tmp_path):
    model = str(saved_tiny_model.path)
    latents = tmp_path / "latents.ecsv"
    assert main(["encode", str(source), str(latents), "--model", model, "--no-progress",
                 "--precision", "bf16"]) == 0
    assert QTable.read(latents).meta["precision"] == "bf16"
    out = tmp_path / "recon.fits"
    assert main(["reconstruct", str(latents), str(out), "--model", model, "--steps", "2",
                 "--seed", "1", "--precision", "fp32"]) == 0
    assert fits.getheader(out)["PRECISN"] == "fp32"
    with pytest.raises(SystemExit):
        main(["encode", str(source), str(tmp_path / "o.ecsv"), "--precision", "fp16"])
