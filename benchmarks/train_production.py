"""Train (or keep training) the autoencoder behind the bundled model, for a wall-time budget.

Each call trains for ``--minutes`` and then writes the EMA weights to
``<output>/model`` with the run's history in their metadata, so that a
budget of CPU time can be spent in several sittings. A second call with the
same ``--output`` resumes exactly from ``<output>/checkpoint.safetensors``;
``--init`` warm-starts a new run folder from saved weights (for example the
bundled model's ``autoencoder.safetensors``); weights of a denoiser without
overlapping windows are carried over to the windowed one by the training
engine (each window's centre starts as the old patch)::

    python -m minuet.cli simulate 100000 runs/sim-train-100k.h5 --seed 1 --processes 2
    python benchmarks/train_production.py runs/sim-train-100k.h5 \\
        --output runs/minuet-sim --minutes 60 \\
        --init minuet/data/minuet-sim/autoencoder.safetensors

``--recipe`` takes the model and training options of one of the learning
curves' candidates (``bench_learning_curves.py``); a cosine schedule needs
``--steps``, the planned length of the whole run over all sittings.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from _report import portable, provenance, simulator_fingerprint


def held_out_curve(args):
    """A training callback that measures held-out quality, as the bench's learning curves do.

    Its galaxies are those of the learning curves (seed ``HELD_OUT_SEED``, the
    same number and draws by default), so the curve of a long run continues
    theirs. Each point also carries the process's CPU time since the sitting
    began.
    """
    from bench_reconstruction import HELD_OUT_SEED

    from minuet.simulate import simulate
    from minuet.training import reconstruction_quality

    images, invvar, footprint, _ = simulate(args.n_eval, seed=HELD_OUT_SEED)
    cpu0 = time.process_time()

    def callback(step, ema):
        quality = reconstruction_quality(ema, images, invvar, footprint,
                                         n_draws=args.draws, seed=3)
        print(f"step {step}: held-out chi2 {quality['chi2_mean']:.2f}  "
              f"|dr| {quality['abs_dmag_r']:.3f}  |d(g-r)| {quality['abs_dcolor_gr']:.3f}  "
              f"max|rho| {quality['max_abs_spearman']:.2f}", flush=True)
        return {"held_out": quality, "sitting_cpu_minutes": (time.process_time() - cpu0) / 60}

    return callback


def data_provenance(paths):
    """Name, galaxies, seed, simulator and code version of each training file.

    Files written by ``minuet simulate`` carry these as HDF5 attributes; a
    file without them (real cutouts, say) is recorded by name and size only.
    """
    import h5py

    rows = []
    for path in paths:
        path = Path(path)
        row = {"file": path.name, "bytes": path.stat().st_size}
        with h5py.File(path, "r") as f:
            attrs = dict(f.attrs)
        for key in ("n", "seed", "minuet_version"):
            if key in attrs:
                value = attrs[key]
                row[key] = value.item() if hasattr(value, "item") else str(value)
        if "simulator_config" in attrs:
            config = attrs["simulator_config"]
            config = config.decode() if isinstance(config, bytes) else str(config)
            row["simulator_sha256"] = simulator_fingerprint(config)
        rows.append(row)
    return rows


def code_version():
    """The package version and, in a git checkout, the commit and whether it was modified."""
    import subprocess

    from minuet import __version__

    version = {"minuet": __version__}
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return version
    return {**version, "commit": commit, "modified": bool(dirty)}


def recorded_command(argv):
    """The command of a sitting, with paths inside the checkout relative to its root."""
    return ["python", "benchmarks/train_production.py", *map(portable, argv)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="+", help="simulated HDF5 training files")
    parser.add_argument("--output", required=True, help="run folder")
    parser.add_argument("--max-minutes", "--minutes", dest="minutes", type=float, required=True,
                        help="wall-time budget of this sitting")
    parser.add_argument("--init", default="", help="weights to warm-start a new run from")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--recipe", default=None,
                        help="a learning-curve candidate's model and options (its key)")
    parser.add_argument("--steps", type=int, default=10_000_000,
                        help="planned steps of the whole run (the end of a cosine schedule)")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    parser.add_argument("--threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--eval-every", type=int, default=500,
                        help="steps between held-out evaluations (the learning curve; 0: none)")
    parser.add_argument("--n-eval", type=int, default=64, help="held-out galaxies evaluated")
    parser.add_argument("--draws", type=int, default=2, help="draws averaged per galaxy")
    args = parser.parse_args(argv)

    from bench_learning_curves import candidates

    from minuet.models import (
        DiffusionAutoencoderConfig,
        cpu_matrix_extensions,
        resolve_precision,
        save_model,
    )
    from minuet.training import TrainingConfig, train

    output = Path(args.output)
    model_config, options = DiffusionAutoencoderConfig.preset("default"), {}
    if args.recipe is not None:
        recipes = candidates(quick=False)
        if args.recipe not in recipes:
            msg = f"unknown recipe {args.recipe!r}; choose from {sorted(recipes)}."
            raise SystemExit(msg)
        _, model_config, options = recipes[args.recipe]
        options = dict(options)
    recipe_init = options.pop("init", "")  # an --init given replaces the recipe's own
    init = args.init or recipe_init
    if options.get("learning_rate_schedule", "constant") != "constant" and args.steps >= 10_000_000:
        msg = "a decaying learning-rate schedule needs --steps, the planned length of the run."
        raise SystemExit(msg)
    config = TrainingConfig(
        data=tuple(args.data),
        output=str(output),
        model=model_config,
        steps=args.steps,  # otherwise the wall-time budget decides when a sitting ends
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=200,
        ema_decay=0.998,
        seed=args.seed,
        validate_every=args.eval_every or 500,
        checkpoint_every=200,
        log_every=50,
        init=init,
        precision=args.precision,
        threads=args.threads,
        in_memory=False,  # hundreds of thousands of galaxies: read from disk
        **options,
    )
    sittings_path = output / "sittings.json"
    sittings = json.loads(sittings_path.read_text()) if sittings_path.exists() else []
    t0 = time.perf_counter()
    code, data = code_version(), data_provenance(args.data)
    callback = held_out_curve(args) if args.eval_every else None
    ema, history = train(config, max_minutes=args.minutes, progress=False,
                         callback=callback)
    minutes = (time.perf_counter() - t0) / 60
    step = history[-1]["step"]
    command = recorded_command(sys.argv[1:] if argv is None else argv)
    sittings.append({**provenance(), "minutes": round(minutes, 1), "until_step": step,
                     "note": args.note, "init": init and portable(init), "recipe": args.recipe,
                     "command": command, "code": code, "data": data,
                     "precision": resolve_precision(args.precision),
                     "cpu_bf16_extensions": list(cpu_matrix_extensions()),
                     "load_average_end": list(os.getloadavg())})
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
