"""Throughput of every step, each beside its reference configuration, from one run.

Rows, each with minuet's setting, the usual alternative and their ratio:

* encoding: galaxies/s at batch 256 and single-galaxy latency, the default
  network against the reference preset (Gagliano, Shen & Villar 2025);
* reconstruction: ms per galaxy for the default sampler with its own number
  of steps, fewer and more steps, against the reference preset's 200-step
  DDIM (random weights: speed does not depend on training);
* posterior samples/s: the bundled context spline flow against zuko's
  masked autoregressive NSF at the reference size (10 transforms, 6 x 512);
* neighbour queries/s (k = 10): minuet's ``LatentIndex`` (scipy cKDTree)
  against scikit-learn's ``NearestNeighbors``;
* training images/s: default against reference preset, a few steps;
* the encoder's achieved FLOP/s (counted with
  ``torch.utils.flop_counter.FlopCounterMode``) as a fraction of this
  machine's measured matmul peak, in fp32 and bf16.

Network timings are in fp32 unless a row says bf16. Writes
``docs/validation/generated/performance.{json,rst}`` (``performance_quick.*``
with ``--quick``)::

    python benchmarks/bench_performance.py
    python benchmarks/bench_performance.py --quick    # small sizes, a pipeline check

The timing functions come from ``bench_models.py`` and ``bench_science.py``.
"""

import argparse
import time

import numpy as np
import torch
from _report import new_record, rst_table, write_results
from bench_models import build, encoder_rate, reconstruct_ms, timed, train_rate
from bench_science import _flow_timing, bench_neighbours


def matmul_peak(n, dtype, *, repeat=3):
    """Measured FLOP/s of an n x n by n x n torch.matmul."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / timed(lambda: torch.matmul(a, b), repeat=repeat)


def encoder_flops(encoder, batch, *, repeat, bf16=False):
    """FLOPs of one encoder call on ``batch`` images, and the achieved FLOP/s."""
    from torch.utils.flop_counter import FlopCounterMode

    size = encoder.config.image_size
    x = torch.randn(batch, encoder.config.channels, size, size)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            encoder(x)
        flops = counter.get_total_flops()
        dtype = torch.bfloat16 if bf16 else torch.float32
        with torch.autocast("cpu", dtype=dtype, enabled=bf16):
            seconds = timed(lambda: encoder(x), repeat=repeat)
    return flops, flops / seconds


def _row(quantity, ours, theirs, fmt, higher_is_better=True, unit=""):
    ratio = ours / theirs if higher_is_better else theirs / ours
    return {"quantity": quantity, "minuet": ours, "alternative": theirs, "format": fmt,
            "unit": unit, "speedup": ratio}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small batches and sizes; writes performance_quick.*")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats of fast calls")
    args = parser.parse_args(argv)
    quick = args.quick
    repeat = 1 if quick else args.repeat
    record = new_record("bench_performance.py", argv)
    record |= {"torch": torch.__version__, "threads": torch.get_num_threads(),
               "quick": quick}
    from minuet import Minuet

    model = Minuet.pretrained()
    ours, ref = model.autoencoder, build("reference")
    d_ref = ref.config.diffusion
    rows, notes = [], []
    print("encoding", flush=True)
    rows.append(_row("encode, batch 256", encoder_rate(ours, batch=256, repeat=repeat),
                     encoder_rate(ref, batch=256, repeat=repeat), "{:,.0f}",
                     unit="galaxies/s"))
    latency = [1e3 / encoder_rate(net, batch=1, repeat=10 * repeat) for net in (ours, ref)]
    rows.append(_row("encode, one galaxy", *latency, "{:.1f}", False, "ms"))

    print("reconstruction", flush=True)
    batch = 8 if quick else 64
    steps = ours.config.diffusion.steps
    ref_steps = 10 if quick else d_ref.steps
    ref_ms = reconstruct_ms(ref, batch=2 if quick else 8, steps=ref_steps) * d_ref.steps
    ref_ms /= ref_steps
    if ref_steps < d_ref.steps:
        notes.append(f"The reference sampler was timed over {ref_steps} of its "
                     f"{d_ref.steps} steps and scaled (each step costs the same).")
    sampler = ours.config.diffusion.sampler
    reconstruct_ms(ours, batch=2, steps=2)  # warm-up
    for n_steps in sorted({max(2, steps // 2), steps, 4 * steps}):
        label = "default" if n_steps == steps else "fewer" if n_steps < steps else "more"
        rows.append(_row(f"reconstruct, {sampler} {n_steps} steps ({label})",
                         reconstruct_ms(ours, batch=batch, steps=n_steps), ref_ms, "{:.1f}",
                         False, "ms/galaxy"))
    record["reference_sampler"] = f"{d_ref.sampler}, {d_ref.steps} steps"

    print("posterior", flush=True)
    n_post, n_samples = (200, 100) if quick else (2000, 1000)
    z = np.random.default_rng(0).normal(size=(n_post, model.latent_dim))
    estimator = model.posterior_estimator
    estimator.sample(z[:10], n_samples=n_samples, seed=0)  # warm-up
    start = time.perf_counter()
    estimator.sample(z, n_samples=n_samples, seed=0)
    post_rate = n_post * n_samples / (time.perf_counter() - start)
    n_nsf = 2 if quick else 10
    nsf_rate = n_nsf * n_samples / _flow_timing("nsf", 10, (512,) * 6, n_nsf, n_samples)
    rows.append(_row("posterior samples", post_rate, nsf_rate, "{:,.0f}", unit="samples/s"))

    print("neighbours", flush=True)
    nbr = bench_neighbours(n=100_000 if quick else 1_000_000,
                           n_queries=1_000 if quick else 10_000, k=10)
    rates = {row["backend"]: nbr["n_queries"] / row["query_s"] for row in nbr["rows"]}
    rows.append(_row(f"neighbour queries, k=10 among {nbr['n_catalog']:,}", rates["minuet"],
                     rates["sklearn"], "{:,.0f}", unit="queries/s"))

    print("training", flush=True)
    rows.append(_row("training (AdamW step)",
                     train_rate(build("default"), batch=8 if quick else 64, repeat=repeat),
                     train_rate(ref, batch=2 if quick else 16, repeat=1), "{:.1f}",
                     unit="images/s"))

    print("FLOP/s", flush=True)
    n = 1024 if quick else 4096
    peak32, peak16 = (matmul_peak(n, dtype, repeat=repeat)
                      for dtype in (torch.float32, torch.bfloat16))
    flop_batch = 64 if quick else 256
    flops, achieved32 = encoder_flops(ours.encoder, flop_batch, repeat=repeat)
    _, achieved16 = encoder_flops(ours.encoder, flop_batch, repeat=repeat, bf16=True)
    record["flops"] = {
        "encoder_gflop_per_galaxy": flops / flop_batch / 1e9, "batch": flop_batch,
        "matmul_size": n, "fp32_peak_gflops": peak32 / 1e9, "bf16_peak_gflops": peak16 / 1e9,
        "achieved_gflops": achieved32 / 1e9, "achieved_bf16_gflops": achieved16 / 1e9,
        "fraction_of_fp32_peak": achieved32 / peak32,
        "fraction_of_bf16_peak": achieved16 / peak16,
    }
    record["rows"] = [{k: v for k, v in r.items() if k != "format"} for r in rows]

    body = [(r["quantity"], r["unit"], r["format"].format(r["minuet"]),
             r["format"].format(r["alternative"]), f"{r['speedup']:.2f}x") for r in rows]
    f = record["flops"]
    lines = [
        f"Minuet's default network (the bundled model ``{model.name}``) and heads beside the "
        f"usual alternative: the reference preset (reference sampler "
        f"{record['reference_sampler']}) for the networks, zuko's NSF at the reference size "
        "for the posterior, scikit-learn for the neighbours. The last column is how many "
        "times faster minuet is (below 1: slower). fp32, "
        f"{record['threads']} torch threads, torch {record['torch']}.",
        "",
        *rst_table(("quantity", "unit", "minuet", "alternative", "minuet faster by"), body),
        "",
        *notes,
        "",
        f"Encoder arithmetic: {f['encoder_gflop_per_galaxy']:.3f} GFLOP per galaxy "
        f"(FlopCounterMode, batch {flop_batch}).",
        "",
        *rst_table(
            ("precision", "measured matmul peak (GFLOP/s)", "encoder achieved (GFLOP/s)",
             "fraction of peak"),
            [("fp32", f"{f['fp32_peak_gflops']:.1f}", f"{f['achieved_gflops']:.1f}",
              f"{f['fraction_of_fp32_peak']:.2f}"),
             ("bf16 autocast", f"{f['bf16_peak_gflops']:.1f}", f"{f['achieved_bf16_gflops']:.1f}",
              f"{f['fraction_of_bf16_peak']:.2f}")]),
        "",
        f"Peak: the mean time of {repeat} {n} x {n} torch.matmul calls per precision, "
        "after one untimed call.",
    ]
    write_results("performance_quick" if quick else "performance", record, lines)


if __name__ == "__main__":
    main()
