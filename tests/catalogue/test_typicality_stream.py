"""Streamed catalogues carry the typicality of `Minuet.encode`, and the heads read it."""

import warnings

import h5py
import numpy as np
import pytest
from astropy.table import Table

from minuet import Minuet
from minuet.catalogue import encode_catalogue
from minuet.cli import main
from minuet.typicality import cutout_statistics
from minuet.typicality._statistics import _pixel_noise

N = 24


@pytest.fixture(scope="module")
def model():
    return Minuet.pretrained()


@pytest.fixture(scope="module")
def simulated():
    from minuet.simulate import simulate

    images, _, _, _ = simulate(N, seed=21)
    return images


@pytest.fixture
def source(tmp_path, simulated):
    path = tmp_path / "cutouts.h5"
    with h5py.File(path, "w") as f:
        f["images"] = simulated
    return path


def test_catalogue_typicality_equals_that_of_encode(model, simulated, source, tmp_path):
    table = encode_catalogue(source, tmp_path / "latents.ecsv", model=model, chunk_size=10,
                             progress=False)
    direct = model.encode(simulated, progress=False)
    for name in ("typicality", "typicality_latent", "typicality_image"):
        np.testing.assert_allclose(table[name], direct[name], rtol=1e-6)
    np.testing.assert_array_equal(table["atypical"], direct["atypical"])
    n = model.typicality_scorer._record.n_calibration
    assert table.meta["typicality_calibration_galaxies"] == n
    again = Table.read(tmp_path / "latents.ecsv")
    assert again.meta["typicality_calibration_galaxies"] == n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = model.posterior(again, properties=["redshift"], n_samples=50, seed=0)
    assert "atypical" in post.colnames
    assert post.meta["sample_typicality"]["n_galaxies"] == N


def test_fits_catalogues_keep_what_the_sample_test_needs(model, source, tmp_path):
    encode_catalogue(source, tmp_path / "latents.fits", model=model, progress=False)
    again = Table.read(tmp_path / "latents.fits")
    assert again.meta["TYPNCAL"] == model.typicality_scorer._record.n_calibration
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        post = model.posterior(again, properties=["redshift"], n_samples=50, seed=0)
    assert post.meta["sample_typicality"]["n_galaxies"] == N


def test_typicality_can_be_left_out_and_a_run_resumes_only_with_its_setting(model, source,
                                                                           tmp_path):
    out = tmp_path / "latents.parquet"
    table = encode_catalogue(source, out, model=model, typicality=False, keep_parts=True,
                             progress=False)
    assert "typicality" not in table.colnames
    assert "typicality=False" in table.meta["typicality"]
    out.unlink()
    with pytest.raises(ValueError, match="typicality"):
        encode_catalogue(source, out, model=model, progress=False)


def test_the_command_line_reports_the_sample_test(model, source, tmp_path, capsys):
    assert main(["encode", str(source), str(tmp_path / "out.parquet"), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"typicality: {N} galaxies" in printed
    assert main(["encode", str(source), str(tmp_path / "bare.parquet"), "--no-progress",
                 "--no-typicality"]) == 0
    assert "typicality:" not in capsys.readouterr().out


def test_vectorised_pixel_noise_equals_the_per_plane_estimate(simulated):
    flux = np.asarray(simulated, dtype=np.float64)
    mask = np.zeros(flux.shape, dtype=bool)
    mask[::5, 1, 30:40, :] = True  # some planes masked: those take the per-plane path
    mask[::7, :, :4, :4] = True
    stats = cutout_statistics(flux, mask)
    yy, xx = np.mgrid[:72, :72]
    sky = np.hypot(yy - 35.5, xx - 35.5) > 24
    expected = np.array([[_pixel_noise(flux[i, b], mask[i, b], sky) for b in range(3)]
                         for i in range(len(flux))])
    np.testing.assert_array_equal(stats[:, :3], np.log10(expected))
