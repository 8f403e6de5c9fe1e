"""Training data throughput: in memory against reading from disk, with and without workers.

Simulates a small training set (or takes ``--data``), writes its compact copy
(`minuet.training.compact_cutouts`: stretched float16 and the footprint) and
measures, for each way of reading,

* the reader alone: images per second that the training loop's batch
  stream (`minuet.training.TrainingConfig` ``workers``, ``in_memory``)
  delivers when nothing else runs, i.e. the most an accelerator could be fed;
* training: images per second of whole optimiser steps of a small model on
  this machine's CPU, where the network's compute usually dominates.

The files were written just before, so "disk" reads come mostly from the
operating system's page cache; a cold disk is slower. Writes
``docs/validation/generated/data_pipeline.{json,rst}``
(``data_pipeline_quick.*`` with ``--quick``)::

    python benchmarks/bench_data_pipeline.py --quick
    nice -n 5 python benchmarks/bench_data_pipeline.py --n 1024
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from _report import add_output_dir, new_record, output_folder, rst_table, write_results

MODES = (
    ("in memory (float16 cache)", "simulated", True, 0),
    ("disk, simulated layout", "simulated", False, 0),
    ("disk, simulated layout, 2 workers", "simulated", False, 2),
    ("disk, compact float16", "compact", False, 0),
    ("disk, compact float16, 2 workers", "compact", False, 2),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--data", type=Path, default=None, help="simulated HDF5 file to read")
    parser.add_argument("--n", type=int, default=1024, help="galaxies to simulate")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--reader-steps", type=int, default=40)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--preset", default="tiny", help="model of the training measurement")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--processes", type=int, default=2, help="simulation processes")
    args = add_output_dir(parser).parse_args(argv)
    if args.quick:
        args.n, args.batch_size, args.reader_steps, args.train_steps = 48, 8, 6, 2
        args.processes = 1
    return args


def _config(path, in_memory, workers, args, output):
    from minuet.models import DiffusionAutoencoderConfig
    from minuet.training import TrainingConfig

    return TrainingConfig(
        data=(str(path),), output=str(output), model=DiffusionAutoencoderConfig.preset(args.preset),
        steps=10**9, batch_size=args.batch_size, validation_fraction=0.0,
        checkpoint_every=10**9, log_every=10**9, validate_every=10**9, in_memory=in_memory,
        workers=workers, threads=args.threads, precision="fp32",
    )


def reader_rate(config, steps):
    """Images per second of the batch stream alone, after its first batch."""
    import numpy as np
    import torch

    from minuet.training.engine import _batch_stream, _Batches, _Data

    data = _Data(config)
    batches = _Batches(data, np.arange(len(data)), config, rank=0, world=1, first=0,
                       stop=steps + 1)
    stream = _batch_stream(batches, config, torch.device("cpu"))
    next(stream)  # worker start-up and the first read are not the steady rate
    t0 = time.perf_counter()
    n = sum(len(x) for _, x, _ in stream)
    return n / (time.perf_counter() - t0)


def training_rate(config, steps):
    """Images per second of training steps, from the second half of the run's log.

    The first half holds the start-up (workers, first reads), as does the
    engine's first log row; the second row times steady steps only.
    """
    from minuet.training import train

    config.log_every = max(1, steps // 2)
    _, history = train(config, max_steps=2 * config.log_every, progress=False)
    return history[-1]["images_per_s"]


def main(argv=None):
    args = parse_args(argv)
    out = output_folder(args)
    record = new_record("bench_data_pipeline.py", argv)
    import torch

    from minuet.simulate import write_dataset
    from minuet.training import compact_cutouts

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="minuet-pipeline-") as tmp:
        tmp = Path(tmp)
        source = args.data or write_dataset(tmp / "simulated.h5", args.n, seed=7,
                                            processes=args.processes)
        t0 = time.perf_counter()
        compact = compact_cutouts(source, tmp / "compact.h5")
        record["compact_seconds"] = round(time.perf_counter() - t0, 2)
        files = {"simulated": Path(source), "compact": compact}
        n = len(__import__("h5py").File(source)["images"])
        record["bytes_per_galaxy"] = {k: p.stat().st_size / n for k, p in files.items()}
        rows = []
        for i, (label, kind, in_memory, workers) in enumerate(MODES):
            config = _config(files[kind], in_memory, workers, args, tmp / f"run{i}")
            load = os.getloadavg()[0]
            reader = reader_rate(config, args.reader_steps)
            trained = training_rate(config, args.train_steps)
            rows.append({"mode": label, "reader_images_per_s": reader,
                         "training_images_per_s": trained, "load_average": round(load, 2)})
            print(f"{label:36s} reader {reader:9.0f} img/s   training {trained:7.1f} img/s   "
                  f"(load {load:.2f})", flush=True)
    record.update({"n_galaxies": n, "batch_size": args.batch_size, "preset": args.preset,
                   "threads": args.threads, "rows": rows})
    # each row's load average stays in the JSON record, not on the page
    body = [(r["mode"], f"{r['reader_images_per_s']:.0f}", f"{r['training_images_per_s']:.1f}")
            for r in rows]
    lines = rst_table(("reading", "reader alone [img/s]", f"training, '{args.preset}' model "
                       "[img/s]"), body)
    size = record["bytes_per_galaxy"]
    lines += ["", f"{n} simulated galaxies, batches of {args.batch_size}, {args.threads} torch "
              f"thread(s) in the training process. On disk a galaxy takes "
              f"{size['simulated'] / 1e3:.0f} kB in the simulated layout and "
              f"{size['compact'] / 1e3:.0f} kB in the compact one. The files had just been "
              "written, so disk reads came mostly from the page cache."]
    stem = "data_pipeline_quick" if args.quick else "data_pipeline"
    write_results(stem, record, lines, directory=out)
    return record


if __name__ == "__main__":
    main()
