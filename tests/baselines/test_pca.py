import astropy.units as u
import numpy as np
import pytest

from minuet.baselines import PCABaseline
from minuet.cutouts import AsinhStretch, nanomaggy


def subspace_flux(n, dim, *, seed=0, size=8):
    """Flux whose stretched images lie exactly in a ``dim``-dimensional affine subspace."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(0, 0.3, (dim, 3 * size * size))
    x = 0.2 + rng.normal(size=(n, dim)) @ basis
    return AsinhStretch().inverse(x.reshape(n, 3, size, size))


def test_shapes_and_units():
    flux = subspace_flux(30, 5)
    pca = PCABaseline().fit(flux)
    latents = pca.encode(flux)
    assert latents.shape == (30, 5)
    assert latents.dtype == np.float64
    rec = pca.reconstruct(latents)
    assert rec.shape == flux.shape
    assert rec.unit == nanomaggy
    assert pca.explained_variance_ratio_.shape == (5,)


def test_exact_on_five_dimensional_data():
    flux = subspace_flux(40, 5)
    pca = PCABaseline(n_components=5).fit(flux)
    rec = pca.reconstruct(pca.encode(flux)).to_value(nanomaggy)
    np.testing.assert_allclose(rec, flux, rtol=1e-5, atol=1e-9)


def test_not_exact_with_too_few_components():
    flux = subspace_flux(40, 6)
    pca = PCABaseline(n_components=5).fit(flux)
    rec = pca.reconstruct(pca.encode(flux)).to_value(nanomaggy)
    assert not np.allclose(rec, flux, rtol=1e-3, atol=1e-6)


def test_quantity_input_is_converted():
    flux = subspace_flux(20, 5)
    pca = PCABaseline().fit(flux)
    np.testing.assert_allclose(pca.encode((flux * nanomaggy).to(u.nJy)), pca.encode(flux),
                               rtol=1e-5, atol=1e-8)


def test_fit_from_file(h5file, data):
    pca = PCABaseline(n_components=3).fit(h5file)
    flux = data[0]
    assert pca.image_shape == flux.shape[1:]
    same = PCABaseline(n_components=3).fit(flux)
    np.testing.assert_allclose(np.abs(pca.encode(flux)), np.abs(same.encode(flux)), rtol=1e-5,
                               atol=1e-6)


def test_save_load_bit_identical(tmp_path):
    flux = subspace_flux(30, 7)
    pca = PCABaseline(stretch=AsinhStretch(scale=3.0)).fit(flux)
    path = pca.save(tmp_path / "pca")
    assert path.suffix == ".safetensors"
    again = PCABaseline.load(path)
    assert again.stretch == pca.stretch
    np.testing.assert_array_equal(again.encode(flux), pca.encode(flux))
    latents = pca.encode(flux)
    np.testing.assert_array_equal(again.reconstruct(latents), pca.reconstruct(latents))


def test_load_reads_the_older_npz_file(tmp_path):
    import json

    flux = subspace_flux(30, 7)
    pca = PCABaseline(n_components=3).fit(flux)
    meta = {"format": "minuet-pca-baseline-1", "stretch": pca.stretch.to_dict(), "seed": 0,
            "image_shape": list(pca.image_shape)}
    np.savez(tmp_path / "old.npz", mean=pca.mean_, components=pca.components_,
             explained_variance_ratio=pca.explained_variance_ratio_,
             meta=np.array(json.dumps(meta)))
    again = PCABaseline.load(tmp_path / "old.npz")
    np.testing.assert_array_equal(again.encode(flux), pca.encode(flux))


def test_load_rejects_other_npz(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a PCABaseline file"):
        PCABaseline.load(tmp_path / "other.npz")


def test_bad_input():
    flux = subspace_flux(20, 5)
    with pytest.raises(ValueError, match="n_components must be a positive integer"):
        PCABaseline(n_components=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        PCABaseline().encode(flux)
    with pytest.raises(ValueError, match=r"shaped \(N, 3, H, W\)"):
        PCABaseline().fit(flux[:, 0])
    with pytest.raises(ValueError, match="needs more than 5 cutouts"):
        PCABaseline().fit(flux[:5])
    bad = flux.copy()
    bad[3, 1, 2, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite pixels in 1 cutout.*index 3"):
        PCABaseline().fit(bad)
    pca = PCABaseline().fit(flux)
    with pytest.raises(ValueError, match=r"shaped \(N, 3, 8, 8\)"):
        pca.encode(np.zeros((2, 3, 9, 9)))
    with pytest.raises(ValueError, match=r"latents must be shaped \(N, 5\)"):
        pca.reconstruct(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="nanomaggies"):
        pca.encode(flux * u.m)
