"""Speed of the diffusion autoencoder on this machine, default against reference preset.

Run it with nothing else on the machine, so that nothing competes for the CPU::

    python benchmarks/bench_models.py
    python benchmarks/bench_models.py --quick   # tiny batches, a pipeline check

Writes ``docs/validation/generated/models_speed.rst`` and ``models_speed.json``
(``models_speed_quick.*`` with ``--quick``). Random weights: speed does not
depend on training. The timing functions are shared with
``benchmarks/bench_performance.py``.
"""

import argparse
import json
import platform
import time
from contextlib import nullcontext

import torch
from _report import add_output_dir, output_folder, rst_table

from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
from minuet.training import augment
from minuet.training.engine import _TrainStep


def timed(fn, *, repeat, warmup=1):
    """Mean wall time of ``fn()`` over ``repeat`` calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def build(preset, device="cpu"):
    """A randomly initialised network of a preset (seeded: the same weights every run)."""
    torch.manual_seed(0)
    return DiffusionAutoencoder(DiffusionAutoencoderConfig.preset(preset)).to(device)


def autocast(device, bf16):
    """bf16 autocast on ``device``, or nothing."""
    device = torch.device(device)
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def train_rate(model, *, batch, repeat, bf16=False):
    """Training images per second: augmentation, loss, backward pass and AdamW step.

    The EDM (default) preset trains with the latent consistency term, the
    DDPM (reference) preset without, as each is trained.
    """
    device = next(model.parameters()).device
    step = _TrainStep(model, 0.1 if model.config.diffusion.kind == "edm" else 0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, *model.image_shape, device=device) * 0.3
    w = torch.ones_like(x)
    gen = torch.Generator(device).manual_seed(0)
    model.train()

    def one_step():
        view, vw = augment(x, w, generator=gen)
        second = augment(x, w, generator=gen)[0] if step.consistency_weight else None
        with autocast(device, bf16):
            loss, _ = step(view, vw, gen, second)
        opt.zero_grad()
        loss.backward()
        opt.step()

    rate = batch / timed(one_step, repeat=repeat)
    model.eval()
    return rate


def encoder_rate(model, *, batch=256, repeat=3, bf16=False):
    """Encoder images per second at a given batch size."""
    device = next(model.parameters()).device
    x = torch.randn(batch, *model.image_shape, device=device)
    with torch.no_grad(), autocast(device, bf16):
        return batch / timed(lambda: model.encoder(x), repeat=repeat)


def denoiser_rate(model, *, batch, repeat=3, bf16=False):
    """Denoiser evaluations per second (one network pass per image)."""
    device = next(model.parameters()).device
    x = torch.randn(batch, *model.image_shape, device=device)
    noise, latent = torch.zeros(batch, device=device), torch.zeros(batch, 5, device=device)
    with torch.no_grad(), autocast(device, bf16):
        return batch / timed(lambda: model.denoiser(x, noise, latent), repeat=repeat)


def reconstruct_ms(model, *, batch, steps=None, bf16=False, repeat=1):
    """Milliseconds per reconstructed galaxy (encode and ``steps`` sampler steps)."""
    device = next(model.parameters()).device
    x = torch.randn(batch, *model.image_shape, device=device)
    gen = torch.Generator(device).manual_seed(0)
    with torch.no_grad(), autocast(device, bf16):
        seconds = timed(lambda: model.reconstruct(x, steps=steps, generator=gen),
                        repeat=repeat, warmup=0)
    return 1000 * seconds / batch


def measure(preset, *, device, bf16, train_batch, recon_batch, repeat, recon_steps=None):
    """Speed of a preset's network; ``recon_steps`` times fewer sampler steps and scales."""
    model = build(preset, device)
    result = {"preset": preset, "parameters": sum(p.numel() for p in model.parameters())}
    result["train_images_per_s"] = train_rate(model, batch=train_batch, repeat=repeat, bf16=bf16)
    result["encoder_images_per_s"] = encoder_rate(model, repeat=repeat, bf16=bf16)
    result["denoiser_evals_per_s"] = denoiser_rate(model, batch=recon_batch, repeat=repeat,
                                                   bf16=bf16)
    d = model.config.diffusion
    result["sampler"] = f"{d.sampler}, {d.steps} steps"
    steps = min(recon_steps or d.steps, d.steps)
    ms = reconstruct_ms(model, batch=recon_batch, steps=steps, bf16=bf16)
    result["ms_per_reconstruction"] = ms * d.steps / steps
    if steps < d.steps:
        result["sampler"] += f" ({steps} timed, scaled)"
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", action="store_true", help="no bf16 autocast")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--note", default="", help="what else was running")
    parser.add_argument("--quick", action="store_true",
                        help="tiny batches, one repeat; writes models_speed_quick.*")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = not args.fp32
    gpu = device.type == "cuda"
    quick = args.quick and not gpu
    default = measure(
        "default",
        device=device,
        bf16=bf16,
        train_batch=256 if gpu else 8 if quick else 64,
        recon_batch=8 if quick else 64,
        repeat=1 if quick else args.repeat,
    )
    print(default, flush=True)
    reference = measure(
        "reference",
        device=device,
        bf16=bf16,
        train_batch=64 if gpu else 2 if quick else 16,
        recon_batch=64 if gpu else 2 if quick else 8,
        repeat=1 if not gpu else args.repeat,
        recon_steps=20 if quick else None,
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
    suffix = ("_gpu" if gpu else "") + ("_quick" if args.quick else "")
    (out / f"models_speed{suffix}.json").write_text(json.dumps(record, indent=2))
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
        f"torch {info['torch']}). Generated by ``benchmarks/bench_models.py"
        f"{' --quick' if args.quick else ''}``.",
        "",
        *("   " + line for line in rst_table(("quantity", "default", "reference"), body)),
    ]
    lines += [
        "",
        f"The default preset reconstructs a galaxy {ratio:.0f} times faster than the reference.",
        "",
    ]
    (out / f"models_speed{suffix}.rst").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
