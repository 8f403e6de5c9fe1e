"""Wall time and peak memory against the number of galaxies: encode, posterior, neighbours.

Each (task, N) pair runs in a fresh Python process, so that its peak resident
memory (Linux's ``VmHWM``; Python's tracemalloc does not
see torch's allocations) is its own. Memory is reported both as the peak of
the process and as its growth beyond the state after imports and model
loading, which is what the N galaxies cost.

* encode: the bundled model's ``Minuet.encode_cutouts`` on 512 simulated
  galaxies (seed 20251207; 128 in the quick mode) repeated to N, in chunks
  of 4096 cutouts (the way
  ``minuet.catalogue`` streams a large file; an (N, 3, 72, 72) array of a
  million cutouts would not fit in memory). The encoder's cost does not
  depend on what the pixels show.
* posterior: ``Minuet.posterior`` (medians and 68/95 per cent intervals) from
  N random 5-D latents with 100 samples per galaxy (``--samples``).
* neighbours: ``LatentIndex`` built on N random 5-D latents, then 10,000 k=10
  queries (1,000 in the quick mode).

Writes ``docs/validation/generated/scaling.{json,rst}`` and ``scaling.png``
(``scaling_quick*`` with ``--quick``)::

    python benchmarks/bench_scaling.py              # N = 1e3, 1e4, 1e5, 1e6
    python benchmarks/bench_scaling.py --quick      # N = 1e3, 1e4
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _children import run_child
from _report import (
    add_output_dir,
    figure,
    new_record,
    output_folder,
    rst_table,
    write_results,
)

TASKS = ("encode", "posterior", "neighbours")

def run_one(task, n, *, samples, n_queries, base):
    result = run_child("scaling_task", task=task, n=int(n), samples=samples,
                       n_queries=n_queries, base=str(base))
    result["growth_mb"] = result["peak_rss_mb"] - result["start_rss_mb"]
    print(result, flush=True)
    return result


def plot(results, path, title):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for task in TASKS:
        rows = [r for r in results if r["task"] == task]
        n = np.array([r["n"] for r in rows], float)
        left.plot(n, [r["seconds"] for r in rows], "o-", label=task)
        right.plot(n, [r["peak_rss_mb"] for r in rows], "o-", label=f"{task}: peak")
        right.plot(n, [max(r["growth_mb"], 0.1) for r in rows], "o:",
                   color=right.lines[-1].get_color(), label=f"{task}: growth")
    n_all = np.array(sorted({r["n"] for r in results}), float)
    slowest = max(r["seconds"] for r in results if r["n"] == n_all[0])
    left.plot(n_all, slowest * n_all / n_all[0], "k--", lw=0.8, label="linear in N")
    left.set(xscale="log", yscale="log", xlabel="galaxies N", ylabel="wall time (s)")
    right.set(xscale="log", yscale="log", xlabel="galaxies N",
              ylabel="resident memory (MB)")
    left.legend(fontsize=8)
    right.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e3, 1e4, 1e5, 1e6],
                        help="numbers of galaxies")
    parser.add_argument("--encode-sizes", type=float, nargs="+", default=None,
                        help="numbers of galaxies for encoding, if not --sizes (the million-"
                             "cutout point is also measured by bench_scale.py, from disk)")
    parser.add_argument("--samples", type=int, default=100, help="posterior samples per galaxy")
    parser.add_argument("--queries", type=int, default=10_000, help="neighbour queries")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    parser.add_argument("--quick", action="store_true",
                        help="N = 1e3 and 1e4, 1000 queries; writes scaling_quick.*")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    if args.quick:
        args.sizes = [s for s in args.sizes if s <= 1e4]
        args.queries = min(args.queries, 1_000)
    sizes = [int(s) for s in args.sizes]
    encode_sizes = sizes if args.encode_sizes is None else [
        int(s) for s in args.encode_sizes if not args.quick or s <= 1e4]
    record = new_record("bench_scaling.py", argv)
    record |= {"samples_per_galaxy": args.samples, "queries": args.queries, "results": []}

    from minuet.simulate import simulate

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.npy"
        record["base_galaxies"] = 128 if args.quick else 512
        if "encode" in args.tasks:
            np.save(base, simulate(record["base_galaxies"], seed=20_251_207)[0])
        for task in args.tasks:
            for n in encode_sizes if task == "encode" else sizes:
                record["results"].append(run_one(task, n, samples=args.samples,
                                                 n_queries=min(args.queries, n), base=base))

    stem = "scaling_quick" if args.quick else "scaling"
    png = out / f"{stem}.png"
    plot(record["results"], png, f"Time and memory against N ({record['machine']}, "
         f"{record['date']})")
    body = []
    for r in record["results"]:
        detail = (f"build {r['build_seconds']:.2f} s, queries {r['query_seconds']:.2f} s"
                  if r["task"] == "neighbours" else "")
        body.append((r["task"], f"{r['n']:,}", f"{r['seconds']:.2f}",
                     f"{1e6 * r['seconds'] / r['n']:.1f}", f"{r['peak_rss_mb']:.0f}",
                     f"{r['growth_mb']:.0f}", detail))
    lines = [
        "Wall time and peak resident memory of one process per task and N. Encoding repeats "
        f"{record['base_galaxies']} simulated galaxies in chunks of 4096; the posterior draws "
        f"{args.samples} samples per galaxy from random latents; neighbours: build and "
        f"{args.queries:,} k=10 queries (fewer when N is smaller) on random latents. "
        "Growth: memory beyond the process after imports and model loading.",
        "",
        *rst_table(("task", "N", "seconds", "us per galaxy", "peak MB", "growth MB",
                    "detail"), body),
        *figure(png, "log-log wall time and memory against the number of galaxies"),
    ]
    write_results(stem, record, lines, directory=out)


if __name__ == "__main__":
    main()
