import numpy as np
import pytest
from astropy import units as u
from astropy.nddata import InverseVariance, NDData

from minuet.cutouts import AsinhStretch, Cutouts, load_cutouts, nanomaggy


@pytest.fixture
def cutouts():
    rng = np.random.default_rng(5)
    flux = rng.normal(0.0, 0.01, (4, 3, 72, 72))
    flux[:, :, 30:42, 30:42] += 2.0
    invvar = np.full(flux.shape, 1e4)
    invvar[2, 1, 0, 0] = 0.0
    return load_cutouts(flux, invvar=invvar, ids=["a", "b", "c", "d"])


def test_len_slicing_and_concatenate(cutouts):
    assert len(cutouts) == 4
    assert cutouts.size == 72
    assert cutouts[1:3].ids.tolist() == ["b", "c"]
    assert cutouts[-1].ids.tolist() == ["d"]
    assert cutouts[np.array([True, False, True, False])].ids.tolist() == ["a", "c"]
    joined = Cutouts.concatenate([cutouts[:1], cutouts[1:]])
    np.testing.assert_array_equal(joined.flux, cutouts.flux)
    assert joined.ids.tolist() == cutouts.ids.tolist()
    assert "4 cutouts (4 valid)" in repr(cutouts)
    with pytest.raises(IndexError, match=r"row index 4 is out of range for 4 cutouts"):
        cutouts[4]
    with pytest.raises(ValueError, match=r"at least one Cutouts object"):
        Cutouts.concatenate([])


def test_to_nddata(cutouts):
    nd = cutouts.to_nddata(2)
    assert isinstance(nd, NDData)
    assert nd.unit == nanomaggy
    assert nd.data.shape == (3, 72, 72)
    assert isinstance(nd.uncertainty, InverseVariance)
    assert nd.mask[1, 0, 0]
    assert nd.meta["bands"] == ("g", "r", "z")
    assert nd.meta["id"] == "c"
    # and it loads back unchanged
    again = load_cutouts(nd)
    np.testing.assert_array_equal(again.flux[0], cutouts.flux[2])
    np.testing.assert_array_equal(again.mask[0], cutouts.mask[2])


def test_to_nddata_without_invvar():
    nd = load_cutouts(np.ones((3, 72, 72))).to_nddata(0)
    assert nd.uncertainty is None


def test_nanomaggy_unit():
    assert (1 * nanomaggy).to(u.Jy).value == pytest.approx(3.631e-6)
    # astropy's AB zero point is 3630.78 Jy, ours the rounded 3631 Jy of the survey
    assert (1 * nanomaggy).to(u.ABmag).value == pytest.approx(22.5, abs=1e-4)


def test_stretch_round_trip_to_float_precision(cutouts):
    x = cutouts.normalized()
    assert x.dtype == np.float32
    assert x.shape == (4, 3, 72, 72)
    back = cutouts.from_normalized(x)
    # float32 precision relative to the larger of |f| and the softening
    scale = np.maximum(np.abs(cutouts.flux), np.array(cutouts.stretch.softening)[:, None, None])
    assert np.max(np.abs(back - cutouts.flux) / scale) < 1e-5


def test_normalized_invvar_propagates_the_slope(cutouts):
    ivar_x = cutouts.normalized_invvar()
    slope = cutouts.stretch.derivative(cutouts.flux)
    np.testing.assert_allclose(ivar_x * slope**2, cutouts.invvar, rtol=1e-5)
    assert ivar_x[2, 1, 0, 0] == 0.0


def test_custom_stretch_is_used():
    stretch = AsinhStretch(softening=(1.0, 1.0, 1.0), scale=1.0)
    cutouts = Cutouts(np.ones((1, 3, 72, 72)), stretch=stretch)
    np.testing.assert_allclose(cutouts.normalized(), np.arcsinh(1.0))


def test_real_stamps_load_as_nddata_and_round_trip(real_stamps):
    images, invvar = real_stamps["images"], real_stamps["invvar"]
    bands = tuple(str(b) for b in real_stamps["bands"])
    has_invvar = np.isfinite(invvar).reshape(len(images), -1).any(axis=1)
    assert has_invvar.sum() == 2
    items = [
        NDData(
            images[i],
            unit=nanomaggy,
            uncertainty=InverseVariance(invvar[i]) if has_invvar[i] else None,
            meta={"bands": bands},
        )
        for i in range(len(images))
    ]
    cutouts = load_cutouts(items)
    assert len(cutouts) == 14
    assert cutouts.valid.all()
    np.testing.assert_array_equal(cutouts.has_invvar, has_invvar)
    np.testing.assert_allclose(cutouts.flux[~cutouts.mask], images[~cutouts.mask], rtol=1e-6)
    x = cutouts.normalized()
    assert np.isfinite(x).all()
    # typical galaxy pixels land at order unity
    assert 0.1 < np.percentile(np.abs(x), 99) < 5
    back = cutouts.from_normalized(x)
    np.testing.assert_allclose(back, cutouts.flux, rtol=2e-5, atol=1e-7)
    # the raw arrays give the same: all-NaN inverse variance means unknown
    from_arrays = load_cutouts(images, invvar=invvar, bands=bands)
    np.testing.assert_array_equal(from_arrays.flux, cutouts.flux)
    np.testing.assert_array_equal(from_arrays.has_invvar, has_invvar)
    nd = cutouts.to_nddata(0)
    assert nd.unit == nanomaggy
    assert isinstance(nd.uncertainty, InverseVariance)
    assert cutouts.to_nddata(5).uncertainty is None
