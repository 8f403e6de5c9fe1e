import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from minuet import Minuet
from minuet.catalogue import ResumeWarning, encode_catalogue

N_ROWS = 30


@pytest.fixture(scope="module")
def model(saved_tiny_model):
    return saved_tiny_model


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(11)
    return rng.normal(0, 0.01, (N_ROWS, 3, 72, 72)).astype(np.float32)


@pytest.fixture
def hdf5_file(tmp_path, images):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = images
        f["invvar"] = np.full(images.shape, 1e4, np.float32)
    return path


def _latents(table, model):
    return np.stack([np.asarray(table[name]) for name in model.latent_names], axis=1)


@pytest.mark.parametrize("suffix", [".parquet", ".h5", ".fits", ".ecsv"])
def test_matches_in_memory_encoding(model, images, hdf5_file, tmp_path, suffix):
    output = tmp_path / f"latents{suffix}"
    table = encode_catalogue(hdf5_file, output, model=model, chunk_size=7, batch_size=4)
    assert output.exists()
    assert not (tmp_path / f"latents{suffix}.parts").exists()
    expected = model.encode(images)
    np.testing.assert_allclose(_latents(table, model), _latents(expected, model),
                               rtol=1e-5, atol=1e-6)
    assert table["row"].tolist() == list(range(N_ROWS))
    read = QTable.read(output, **({"path": "latents"} if suffix == ".h5" else {}))
    np.testing.assert_array_equal(_latents(read, model), _latents(table, model))
    key = "WSHA256" if suffix == ".fits" else "weights_sha256"
    assert read.meta[key] == model.sha256


def test_mixed_hdf5_and_fits_inputs(model, images, hdf5_file, tmp_path):
    fits_paths = []
    for i in range(3):
        path = tmp_path / f"cutout{i}.fits"
        header = fits.Header({"BANDS": "grz", "BAND0": "g", "BAND1": "r", "BAND2": "z"})
        fits.PrimaryHDU(images[i], header=header).writeto(path)
        fits_paths.append(path)
    table = encode_catalogue([*fits_paths[:2], hdf5_file, fits_paths[2]],
                             tmp_path / "out.parquet", model=model, chunk_size=16)
    assert len(table) == N_ROWS + 3
    assert table["source_index"].tolist()[:2] == [0, 1]
    assert table["source_index"][-1] == 3
    np.testing.assert_allclose(_latents(table, model)[0], _latents(table, model)[2],
                               rtol=1e-5, atol=1e-6)


def test_invalid_rows_are_flagged_not_dropped(model, images, tmp_path):
    bad = images.copy()
    bad[4] = np.nan
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["images"] = bad
    table = encode_catalogue(path, tmp_path / "out.ecsv", model=model, chunk_size=8)
    assert len(table) == N_ROWS
    assert not table["valid"][4]
    assert table["flag"][4] != ""
    assert np.all(np.isnan(_latents(table, model)[4]))


def _kill_part_way(model, hdf5_file, output):
    """Start an encoding of 10 units in a child process and SIGKILL it after 3 or more."""
    script = textwrap.dedent(
        f"""
        import time
        from minuet import Minuet
        from minuet.catalogue import encode_catalogue
        model = Minuet.load({str(model.path)!r})
        slow = model.encode_cutouts
        def encode_cutouts(*args, **kwargs):
            time.sleep(0.3)
            return slow(*args, **kwargs)
        model.encode_cutouts = encode_cutouts
        encode_catalogue({str(hdf5_file)!r}, {str(output)!r}, model=model, chunk_size=3)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    parts = output.with_name(output.name + ".parts")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(parts.glob("part-*.npz"))) < 3:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(list(parts.glob("part-*.npz")))
    assert 3 <= done < 10, "the job was not interrupted part-way"
    assert not output.exists()
    return parts


def test_resume_after_sigkill_equals_uninterrupted_run(model, hdf5_file, tmp_path):
    reference = encode_catalogue(hdf5_file, tmp_path / "reference.parquet", model=model,
                                 chunk_size=3)
    output = tmp_path / "killed.parquet"
    _kill_part_way(model, hdf5_file, output)
    resumed = encode_catalogue(hdf5_file, output, model=Minuet.load(model.path),
                               chunk_size=3)
    assert resumed["row"].tolist() == reference["row"].tolist()
    np.testing.assert_array_equal(_latents(resumed, model), _latents(reference, model))


def test_resume_after_sigkill_redoes_a_truncated_part(model, hdf5_file, tmp_path):
    reference = encode_catalogue(hdf5_file, tmp_path / "reference.parquet", model=model,
                                 chunk_size=3)
    output = tmp_path / "killed.parquet"
    parts = _kill_part_way(model, hdf5_file, output)
    part = parts / "part-0000001.npz"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    with pytest.warns(ResumeWarning, match="part-0000001.npz is not reused"):
        resumed = encode_catalogue(hdf5_file, output, model=Minuet.load(model.path),
                                   chunk_size=3)
    assert resumed["row"].tolist() == reference["row"].tolist()
    np.testing.assert_array_equal(_latents(resumed, model), _latents(reference, model))


def test_resume_after_sigkill_refuses_a_changed_input(model, hdf5_file, images, tmp_path):
    output = tmp_path / "killed.parquet"
    _kill_part_way(model, hdf5_file, output)
    with h5py.File(hdf5_file, "r+") as f:
        f["images"][0] = images[0] + 0.01  # the input is regenerated in place
    with pytest.raises(ValueError, match=r"set.h5.* changed \(size, modification time"):
        encode_catalogue(hdf5_file, output, model=Minuet.load(model.path), chunk_size=3)
    restarted = encode_catalogue(hdf5_file, output, model=Minuet.load(model.path),
                                 chunk_size=3, overwrite=True)
    reference = encode_catalogue(hdf5_file, tmp_path / "reference.parquet", model=model,
                                 chunk_size=3)
    assert restarted["row"].tolist() == reference["row"].tolist()
    np.testing.assert_array_equal(_latents(restarted, model), _latents(reference, model))


def test_unfinished_run_with_other_options_is_refused(model, hdf5_file, tmp_path):
    output = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    encode_catalogue(hdf5_file, output, model=model, chunk_size=5, keep_parts=True)
    output.unlink()
    (parts / "part-0000002.npz").unlink()
    with pytest.raises(ValueError, match="cannot be resumed: it used another chunk size"):
        encode_catalogue(hdf5_file, output, model=model, chunk_size=6)
    table = encode_catalogue(hdf5_file, output, model=model, chunk_size=6, overwrite=True)
    assert len(table) == N_ROWS


@pytest.mark.parametrize(
    ("sources", "output", "kwargs", "error", "match"),
    [
        (None, "out.txt", {}, ValueError, "cannot tell the output format"),
        ([], "out.parquet", {}, ValueError, "no input files were given"),
        ("missing.h5", "out.parquet", {}, FileNotFoundError, "does not exist"),
        (None, "out.parquet", {"dataset": "cutouts"}, ValueError, "has no dataset 'cutouts'"),
        (None, "out.parquet", {"chunk_size": 0}, ValueError, "chunk_size must be a positive"),
    ],
)
def test_bad_arguments(model, hdf5_file, tmp_path, sources, output, kwargs, error, match):
    sources = hdf5_file if sources is None else sources
    if isinstance(sources, str):
        sources = tmp_path / sources
    with pytest.raises(error, match=match):
        encode_catalogue(sources, tmp_path / output, model=model, **kwargs)


def test_existing_output_needs_overwrite(model, hdf5_file, tmp_path):
    output = tmp_path / "out.parquet"
    encode_catalogue(hdf5_file, output, model=model)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        encode_catalogue(hdf5_file, output, model=model)


def test_prefetch_keeps_order_and_raises_reader_errors():
    from minuet._prefetch import prefetch

    assert list(prefetch(range(1000))) == list(range(1000))

    def broken():
        yield 1
        yield 2
        msg = "corrupt chunk"
        raise OSError(msg)

    items = prefetch(broken())
    assert [next(items), next(items)] == [1, 2]
    with pytest.raises(OSError, match="corrupt chunk"):
        next(items)
