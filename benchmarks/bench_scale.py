"""Scale-out benchmark: streaming from disk, resumability cost, and Dask workers.

Measures, on this machine:

1. in-memory encoding throughput (galaxies/s) on a set that fits in memory,
   counting the same cutout checks and normalisation as the streaming run;
2. streaming encoding of N cutouts from an HDF5 file on disk with
   ``minuet.catalogue.encode_catalogue`` (throughput and peak resident memory of
   the process that does it);
3. a Dask ``LocalCluster`` of 1 and of 2 single-threaded worker processes
   encoding the same files with ``encode_files_dask`` (throughput ratio);
4. node-hours to encode 1e10 galaxies, from the measured per-core throughput.

The file on disk repeats a set of simulated galaxies (simulating a million
galaxies would take far longer than encoding them, and the encoder's cost does
not depend on what the pixels show). Results go to
``docs/validation/generated/scale.{json,rst}``.

Run with nothing else on the machine::

    python benchmarks/bench_scale.py --n 1000000
    python benchmarks/bench_scale.py --quick
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from _children import run_child
from _report import add_output_dir, output_folder, peak_rss_mib, provenance, rst_table


def _model(args):
    from minuet import Minuet
    from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig

    if args.model:
        return Minuet.load(args.model), args.model
    if Minuet.available():
        return Minuet.pretrained(), "bundled"
    import torch

    torch.manual_seed(0)
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("default"))
    return Minuet(net, name="default-untrained"), "default preset, untrained (same cost)"


def _write_file(path, n, base, chunk=4096):
    """Write n cutouts to HDF5 (float16, like the simulator's compact files)."""
    with h5py.File(path, "w") as f:
        images = f.create_dataset("images", (n, 3, 72, 72), dtype="f2",
                                  chunks=(256, 3, 72, 72))
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            rows = np.arange(start, stop) % len(base)
            images[start:stop] = base[rows].astype(np.float16)


def _dask_throughput(model_dir, files, n_workers, tmp):
    import distributed

    from minuet import Minuet
    from minuet.catalogue import encode_files_dask

    model = Minuet.load(model_dir)
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # warm the workers: import torch and load the weights once before timing
        from minuet.catalogue._dask import _model_reference

        client.run(lambda ref: __import__("minuet.catalogue._dask", fromlist=["_"])
                   ._worker_model(*ref).name, _model_reference(model))
        t0 = time.perf_counter()
        table = encode_files_dask(files, Path(tmp) / f"dask{n_workers}.parquet", model=model,
                                  client=client, chunk_size=512, overwrite=True)
        elapsed = time.perf_counter() - t0
    return len(table) / elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="cutouts streamed from disk")
    parser.add_argument("--n-memory", type=int, default=8192, help="cutouts encoded in memory")
    parser.add_argument("--n-dask", type=int, default=32768, help="cutouts for the Dask test")
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--workdir", default=None, help="where the big file goes")
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    if args.quick:
        args.n, args.n_memory, args.n_dask = 4096, 2048, 2048

    from minuet.cutouts import load_cutouts
    from minuet.simulate import simulate

    model, model_label = _model(args)
    results = {**provenance(), "model": model_label}
    base, _, _, _ = simulate(512, seed=424_242)

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        model_dir = model.save(Path(tmp) / "model") if model.path is None else model.path

        # 1. in memory: the same float16 pixels as the file, checked and encoded
        images = base[np.arange(args.n_memory) % len(base)].astype(np.float16)
        model.encode_cutouts(load_cutouts(images[:256]), progress=False)  # warm-up
        t0 = time.perf_counter()
        model.encode_cutouts(load_cutouts(images), batch_size=256, progress=False)
        results["memory_galaxies_per_s"] = args.n_memory / (time.perf_counter() - t0)
        del images

        # 2. streaming from disk, in a fresh process so that its peak memory is its own
        path = Path(tmp) / "big.h5"
        t0 = time.perf_counter()
        _write_file(path, args.n, base)
        results["write_seconds"] = time.perf_counter() - t0
        results["file_gb"] = path.stat().st_size / 1e9
        stream = run_child("stream_encode", model_dir=str(model_dir), path=str(path),
                           output=str(Path(tmp) / "latents.parquet"), chunk_size=4096)
        results["stream_n"] = stream["rows"]
        results["stream_galaxies_per_s"] = stream["rows"] / stream["seconds"]
        results["stream_peak_rss_mb"] = stream["peak_rss_mb"]
        results["stream_vs_memory"] = (
            results["stream_galaxies_per_s"] / results["memory_galaxies_per_s"]
        )
        path.unlink()

        # 3. Dask: 1 and 2 single-threaded workers
        files = []
        per_file = args.n_dask // 4
        for i in range(4):
            p = Path(tmp) / f"dask{i}.h5"
            _write_file(p, per_file, base)
            files.append(p)
        one = _dask_throughput(model_dir, files, 1, tmp)
        two = _dask_throughput(model_dir, files, 2, tmp)
        results["dask_1_worker_galaxies_per_s"] = one
        results["dask_2_workers_galaxies_per_s"] = two
        results["dask_speedup"] = two / one

    # 4. node-hours for 1e10 galaxies from the per-core rate of single-threaded workers
    per_core = results["dask_1_worker_galaxies_per_s"]
    results["core_hours_1e10"] = 1e10 / per_core / 3600
    results["node_hours_1e10_64core"] = results["core_hours_1e10"] / 64
    results["self_peak_rss_mb"] = peak_rss_mib()

    suffix = "_quick" if args.quick else ""
    (out / f"scale{suffix}.json").write_text(json.dumps(results, indent=2))
    rows = [
        ("In-memory encoding", f"{results['memory_galaxies_per_s']:.0f} galaxies/s"),
        (f"Streaming {results['stream_n']:,} cutouts from disk ({results['file_gb']:.1f} GB)",
         f"{results['stream_galaxies_per_s']:.0f} galaxies/s "
         f"({results['stream_vs_memory']:.2f} of in-memory)"),
        ("Peak resident memory while streaming", f"{results['stream_peak_rss_mb']:.0f} MB"),
        ("Dask LocalCluster, 1 single-threaded worker",
         f"{results['dask_1_worker_galaxies_per_s']:.0f} galaxies/s"),
        ("Dask LocalCluster, 2 single-threaded workers",
         f"{results['dask_2_workers_galaxies_per_s']:.0f} galaxies/s "
         f"({results['dask_speedup']:.2f}x)"),
        ("Core-hours for 1e10 galaxies (CPU)", f"{results['core_hours_1e10']:,.0f}"),
        ("Node-hours for 1e10 galaxies (64-core nodes)",
         f"{results['node_hours_1e10_64core']:,.0f}"),
    ]
    lines = rst_table(("measurement", "result"), rows)
    lines += ["",
              f"Measured on {results['machine']}, {results['date']}, model: {model_label}; "
              f"command: ``python benchmarks/bench_scale.py{' --quick' if args.quick else ''}"
              f" --n {args.n}``."]
    (out / f"scale{suffix}.rst").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
