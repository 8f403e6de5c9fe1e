import h5py
import numpy as np
import pytest

from minuet.training import CutoutFile, loss_weights, split_indices
from minuet.training._footprint import central_footprint


def test_split_reproducible_and_disjoint():
    a = split_indices(100, validation_fraction=0.1, seed=3)
    b = split_indices(100, validation_fraction=0.1, seed=3)
    c = split_indices(100, validation_fraction=0.1, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])
    assert len(a[1]) == 10
    assert not set(a[0]) & set(a[1])
    with pytest.raises(ValueError, match="validation_fraction"):
        split_indices(10, validation_fraction=1.0)


def test_loss_weights():
    footprint = np.zeros((1, 2, 2), bool)
    footprint[0, 0, 0] = True
    invvar = np.ones((1, 3, 2, 2))
    invvar[0, 1, 1, 1] = 0
    invvar[0, 2, 1, 0] = np.nan
    w = loss_weights(footprint, invvar)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w[0, 0], [[0.9, 0.1], [0.1, 0.1]])
    assert w[0, 1, 1, 1] == 0
    assert w[0, 2, 1, 0] == 0


def test_read_orders_and_masks(cutout_file):
    lazy = CutoutFile(cutout_file, size=24)
    cached = CutoutFile(cutout_file, size=24, in_memory=True)
    idx = np.array([5, 2, 5, 0])
    x, w = lazy.read(idx)
    x2, w2 = cached.read(idx)
    assert x.shape == w.shape == (4, 3, 24, 24)
    assert x.dtype == w.dtype == np.float32
    # the in-memory cache keeps float16
    np.testing.assert_allclose(x, x2, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(w, w2, rtol=1e-3)
    np.testing.assert_array_equal(x[0], x[2])
    assert not np.array_equal(x[0], x[1])
    assert np.all(w[:, :, 0, :3] == 0)
    assert w.max() == pytest.approx(0.9)


def test_crop_nan_and_missing_footprint(tmp_path, make_cutouts):
    path = make_cutouts(tmp_path / "real.h5", n=4, size=40, footprint=False, invvar=False)
    with h5py.File(path, "a") as f:
        images = f["images"][:]
        images[0, 0, 20, 20] = np.nan
        f["images"][...] = images
    data = CutoutFile(path, size=24)
    x, w = data.read([0, 1])
    assert x.shape == (2, 3, 24, 24)
    assert np.isfinite(x).all()
    assert w[0, 0, 12, 12] == 0  # the NaN pixel, after the 8-pixel crop
    assert w[1, 1, 12, 12] == pytest.approx(0.9)  # centre inside the computed footprint
    assert w[1, 1, 0, 0] == pytest.approx(0.1)


def test_central_footprint_empty_image():
    assert not central_footprint(np.zeros((3, 24, 24))).any()


def test_bad_files(tmp_path, make_cutouts):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CutoutFile(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["pixels"] = np.zeros((2, 3, 72, 72))
    with pytest.raises(ValueError, match="no 'images' dataset"):
        CutoutFile(tmp_path / "bad.h5")
    path = make_cutouts(tmp_path / "small.h5", n=2, size=24)
    with pytest.raises(ValueError, match="S >= 72"):
        CutoutFile(path)


def test_compact_file_reads_like_its_source(cutout_file, tmp_path):
    from minuet.training import compact_cutouts

    path = compact_cutouts(cutout_file, tmp_path / "compact.h5")
    assert path.stat().st_size < 0.5 * cutout_file.stat().st_size
    idx = np.array([7, 1, 7, 30])
    x0, w0 = CutoutFile(cutout_file, size=24).read(idx)
    for data in (CutoutFile(path, size=24), CutoutFile(path, size=24, in_memory=True)):
        x, w = data.read(idx)
        assert len(data) == 48
        assert x.dtype == w.dtype == np.float32
        valid = w0 > 0
        np.testing.assert_allclose(x[valid], x0[valid], atol=2e-3, rtol=1e-3)
        np.testing.assert_allclose(w, w0, rtol=1e-3)
        assert np.all(x[~valid] == 0)
    # masked pixels of the source are NaN in the file and read as zero with zero weight
    with h5py.File(path) as f:
        assert np.isnan(f["stretched"][0, :, 0, :3]).all()
    assert np.all(CutoutFile(path, size=24).read([0])[1][0, :, 0, :3] == 0)


def test_compact_research_set_keeps_size_and_footprint(tmp_path, make_cutouts):
    from minuet.training import compact_cutouts

    source = make_cutouts(tmp_path / "research.h5", n=3, size=80, footprint=False, invvar=False)
    path = compact_cutouts(source, tmp_path / "compact.h5")
    with h5py.File(path) as f:
        assert f["stretched"].shape == (3, 3, 80, 80)
        assert f["footprint"][:, 40, 40].all()  # computed once, from the images
    x, w = CutoutFile(path, size=72).read([2, 0])
    x0, w0 = CutoutFile(source, size=72).read([2, 0])
    assert x.shape == (2, 3, 72, 72)
    np.testing.assert_allclose(x, x0, atol=2e-3, rtol=1e-3)
    # segmented on the whole 80-pixel cutout rather than the 72-pixel crop: the
    # footprints agree but for a few pixels at their edges
    assert np.mean(w == w0) > 0.98
    assert np.all(w[:, :, 36, 36] == pytest.approx(0.9))


def test_compact_refusals(cutout_file, tmp_path):
    from minuet.cutouts import AsinhStretch
    from minuet.training import compact_cutouts

    path = compact_cutouts(cutout_file, tmp_path / "compact.h5")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        compact_cutouts(cutout_file, path)
    with pytest.raises(ValueError, match="overwrite its source"):
        compact_cutouts(cutout_file, cutout_file, overwrite=True)
    assert compact_cutouts(cutout_file, path, overwrite=True) == path
    with pytest.raises(ValueError, match="stretched with"):
        CutoutFile(path, size=24, stretch=AsinhStretch(scale=3.0))
