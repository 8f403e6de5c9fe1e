"""Files that are not what their names say: devices, directories, HTML pages, groups."""

import os

import h5py
import numpy as np
import pytest
from astropy.io import fits

from minuet.cutouts import iter_hdf5, load_cutouts


def test_a_fits_name_linked_to_a_device_is_refused_without_reading(tmp_path):
    link = tmp_path / "cutout.fits"
    os.symlink("/dev/zero", link)
    with pytest.raises(ValueError, match="is not a regular file"):
        load_cutouts(link)


def test_a_directory_is_reported_as_a_directory(tmp_path):
    folder = tmp_path / "cutouts.fits"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        load_cutouts(folder)


def test_a_missing_file_is_reported_as_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cutouts(tmp_path / "missing.fits")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"<html><body>Rate limit exceeded</body></html>", "could not read .* as a FITS cutout"),
        (b"SIMPLE  =                    T" + b" " * 50, "could not read .* as a FITS cutout"),
        (b"", "could not read .* as a FITS cutout"),
    ],
    ids=["html", "truncated-header", "empty"],
)
def test_broken_fits_files_are_named(tmp_path, content, match):
    path = tmp_path / "cutout.fits"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_cutouts(path)


def test_a_truncated_fits_cube_is_named(noise, tmp_path):
    path = tmp_path / "cutout.fits"
    fits.PrimaryHDU(noise[0].astype("f4")).writeto(path)
    path.write_bytes(path.read_bytes()[:-20000])
    with pytest.raises(ValueError, match=r"cutout\.fits"):
        load_cutouts(path)


def test_an_unknown_suffix_names_the_formats(tmp_path):
    path = tmp_path / "cutout.png"
    path.write_bytes(b"\x89PNG")
    with pytest.raises(ValueError, match="cannot tell the format of"):
        load_cutouts(path)


def test_a_file_named_h5_that_is_not_hdf5_names_the_file(tmp_path):
    path = tmp_path / "set.h5"
    path.write_text("not hdf5")
    with pytest.raises(ValueError, match=r"could not open .*set.h5 as HDF5"):
        load_cutouts(path)


def test_an_hdf5_images_group_is_refused(tmp_path):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f.create_group("images")
    with pytest.raises(ValueError, match="has no dataset 'images'"):
        load_cutouts(path)


@pytest.mark.parametrize(
    ("shape", "match"),
    [((5, 72, 72), r"has shape \(5, 72, 72\)"), ((0, 3, 72, 72), "holds 0 cutouts")],
)
def test_hdf5_datasets_of_the_wrong_shape_are_refused(tmp_path, shape, match):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = np.zeros(shape, "f4")
    with pytest.raises(ValueError, match=match):
        load_cutouts(path)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": -1}, ValueError, "batch_size must be a positive integer"),
        ({"batch_size": 2.5}, ValueError, "batch_size must be a positive integer"),
        ({"start": 5, "stop": 2}, ValueError, "must satisfy 0 <= start <= stop"),
    ],
)
def test_iter_hdf5_refuses_bad_ranges(noise, tmp_path, kwargs, error, match):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = noise
    with pytest.raises(error, match=match):
        iter_hdf5(path, **kwargs)
