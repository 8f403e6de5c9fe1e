"""Measurements that benchmarks run in processes of their own: importable and correct."""

import numpy as np
import pytest


@pytest.fixture
def children(bench):
    return bench("_children")


def test_neighbour_backends_agree_in_their_own_processes(children, tmp_path):
    rows = {}
    for backend in ("minuet", "minuet-ckdtree", "ckdtree", "sklearn"):
        ids = tmp_path / f"{backend}.npy"
        rows[backend] = children.run_child("neighbour_backend", n=300, n_queries=7, k=4,
                                           backend=backend, ids_path=str(ids))
        assert rows[backend]["backend"] == backend
        assert rows[backend]["query_s"] > 0
    found = {b: np.sort(np.load(tmp_path / f"{b}.npy"), axis=1) for b in rows}
    assert found["minuet"].shape == (7, 4)
    np.testing.assert_array_equal(found["minuet"], found["sklearn"])
    np.testing.assert_array_equal(found["ckdtree"], found["sklearn"])
    np.testing.assert_array_equal(found["minuet-ckdtree"], found["sklearn"])
    assert rows["minuet-ckdtree"]["tree"] == "ckdtree"
    assert rows["minuet"]["file_mib"] > 0


def test_a_failing_child_says_which_measurement_failed(children, tmp_path):
    with pytest.raises(RuntimeError, match=r"neighbour_backend.*failed in its own process"):
        children.run_child("neighbour_backend", n=10, n_queries=1, k=1, backend="faiss",
                           ids_path=str(tmp_path / "x.npy"))
    with pytest.raises(RuntimeError, match="unknown measurement"):
        children.run_child("nothing")


def test_the_scaling_task_measures_in_process_too(children):
    out = children.scaling_task("neighbours", 50, samples=0, n_queries=3, base="")
    assert out["task"] == "neighbours"
    assert out["seconds"] >= out["query_seconds"] > 0
    assert out["peak_rss_mb"] >= out["start_rss_mb"] > 0
    with pytest.raises(ValueError, match="unknown task"):
        children.scaling_task("draw", 5, samples=0, n_queries=1, base="")
