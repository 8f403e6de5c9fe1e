"""Galaxies per second on one GPU: encoding and reconstruction, fp32 and bf16.

A short measurement (a few minutes) for a machine with one CUDA GPU::

    python benchmarks/gpu_inference.py --output-dir docs/validation/generated
    python benchmarks/gpu_inference.py --output-dir /tmp/gpu --compile   # also torch.compile
    python benchmarks/gpu_inference.py --output-dir /tmp/gpu --quick     # tiny, any machine

It times the bundled model's networks on the device (random inputs: speed
does not depend on the pixels), after warm-up, with the device synchronised
around every timed call, and reports galaxies per second and the GPU-hours
and node-hours that 10^10 galaxies would take (the work splits into
independent batches, so it scales with the number of GPUs). It also times
the host's side of end-to-end encoding (cutout checks and stretch, on the
CPU) so that one can see which side limits a real run. Without a GPU it
measures the CPU instead and says so. Writes ``gpu_inference.json`` and
``gpu_inference.rst`` into ``--output-dir``; ``bench_performance.py`` shows
the GPU rows on the validation page when the JSON file is in
``docs/validation/generated``.
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _report import command_line, rst_table

from minuet import Minuet
from minuet.cutouts import load_cutouts
from minuet.models import (
    DiffusionAutoencoder,
    DiffusionAutoencoderConfig,
    autocast,
    resolve_precision,
)

GALAXIES = 1e10


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn, batch, device, *, seconds, warmup=2, max_calls=50):
    """Galaxies per second of ``fn()`` on ``batch`` galaxies: calls for about ``seconds``."""
    for _ in range(warmup):
        fn()
    _sync(device)
    best, calls, start = float("inf"), 0, time.perf_counter()
    while calls < max_calls and (calls < 3 or time.perf_counter() - start < seconds):
        t = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t)
        calls += 1
    return batch / best, calls


def host_rate(size, batch, *, seconds):
    """Cutouts per second that this host checks and stretches (the CPU side of encoding)."""
    flux = np.random.default_rng(0).normal(0, 0.05, (batch, 3, size, size)).astype(np.float32)
    model_stretch = Minuet.pretrained().stretch

    def step():
        cutouts = load_cutouts(flux, size=size, on_invalid="flag")
        return model_stretch.forward(cutouts.flux)

    return rate(step, batch, torch.device("cpu"), seconds=seconds, warmup=1)[0]


def _network(quick, device):
    if quick:
        torch.manual_seed(0)
        return DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")).to(device).eval()
    return Minuet.pretrained().autoencoder.to(device).eval()


def _maybe_compile(module, enabled):
    """``torch.compile(module)``, or the module itself with the reason it could not be."""
    if not enabled:
        return module, None
    try:
        return torch.compile(module), None
    except Exception as exc:  # a missing compiler or an unsupported platform
        return module, f"{type(exc).__name__}: {exc}"


def measure(*, quick, device, encode_batch, decode_batch, steps, seconds, compile_):
    net = _network(quick, device)
    shape = net.image_shape
    steps = steps or net.config.diffusion.steps
    native = resolve_precision("auto", device) == "bf16"
    precisions = ["fp32", "bf16"] if native or quick else ["fp32"]
    variants = [False, True] if compile_ else [False]
    rows, notes = [], []
    generator = torch.Generator(device).manual_seed(0)
    x = torch.randn(encode_batch, *shape, device=device, generator=generator) * 0.3
    latent = torch.randn(decode_batch, net.config.encoder.latent_dim, device=device,
                         generator=generator)
    for compiled in variants:
        encoder, why = _maybe_compile(net.encoder, compiled)
        denoiser, why_d = _maybe_compile(net.denoiser, compiled)
        if why or why_d:
            notes.append(f"torch.compile unavailable, eager instead: {why or why_d}")
            if compiled:
                continue
        for precision in precisions:
            def encode(encoder=encoder, precision=precision):
                with torch.inference_mode(), autocast(precision, device):
                    return encoder(x)

            def reconstruct(denoiser=denoiser, precision=precision):
                with torch.inference_mode(), autocast(precision, device):
                    return net.diffusion.sample(denoiser, latent, shape, steps=steps,
                                                generator=generator)

            label = f"{precision}{' compiled' if compiled else ''}"
            for stage, fn, batch in (("encode", encode, encode_batch),
                                     (f"reconstruct ({steps} steps)", reconstruct,
                                      decode_batch)):
                try:
                    value, calls = rate(fn, batch, device, seconds=seconds)
                except Exception as exc:  # compiled graphs can fail at the first call
                    notes.append(f"{stage}, {label}: failed ({type(exc).__name__}: {exc})")
                    continue
                rows.append({"stage": stage, "precision": label, "batch": batch,
                             "timed_calls": calls, "galaxies_per_s": value,
                             "gpu_hours_for_1e10": GALAXIES / value / 3600})
                print(rows[-1], flush=True)
    return rows, notes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, required=True,
                        help="folder for gpu_inference.json and gpu_inference.rst")
    parser.add_argument("--encode-batch", type=int, default=None,
                        help="galaxies per encoder call (default 4096 on a GPU, 256 on a CPU)")
    parser.add_argument("--decode-batch", type=int, default=None,
                        help="galaxies per reconstruction (default 1024 on a GPU, 16 on a CPU)")
    parser.add_argument("--steps", type=int, default=None,
                        help="sampler steps (default: the model's own)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="time spent on each measurement after warm-up")
    parser.add_argument("--gpus-per-node", type=int, default=8,
                        help="GPUs per node, for the node-hours column")
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile'd networks (falls back to eager)")
    parser.add_argument("--quick", action="store_true",
                        help="the untrained tiny preset, small batches and short timings")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    seconds = 0.5 if args.quick else args.seconds
    encode_batch = args.encode_batch or (4096 if gpu else 8 if args.quick else 256)
    decode_batch = args.decode_batch or (1024 if gpu else 4 if args.quick else 16)
    name = (torch.cuda.get_device_name(device) if gpu
            else f"CPU ({platform.processor() or platform.machine()})")
    print(f"measuring on {name}", flush=True)
    rows, notes = measure(quick=args.quick, device=device, encode_batch=encode_batch,
                          decode_batch=decode_batch, steps=args.steps, seconds=seconds,
                          compile_=args.compile)
    for row in rows:
        row["node_hours_for_1e10"] = row["gpu_hours_for_1e10"] / args.gpus_per_node
    host = host_rate(24 if args.quick else 72, 16 if args.quick else 1024, seconds=seconds)
    record = {
        "command": command_line("gpu_inference.py", argv), "date": time.strftime("%Y-%m-%d"),
        "device_type": device.type, "device_name": name, "torch": torch.__version__,
        "quick": args.quick, "gpus_per_node": args.gpus_per_node,
        "host_cpu_cores": torch.get_num_threads(),
        "host_check_and_stretch_per_s": host, "rows": rows, "notes": notes,
    }
    if not gpu:
        notes.append("No CUDA GPU was found: these rows are the CPU's.")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "gpu_inference.json").write_text(json.dumps(record, indent=2) + "\n")
    body = [(r["stage"], r["precision"], f"{r['galaxies_per_s']:,.0f}",
             f"{r['gpu_hours_for_1e10']:,.1f}", f"{r['node_hours_for_1e10']:,.1f}")
            for r in rows]
    lines = [
        f".. generated by {record['command']}; do not edit", "",
        f"{name}, torch {record['torch']}, {record['date']}. Network time only, after "
        f"warm-up; node-hours assume {args.gpus_per_node} GPUs per node. The host checks and "
        f"stretches {host:,.0f} cutouts/s on {record['host_cpu_cores']} CPU threads, which "
        "bounds end-to-end encoding per host.", "",
        *rst_table(("stage", "precision", "galaxies/s", "GPU-hours for 1e10",
                    f"node-hours for 1e10 ({args.gpus_per_node} GPUs)"), body),
        "", *notes, "",
    ]
    (args.output_dir / "gpu_inference.rst").write_text("\n".join(lines))
    print("\n".join(lines))
    return record


if __name__ == "__main__":
    main()
