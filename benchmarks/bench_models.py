"""Speed of the diffusion autoencoder on this machine, default against reference preset.

Run it with nothing else on the machine, so that nothing competes for the CPU::

    python benchmarks/bench_models.py

Writes ``docs/validation/generated/models_speed.rst`` and ``models_speed.json``.
Random weights: speed does not depend on training.
"""

import argparse
import json
import platform
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from _report import rst_table

from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
from minuet.training import augment
from minuet.training.engine import _TrainStep

OUT = Path(__file__).resolve().parents[1] / "docs" / "validation" / "generated"


def timed(fn, *, repeat, warmup=1):
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def measure(preset, *, device, bf16, train_batch, recon_batch, repeat):
    torch.manual_seed(0)
    model = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset(preset)).to(device)
    cast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    shape = model.image_shape
    result = {"preset": preset, "parameters": sum(p.numel() for p in model.parameters())}

    step = _TrainStep(model, 0.1 if preset == "default" else 0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(train_batch, *shape, device=device) * 0.3
    w = torch.ones_like(x)
    gen = torch.Generator(device).manual_seed(0)

    def train_step():
        view, vw = augment(x, w, generator=gen)
        second = augment(x, w, generator=gen)[0] if step.consistency_weight else None
        with cast:
            loss, _ = step(view, vw, gen, second)
        opt.zero_grad()
        loss.backward()
        opt.step()

    result["train_images_per_s"] = train_batch / timed(train_step, repeat=repeat)
    model.eval()
    enc_x = torch.randn(256, *shape, device=device)
    with torch.no_grad(), cast:
        result["encoder_images_per_s"] = 256 / timed(lambda: model.encoder(enc_x), repeat=repeat)
        xb = torch.randn(recon_batch, *shape, device=device)
        noise, latent = (
            torch.zeros(recon_batch, device=device),
            torch.zeros(recon_batch, 5, device=device),
        )
        result["denoiser_evals_per_s"] = recon_batch / timed(
            lambda: model.denoiser(xb, noise, latent), repeat=repeat
        )
        d = model.config.diffusion
        result["sampler"] = f"{d.sampler}, {d.steps} steps"
        t = timed(lambda: model.reconstruct(xb, generator=gen), repeat=1, warmup=0)
        result["ms_per_reconstruction"] = 1000 * t / recon_batch
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--note", default="", help="what else was running")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = not args.fp32
    gpu = device.type == "cuda"
    default = measure(
        "default",
        device=device,
        bf16=bf16,
        train_batch=256 if gpu else 64,
        recon_batch=64,
        repeat=args.repeat,
    )
    print(default, flush=True)
    reference = measure(
        "reference",
        device=device,
        bf16=bf16,
        train_batch=64 if gpu else 16,
        recon_batch=64 if gpu else 8,
        repeat=1 if not gpu else args.repeat,
    )
    print(reference, flush=True)
    info = {
        "device": torch.cuda.get_device_name() if gpu else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "note": args.note,
    }
    ratio = reference["ms_per_reconstruction"] / default["ms_per_reconstruction"]
    record = {
        "info": info,
        "default": default,
        "reference": reference,
        "reconstruction_speedup": ratio,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "_gpu" if gpu else ""
    (OUT / f"models_speed{suffix}.json").write_text(json.dumps(record, indent=2))
    rows = [
        ("parameters", "parameters", "{:,.0f}"),
        ("training images/s", "train_images_per_s", "{:.1f}"),
        ("encoder images/s (batch 256)", "encoder_images_per_s", "{:.0f}"),
        ("denoiser evaluations/s", "denoiser_evals_per_s", "{:.0f}"),
        ("sampler", "sampler", "{}"),
        ("ms per reconstructed galaxy", "ms_per_reconstruction", "{:.1f}"),
    ]
    body = [(label, fmt.format(default[key]), fmt.format(reference[key]))
            for label, key, fmt in rows]
    lines = [
        ".. table:: Speed of the default and reference presets "
        f"({info['device']}, {info['threads']} threads, {info['precision']}, "
        f"torch {info['torch']}). Generated by ``benchmarks/bench_models.py``.",
        "",
        *("   " + line for line in rst_table(("quantity", "default", "reference"), body)),
    ]
    lines += [
        "",
        f"The default preset reconstructs a galaxy {ratio:.0f} times faster than the reference.",
        "",
    ]
    (OUT / f"models_speed{suffix}.rst").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
