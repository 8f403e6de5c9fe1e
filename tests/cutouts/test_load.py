import numpy as np
import pytest
from astropy import units as u
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    StdDevUncertainty,
    UnknownUncertainty,
    VarianceUncertainty,
)
from astropy.table import QTable, Table

from minuet.cutouts import Cutouts, CutoutWarning, load_cutouts, nanomaggy


@pytest.fixture
def cube():
    rng = np.random.default_rng(1)
    return (rng.normal(0.0, 0.01, (3, 80, 80)) + np.arange(3)[:, None, None]).astype("f4")


# --- input types -------------------------------------------------------------------------


def test_plain_array_single_and_batch(cube):
    one = load_cutouts(cube)
    assert one.flux.shape == (1, 3, 72, 72)
    assert one.flux.dtype == np.float32
    np.testing.assert_array_equal(one.flux[0], cube[:, 4:76, 4:76])
    batch = load_cutouts(np.stack([cube, cube + 1]))
    assert len(batch) == 2
    np.testing.assert_array_equal(batch.ids, [0, 1])
    assert not batch.has_invvar.any()
    assert batch.valid.all()


def test_centre_crop_keeps_centre_pixel():
    image = np.zeros((3, 152, 152))
    image[:, 76, 76] = 1.0
    cutouts = load_cutouts(image)
    assert cutouts.flux[0, :, 36, 36].tolist() == [1.0, 1.0, 1.0]
    odd = np.zeros((3, 75, 75))
    odd[:, 37, 37] = 1.0
    assert load_cutouts(odd).flux[0, 0, 36, 36] == 1.0


def test_band_reordering_and_dropping():
    planes = np.stack([np.full((72, 72), v) for v in (1.0, 2.0, 3.0, 4.0)])
    cutouts = load_cutouts(planes, bands=["z", "I", "r", "g"])
    np.testing.assert_array_equal(cutouts.flux[0, :, 0, 0], [4.0, 3.0, 1.0])
    assert cutouts.bands == ("g", "r", "z")


@pytest.mark.parametrize("bands", [None, "zrg"])
def test_standardised_flux_is_a_c_ordered_copy(bands):
    # each row's bands lie together in memory, which the stretch and the network read
    images = np.random.default_rng(2).normal(0.0, 0.01, (4, 3, 72, 72)).astype("f4")
    before = images.copy()
    cutouts = load_cutouts(images, bands=bands)
    assert cutouts.flux.flags["C_CONTIGUOUS"]
    assert not np.shares_memory(cutouts.flux, images)
    order = [0, 1, 2] if bands is None else [2, 1, 0]
    np.testing.assert_array_equal(cutouts.flux, before[:, order])
    cutouts.flux[:] = 0.0
    np.testing.assert_array_equal(images, before)


def test_pixels_read_from_hdf5_are_checked_in_place_and_equal_a_copy(tmp_path):
    import h5py

    from minuet.cutouts import iter_hdf5
    from minuet.cutouts._prepare import _standardise

    images = np.random.default_rng(4).normal(0.0, 0.01, (6, 3, 72, 72)).astype("f4")
    images[1, 2, :5] = np.nan  # a bad row of pixels, zeroed and masked
    with h5py.File(tmp_path / "field.h5", "w") as f:
        f["images"] = images
    (read,) = iter_hdf5(tmp_path / "field.h5", batch_size=6, on_invalid="flag")
    copied = load_cutouts(images, on_invalid="flag")
    np.testing.assert_array_equal(read.flux, copied.flux)
    np.testing.assert_array_equal(read.mask, copied.mask)
    assert read.flux[1, 2, :5].tolist() == np.zeros((5, 72)).tolist()
    assert read.mask[1, 2, :5].all()
    assert not read.mask[0].any()
    # a new array of the file's pixels is kept; a caller's array never is
    fresh = images.copy()
    assert np.shares_memory(_standardise(fresh, owned=True, on_invalid="flag").flux, fresh)
    assert not np.shares_memory(_standardise(fresh, on_invalid="flag").flux, fresh)
    flipped = _standardise(fresh, owned=True, bands="zrg", on_invalid="flag")
    assert not np.shares_memory(flipped.flux, fresh)  # bands out of order: reordered copy


def test_quantity_in_jansky(cube):
    flux = cube * 3.631e-6 * u.Jy
    cutouts = load_cutouts(flux, invvar=np.ones(cube.shape) / (3.631e-6 * u.Jy) ** 2)
    np.testing.assert_allclose(cutouts.flux[0], cube[:, 4:76, 4:76], rtol=1e-5)
    np.testing.assert_allclose(cutouts.invvar, 1.0, rtol=1e-5)


def test_astropy_dimensionless_nanomaggies_and_surface_brightness():
    image = np.ones((3, 72, 72))
    assert load_cutouts(image * u.nmgy).flux[0, 0, 0, 0] == pytest.approx(1.0)
    per_area = image * nanomaggy / u.arcsec**2
    assert load_cutouts(per_area).flux[0, 0, 0, 0] == pytest.approx(0.262**2)


def test_zeropoint_rescales_unitless_images():
    image = np.ones((3, 72, 72))
    cutouts = load_cutouts(image, zeropoint=27.0, invvar=np.ones((3, 72, 72)))
    factor = 10 ** (-0.4 * 4.5)
    assert cutouts.flux[0, 0, 0, 0] == pytest.approx(factor, rel=1e-6)
    assert cutouts.invvar[0, 0, 0, 0] == pytest.approx(factor**-2, rel=1e-5)


def test_nddata_with_inverse_variance_mask_and_bands():
    data = np.ones((3, 72, 72))
    data[0] = 5.0  # z plane first
    mask = np.zeros((3, 72, 72), bool)
    mask[2, 10, 10] = True  # the g plane
    nd = NDData(
        data,
        unit=nanomaggy,
        uncertainty=InverseVariance(np.full((3, 72, 72), 4.0)),
        mask=mask,
        meta={"bands": "zrg"},
    )
    cutouts = load_cutouts(nd)
    assert cutouts.flux[0, 2, 0, 0] == 5.0
    assert cutouts.mask[0, 0, 10, 10]
    assert cutouts.invvar[0, 0, 10, 10] == 0.0
    assert cutouts.invvar[0, 1, 0, 0] == 4.0
    assert cutouts.has_invvar.all()


def test_ccddata_with_stddev_in_njy():
    data = np.ones((3, 72, 72)) * 3.631  # 3.631 nJy = 1e-3 nanomaggy
    ccd = CCDData(data, unit="nJy", uncertainty=StdDevUncertainty(np.full((3, 72, 72), 3.631)))
    cutouts = load_cutouts(ccd)
    np.testing.assert_allclose(cutouts.flux, 1e-3, rtol=1e-5)
    np.testing.assert_allclose(cutouts.invvar, 1e6, rtol=1e-5)


def test_variance_uncertainty():
    nd = NDData(np.ones((3, 72, 72)), uncertainty=VarianceUncertainty(np.full((3, 72, 72), 4.0)))
    np.testing.assert_allclose(load_cutouts(nd).invvar, 0.25)


def test_list_of_nddata_of_different_sizes():
    items = [NDData(np.ones((3, 72, 72))), NDData(np.full((3, 100, 90), 2.0))]
    cutouts = load_cutouts(items, ids=["a", "b"])
    assert cutouts.flux.shape == (2, 3, 72, 72)
    assert cutouts.ids.tolist() == ["a", "b"]
    assert cutouts.flux[1, 0, 0, 0] == 2.0


def test_table_and_column(cube):
    table = Table({"image": np.stack([cube, cube]), "ivar": np.ones((2, 3, 80, 80)), "id": [7, 9]})
    cutouts = load_cutouts(table, column="image", invvar="ivar", ids="id")
    assert cutouts.ids.tolist() == [7, 9]
    assert cutouts.has_invvar.all()
    from_column = load_cutouts(table["image"])
    np.testing.assert_array_equal(from_column.flux, cutouts.flux)
    qtable = QTable({"image": np.stack([cube]) * u.nJy})
    # 1 nanomaggy = 3631 nJy
    expected = cube[2, 4, 4] / 3631.0
    assert load_cutouts(qtable, column="image").flux[0, 2, 0, 0] == pytest.approx(
        expected, rel=1e-5
    )


def test_masked_array_brings_its_mask(cube):
    masked = np.ma.masked_array(cube, mask=np.zeros(cube.shape, bool))
    masked.mask[1, 40, 40] = True
    cutouts = load_cutouts(masked)
    assert cutouts.mask[0, 1, 36, 36]
    assert cutouts.flux[0, 1, 36, 36] == 0.0


def test_bad_pixels_filled_and_masked():
    image = np.ones((3, 72, 72))
    invvar = np.ones((3, 72, 72))
    image[0, 0, 0] = np.nan
    image[1, 0, 1] = np.inf
    invvar[2, 0, 2] = 0.0
    invvar[2, 0, 3] = np.nan
    mask = np.zeros((72, 72), bool)
    mask[5, 5] = True  # shared by all bands
    cutouts = load_cutouts(image, invvar=invvar, mask=mask)
    bad = [(0, 0, 0), (1, 0, 1), (2, 0, 2), (2, 0, 3), (0, 5, 5), (1, 5, 5), (2, 5, 5)]
    for pixel in bad:
        assert cutouts.mask[(0, *pixel)]
        assert cutouts.flux[(0, *pixel)] == 0.0
        assert cutouts.invvar[(0, *pixel)] == 0.0
    assert cutouts.mask.sum() == len(bad)
    assert np.isfinite(cutouts.flux).all()


def test_pad_smaller_cutouts_with_masked_pixels():
    cutouts = load_cutouts(np.ones((3, 64, 64)), pad=True)
    assert cutouts.flux.shape == (1, 3, 72, 72)
    assert cutouts.mask[0, :, :4].all()
    assert not cutouts.mask[0, :, 4:68, 4:68].any()
    assert cutouts.flux[0, :, :4].sum() == 0.0
    assert cutouts.valid[0]  # 64**2 / 72**2 = 79% valid


def test_flagging_keeps_every_row():
    images = np.ones((3, 3, 72, 72))
    images[1] = np.nan
    cutouts = load_cutouts(images, on_invalid="flag")
    assert cutouts.valid.tolist() == [True, False, True]
    assert "band g" in cutouts.reason[1]
    assert "0%" in cutouts.reason[1]
    assert cutouts.reason[0] == ""
    assert len(cutouts.valid_only()) == 2


def test_min_valid_fraction_uses_the_worst_band():
    image = np.ones((3, 72, 72))
    image[2, :40] = np.nan  # z band 44% valid, others complete
    with pytest.raises(ValueError, match=r"cutout 0 .*band z"):
        load_cutouts(image)
    assert load_cutouts(image, min_valid_fraction=0.4).valid[0]


def test_cutouts_pass_through():
    cutouts = load_cutouts(np.ones((3, 72, 72)))
    assert load_cutouts(cutouts) is cutouts


def test_nddata_overrides_keywords_with_warning():
    nd = NDData(np.ones((3, 72, 72)), mask=np.zeros((3, 72, 72), bool), meta={"bands": "grz"})
    with pytest.warns(CutoutWarning, match="mask overrides"):
        load_cutouts(nd, mask=np.ones((3, 72, 72), bool))
    with pytest.warns(CutoutWarning, match=r"meta\['bands'\]"):
        load_cutouts(nd, bands="zrg")


def test_other_pixel_scale_warns():
    with pytest.warns(CutoutWarning, match="differs from the native"):
        cutouts = load_cutouts(np.ones((3, 72, 72)), pixscale=0.5)
    assert cutouts.pixscale == 0.5 * u.arcsec


# --- bad input: error class and message --------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.full((3, 72, 72), np.nan), {}, r"cutout 0 has too few valid pixels"),
        (np.ones((2, 72, 72)), {}, r"2 band plane\(s\) and no band names"),
        (np.ones((3, 72, 72)), {"bands": "grx"}, r"unknown band name\(s\) \['x'\]"),
        (np.ones((3, 72, 72)), {"bands": "gri"}, r"missing band\(s\) \['z'\]"),
        (np.ones((3, 72, 72)), {"bands": "gr"}, r"2 band name\(s\) .* for 3 image plane"),
        (np.ones((3, 72, 72)), {"bands": "ggz"}, r"band names must be unique"),
        (np.ones((3, 64, 64)), {}, r"64 pixels are smaller than the required 72; pass pad=True"),
        (np.ones((3, 72, 72), dtype=int), {}, r"integer dtype int64"),
        (np.ones((3, 72, 72), dtype=complex), {}, r"real floating-point array"),
        (np.ones((72, 72)), {}, r"got 2 dimension\(s\).*single 2-D image"),
        (np.ones((1, 1, 3, 72, 72)), {}, r"got 5 dimension\(s\)"),
        (np.ones((0, 3, 72, 72)), {}, r"no cutouts to load"),
        (np.ones((3, 72, 72)), {"invvar": np.ones((3, 70, 70))}, r"inverse variance has shape"),
        (np.ones((3, 72, 72)), {"invvar": -np.ones((3, 72, 72))}, r"cutout 0 has negative inv"),
        (np.ones((3, 72, 72)), {"mask": np.zeros((5, 5), bool)}, r"the mask has shape"),
        (np.ones((3, 72, 72)), {"mask": np.zeros((3, 72, 72))}, r"mask must be boolean"),
        (np.ones((3, 72, 72)), {"size": 0}, r"size must be a positive integer"),
        (np.ones((3, 72, 72)), {"min_valid_fraction": 2}, r"min_valid_fraction must lie"),
        (np.ones((3, 72, 72)), {"on_invalid": "skip"}, r"on_invalid must be one of"),
        (np.ones((3, 72, 72)) * u.m, {}, r"in m, which is not a spectral flux density"),
        (np.ones((3, 72, 72)) * u.Jy, {"zeropoint": 27}, r"zeropoint only applies to unitless"),
        (np.ones((3, 72, 72)), {"zeropoint": np.nan}, r"zeropoint must be a finite AB magnitude"),
        (np.ones((3, 72, 72)), {"pixscale": -1}, r"pixscale must be one positive angle"),
    ],
)
def test_bad_arrays(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_cutouts(data, **kwargs)


def test_negative_inverse_variance_names_the_row():
    invvar = np.ones((4, 3, 72, 72))
    invvar[2, 1, 3, 3] = -1.0
    with pytest.raises(ValueError, match=r"cutout 2 has negative inverse variance in 1 pixel"):
        load_cutouts(np.ones((4, 3, 72, 72)), invvar=invvar)


def test_nan_cutout_in_batch_names_its_index():
    images = np.ones((5, 3, 72, 72))
    images[3] = np.nan
    with pytest.raises(ValueError, match=r"cutout 3 has too few valid pixels.*on_invalid='flag'"):
        load_cutouts(images)


def test_inconsistent_units_between_data_and_uncertainty():
    with pytest.raises(ValueError, match=r"inconsistent units: the data are in Jy"):
        load_cutouts(np.ones((3, 72, 72)) * u.Jy, invvar=np.ones((3, 72, 72)) / u.m**2)
    with pytest.raises(ValueError, match=r"inconsistent units: the data are in None"):
        load_cutouts(np.ones((3, 72, 72)), invvar=np.ones((3, 72, 72)) / u.Jy**2)


def test_unsupported_uncertainty():
    nd = NDData(np.ones((3, 72, 72)), uncertainty=UnknownUncertainty(np.ones((3, 72, 72))))
    with pytest.raises(ValueError, match=r"unsupported uncertainty type UnknownUncertainty"):
        load_cutouts(nd)


def test_negative_stddev_is_refused():
    nd = NDData(np.ones((3, 72, 72)), uncertainty=StdDevUncertainty(-np.ones((3, 72, 72))))
    with pytest.raises(ValueError, match=r"negative inverse variance"):
        load_cutouts(nd)


def test_bad_tables():
    with pytest.raises(ValueError, match=r"the table has no rows"):
        load_cutouts(Table({"image": np.ones((0, 3, 72, 72))}), column="image")
    table = Table({"image": np.ones((1, 3, 72, 72))})
    with pytest.raises(ValueError, match=r"give column= naming the image column"):
        load_cutouts(table)
    with pytest.raises(ValueError, match=r"the table has no column 'img'"):
        load_cutouts(table, column="img")


def test_bad_list_items():
    with pytest.raises(ValueError, match=r"list item 1 has shape \(2, 3, 72, 72\)"):
        load_cutouts([NDData(np.ones((3, 72, 72))), NDData(np.ones((2, 3, 72, 72)))])
    with pytest.raises(ValueError, match=r"got 1 ids for 2 cutouts"):
        load_cutouts([NDData(np.ones((3, 72, 72)))] * 2, ids=[1])
    nan = NDData(np.full((3, 72, 72), np.nan))
    with pytest.raises(ValueError, match=r"cutout 1 has too few valid pixels"):
        load_cutouts([NDData(np.ones((3, 72, 72))), nan])


def test_container_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"flux must have shape \(N, bands, size, size\)"):
        Cutouts(np.ones((3, 72, 72)))
    with pytest.raises(ValueError, match=r"invvar must have shape \(1, 3, 72, 72\)"):
        Cutouts(np.ones((1, 3, 72, 72)), invvar=np.ones((1, 3, 70, 72)))
