"""Train (or keep training) the autoencoder behind the bundled model, for a wall-time budget.

Each call trains for ``--minutes`` and then writes the EMA weights to
``<output>/model`` with the run's history in their metadata, so that a
budget of CPU time can be spent in several sittings. A second call with the
same ``--output`` resumes exactly from ``<output>/checkpoint.safetensors``;
``--init`` warm-starts a new run folder from saved weights (for example the
bundled model's ``autoencoder.safetensors``)::

    python -m minuet.cli simulate 100000 /work/data/sim-train-100k.h5 --seed 1 --processes 2
    python benchmarks/train_production.py /work/data/sim-train-100k.h5 \\
        --output runs/minuet-sim --minutes 60 \\
        --init minuet/data/minuet-sim/autoencoder.safetensors
"""

import argparse
import json
import time
from pathlib import Path

from _report import provenance


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="+", help="simulated HDF5 training files")
    parser.add_argument("--output", required=True, help="run folder")
    parser.add_argument("--minutes", type=float, required=True, help="wall-time budget")
    parser.add_argument("--init", default="", help="weights to warm-start a new run from")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--note", default="", help="what else ran on the machine")
    args = parser.parse_args(argv)

    from minuet.models import DiffusionAutoencoderConfig, save_model
    from minuet.training import TrainingConfig, train

    output = Path(args.output)
    config = TrainingConfig(
        data=tuple(args.data),
        output=str(output),
        model=DiffusionAutoencoderConfig.preset("default"),
        steps=10_000_000,  # the wall-time budget decides when a sitting ends
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=200,
        ema_decay=0.998,
        seed=args.seed,
        validate_every=500,
        checkpoint_every=200,
        log_every=50,
        init=args.init,
    )
    sittings_path = output / "sittings.json"
    sittings = json.loads(sittings_path.read_text()) if sittings_path.exists() else []
    t0 = time.perf_counter()
    ema, history = train(config, max_seconds=60 * args.minutes, progress=False)
    minutes = (time.perf_counter() - t0) / 60
    step = history[-1]["step"]
    sittings.append({**provenance(), "minutes": round(minutes, 1), "until_step": step,
                     "note": args.note, "init": args.init})
    sittings_path.write_text(json.dumps(sittings, indent=1))
    validation = [row for row in history if row.get("val_loss") is not None]
    save_model(ema, output / "model", metadata={
        "steps": step,
        "images_seen": step * args.batch_size,
        "training": config.to_dict(),
        "sittings": sittings,
        "last_validation_loss": validation[-1]["val_loss"] if validation else None,
    })
    print(f"step {step}: training loss {history[-1]['loss']:.4f}; "
          f"{minutes:.1f} minutes this sitting; EMA weights in {output / 'model.safetensors'}")


if __name__ == "__main__":
    main()
