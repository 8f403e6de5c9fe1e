import numpy as np
import pytest

from minuet.neighbours import LatentIndex
from minuet.neighbours._index import _pykdtree, morton_order


def brute_force(catalogue, queries, k):
    d = np.linalg.norm(queries[:, None] - catalogue[None], axis=-1)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(d, idx, axis=1)


BACKENDS = ["ckdtree", pytest.param("pykdtree", marks=pytest.mark.skipif(
    _pykdtree() is None, reason="pykdtree is not installed"))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", [1, 10])
def test_z_ordered_search_is_exact(k, backend):
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 3.0, 0.2, 1.0, 5.0])
    catalogue = rng.normal(size=(5000, 5)) * scale
    queries = rng.normal(size=(300, 5)) * scale * 1.5  # some outside the catalogue's box
    index = LatentIndex(catalogue, backend=backend)
    assert index.backend == backend
    table = index.query(queries, k=k)
    got = np.asarray(table["catalog_index"]).reshape(-1, k)
    distance = np.asarray(table["distance"]).reshape(-1, k)
    z = (catalogue - catalogue.mean(0)) / catalogue.std(0)
    expected, expected_distance = brute_force(z, (queries - catalogue.mean(0)) / catalogue.std(0),
                                              k)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(distance, expected_distance, rtol=1e-10)
    assert np.all(table["query_index"].reshape(-1, k) == np.arange(300)[:, None])


def test_morton_order_keeps_neighbours_close():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(4096, 5))
    order = morton_order(x, np.zeros(5), np.ones(5))
    assert sorted(order.tolist()) == list(range(4096))
    step = np.linalg.norm(np.diff(x[order], axis=0), axis=1).mean()
    random_step = np.linalg.norm(np.diff(x, axis=0), axis=1).mean()
    assert step < 0.6 * random_step


def test_constant_dimension_and_single_query():
    catalogue = np.column_stack([np.arange(20.0), np.zeros(20)])
    index = LatentIndex(catalogue, standardize=False)
    assert index.query([[4.1, 0.0]], k=2)["catalog_index"].tolist() == [4, 5]


@pytest.mark.skipif(_pykdtree() is None, reason="pykdtree is not installed")
@pytest.mark.parametrize("workers", [-1, 1, 2])
def test_backends_agree_for_any_thread_count(workers):
    rng = np.random.default_rng(3)
    catalogue = rng.normal(size=(20000, 5))
    queries = rng.normal(size=(500, 5))
    tables = [LatentIndex(catalogue, backend=b, leafsize=8).query(queries, k=10, workers=workers)
              for b in ("ckdtree", "pykdtree")]
    np.testing.assert_array_equal(tables[0]["catalog_index"], tables[1]["catalog_index"])
    np.testing.assert_allclose(tables[0]["distance"], tables[1]["distance"], rtol=1e-12)


def test_auto_backend_and_bad_backend(monkeypatch):
    from minuet.neighbours import _index

    latents = np.random.default_rng(4).normal(size=(100, 5))
    expected = "pykdtree" if _pykdtree() is not None else "ckdtree"
    assert LatentIndex(latents).backend == expected
    monkeypatch.setattr(_index, "_pykdtree", lambda: None)
    assert LatentIndex(latents).backend == "ckdtree"
    with pytest.raises(ImportError, match="pip install pykdtree"):
        LatentIndex(latents, backend="pykdtree")
    with pytest.raises(ValueError, match="backend must be one of"):
        LatentIndex(latents, backend="faiss")
