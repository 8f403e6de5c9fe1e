"""Throughput of every step, each beside its reference configuration, from one run.

Rows, each with minuet's setting, the usual alternative and their ratio:

* encoding: galaxies/s at batch 256 and single-galaxy latency, the default
  network against the reference preset (Gagliano, Shen & Villar 2025);
* reconstruction: ms per galaxy for the default sampler with its own number
  of steps, fewer and more steps, against the reference preset's 200-step
  DDIM (random weights: speed does not depend on training);
* posterior samples/s: the bundled context spline flow against zuko's
  masked autoregressive NSF at the reference size (10 transforms, 6 x 512);
* neighbour queries/s (k = 10): minuet's ``LatentIndex`` (pykdtree where installed)
  against scikit-learn's ``NearestNeighbors``;
* training images/s: default against reference preset, a few steps;
* the encoder's achieved FLOP/s (counted with
  ``torch.utils.flop_counter.FlopCounterMode``, the fused attention kernel
  included) as a fraction of this machine's measured matmul peak, in fp32
  and bf16, timed interleaved with the matmul itself, and a profile of where
  the bf16 encoder's time goes per operator group;
* before and after, side by side on the same data in the same process:
  end-to-end encoding of simulated cutouts from an HDF5 file and one
  denoiser evaluation, the earlier fp32 path (``_legacy.py``) against
  ``precision='auto'``; neighbour queries among 10 million latents (one
  million with ``--quick``), minuet's Z-ordered tree against the plain
  cKDTree it replaced and scikit-learn; how far bf16 moves the latents,
  their neighbours and the reconstructions;
* one GPU, when ``benchmarks/gpu_inference.py`` has left its results in
  ``docs/validation/generated/gpu_inference.json``.

Network timings are in fp32 unless a row says bf16 or auto. Writes
``docs/validation/generated/performance.{json,rst}`` (``performance_quick.*``
with ``--quick``)::

    python benchmarks/bench_performance.py
    python benchmarks/bench_performance.py --quick    # small sizes, a pipeline check

The timing functions come from ``bench_models.py`` and ``bench_science.py``.
"""

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _legacy import legacy_inference
from _report import GENERATED, add_output_dir, new_record, output_folder, rst_table, write_results
from _timing import side_by_side
from bench_models import build, encoder_rate, reconstruct_ms, train_rate
from bench_science import _flow_timing, bench_neighbours

from minuet.models import (
    _layers,
    autocast,
    cached_inference_copy,
    compiled_network,
    cpu_matrix_extensions,
    resolve_precision,
    retained_heap,
)

#: Network calls in a row per timed round: ``encode`` runs its batches and a
#: sampler its steps one after another, the current path inside one
#: `~minuet.models.retained_heap`, so that only the first call of each run
#: takes its buffers from the kernel.
CONSECUTIVE = 4


def consecutive(call, *, heap, calls=CONSECUTIVE):
    """``call`` made ``calls`` times in a row, inside one retained heap where ``heap``."""
    def run():
        with retained_heap() if heap else contextlib.nullcontext():
            for _ in range(calls):
                result = call()
        return result
    return run


def attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    """Multiply-adds of one scaled-dot-product attention, times two: ``Q K^T`` and ``P V``.

    FlopCounterMode of PyTorch 2.13 counts no FLOPs for the CPU's fused
    attention kernel, so the encoder's arithmetic would come out 9% short;
    this is the count it gives the GPU kernels, for the shapes it is passed.
    """
    *batch, n, d = query_shape
    m, dv = key_shape[-2], value_shape[-1]
    heads = int(np.prod(batch))
    return 2 * heads * n * m * d + 2 * heads * n * m * dv


def epilogue_linear_flops(x_shape, *args, out_shape=None, **kwargs):
    """Multiply-adds of oneDNN's fused linear layer, times two (``_layers.epilogue_linear``).

    FlopCounterMode knows nothing of ``mkldnn::_linear_pointwise``, which a
    bf16 copy's linear layers run on the CPU; its output has the input's
    rows and the weight's rows, so the count is read from the shapes.
    """
    return 2 * int(np.prod(x_shape)) * out_shape[-1]


def count_flops(network, x):
    """FLOPs of one call of ``network`` on ``x``, per ATen operator."""
    from torch.utils.flop_counter import FlopCounterMode

    fused = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: attention_flops}
    if _layers._onednn_linear() is not None:
        # both overloads, with and without a residual operand
        fused[torch.ops.mkldnn._linear_pointwise] = epilogue_linear_flops
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=fused) as counter:
        network(x)
    return {str(op): int(v) for op, v in counter.get_flop_counts()["Global"].items()}


#: Operator groups of the encoder profile: ATen names (prefixes) per group.
#: On the CPU the copy's attention is two batched products, the exponentials
#: of the scores and their normalisation (``_layers._cpu_attention``); the
#: projections are the other matrix products, with their bias, GELU or residual
#: inside oneDNN's operator where it is used (``_layers.epilogue_linear``).
PROFILE_GROUPS = {
    "matrix products": ("aten::addmm", "aten::mm", "aten::matmul",
                        "mkldnn::_linear_pointwise"),
    "attention": ("aten::_scaled_dot_product", "aten::bmm", "aten::_softmax", "aten::exp2",
                  "aten::aminmax", "aten::div", "aten::sum"),
    "GELU": ("aten::gelu",),
    "copies": ("aten::copy_", "aten::clone", "aten::contiguous"),
    "layer norms": ("aten::native_layer_norm",),
}


def encoder_profile(encoder, batch, *, calls=5):
    """Where the bf16 copy's time and arithmetic go, per operator group.

    The copy that ``encode`` runs is called ``calls`` times under
    `torch.profiler.profile` after one untimed call; self CPU time is summed
    per group of `PROFILE_GROUPS` (the rest is "other"), and the FLOPs of
    `count_flops` per group beside it.
    """
    from torch.profiler import ProfilerActivity, profile

    size = encoder.config.image_size
    x16 = torch.randn(batch, encoder.config.channels, size, size).to(torch.bfloat16)
    frozen = cached_inference_copy(encoder)
    with torch.inference_mode(), retained_heap():
        frozen(x16)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                frozen(x16)

    def group(name):
        name = name.replace(".", "::", 1) if "::" not in name else name
        for key, prefixes in PROFILE_GROUPS.items():
            if name.startswith(prefixes):
                return key
        return "other"

    time_us = dict.fromkeys([*PROFILE_GROUPS, "other"], 0.0)
    for event in prof.key_averages():
        time_us[group(event.key)] += event.self_cpu_time_total
    flops = dict.fromkeys(time_us, 0)
    for op, value in count_flops(frozen, x16).items():
        flops[group(op)] += value
    total_t, total_f = sum(time_us.values()), sum(flops.values())
    return {"batch": batch, "calls": calls,
            "groups": {k: {"time_fraction": time_us[k] / total_t,
                           "flop_fraction": flops[k] / total_f} for k in time_us}}


def flop_fractions(encoder, batch, n, *, rounds):
    """Encoder FLOP/s against the matmul peak, fp32 and bf16, all timed interleaved.

    Returns the FLOPs of one call on ``batch`` images per operator
    (`count_flops`) and, per candidate, the best FLOP/s of a round: one call of
    each matmul, `CONSECUTIVE` encoder calls (see `consecutive`). The
    candidates are the matmul peaks,
    the encoder in fp32, the bf16 copy that ``encode`` runs at
    ``precision='bf16'``
    (`~minuet.models.cached_inference_copy`), the same copy compiled
    (``compile=True``, `~minuet.models.compiled_network`), the encoder under bf16
    autocast, and under autocast as it was before (``_legacy.py``).
    """
    size = encoder.config.image_size
    x = torch.randn(batch, encoder.config.channels, size, size)
    mats = {dtype: (torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype))
            for dtype in (torch.float32, torch.bfloat16)}
    counts = count_flops(encoder, x)
    flops = sum(counts.values())

    frozen = cached_inference_copy(encoder)
    x16 = x.to(torch.bfloat16)
    compiled, why_not = compiled_network(frozen, x16)

    def copy_call():
        with torch.inference_mode():
            return frozen(x16)

    def compiled_call():
        with torch.inference_mode():
            return compiled(x16)

    def run(precision, legacy=False):
        def call():
            with torch.inference_mode(), autocast(precision):
                if legacy:
                    with legacy_inference():
                        return encoder(x)
                return encoder(x)
        return consecutive(call, heap=not legacy)

    candidates = {
        "matmul fp32": lambda: torch.matmul(*mats[torch.float32]),
        "matmul bf16": lambda: torch.matmul(*mats[torch.bfloat16]),
        "encoder fp32": run("fp32"),
        "encoder bf16 copy": consecutive(copy_call, heap=True),
        "encoder bf16 copy, compiled": consecutive(compiled_call, heap=True),
        "encoder bf16": run("bf16"),
        "encoder bf16 before": run("bf16", legacy=True),
    }
    times = side_by_side(candidates, rounds=rounds)
    work = {name: 2 * n**3 if name.startswith("matmul") else CONSECUTIVE * flops
            for name in candidates}
    times["compile_failed"] = why_not
    return counts, {name: work[name] / times[name]["best"] for name in candidates}, times


def _latent_array(table, names):
    return np.column_stack([np.asarray(table[name]) for name in names])


def bench_inference(model, *, quick, rounds):
    """Before against after on the same simulated cutouts, in this process."""
    import h5py

    from minuet.catalogue import encode_catalogue
    from minuet.neighbours import LatentIndex
    from minuet.simulate import simulate

    auto = resolve_precision("auto")
    n = 256 if quick else 2048
    images, _, _, _ = simulate(n, seed=20_261_201)
    result = {"n_cutouts": n, "auto": auto, "cpu_bf16_extensions": list(cpu_matrix_extensions())}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "simulated.h5"
        with h5py.File(source, "w") as f:
            f["images"] = images

        def encode(precision, legacy, compile=False, typicality=False):
            def call():
                with legacy_inference() if legacy else torch.no_grad():
                    return encode_catalogue(source, Path(tmp) / f"{precision}{compile}.ecsv",
                                            model=model, precision=precision, compile=compile,
                                            typicality=typicality, overwrite=True,
                                            progress=False)
            return call

        start = time.perf_counter()
        compiled_table = encode("auto", False, compile=True)()  # compiles, once per process
        result["compiled_first_call_s"] = time.perf_counter() - start
        times = side_by_side({"before": encode("fp32", True), "after": encode("auto", False),
                              "after, compiled": encode("auto", False, compile=True),
                              "before, typicality": encode("fp32", True, typicality=True),
                              "after, typicality": encode("auto", False, typicality=True)},
                             rounds=rounds)
        result["encode_end_to_end"] = times
        rows.append((f"end-to-end encoding, HDF5 file of {n:,} simulated cutouts", "galaxies/s",
                     n / times["before"]["best"], n / times["after"]["best"], "{:,.0f}"))
        rows.append((f"the same with ``compile=True`` (its one-off compilation, "
                     f"{result['compiled_first_call_s']:.0f} s in all for the first call, left "
                     "out)", "galaxies/s", n / times["before"]["best"],
                     n / times["after, compiled"]["best"], "{:,.0f}"))
        if model.typicality_scorer is not None:
            rows.append(("the same with the typicality columns (``encode_catalogue``'s "
                         "default)", "galaxies/s", n / times["before, typicality"]["best"],
                         n / times["after, typicality"]["best"], "{:,.0f}"))

    ae = model.autoencoder
    batch = 16 if quick else 64
    x = torch.from_numpy(model.stretch.forward(images[:batch]))
    with torch.inference_mode():
        latent = ae.encode(x)
    sigma = torch.ones(batch)
    noisy = x + sigma[:, None, None, None] * torch.randn(x.shape, generator=torch.Generator()
                                                         .manual_seed(0))

    def denoise(precision, legacy):
        if legacy:
            def call():
                with torch.inference_mode(), autocast(precision), legacy_inference():
                    return ae.diffusion.denoise(ae.denoiser, noisy, sigma, latent)
            return consecutive(call, heap=False)
        network = reconstruction_denoiser(ae, precision)

        def call():
            with torch.inference_mode():
                return ae.diffusion.denoise(network, noisy, sigma, latent)
        return consecutive(call, heap=True)

    times = side_by_side({"before": denoise("fp32", True), "after": denoise("auto", False)},
                         rounds=3 * rounds)
    result["denoiser_evaluation"] = times
    evaluations = CONSECUTIVE * batch
    rows.append((f"denoiser evaluation, batch {batch}", "evaluations/s",
                 evaluations / times["before"]["best"], evaluations / times["after"]["best"],
                 "{:,.0f}"))

    # how far the precision moves what users get
    z32 = model.encode(images, precision="fp32")
    z_auto = model.encode(images, precision="auto")
    a, b = _latent_array(z32, model.latent_names), _latent_array(z_auto, model.latent_names)
    d = np.abs(b - a) / a.std(axis=0)
    c = _latent_array(compiled_table, model.latent_names)
    result["compiled_against_auto_rms_over_spread"] = float(
        np.sqrt(np.mean(((c - b) / a.std(axis=0)) ** 2, axis=0)).max())
    k = 10

    def neighbours(z):
        ids = np.asarray(LatentIndex(z).query(z, k=k + 1)["catalog_index"]).reshape(-1, k + 1)
        return ids[:, 1:]

    agreement = float(np.mean([len(set(p) & set(q)) / k
                               for p, q in zip(neighbours(a), neighbours(b), strict=True)]))
    m = 8 if quick else 32
    steps = ae.config.diffusion.steps
    r32 = model.reconstruct(a[:m], seed=1, precision="fp32").data
    r_auto = model.reconstruct(a[:m], seed=1, precision="auto").data
    r_other = model.reconstruct(a[:m], seed=2, precision="fp32").data
    result["agreement"] = {
        "latent_rms_over_spread": np.sqrt(np.mean(d**2, axis=0)).round(5).tolist(),
        "latent_max_over_spread": d.max(axis=0).round(5).tolist(),
        "neighbour_agreement_k10": agreement,
        "reconstruction_change_over_draw_to_draw": float(
            np.sqrt(np.mean((r_auto - r32) ** 2)) / np.sqrt(np.mean((r_other - r32) ** 2))),
        "reconstructions": m, "steps": steps,
    }
    return rows, result


def _row(quantity, ours, theirs, fmt, higher_is_better=True, unit=""):
    ratio = ours / theirs if higher_is_better else theirs / ours
    return {"quantity": quantity, "minuet": ours, "alternative": theirs, "format": fmt,
            "unit": unit, "speedup": ratio}


def _gpu_lines():
    """Rows of the GPU measurement, when ``benchmarks/gpu_inference.py`` has written one."""
    path = GENERATED / "gpu_inference.json"
    if not path.is_file():
        return ["No GPU row: ``benchmarks/gpu_inference.py`` has not been run on a GPU for "
                "this page (no GPU was available to the run that wrote it)."]
    gpu = json.loads(path.read_text())
    if gpu.get("device_type") != "cuda":
        return [f"No GPU row: the last run of ``benchmarks/gpu_inference.py`` found no GPU "
                f"and measured {gpu.get('device_name', 'the CPU')} instead."]
    body = [(row["stage"], row["precision"], f"{row['galaxies_per_s']:,.0f}",
             f"{row['node_hours_for_1e10']:,.1f}") for row in gpu["rows"]]
    return [f"One GPU ({gpu['device_name']}, torch {gpu['torch']}, {gpu['date']}; command "
            f"``{gpu['command']}``):", "",
            *rst_table(("stage", "precision", "galaxies/s", "GPU-hours for 1e10 galaxies"), body)]


def reconstruction_denoiser(ae, precision):
    """The denoiser that `Minuet.reconstruct` runs at ``precision``: in bf16 its cached
    bf16 copy, in fp32 the network itself."""
    if resolve_precision(precision) == "bf16":
        return cached_inference_copy(ae.denoiser)
    return ae.denoiser


def implied_reconstruction(model, ref, *, quick, rounds):
    """Default reconstruction against the reference's, from one denoiser evaluation of each.

    Both networks are timed in turn on the same batch, `CONSECUTIVE` calls a
    round (see `consecutive`); each sampler's cost is its number of network
    evaluations times one evaluation.
    """
    ae = model.autoencoder
    batch = 2 if quick else 8
    x = torch.randn(batch, *ae.image_shape) * 0.3
    latent = torch.randn(batch, ae.config.encoder.latent_dim)
    sigma, t = torch.ones(batch), torch.full((batch,), 500.0)

    def ours(precision):
        network = reconstruction_denoiser(ae, precision)

        def call():
            with torch.inference_mode():
                return ae.diffusion.denoise(network, x, sigma, latent)
        return consecutive(call, heap=True)

    def reference():
        with torch.inference_mode():
            return ref.denoiser(x, t, latent)

    times = side_by_side({"reference": consecutive(reference, heap=False), "auto": ours("auto"),
                          "fp32": ours("fp32")}, rounds=rounds)
    d, d_ref = ae.config.diffusion, ref.config.diffusion
    per_step = {"heun": 2, "dpmpp2m": 1, "euler": 1}[d.sampler]
    evaluations = d.steps * per_step - (1 if d.sampler == "heun" else 0)
    reference_cost = d_ref.steps * times["reference"]["best"]
    return {"batch": batch, "reference_evaluations": d_ref.steps,
            "default_evaluations": evaluations, "times": times,
            "ratio": reference_cost / (evaluations * times["auto"]["best"]),
            "ratio_fp32": reference_cost / (evaluations * times["fp32"]["best"])}


def full_rows(record, model, ours, ref, *, quick, repeat):
    """The rows against the reference configuration; fills ``record['full']``."""
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
    if record["precision_auto"] == "bf16":
        rows.append(_row(f"reconstruct, {sampler} {steps} steps (default), bf16",
                         reconstruct_ms(ours, batch=batch, steps=steps, bf16=True), ref_ms,
                         "{:.1f}", False, "ms/galaxy"))
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

    print("training", flush=True)
    rows.append(_row("training (AdamW step)",
                     train_rate(build("default"), batch=8 if quick else 64, repeat=repeat),
                     train_rate(ref, batch=2 if quick else 16, repeat=1), "{:.1f}",
                     unit="images/s"))

    record["full"] = {"rows": rows, "notes": notes}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small batches and sizes; writes performance_quick.*")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats of fast calls")
    parser.add_argument("--side-by-side-only", action="store_true",
                        help="only the before/after rows, the FLOP/s table and the GPU rows "
                             "(performance_side.*), not the comparison with the reference")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    full = not args.side_by_side_only
    quick = args.quick
    repeat = 1 if quick else args.repeat
    rounds = 2 if quick else max(3, args.repeat)
    record = new_record("bench_performance.py", argv)
    auto = resolve_precision("auto")
    record |= {"torch": torch.__version__, "threads": torch.get_num_threads(),
               "quick": quick, "precision_auto": auto,
               "cpu_bf16_extensions": list(cpu_matrix_extensions())}
    from minuet import Minuet

    model = Minuet.pretrained()
    ours, ref = model.autoencoder, build("reference")
    print("before and after", flush=True)
    side_rows, record["inference"] = bench_inference(model, quick=quick, rounds=rounds)
    record["implied_reconstruction"] = implied_reconstruction(model, ref, quick=quick,
                                                              rounds=2 * rounds)
    if full:
        full_rows(record, model, ours, ref, quick=quick, repeat=repeat)

    print("neighbours", flush=True)
    nbr = bench_neighbours(n=1_000_000 if quick else 10_000_000,
                           n_queries=1_000 if quick else 100_000, k=10,
                           backends=("minuet", "ckdtree", "sklearn"))
    record["neighbours"] = nbr
    rates = {row["backend"]: nbr["n_queries"] / row["query_s"] for row in nbr["rows"]}
    if full:
        record["full"]["rows"].insert(-1, _row(
            f"neighbour queries, k=10 among {nbr['n_catalog']:,}", rates["minuet"],
            rates["sklearn"], "{:,.0f}", unit="queries/s"))
    side_rows.append((f"neighbour queries, k=10 among {nbr['n_catalog']:,} (exact), "
                      "scikit-learn before", "queries/s", rates["sklearn"], rates["minuet"],
                      "{:,.0f}"))
    side_rows.append((f"neighbour queries, k=10 among {nbr['n_catalog']:,} (exact), plain "
                      "cKDTree before", "queries/s",
                      rates["ckdtree"], rates["minuet"], "{:,.0f}"))

    print("FLOP/s", flush=True)
    n = 1024 if quick else 4096
    flop_batch = 64 if quick else 256
    counts, rates_flops, flop_times = flop_fractions(ours.encoder, flop_batch, n,
                                                     rounds=rounds)
    flops = sum(counts.values())
    peak32, peak16 = rates_flops["matmul fp32"], rates_flops["matmul bf16"]
    record["flops"] = {
        "encoder_gflop_per_galaxy": flops / flop_batch / 1e9, "batch": flop_batch,
        "matmul_size": n, "fp32_peak_gflops": peak32 / 1e9, "bf16_peak_gflops": peak16 / 1e9,
        "achieved_gflops": rates_flops["encoder fp32"] / 1e9,
        "achieved_bf16_copy_gflops": rates_flops["encoder bf16 copy"] / 1e9,
        "achieved_bf16_compiled_gflops": rates_flops["encoder bf16 copy, compiled"] / 1e9,
        "compile_failed": flop_times["compile_failed"],
        "achieved_bf16_gflops": rates_flops["encoder bf16"] / 1e9,
        "achieved_bf16_before_gflops": rates_flops["encoder bf16 before"] / 1e9,
        "fraction_of_fp32_peak": rates_flops["encoder fp32"] / peak32,
        "fraction_of_bf16_peak_copy": rates_flops["encoder bf16 copy"] / peak16,
        "fraction_of_bf16_peak_compiled": rates_flops["encoder bf16 copy, compiled"] / peak16,
        "fraction_of_bf16_peak": rates_flops["encoder bf16"] / peak16,
        "fraction_of_bf16_peak_before": rates_flops["encoder bf16 before"] / peak16,
        "times": flop_times,
    }
    record["flops"]["attention_flop_fraction"] = sum(
        v for op, v in counts.items() if "scaled_dot_product" in op) / flops
    print("profile", flush=True)
    prof = record["flops"]["profile"] = encoder_profile(ours.encoder, flop_batch,
                                                        calls=2 if quick else 5)
    record["side_by_side"] = [
        {"quantity": q, "unit": u, "before": b, "after": a, "speedup": a / b}
        for q, u, b, a, _ in side_rows]
    side_body = [(q, u, fmt.format(b), fmt.format(a), f"{a / b:.2f}x")
                 for q, u, b, a, fmt in side_rows]
    f = record["flops"]
    agree = record["inference"]["agreement"]
    implied = record["implied_reconstruction"]
    side_lines = [
        "Before and after, side by side in this run on the same data: *before* is the "
        "earlier fp32 path (separate query and key-value projections, fp32 everywhere, "
        "the C library's heap settings left alone; ``benchmarks/_legacy.py``) and, for "
        "neighbours, the plain cKDTree in input order "
        "or scikit-learn's ``NearestNeighbors`` (k-d tree, all cores); "
        f"*after* is ``precision='auto'``, here {auto} (this CPU reports "
        f"{', '.join(record['cpu_bf16_extensions']) or 'no bf16 extension'}), and the "
        "Z-ordered tree. Candidates ran in turn, round after round, and each row keeps "
        "each candidate's fastest round (neighbour backends: separate processes one after "
        "the other, best of three query batches); the end-to-end rows include reading, "
        "checking and stretching the cutouts (with the current cutout checks on both sides) "
        "and writing the table, the first two without the typicality columns and the third "
        "with them, on both sides (the JSON record beside this page keeps the machine's load "
        "during each round). *After* keeps freed buffers in the heap while the networks "
        "run (`minuet.models.retained_heap`). Once that has been left for the first time, "
        "glibc's thresholds stay where it set them (buffers of up to 32 MiB from the heap, "
        "free memory above 64 MiB handed back) rather than sliding with the sizes freed, "
        "which if anything favours *before* in the rounds that follow. The rows of one "
        f"network (the denoiser here, the encoder's FLOP/s below) time {CONSECUTIVE} calls "
        "in a row per round on both sides, as ``encode`` runs its batches and a sampler "
        "its steps, *after* inside one retained heap.",
        "",
        *rst_table(("quantity", "unit", "before", "after", "speed-up"), side_body),
        "",
        "Default reconstruction against the reference configuration, from one denoiser "
        "evaluation of each timed in turn (batch "
        f"{implied['batch']}): the reference's {implied['reference_evaluations']} fp32 "
        f"evaluations per image against the default's {implied['default_evaluations']} at "
        f"``precision='auto'``, {implied['ratio']:.0f} times faster "
        f"({implied['ratio_fp32']:.0f} times with the default in fp32). The sampler's own "
        "arithmetic, a few vector operations per step, is left out on both sides.",
        "",
        f"What ``precision='auto'`` changes in the results, on the "
        f"{record['inference']['n_cutouts']:,} simulated cutouts: latents move by "
        f"{100 * max(agree['latent_rms_over_spread']):.2f}% of their spread (RMS, worst "
        f"dimension; at most {100 * max(agree['latent_max_over_spread']):.2f}% for any "
        f"galaxy), {100 * agree['neighbour_agreement_k10']:.1f}% of each galaxy's 10 nearest "
        "neighbours are unchanged, and a reconstruction drawn with the same seed moves by "
        f"{100 * agree['reconstruction_change_over_draw_to_draw']:.1f}% of the RMS difference "
        f"between two draws from the same latent ({agree['reconstructions']} galaxies, "
        f"{agree['steps']} steps). ``compile=True`` moves the latents of ``precision='auto'`` "
        f"by {100 * record['inference']['compiled_against_auto_rms_over_spread']:.2f}% of "
        "their spread (RMS, worst dimension)"
        + (f"; compiling failed here and the compiled rows ran eagerly "
           f"({f['compile_failed']})." if f["compile_failed"] else "."),
        "",
        f"Encoder arithmetic: {f['encoder_gflop_per_galaxy']:.3f} GFLOP per galaxy "
        f"(FlopCounterMode, batch {flop_batch}, with the fused attention kernel's "
        f"{100 * f['attention_flop_fraction']:.0f}% that it leaves uncounted on CPUs added).",
        "",
        *rst_table(
            ("precision", "measured matmul peak (GFLOP/s)", "encoder achieved (GFLOP/s)",
             "fraction of peak"),
            [("fp32", f"{f['fp32_peak_gflops']:.1f}", f"{f['achieved_gflops']:.1f}",
              f"{f['fraction_of_fp32_peak']:.2f}"),
             ("bf16 copy (what ``encode`` runs)", f"{f['bf16_peak_gflops']:.1f}",
              f"{f['achieved_bf16_copy_gflops']:.1f}", f"{f['fraction_of_bf16_peak_copy']:.2f}"),
             ("the same copy compiled (``compile=True``)", f"{f['bf16_peak_gflops']:.1f}",
              f"{f['achieved_bf16_compiled_gflops']:.1f}",
              f"{f['fraction_of_bf16_peak_compiled']:.2f}"),
             ("bf16 autocast", f"{f['bf16_peak_gflops']:.1f}", f"{f['achieved_bf16_gflops']:.1f}",
              f"{f['fraction_of_bf16_peak']:.2f}"),
             ("bf16 autocast, before", f"{f['bf16_peak_gflops']:.1f}",
              f"{f['achieved_bf16_before_gflops']:.1f}",
              f"{f['fraction_of_bf16_peak_before']:.2f}")]),
        "",
        f"Peak: the fastest of {rounds} {n} x {n} torch.matmul calls per precision, timed "
        "in turn with the encoder calls, after one untimed call of each. The two peaks "
        f"differ by {f['bf16_peak_gflops'] / f['fp32_peak_gflops']:.2f}x: that is as much "
        "as bf16 arithmetic can gain on this processor over fp32 at the same fraction of "
        "the peak, and an end-to-end gain beyond it would need the bf16 encoder to run "
        "closer to its peak than the fp32 one does to its own.",
        "",
        "Where the bf16 copy's time goes (``torch.profiler``, self CPU time of "
        f"{prof['calls']} calls on batches of {prof['batch']}), beside its share of the "
        "arithmetic:",
        "",
        *rst_table(("operators", "share of the time", "share of the FLOPs"),
                   [(k, f"{100 * g['time_fraction']:.0f}%", f"{100 * g['flop_fraction']:.0f}%")
                    for k, g in prof["groups"].items()]),
        "",
        *_gpu_lines(),
    ]
    suffix = "_quick" if quick else ""
    write_results(f"performance_side{suffix}", record, side_lines, directory=out)
    if not full:
        return
    rows, notes = record["full"]["rows"], record["full"]["notes"]
    record["rows"] = [{k: v for k, v in r.items() if k != "format"} for r in rows]
    body = [(r["quantity"], r["unit"], r["format"].format(r["minuet"]),
             r["format"].format(r["alternative"]), f"{r['speedup']:.2f}x") for r in rows]
    lines = [
        f"Minuet's default network (the bundled model ``{model.name}``) and heads beside the "
        f"usual alternative: the reference preset (reference sampler "
        f"{record['reference_sampler']}) for the networks, zuko's NSF at the reference size "
        "for the posterior, scikit-learn for the neighbours. The last column is how many "
        "times faster minuet is (below 1: slower). fp32 unless a row says bf16, "
        f"{record['threads']} torch threads, torch {record['torch']}.",
        "",
        *rst_table(("quantity", "unit", "minuet", "alternative", "minuet faster by"), body),
        "",
        *notes,
    ]
    record_full = {key: value for key, value in record.items() if key != "full"}
    write_results(f"performance{suffix}", record_full, lines, directory=out)


if __name__ == "__main__":
    main()
