"""Simulate (or load) a training set and train minuet on one GPU within a time limit.

The whole run, simulation and evaluation included, fits in ``--minutes``
(default 10). It simulates the training galaxies with every CPU core, holds
them in memory as float16, trains the default architecture with bf16
autocast on CUDA and background batch readers, follows held-out quality as it
trains, and evaluates the final EMA weights on held-out galaxies of a seed no
training set uses. One output folder (``--output-dir``, default ``$OUT``)
receives at most seven files::

    model.safetensors, model.json   EMA weights (safetensors + JSON with SHA-256)
    history.jsonl                   learning curve: loss, validation loss, images/s
                                    and held-out quality at intervals
    config.json                     the TrainingConfig of the run
    evaluation.json                 held-out quality of the final weights
    summary.json                    timings, throughput, device and versions
    learning_curve.png              held-out quality against images seen

Run it through ``bash benchmarks/gpu/train.sh`` (which installs the carried
wheels first); on CPU with ``--tiny`` it is the test of this path::

    bash benchmarks/gpu/train.sh --minutes 10
    bash benchmarks/gpu/train.sh --init minuet/data/minuet-sim/autoencoder.safetensors
    python benchmarks/gpu/train_gpu.py --tiny --device cpu --n-train 64 --n-test 8 --steps 4
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

#: Seed of the simulated training set; no benchmark's held-out set uses it.
TRAIN_SEED = 20_261_117
#: Seed of the held-out set, the one of ``benchmarks/bench_reconstruction.py``.
HELD_OUT_SEED = 20_251_204
#: Size limit of the weights that may be bundled with the package.
WEIGHTS_LIMIT_MB = 16.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="folder of the results (default: $OUT, else ./gpu-run)")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="scratch folder for the data and checkpoints (default: a temporary "
                             "folder, removed at the end)")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="wall-time limit of the whole run, simulation included")
    parser.add_argument("--data", nargs="+", type=Path, default=None,
                        help="training HDF5 files to load instead of simulating")
    parser.add_argument("--n-train", type=int, default=30_000, help="galaxies to simulate")
    parser.add_argument("--n-test", type=int, default=1000, help="held-out galaxies")
    parser.add_argument("--n-curve", type=int, default=256,
                        help="held-out galaxies evaluated at each point of the learning curve")
    parser.add_argument("--simulation-config", type=Path, default=None,
                        help="JSON of a SimulationConfig (default: DECaLS DR9)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="simulation processes")
    parser.add_argument("--preset", default="default", help="model preset")
    parser.add_argument("--init", type=Path, default=None,
                        help="weights to start from (save_model output, e.g. "
                             "minuet/data/minuet-sim/autoencoder.safetensors); the architecture "
                             "is theirs and --preset is ignored")
    parser.add_argument("--tiny", action="store_true",
                        help="the 'tiny' preset and small batches, for tests on CPU")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=4e-4)
    parser.add_argument("--lr-schedule", default="cosine", choices=("cosine", "constant"))
    parser.add_argument("--warmup-steps", type=int, default=300)
    parser.add_argument("--decorrelation-weight", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=None,
                        help="optimiser steps (default: as many as the time limit allows)")
    parser.add_argument("--calibration-steps", type=int, default=40,
                        help="steps timed first, to plan the schedule for the time left")
    parser.add_argument("--curve-points", type=int, default=10,
                        help="held-out evaluations during training")
    parser.add_argument("--workers", type=int, default=4, help="background batch readers")
    parser.add_argument("--eval-minutes", type=float, default=1.0,
                        help="time kept for the final evaluation")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    parser.add_argument("--seed", type=int, default=TRAIN_SEED)
    args = parser.parse_args(argv)
    if args.output_dir is None:
        args.output_dir = Path(os.environ.get("OUT") or "gpu-run")
    if args.tiny:
        args.preset = "tiny"
        args.batch_size = min(args.batch_size, 8)
        args.warmup_steps = min(args.warmup_steps, 2)
        args.calibration_steps = min(args.calibration_steps, 2)
        args.workers = min(args.workers, 1)
    return args


def _log(start, text):
    print(f"[{time.perf_counter() - start:7.1f} s] {text}", flush=True)


def _simulate(path, n, *, seed, processes, config):
    from minuet.simulate import write_dataset

    chunk = max(1, min(512, -(-n // max(processes, 1))))
    write_dataset(path, n, seed=seed, config=config, processes=processes, chunk_size=chunk)
    return path


def _count(files):
    from minuet.training import CutoutFile

    return sum(len(CutoutFile(f)) for f in files)


def _device_info(device):
    import torch

    info = {"torch": torch.__version__, "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "device": str(device)}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["bf16"] = bool(torch.cuda.is_bf16_supported())
    return info


def _plot(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in history if "chi2_mean" in r]
    if not rows:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), constrained_layout=True)
    seen = [r["images_seen"] for r in rows]
    for ax, key, label in zip(
        axes, ("chi2_mean", "abs_dmag_r", "abs_dcolor_gr"),
        ("reduced chi2, mean of draws", "median |delta r| [mag]", "median |delta (g-r)| [mag]"),
        strict=True,
    ):
        ax.plot(seen, [r[key] for r in rows], "o-")
        ax.set_xlabel("training images seen")
        ax.set_ylabel(label)
        ax.set_xscale("log")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    start = time.perf_counter()
    args = parse_args(argv)
    deadline = start + 60 * args.minutes
    import numpy as np
    import torch

    from minuet import __version__
    from minuet.models import DiffusionAutoencoderConfig, load_model, save_model
    from minuet.simulate import SimulationConfig, read_dataset
    from minuet.training import CutoutFile, TrainingConfig, reconstruction_quality, train
    from minuet.training.engine import _setup_distributed

    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    own_work = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="minuet-gpu-")) if own_work else args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    sim_config = None
    if args.simulation_config is not None:
        sim_config = SimulationConfig.from_dict(json.loads(args.simulation_config.read_text()))
    timings = {}
    try:
        # --- data ------------------------------------------------------------------------
        t0 = time.perf_counter()
        if args.data:
            files = [str(p) for p in args.data]
            n_train = None
        else:
            _log(start, f"simulating {args.n_train} training galaxies on {args.processes} "
                        "processes")
            files = [str(_simulate(work / "train.h5", args.n_train, seed=args.seed,
                                   processes=args.processes, config=sim_config))]
            n_train = args.n_train
        timings["simulate_train_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _log(start, f"simulating {args.n_test} held-out galaxies (seed {HELD_OUT_SEED})")
        test_path = _simulate(work / "test.h5", args.n_test, seed=HELD_OUT_SEED,
                              processes=args.processes, config=sim_config)
        images, invvar, footprint, _ = read_dataset(test_path)
        timings["simulate_test_s"] = time.perf_counter() - t0

        # --- training --------------------------------------------------------------------
        start_weights = None if args.init is None else load_model(args.init)
        model = (DiffusionAutoencoderConfig.preset(args.preset) if start_weights is None
                 else start_weights.config)
        planned = args.steps or 10**9
        config = TrainingConfig(
            data=tuple(files), output=str(work / "run"), model=model, steps=planned,
            batch_size=args.batch_size, learning_rate=args.lr, warmup_steps=args.warmup_steps,
            learning_rate_schedule=args.lr_schedule, decorrelation_weight=args.decorrelation_weight,
            seed=args.seed, validation_fraction=0.02, validation_size=256,
            validate_every=10**9, checkpoint_every=10**9, log_every=100,
            precision=args.precision,
            device=args.device, workers=args.workers, in_memory=True,
            init=str(args.init or ""),
        )
        _, _, device, _ = _setup_distributed(config)
        curve = {"n": min(args.n_curve, len(images))}
        t_train = train_start = time.perf_counter()

        def on_validation(step, ema):
            n = curve["n"]
            quality = reconstruction_quality(
                ema, images[:n], invvar[:n], footprint[:n], n_draws=2, seed=1, device=device)
            seconds = time.perf_counter() - train_start
            _log(start, f"step {step}: chi2 {quality['chi2_mean']:.2f}, |dr| "
                        f"{quality['abs_dmag_r']:.3f}, |d(g-r)| {quality['abs_dcolor_gr']:.3f}, "
                        f"max |rho| {quality['max_abs_spearman']:.2f}")
            return {**quality, "images_seen": step * config.batch_size,
                    "train_seconds": seconds}

        # time a few steps of a throwaway run on data already at hand (the held-out
        # galaxies when there are enough; its weights are discarded), to plan the cosine
        # schedule for the time left; the main run then prepares its data only once
        enough = len(images) >= 4 * config.batch_size
        t0 = time.perf_counter()
        CutoutFile(test_path, in_memory=True)
        prepare_s = (time.perf_counter() - t0) / len(images) * (n_train or _count(files))
        rate = None
        if args.steps is None:
            half = max(1, args.calibration_steps // 2)
            calibration = replace(
                config, data=(str(test_path),) if enough else config.data,
                output=str(work / "calibration"), steps=2 * half, log_every=half,
                validate_every=10**9, validation_fraction=0.0, workers=0)
            _log(start, f"timing {2 * half} steps on {device}")
            _, timed = train(calibration, progress=False)
            rate = timed[-1]["images_per_s"]
            left = deadline - time.perf_counter() - 60 * args.eval_minutes - prepare_s
            config.steps = max(1, int(0.95 * left * rate / config.batch_size))
            _log(start, f"{rate:.0f} images/s measured; planning {config.steps} steps")
        config.validate_every = max(1, config.steps // max(args.curve_points, 1))
        config.log_every = max(1, min(100, config.validate_every))
        left = deadline - time.perf_counter() - 60 * args.eval_minutes - prepare_s
        _log(start, f"training on {device} ({model.encoder.kind} encoder, batch "
                    f"{config.batch_size}); {max(left, 0):.0f} s left for training")
        train_start = time.perf_counter()
        ema, history = train(config, max_minutes=max(left, 0) / 60, progress=False,
                             callback=on_validation)
        timings["train_s"] = time.perf_counter() - t_train
        step = history[-1]["step"] if history else 0

        # --- results ---------------------------------------------------------------------
        t0 = time.perf_counter()
        ema = ema.float()
        meta = {"steps": step, "training": config.to_dict(), "minuet_version": __version__,
                "train_seed": args.seed, "n_train": n_train}
        digest = save_model(ema, out / "model", metadata=meta)
        weights_mb = (out / "model.safetensors").stat().st_size / 1e6
        _log(start, f"evaluating the final EMA weights on {len(images)} held-out galaxies")
        final = reconstruction_quality(ema, images, invvar, footprint, n_draws=4, seed=2,
                                       device=device)
        timings["evaluate_s"] = time.perf_counter() - t0
        evaluation = {
            **final, "held_out_seed": HELD_OUT_SEED, "step": step,
            "images_seen": step * config.batch_size, "weights_sha256": digest,
            "definitions": "medians over galaxies; chi2 over the true footprint of the mean of "
                           "4 draws (chi2_mean) and of the first draw (chi2_one)",
        }
        (out / "evaluation.json").write_text(json.dumps(evaluation, indent=2) + "\n")
        shutil.copy(work / "run" / "history.jsonl", out / "history.jsonl")
        (out / "config.json").write_text(config.to_json())
        _plot(history, out / "learning_curve.png")
        timings["total_s"] = time.perf_counter() - start
        steady = [r["images_per_s"] for r in history[1:]]
        summary = {
            "command": " ".join(["python", "benchmarks/gpu/train_gpu.py", *sys.argv[1:]])
            if argv is None else " ".join(["python", "benchmarks/gpu/train_gpu.py", *argv]),
            "minutes_limit": args.minutes, "timings_s": {k: round(v, 1) for k, v in
                                                         timings.items()},
            "steps": step, "images_seen": step * config.batch_size,
            "train_images_per_s": statistics.median(steady) if steady else rate,
            "calibration_images_per_s": rate, "prepare_estimate_s": round(prepare_s, 1),
            "init": None if start_weights is None else {
                "file": args.init.name, "sha256": start_weights.record["sha256"]},
            "weights_mb": round(weights_mb, 2), "weights_under_limit":
            weights_mb < WEIGHTS_LIMIT_MB, "n_train": n_train, "data": files,
            "load_average": list(np.round(os.getloadavg(), 2)),
            **_device_info(device), "minuet_version": __version__,
        }
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        _log(start, json.dumps({k: evaluation[k] for k in (
            "chi2_mean", "chi2_one", "abs_dmag_r", "abs_dcolor_gr", "max_abs_spearman")}))
        if weights_mb >= WEIGHTS_LIMIT_MB:
            _log(start, f"warning: the weights take {weights_mb:.1f} MB, over the "
                        f"{WEIGHTS_LIMIT_MB:.0f} MB that may be bundled")
        return summary
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
