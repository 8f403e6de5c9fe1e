import h5py
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import InverseVariance

from minuet.cutouts import CutoutWarning, iter_hdf5, load_cutouts, read_legacy_fits


def write_viewer_fits(path, cube, *, bands="grz", invvar=None, invvar_name="INVVAR"):
    header = fits.Header()
    header["BANDS"] = bands
    for i, band in enumerate(bands):
        header[f"BAND{i}"] = band
    hdus = [fits.PrimaryHDU(np.asarray(cube, "f4"), header=header)]
    if invvar is not None:
        hdus.append(fits.ImageHDU(np.asarray(invvar, "f4"), name=invvar_name))
    fits.HDUList(hdus).writeto(path)
    return path


@pytest.fixture
def cube():
    return np.stack([np.full((100, 100), v, "f4") for v in (1.0, 2.0, 3.0)])


# --- FITS --------------------------------------------------------------------------------


def test_read_legacy_fits_with_invvar(tmp_path, cube):
    path = write_viewer_fits(tmp_path / "c.fits", cube, invvar=np.full(cube.shape, 9.0))
    nd = read_legacy_fits(path)
    assert nd.meta["bands"] == ("g", "r", "z")
    assert isinstance(nd.uncertainty, InverseVariance)
    assert str(nd.unit) == "nanomaggy"
    cutouts = load_cutouts(path)
    assert cutouts.flux.shape == (1, 3, 72, 72)
    assert cutouts.has_invvar[0]
    assert cutouts.invvar[0, 0, 0, 0] == 9.0


def test_fits_band_order_from_header(tmp_path, cube):
    path = write_viewer_fits(tmp_path / "c.fits", cube, bands="zrg")
    cutouts = load_cutouts(path)
    np.testing.assert_array_equal(cutouts.flux[0, :, 0, 0], [3.0, 2.0, 1.0])
    assert not cutouts.has_invvar[0]


def test_fits_invvar_found_by_shape_when_unnamed(tmp_path, cube):
    path = write_viewer_fits(tmp_path / "c.fits", cube, invvar=np.ones(cube.shape), invvar_name="X")
    assert read_legacy_fits(path).uncertainty is not None


def test_list_of_fits_paths(tmp_path, cube):
    paths = [write_viewer_fits(tmp_path / f"{i}.fits", cube * i) for i in (1, 2)]
    cutouts = load_cutouts(paths)
    assert cutouts.flux[:, 0, 0, 0].tolist() == [1.0, 2.0]


def test_fits_bunit_in_njy(tmp_path, cube):
    header = fits.Header({"BUNIT": "nJy"})
    fits.PrimaryHDU(cube, header=header).writeto(tmp_path / "c.fits")
    assert load_cutouts(tmp_path / "c.fits").flux[0, 0, 0, 0] == pytest.approx(1 / 3631.0)


def test_fits_bad_bunit_warns(tmp_path, cube):
    fits.PrimaryHDU(cube, header=fits.Header({"BUNIT": "adu"})).writeto(tmp_path / "c.fits")
    with pytest.warns(CutoutWarning, match="BUNIT 'adu' is not a flux unit"):
        read_legacy_fits(tmp_path / "c.fits")


def test_corrupt_fits(tmp_path):
    path = tmp_path / "bad.fits"
    path.write_bytes(b"<html>Service unavailable</html>")
    with pytest.raises(ValueError, match=r"could not read .*bad.fits as a FITS cutout"):
        read_legacy_fits(path)
    with pytest.raises(ValueError, match=r"could not read .*bad.fits as a FITS cutout"):
        load_cutouts(path)


def test_truncated_fits(tmp_path, cube):
    path = write_viewer_fits(tmp_path / "c.fits", cube)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"could not read .* as a FITS cutout"):
        read_legacy_fits(path)


def test_fits_without_image(tmp_path):
    fits.PrimaryHDU().writeto(tmp_path / "empty.fits")
    with pytest.raises(ValueError, match=r"holds no image data"):
        read_legacy_fits(tmp_path / "empty.fits")


def test_fits_with_two_bands(tmp_path, cube):
    path = write_viewer_fits(tmp_path / "c.fits", cube[:2], bands="gr")
    with pytest.raises(ValueError, match=r"missing band\(s\) \['z'\]"):
        load_cutouts(path)


def test_unknown_file_type_and_missing_file(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"cannot tell the format of"):
        load_cutouts(tmp_path / "x.txt")
    with pytest.raises(FileNotFoundError, match=r"missing.fits does not exist"):
        load_cutouts(tmp_path / "missing.fits")


# --- HDF5 --------------------------------------------------------------------------------


@pytest.fixture
def stein_file(tmp_path):
    path = tmp_path / "stein.h5"
    images = np.zeros((7, 3, 152, 152), "f4")
    images += np.arange(7, dtype="f4")[:, None, None, None]
    images[:, :, 76, 76] = 100.0
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(1, 3, 152, 152))
    return path


@pytest.fixture
def sim_file(tmp_path):
    path = tmp_path / "sim.h5"
    rng = np.random.default_rng(3)
    invvar = np.ones((4, 3, 72, 72), "f4")
    invvar[1, 2, 5, 5] = 0.0
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=rng.normal(size=(4, 3, 72, 72)).astype("f2"))
        f.create_dataset("invvar", data=invvar)
        f.create_dataset("footprint", data=np.ones((4, 72, 72), bool))
        f.attrs["bands"] = np.array([b"g", b"r", b"z"])
        f.attrs["pixscale"] = 0.262
    return path


def test_iter_hdf5_crops_and_batches(stein_file):
    batches = list(iter_hdf5(stein_file, batch_size=3, start=1))
    assert [b.ids.tolist() for b in batches] == [[1, 2, 3], [4, 5, 6]]
    assert batches[0].flux.shape == (3, 3, 72, 72)
    assert batches[0].flux[0, 0, 36, 36] == 100.0
    assert batches[1].flux[0, 0, 0, 0] == 4.0
    assert batches[0].meta["dataset"] == "images"


def test_iter_hdf5_reads_only_the_window(stein_file, monkeypatch):
    requested = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        requested.append(key)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    next(iter_hdf5(stein_file, batch_size=2))
    rows, _, ys, xs = requested[0]
    assert (rows, ys, xs) == (slice(0, 2), slice(40, 112), slice(40, 112))


def test_simulated_layout(sim_file):
    cutouts = load_cutouts(sim_file)
    assert cutouts.flux.dtype == np.float32
    assert cutouts.has_invvar.all()
    assert cutouts.mask[1, 2, 5, 5]
    assert cutouts.mask.sum() == 1
    assert cutouts.footprint.shape == (4, 72, 72)
    batch = next(iter_hdf5(sim_file, batch_size=2, start=2))
    assert batch.ids.tolist() == [2, 3]
    np.testing.assert_allclose(batch.flux, cutouts.flux[2:])


def test_iter_hdf5_reading_ahead_gives_the_same_batches(sim_file, monkeypatch):
    import threading

    readers = set()
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        readers.add(threading.current_thread().name)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    plain = list(iter_hdf5(sim_file, batch_size=3))
    assert readers == {threading.current_thread().name}
    readers.clear()
    ahead = list(iter_hdf5(sim_file, batch_size=3, read_ahead=True))
    assert threading.current_thread().name not in readers  # the pixels came from the thread
    assert [b.ids.tolist() for b in ahead] == [[0, 1, 2], [3]]
    for a, b in zip(plain, ahead, strict=True):
        np.testing.assert_array_equal(a.flux, b.flux)
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(a.footprint, b.footprint)
        assert a.meta == b.meta


def test_hdf5_band_attribute_overrides_keyword(sim_file):
    with pytest.warns(CutoutWarning, match="the file names its bands"):
        load_cutouts(sim_file, bands="zrg")


def test_hdf5_other_dataset_name(tmp_path):
    path = tmp_path / "x.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cutouts", data=np.ones((2, 3, 80, 80), "f4"))
    assert len(load_cutouts(path, dataset="cutouts")) == 2


def test_hdf5_without_dataset(sim_file):
    with pytest.raises(ValueError, match=r"has no dataset 'cutouts'; it holds \['footprint'"):
        iter_hdf5(sim_file, dataset="cutouts")


def test_hdf5_wrong_ndim(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.ones((3, 72, 72), "f4"))
    with pytest.raises(ValueError, match=r"has shape \(3, 72, 72\); expected \(N, bands, H, W\)"):
        load_cutouts(path)


def test_hdf5_bad_range_and_batch_size(stein_file):
    with pytest.raises(ValueError, match=r"start=5 and stop=3 must satisfy"):
        iter_hdf5(stein_file, start=5, stop=3)
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer"):
        iter_hdf5(stein_file, batch_size=0)


def test_not_hdf5(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"could not open .* as HDF5"):
        iter_hdf5(path)


def test_hdf5_integer_images(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.ones((2, 3, 72, 72), "i2"))
    with pytest.raises(ValueError, match=r"integer dtype int16"):
        load_cutouts(path)


def test_hdf5_small_cutouts_padded(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.ones((2, 3, 64, 64), "f4"))
    with pytest.raises(ValueError, match=r"64 pixels are smaller than the required 72"):
        load_cutouts(path)
    assert load_cutouts(path, pad=True).mask[:, :, 0].all()
