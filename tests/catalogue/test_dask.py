import h5py
import numpy as np
import pytest

from minuet import Minuet
from minuet.catalogue import encode_catalogue, encode_dask_array, encode_files_dask
from minuet.catalogue._dask import _worker_model
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def model(saved_tiny_model):
    return saved_tiny_model


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(5).normal(0, 0.01, (23, 3, 72, 72)).astype(np.float32)


def _latents(table, model):
    return np.stack([np.asarray(table[name]) for name in model.latent_names], axis=1)


def test_dask_array_matches_direct_encoding(model, images):
    _worker_model.cache_clear()
    lazy = encode_dask_array(da.from_array(images, chunks=(5, 1, 72, 72)), model=model)
    assert lazy.shape == (23, 5)
    assert lazy.chunks[0] == (5, 5, 5, 5, 3)
    result = lazy.compute(scheduler="threads")
    expected = _latents(model.encode(images), model)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-6)
    # the weights were read from disk once, not once per block
    assert _worker_model.cache_info().misses == 1


def test_dask_array_flags_nan_cutouts(model, images):
    bad = images.copy()
    bad[2] = np.nan
    result = encode_dask_array(da.from_array(bad, chunks=(8, 3, 72, 72)), model=model).compute()
    assert np.all(np.isnan(result[2]))
    assert np.all(np.isfinite(np.delete(result, 2, axis=0)))


def test_files_on_local_cluster_equal_single_process_run(model, images, tmp_path):
    paths = []
    for i in range(2):
        path = tmp_path / f"set{i}.h5"
        with h5py.File(path, "w") as f:
            f["images"] = images[i * 10:(i + 1) * 10 + 3]
        paths.append(path)
    single = encode_catalogue(paths, tmp_path / "single.parquet", model=model, chunk_size=4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        table = encode_files_dask(paths, tmp_path / "dask.parquet", model=model,
                                  client=client, chunk_size=4)
    assert table["source_index"].tolist() == single["source_index"].tolist()
    assert table["row"].tolist() == single["row"].tolist()
    np.testing.assert_array_equal(_latents(table, model), _latents(single, model))


def test_unsaved_model_is_refused(images):
    unsaved = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")))
    with pytest.raises(ValueError, match="never saved"):
        encode_dask_array(da.from_array(images), model=unsaved)


def test_wrong_shape_is_refused(model):
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        encode_dask_array(da.zeros((4, 72, 72)), model=model)


def test_files_on_dask_carry_the_typicality_of_encode_catalogue(tmp_path):
    from minuet._vocabulary import DEFAULT_MODEL, TYPICALITY_COLUMNS
    from minuet.simulate import simulate

    images, _, _, _ = simulate(14, seed=32)
    images[3] = np.nan  # a refused cutout
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = images
    pretrained = Minuet.pretrained()
    single = encode_catalogue(path, tmp_path / "single.ecsv", model=pretrained, chunk_size=6,
                              progress=False)
    table = encode_files_dask(path, tmp_path / "dask.ecsv", model=DEFAULT_MODEL, chunk_size=6)
    for name in TYPICALITY_COLUMNS:
        np.testing.assert_array_equal(table[name], single[name])
    assert np.isnan(table["typicality"][3])
    for key, value in single.meta.items():
        if key.startswith("typicality"):
            assert table.meta[key] == value, key
    bare = encode_files_dask(path, tmp_path / "bare.ecsv", model=DEFAULT_MODEL, chunk_size=6,
                             typicality=False)
    assert not set(TYPICALITY_COLUMNS) & set(bare.colnames)
    assert bare.meta["typicality"] == "not measured (typicality=False)."


def test_files_on_dask_with_a_model_without_typicality_say_so(model, images, tmp_path):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f["images"] = images[:5]
    table = encode_files_dask(path, tmp_path / "tiny.ecsv", model=model)
    assert "typicality" not in table.colnames
    assert "no typicality head" in table.meta["typicality"]
