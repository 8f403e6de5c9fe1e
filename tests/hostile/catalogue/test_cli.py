"""The command line given its own inputs as output, unreadable files and bad arguments."""

import json

import h5py
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from minuet.cli import main


@pytest.fixture(scope="module")
def model_dir(saved_tiny_model):
    return str(saved_tiny_model.path)


@pytest.fixture
def fields(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"field_{i}.h5"
        with h5py.File(path, "w") as f:
            f["images"] = np.random.default_rng(i).normal(0, 0.01, (2, 3, 72, 72))
        paths.append(path)
    return paths


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err


def _digest(path):
    return path.read_bytes()


def test_encode_refuses_an_output_that_is_an_input(model_dir, fields, capsys):
    before = _digest(fields[0])
    status, err = _run(capsys, "encode", fields[0], fields[0], "--overwrite", "--model", model_dir)
    assert status == 2
    assert "is also one of the inputs" in err
    assert _digest(fields[0]) == before


def test_encode_refuses_a_forgotten_output_in_a_glob(model_dir, fields, capsys):
    before = _digest(fields[-1])
    status, err = _run(capsys, "encode", *fields, "--overwrite", "--model", model_dir)
    assert status == 2
    assert "already holds cutouts (an HDF5 dataset 'images'" in err
    assert "--overwrite does not replace it" in err
    assert _digest(fields[-1]) == before


def test_encode_refuses_a_fits_output_that_holds_a_cutout(model_dir, fields, tmp_path, capsys):
    cutout = tmp_path / "galaxy.fits"
    fits.PrimaryHDU(np.ones((3, 72, 72), "f4")).writeto(cutout)
    status, err = _run(capsys, "encode", fields[0], cutout, "--overwrite", "--model", model_dir)
    assert status == 2
    assert "already holds cutouts (a FITS image" in err
    assert fits.getdata(cutout).shape == (3, 72, 72)


def test_encode_refuses_a_parquet_output_that_holds_cutouts(model_dir, fields, tmp_path, capsys):
    table = tmp_path / "cutouts.parquet"
    Table({"cutout": np.ones((2, 3, 72, 72), "f4")}).write(table)
    status, err = _run(capsys, "encode", fields[0], table, "--overwrite", "--model", model_dir)
    assert status == 2
    assert "already holds cutouts (a Parquet column 'cutout')" in err


def test_encode_still_overwrites_its_own_latents(model_dir, fields, tmp_path, capsys):
    out = tmp_path / "latents.fits"
    assert main(["encode", str(fields[0]), str(out), "--model", model_dir, "--no-progress"]) == 0
    assert main(["encode", str(fields[1]), str(out), "--model", model_dir, "--no-progress",
                 "--overwrite"]) == 0
    assert "encoded 2 cutouts" in capsys.readouterr().out


def test_encode_of_an_hdf5_group_is_an_error_not_a_traceback(model_dir, tmp_path, capsys):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f.create_group("images")
    status, err = _run(capsys, "encode", path, tmp_path / "out.parquet", "--model", model_dir)
    assert status == 2
    assert "'images' in" in err
    assert "is a group" in err


def test_encode_of_a_directory_says_it_is_a_directory(model_dir, tmp_path, capsys):
    (tmp_path / "cutouts.h5").mkdir()
    status, err = _run(capsys, "encode", tmp_path / "cutouts.h5", tmp_path / "out.parquet",
                       "--model", model_dir)
    assert status == 2
    assert "is a directory" in err


@pytest.fixture
def latents(model_dir, fields, tmp_path):
    out = tmp_path / "latents.parquet"
    assert main(["encode", str(fields[0]), str(out), "--model", model_dir, "--no-progress"]) == 0
    return out


def test_reconstruct_refuses_to_write_over_its_latents(model_dir, latents, capsys):
    before = _digest(latents)
    status, err = _run(capsys, "reconstruct", latents, latents, "--overwrite",
                       "--model", model_dir)
    assert status == 2
    assert "is also one of the inputs" in err
    assert _digest(latents) == before


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("latents.xyz", b"garbage", "could not read .*latents.xyz as a table"),
        ("latents.parquet", b"garbage", "could not read .*latents.parquet as a table"),
        ("latents.fits", b"SIMPLE = T", "could not read .*latents.fits as a table"),
    ],
)
def test_reconstruct_names_an_unreadable_latents_file(model_dir, tmp_path, capsys, name,
                                                      content, match):
    path = tmp_path / name
    path.write_bytes(content)
    status, err = _run(capsys, "reconstruct", path, tmp_path / "out.fits", "--model", model_dir)
    assert status == 2
    assert err.count("\n") == 1  # one line, no traceback
    assert pytest.importorskip("re").search(match, err)


@pytest.mark.parametrize("rows", ["a:b", "5:2", "0:99", "3"])
def test_reconstruct_checks_rows(model_dir, latents, tmp_path, capsys, rows):
    status, err = _run(capsys, "reconstruct", latents, tmp_path / "out.fits", "--rows", rows,
                       "--model", model_dir)
    assert status == 2
    assert "is not START:STOP with 0 <= START < STOP <= 2" in err


@pytest.mark.parametrize(
    ("content", "match"),
    [("[1, 2]", "holds a JSON list; a training configuration is a JSON object"),
     ("{oops", "is not valid JSON")],
)
def test_train_refuses_a_configuration_that_is_not_an_object(tmp_path, capsys, content, match):
    config = tmp_path / "train.json"
    config.write_text(content)
    status, err = _run(capsys, "train", config)
    assert status == 2
    assert match in err


def test_train_names_an_unreadable_configuration(tmp_path, capsys):
    status, err = _run(capsys, "train", tmp_path)
    assert status == 2
    assert "could not read the configuration" in err


def test_encode_of_a_plain_json_file_is_an_error(model_dir, tmp_path, capsys):
    path = tmp_path / "cutouts.json"
    path.write_text(json.dumps({"images": []}))
    status, err = _run(capsys, "encode", path, tmp_path / "out.parquet", "--model", model_dir)
    assert status == 2
    assert "cannot tell the format of the input" in err
    assert "cutouts.json" in err
