"""Resumed catalogue runs whose parts, manifest or inputs were damaged or changed."""

import json
import shutil

import h5py
import numpy as np
import pytest

from minuet.catalogue import ResumeWarning, encode_catalogue

N_ROWS = 12


@pytest.fixture(scope="module")
def model(saved_tiny_model):
    return saved_tiny_model


def _write(path, seed):
    images = np.random.default_rng(seed).normal(0, 0.01, (N_ROWS, 3, 72, 72)).astype("f4")
    with h5py.File(path, "w") as f:
        f["images"] = images
    return path


@pytest.fixture
def source(tmp_path):
    return _write(tmp_path / "set.h5", 1)


def _latents(table):
    return np.stack([np.asarray(table[f"latent_{i}"]) for i in range(5)], axis=1)


def _unfinished(model, source, output):
    """A finished run whose parts are kept and whose output is removed: as if interrupted."""
    table = encode_catalogue(source, output, model=model, chunk_size=4, keep_parts=True)
    output.unlink()
    return table, output.with_name(output.name + ".parts")


def test_a_truncated_part_is_redone(model, source, tmp_path):
    reference, parts = _unfinished(model, source, tmp_path / "out.parquet")
    part = parts / "part-0000001.npz"
    part.write_bytes(part.read_bytes()[:100])
    with pytest.warns(ResumeWarning, match="cannot be read .* truncated or corrupt"):
        resumed = encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4)
    assert resumed["row"].tolist() == reference["row"].tolist()
    np.testing.assert_array_equal(_latents(resumed), _latents(reference))


def test_a_part_replaced_by_another_parts_copy_is_redone(model, source, tmp_path):
    reference, parts = _unfinished(model, source, tmp_path / "out.parquet")
    shutil.copy(parts / "part-0000000.npz", parts / "part-0000002.npz")
    with pytest.warns(ResumeWarning, match="holds unit 0, not unit 2"):
        resumed = encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4)
    assert resumed["row"].tolist() == list(range(N_ROWS))
    np.testing.assert_array_equal(_latents(resumed), _latents(reference))


def test_a_part_of_another_run_is_redone(model, source, tmp_path):
    reference, parts = _unfinished(model, source, tmp_path / "out.parquet")
    _, other = _unfinished(model, source, tmp_path / "other.parquet")
    data = dict(np.load(other / "part-0000001.npz"))
    data["run"] = np.array("0" * 64)
    np.savez(parts / "part-0000001.npz", **data)
    with pytest.warns(ResumeWarning, match="written by another run"):
        resumed = encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4)
    np.testing.assert_array_equal(_latents(resumed), _latents(reference))


def test_a_part_whose_columns_were_altered_is_redone(model, source, tmp_path):
    reference, parts = _unfinished(model, source, tmp_path / "out.parquet")
    data = dict(np.load(parts / "part-0000001.npz"))
    data["latents"] = data["latents"] + 1  # a well-formed file with other numbers
    np.savez(parts / "part-0000001.npz", **data)
    with pytest.warns(ResumeWarning, match="do not match the SHA-256 it records"):
        resumed = encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4)
    np.testing.assert_array_equal(_latents(resumed), _latents(reference))


def test_a_part_written_before_parts_carried_a_sha256_is_reused(model, source, tmp_path):
    reference, parts = _unfinished(model, source, tmp_path / "out.parquet")
    data = dict(np.load(parts / "part-0000001.npz"))
    del data["sha256"]
    data["latents"] = data["latents"] + 1  # marks the part: reused, not encoded again
    np.savez(parts / "part-0000001.npz", **data)
    resumed = encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4)
    expected = _latents(reference)
    expected[4:8] += 1
    np.testing.assert_array_equal(_latents(resumed), expected)


@pytest.mark.parametrize("content", ["{not json", "[]", ""], ids=["broken", "list", "empty"])
def test_a_corrupt_manifest_is_rewritten_and_the_parts_checked(model, source, tmp_path, content):
    reference, parts = _unfinished(model, source, tmp_path / "out.parquet")
    (parts / "manifest.json").write_text(content)
    with pytest.warns(ResumeWarning, match="of an unfinished run is damaged"):
        resumed = encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4)
    np.testing.assert_array_equal(_latents(resumed), _latents(reference))


def test_a_regenerated_input_is_refused_then_started_over(model, source, tmp_path):
    _unfinished(model, source, tmp_path / "out.parquet")
    _write(source, 2)  # same path, other cutouts
    with pytest.raises(ValueError, match=r"input file\(s\) .*set.h5.* changed"):
        encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4)
    fresh = encode_catalogue(source, tmp_path / "fresh.parquet", model=model, chunk_size=4)
    again = encode_catalogue(source, tmp_path / "out.parquet", model=model, chunk_size=4,
                             overwrite=True)
    np.testing.assert_array_equal(_latents(again), _latents(fresh))


def test_a_failed_run_without_parts_does_not_block_the_corrected_run(model, source, tmp_path):
    output = tmp_path / "out.parquet"
    with h5py.File(source, "a") as f:
        f["images"][3] = np.nan
    with pytest.raises(ValueError, match="has too few valid pixels"):
        encode_catalogue(source, output, model=model, chunk_size=4, on_invalid="raise")
    assert (tmp_path / "out.parquet.parts").exists()
    table = encode_catalogue(source, output, model=model, chunk_size=4)
    assert not table["valid"][3]
    assert table["valid"].sum() == N_ROWS - 1


def test_a_parts_directory_holding_other_files_is_left_alone(model, source, tmp_path):
    parts = tmp_path / "out.parquet.parts"
    parts.mkdir()
    (parts / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds files that minuet did not write"):
        encode_catalogue(source, tmp_path / "out.parquet", model=model)
    assert (parts / "notes.txt").read_text() == "mine"


def test_a_parts_manifest_of_another_program_is_left_alone(model, source, tmp_path):
    parts = tmp_path / "out.parquet.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"format": "someone-else"}))
    with pytest.raises(FileExistsError, match="holds files that minuet did not write"):
        encode_catalogue(source, tmp_path / "out.parquet", model=model)
    assert json.loads((parts / "manifest.json").read_text()) == {"format": "someone-else"}


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda p: p.mkdir(), ValueError, "is a directory"),
        (lambda p: p.write_text("not hdf5"), ValueError, r"could not open .*in.h5 as HDF5"),
        (lambda p: h5py.File(p, "w").create_group("images"), ValueError,
         "'images' in .*in.h5 is a group"),
        (lambda p: h5py.File(p, "w").create_dataset("images", data=np.zeros((3, 8))),
         ValueError, r"is shape \(3, 8\)"),
    ],
    ids=["directory", "not-hdf5", "group", "flat"],
)
def test_bad_inputs_are_named(model, tmp_path, make, error, match):
    path = tmp_path / "in.h5"
    handle = make(path)
    if hasattr(handle, "file"):
        handle.file.close()
    with pytest.raises(error, match=match):
        encode_catalogue(path, tmp_path / "out.parquet", model=model)
