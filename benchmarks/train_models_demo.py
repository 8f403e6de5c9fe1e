"""A short training run on simulated galaxies, with figures and numbers for the docs.

Run it with nothing else on the machine::

    python -m minuet.cli simulate 12000 sim.h5 --seed 1 --processes 2
    python benchmarks/train_models_demo.py sim.h5 \
        --output run --minutes 25

Trains the default preset for ``--minutes`` of wall time (resuming from
``<output>/checkpoint.safetensors`` if present), then writes

* ``docs/models/reconstructions.png``: held-out inputs beside two reconstructions;
* ``docs/models/loss_curve.png``: training and validation loss;
* ``docs/validation/generated/models_training.rst`` and ``.json``: the
  run's numbers, including how much the latent moves when a galaxy is rotated.
"""

import argparse
import json
import math
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from _report import add_output_dir, output_folder

from minuet.cutouts import AsinhStretch
from minuet.models import DiffusionAutoencoderConfig, dihedral, rotate, save_model
from minuet.training import CutoutFile, TrainingConfig, split_indices, train
from minuet.visualization import plot_cutouts

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "models"


def rotation_sensitivity(model, x, *, average):
    """RMS latent change under rotation, in units of the latent's spread."""
    gen = torch.Generator().manual_seed(5)
    angle = torch.rand(len(x), generator=gen) * 2 * math.pi
    with torch.no_grad():
        z = model.encode(x, average_dihedral=average)
        out = {}
        for name, other in (
            ("quarter_turn", dihedral(x, 1)),
            ("flip", dihedral(x, 4)),
            ("arbitrary_angle", rotate(x, angle)),
        ):
            dz = model.encode(other, average_dihedral=average) - z
            out[name] = float((dz.pow(2).mean(0) / z.var(0)).mean().sqrt())
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+", help="HDF5 files from `minuet simulate`")
    parser.add_argument("--output", default="minuet-demo-run")
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--init", default="", help="weights to start from (warm start)")
    parser.add_argument("--note", default="", help="what else was running")
    parser.add_argument("--threads", type=int, default=0,
                        help="PyTorch threads (default: PyTorch's choice)")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)

    config = TrainingConfig(
        data=tuple(args.data),
        output=args.output,
        model=DiffusionAutoencoderConfig.preset("default"),
        steps=1_000_000,
        batch_size=args.batch_size,
        learning_rate=3e-4,
        warmup_steps=100,
        ema_decay=0.995,
        validation_size=256,
        validate_every=100,
        checkpoint_every=100,
        log_every=20,
        init=args.init,
        threads=args.threads,
    )
    ema, history = train(config, max_minutes=args.minutes, progress=False)
    run = Path(args.output)
    save_model(ema, run / "model", metadata={"steps": history[-1]["step"]})

    # held-out galaxies
    data = CutoutFile(args.data[0])
    _, val = split_indices(
        len(data), validation_fraction=config.validation_fraction, seed=config.seed
    )
    x, w = (torch.from_numpy(a) for a in data.read(val[:256]))
    stretch = AsinhStretch()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        first = ema.reconstruct(x[:8], generator=gen)
        second = ema.reconstruct(x[:8], generator=gen)
    flux = stretch.inverse(torch.cat([x[:8], first, second]).numpy())
    fig = plot_cutouts(flux, rows=["input", "draw 1", "draw 2"], ncols=8)
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "reconstructions.png", dpi=110)
    plt.close(fig)

    steps = [row["step"] for row in history]
    fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
    ax.plot(steps, [row["loss"] for row in history], lw=1, label="training (batch mean)")
    val_rows = [row for row in history if row["val_loss"] is not None]
    ax.plot(
        [r["step"] for r in val_rows],
        [r["val_loss"] for r in val_rows],
        "o-",
        ms=3,
        label="validation (EMA weights)",
    )
    ax.set_yscale("log")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("weighted EDM loss")
    ax.legend()
    fig.savefig(FIGURES / "loss_curve.png", dpi=110)
    plt.close(fig)

    # pixel residuals in units of the noise over the footprint, all 256 held-out galaxies
    with torch.no_grad():
        recon = torch.cat(
            [ema.reconstruct(x[i : i + 64], generator=gen) for i in range(0, 256, 64)]
        )
    with h5py.File(args.data[0], "r") as f:  # held-out indices are sorted
        invvar = f["invvar"][val[:256]]
        images = f["images"][val[:256]]
    recon_flux = stretch.inverse(recon.numpy())
    foot = (w.numpy() > 0.5) & (invvar > 0)
    chi2 = float(((recon_flux - images) ** 2 * invvar)[foot].mean())

    record = {
        "steps": history[-1]["step"],
        "images_seen": history[-1]["step"] * config.batch_size,
        "minutes": args.minutes,
        "n_galaxies": len(data),
        "first_loss": history[0]["loss"],
        "final_loss": float(np.mean([r["loss"] for r in history[-5:]])),
        "first_val_loss": val_rows[0]["val_loss"] if val_rows else None,
        "final_val_loss": val_rows[-1]["val_loss"] if val_rows else None,
        "images_per_s": float(np.median([r["images_per_s"] for r in history])),
        "chi2_footprint": chi2,
        "rotation_single": rotation_sensitivity(ema, x, average=False),
        "rotation_dihedral_average": rotation_sensitivity(ema, x, average=True),
        "note": args.note,
    }
    (out / "models_training.json").write_text(json.dumps(record, indent=2))
    rs, ra = record["rotation_single"], record["rotation_dihedral_average"]
    start = ", starting from the weights of a previous run" if args.init else " from scratch"
    threads = (f"{args.threads} PyTorch thread{'s' if args.threads > 1 else ''}"
               if args.threads else "PyTorch's default threads")
    text = f"""Short training run (``benchmarks/train_models_demo.py``): default preset,
{record["n_galaxies"]} simulated galaxies, {record["steps"]} steps of {config.batch_size}
images in {args.minutes:g} minutes on 2 CPU cores{start}, {threads}
({record["images_per_s"]:.0f} images/s; {args.note or "nothing else noted"}).

* training loss {record["first_loss"]:.3f} at the first log, {record["final_loss"]:.3f} at the end;
  validation loss (EMA) {record["first_val_loss"]:.3f} to {record["final_val_loss"]:.3f}.
* mean squared residual over the footprint in units of the noise: {chi2:.2f}
  (about 2 for a perfect reconstruction that draws its own noise).
* latent change under rotation, RMS over the 5 numbers in units of their spread
  (quarter turn / flip / arbitrary angle): single encoding
  {rs["quarter_turn"]:.3f} / {rs["flip"]:.3f} / {rs["arbitrary_angle"]:.3f};
  averaged over the 8 flips and quarter turns
  {ra["quarter_turn"]:.3f} / {ra["flip"]:.3f} / {ra["arbitrary_angle"]:.3f}.
"""
    (out / "models_training.rst").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
