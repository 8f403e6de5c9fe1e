"""Measurements that run in a fresh process of their own, so that its peak memory is theirs.

Each public function here is a measurement that a benchmark runs through
:func:`run_child`: a new Python process imports this module, calls the
function with the given keywords and prints its result as JSON, which the
parent reads back. The functions are ordinary importable code (tested in
``tests/benchmarks``), not source text assembled by the parent::

    python benchmarks/_children.py neighbour_backend '{"n": 1000, "n_queries": 10, "k": 3,
        "backend": "ckdtree", "ids_path": "ids.npy"}'
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import ROOT, peak_rss_mib

clock = time.perf_counter


def run_child(name, **kwargs):
    """Run the function ``name`` of this module in a new process; return its result."""
    proc = subprocess.run([sys.executable, str(Path(__file__)), name, json.dumps(kwargs)],
                          capture_output=True, text=True)
    if proc.returncode:
        msg = f"{name}({kwargs}) failed in its own process:\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(fn, repeat=3):
    """The fastest of a few calls and the last result: the call least slowed by other jobs."""
    times = []
    for _ in range(repeat):
        t = clock()
        result = fn()
        times.append(clock() - t)
    return min(times), result


def stream_encode(model_dir, path, output, chunk_size):
    """Encode an HDF5 file of cutouts to a catalogue file, streamed in chunks."""
    from minuet import Minuet
    from minuet.catalogue import encode_catalogue

    model = Minuet.load(model_dir)
    t0 = clock()
    table = encode_catalogue(path, output, model=model, chunk_size=int(chunk_size),
                             batch_size=256, progress=False, overwrite=True)
    return {"rows": len(table), "seconds": clock() - t0, "peak_rss_mb": peak_rss_mib()}


def scaling_task(task, n, samples, n_queries, base):
    """Time one task of the bundled model on ``n`` galaxies; wall time and memory."""
    out = {"task": task, "n": n}
    if task != "neighbours":
        from minuet import Minuet

        model = Minuet.pretrained()
    if task == "encode":
        from minuet.cutouts import load_cutouts

        cutouts = np.load(base)
        model.encode_cutouts(load_cutouts(cutouts[:64]), progress=False)  # warm-up
        start_rss, t = peak_rss_mib(), clock()
        for first in range(0, n, 4096):
            rows = np.arange(first, min(first + 4096, n)) % len(cutouts)
            model.encode_cutouts(load_cutouts(cutouts[rows]), batch_size=256, progress=False)
        out["seconds"] = clock() - t
    elif task == "posterior":
        latents = np.random.default_rng(0).normal(size=(n, 5)).astype(np.float32)
        model.posterior(latents[:10], n_samples=samples, seed=0)  # warm-up
        start_rss, t = peak_rss_mib(), clock()
        model.posterior(latents, n_samples=samples, seed=0)
        out["seconds"] = clock() - t
    elif task == "neighbours":
        from minuet.neighbours import LatentIndex

        rng = np.random.default_rng(0)
        latents, queries = rng.normal(size=(n, 5)), rng.normal(size=(n_queries, 5))
        LatentIndex(latents[:20]).query(queries[:1], k=1)  # warm-up: imports scipy.spatial
        start_rss, t = peak_rss_mib(), clock()
        index = LatentIndex(latents)
        out["build_seconds"] = clock() - t
        t2 = clock()
        index.query(queries, k=min(10, n))
        out["query_seconds"] = clock() - t2
        out["seconds"] = clock() - t
    else:
        msg = f"unknown task {task!r}; choose encode, posterior or neighbours."
        raise ValueError(msg)
    out["peak_rss_mb"] = peak_rss_mib()
    out["start_rss_mb"] = start_rss
    return out


def neighbour_backend(n, n_queries, k, backend, ids_path):
    """Build and query one nearest-neighbour backend among ``n`` random 5-D latents.

    The neighbour indices go to ``ids_path`` (a ``.npy`` file) for the
    parent to compare backends.
    """
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(n, 5))
    queries = rng.normal(size=(n_queries, 5))
    base = peak_rss_mib()
    out = {"backend": backend}
    if backend in ("minuet", "minuet-ckdtree"):
        from minuet.neighbours import LatentIndex

        t = clock()
        index = LatentIndex(latents, backend="ckdtree" if backend == "minuet-ckdtree" else "auto")
        out["build_s"] = clock() - t
        out["tree"] = index.backend
        out["query_s"], res = best_of(lambda: index.query(queries, k=k))
        out["peak_extra_mib"] = peak_rss_mib() - base
        ids = np.asarray(res["catalog_index"]).reshape(n_queries, k)
        with tempfile.TemporaryDirectory() as tmp:
            t = clock()
            path = index.save(os.path.join(tmp, "index"))
            out["save_s"] = clock() - t
            out["file_mib"] = os.path.getsize(path) / 2**20
            del index
            t = clock()
            LatentIndex.load(path)
            out["load_rebuild_s"] = clock() - t
    elif backend == "ckdtree":
        # the search as LatentIndex made it before the Z-order: rows and queries in input order
        from scipy.spatial import cKDTree

        mean, std = latents.mean(0), latents.std(0)
        t = clock()
        tree = cKDTree((latents - mean) / std, leafsize=16, balanced_tree=False,
                       compact_nodes=False)
        out["build_s"] = clock() - t
        out["query_s"], (_, ids) = best_of(
            lambda: tree.query((queries - mean) / std, k=k, workers=-1))
        out["peak_extra_mib"] = peak_rss_mib() - base
    elif backend == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        mean, std = latents.mean(0), latents.std(0)
        t = clock()
        nn = NearestNeighbors(n_neighbors=k, n_jobs=-1).fit((latents - mean) / std)
        out["build_s"] = clock() - t
        out["query_s"], (_, ids) = best_of(lambda: nn.kneighbors((queries - mean) / std))
        out["peak_extra_mib"] = peak_rss_mib() - base
        out["algorithm"] = nn._fit_method
    else:
        msg = f"unknown backend {backend!r}; choose minuet, minuet-ckdtree, ckdtree or sklearn."
        raise ValueError(msg)
    np.save(ids_path, np.asarray(ids))
    return out


#: The measurements a parent may run.
CHILDREN = {f.__name__: f for f in (stream_encode, scaling_task, neighbour_backend)}

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the checkout's minuet, as in the parent
    name, kwargs = sys.argv[1], json.loads(sys.argv[2])
    if name not in CHILDREN:
        raise SystemExit(f"unknown measurement {name!r}; choose from {sorted(CHILDREN)}.")
    print(json.dumps(CHILDREN[name](**kwargs)))
