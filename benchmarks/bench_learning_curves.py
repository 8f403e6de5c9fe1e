"""Learning curves: held-out quality against CPU time and images seen, per recipe.

Trains several model shapes and training recipes for the same CPU-time budget
each on the same simulated training set, one after another in this process
(``--threads`` threads each), and measures held-out quality at intervals
with `minuet.training.reconstruction_quality`: reduced chi-squared over the
true footprint of the mean of draws, median |delta r| and |delta (g-r)|, and
the largest |Spearman rho| between two latent dimensions (duplicated
dimensions show as values near 1). Only the training calls count towards the
budget; the evaluations do not. The candidates are

* ``default``: the bundled model's architecture and recipe (constant
  learning rate after a warm-up, batch 64);
* ``default + cosine + decorrelation``: the same network with a cosine
  learning-rate schedule to the planned end and the latent decorrelation
  penalty;
* ``narrow``: encoder and denoiser of width 64, about four times cheaper per
  image, so more images for the same CPU time;
* ``narrow encoder``: an encoder of width 64 beside the default denoiser,
  since the encoder has only five numbers to produce while the denoiser
  draws every pixel;
* ``noise at ln sigma -1.2``: the default network trained with EDM's own
  noise-level distribution (Karras et al. 2022) instead of the one centred
  on the stretched sky noise (in ``--quick`` mode, whose tiny preset uses
  EDM's, the other way round);
* ``warm start``: the bundled model's weights, trained on with the cosine
  schedule and the decorrelation penalty, so that what it has learnt on the
  earlier, narrower simulator is spent on the wider one (in ``--quick``
  mode it starts from the uncounted warm-up run instead).

Writes ``docs/validation/generated/learning_curves.{json,rst,png}``
(``learning_curves_quick.*`` with ``--quick``)::

    python benchmarks/bench_learning_curves.py --quick                  # seconds
    nice -n 5 python benchmarks/bench_learning_curves.py --cpu-minutes 2.5
    python benchmarks/bench_learning_curves.py --train sim.h5 --cpu-minutes 20

Candidates can be shared between processes, one core each, and their results
merged into one record (settings must agree)::

    python benchmarks/bench_learning_curves.py --train sim.h5 --only default narrow \
        --merge --keep runs/ &
    python benchmarks/bench_learning_curves.py --train sim.h5 --only noise_edm \
        cosine_decorrelation --merge --keep runs/

``--keep`` keeps each candidate's training directory (checkpoint and
configuration), so that a chosen candidate can be trained on from there.
"""

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

from _report import add_output_dir, figure, new_record, output_folder, rst_table, write_results
from bench_reconstruction import HELD_OUT_SEED

#: Seed of the simulated training set of these curves.
TRAIN_SEED = 20_261_118
METRICS = (
    ("chi2_mean", "reduced chi2, mean of draws"),
    ("abs_dmag_r", "median |delta r| [mag]"),
    ("abs_dcolor_gr", "median |delta (g-r)| [mag]"),
    ("max_abs_spearman", "max |Spearman rho|, latents"),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny models, seconds in all")
    parser.add_argument("--train", type=Path, default=None,
                        help="simulated HDF5 training file (default: simulate --n-train)")
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-eval", type=int, default=64, help="held-out galaxies")
    parser.add_argument("--draws", type=int, default=2, help="draws averaged per galaxy")
    parser.add_argument("--cpu-minutes", type=float, default=20.0,
                        help="training CPU time of each candidate")
    parser.add_argument("--points", type=int, default=5, help="evaluations per candidate")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--processes", type=int, default=2, help="simulation processes")
    parser.add_argument("--only", nargs="+", default=None, help="candidates to run, by key")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                        help="training precision ('auto': bf16 autocast where the CPU has it)")
    parser.add_argument("--merge", action="store_true",
                        help="add these candidates to the existing record of the same settings")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the candidates' training directories under this folder")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the figure from the written record")
    args = add_output_dir(parser).parse_args(argv)
    if args.quick:
        args.n_train, args.n_eval, args.draws = 24, 6, 1
        args.cpu_minutes, args.points, args.batch_size = 0.05, 2, 8
        args.processes = 1
    return args


def bundled_weights():
    """Path of the bundled model's autoencoder weights."""
    from importlib import resources

    return str(resources.files("minuet.data") / "minuet-sim" / "autoencoder.safetensors")


def candidates(quick, warm_start=None):
    """``key -> (label, model configuration, TrainingConfig options)``.

    ``warm_start`` is the weights the ``warm_start`` candidate starts from
    (default: the bundled model's).
    """
    from minuet.models import DiffusionAutoencoderConfig

    preset = "tiny" if quick else "default"
    narrow_width = 8 if quick else 64

    def model(**changes):
        config = DiffusionAutoencoderConfig.preset(preset)
        for path, value in changes.items():
            part, name = path.split("__")
            setattr(getattr(config, part), name, value)
        return config

    # EDM's own centre of the noise levels, unless the preset already uses it (tiny)
    noise = -1.2 if model().diffusion.p_mean != -1.2 else -0.6
    return {
        "default": ("default", model(), {}),
        "cosine_decorrelation": ("default + cosine + decorrelation", model(),
                                 {"learning_rate_schedule": "cosine", "decorrelation_weight": 0.1}),
        "narrow": (f"narrow (width {narrow_width})",
                   model(encoder__width=narrow_width, denoiser__width=narrow_width), {}),
        "narrow_encoder": (f"narrow encoder (width {narrow_width})",
                           model(encoder__width=narrow_width), {}),
        "noise_edm": (f"noise at ln sigma {noise:g}", model(diffusion__p_mean=noise), {}),
        "warm_start": ("warm start from minuet-sim + cosine + decorrelation", model(),
                       {"learning_rate_schedule": "cosine", "decorrelation_weight": 0.1,
                        "init": warm_start or bundled_weights()}),
    }


def _data(args, work):
    from minuet.simulate import read_dataset, write_dataset

    train = args.train
    if train is None:
        train = write_dataset(work / "train.h5", args.n_train, seed=TRAIN_SEED,
                              processes=args.processes)
    held = write_dataset(work / "held_out.h5", args.n_eval, seed=HELD_OUT_SEED,
                         processes=args.processes)
    images, invvar, footprint, _ = read_dataset(held)
    return train, (images, invvar, footprint)


def _warm_up(model_config, train_file, args, work):
    """One uncounted step, so that one-time costs of the process fall on no candidate."""
    from minuet.training import TrainingConfig, train

    config = TrainingConfig(data=(str(train_file),), output=str(work / "warm-up"),
                            model=model_config, steps=1, batch_size=args.batch_size,
                            validation_fraction=0.0, threads=args.threads,
                            precision=args.precision)
    train(config, progress=False)


def run_candidate(key, model_config, options, train_file, held, args, work):
    """Train for the CPU budget, evaluating at intervals; return the curve's points."""
    import torch

    from minuet.training import TrainingConfig, reconstruction_quality, train

    budget = 60 * args.cpu_minutes
    config = TrainingConfig(
        data=(str(train_file),), output=str(work / key), model=model_config, steps=10**9,
        batch_size=args.batch_size, learning_rate=3e-4, warmup_steps=2 if args.quick else 100,
        ema_decay=0.998, seed=1, validation_fraction=0.0, validate_every=10**9,
        checkpoint_every=10**9, log_every=10**9, threads=args.threads,
        precision=args.precision,
        in_memory=args.train is None,  # a given file may be large: read it from disk
        **options,
    )
    torch.set_num_threads(args.threads)
    cpu, step, points = 0.0, 0, []
    chunk = 2 if args.quick else 10
    while cpu < budget and step < config.steps:
        t0, before = time.process_time(), step
        ema, history = train(config, max_steps=chunk, progress=False)
        spent = time.process_time() - t0
        cpu += spent
        step = history[-1]["step"]
        if len(points) == 1:
            # plan the whole budget from the second chunk (the first carries one-time
            # costs): the cosine schedule ends where the budget does, and the
            # evaluations are spread evenly over it
            per_step = spent / max(step - before, 1)
            config.steps = max(step + 1, step + int((budget - cpu) / per_step))
            chunk = max(1, (config.steps - step) // max(args.points - 2, 1))
        quality = reconstruction_quality(ema, *held, n_draws=args.draws, seed=3)
        points.append({"step": step, "images_seen": step * config.batch_size,
                       "cpu_minutes": cpu / 60, **quality})
        print(f"{key:>22s} step {step:6d}  cpu {cpu / 60:6.2f} min  "
              f"chi2 {quality['chi2_mean']:8.2f}  |dr| {quality['abs_dmag_r']:.3f}  "
              f"|d(g-r)| {quality['abs_dcolor_gr']:.3f}  "
              f"max|rho| {quality['max_abs_spearman']:.2f}", flush=True)
    parameters = sum(p.numel() for p in ema.parameters())
    return {"points": points, "planned_steps": config.steps, "parameters": parameters,
            "training": {k: getattr(config, k) for k in (
                "batch_size", "learning_rate", "learning_rate_schedule", "decorrelation_weight",
                "ema_decay")}}


#: Record entries that must agree for candidates of two runs to share one record.
SETTINGS = ("cpu_minutes_each", "threads", "precision", "n_train", "train_file", "train_seed",
            "n_eval", "held_out_seed", "draws")


def merged_candidates(path, record):
    """Candidates of the record at ``path`` with those of ``record`` added (or replaced)."""
    if not path.exists():
        return dict(record["candidates"])
    old = json.loads(path.read_text())
    differ = [k for k in SETTINGS if old.get(k) != record.get(k)]
    if differ:
        msg = (f"cannot merge into {path}: its settings {differ} differ from this run's "
               f"({ {k: old.get(k) for k in differ} } against "
               f"{ {k: record.get(k) for k in differ} }); run without --merge to replace it.")
        raise SystemExit(msg)
    return {**old.get("candidates", {}), **record["candidates"]}


def write_figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(METRICS), figsize=(2.6 * len(METRICS), 5.6),
                             constrained_layout=True)
    for result in results.values():
        pts = result["points"]
        for j, (key, label) in enumerate(METRICS):
            for i, x in enumerate(("cpu_minutes", "images_seen")):
                axes[i, j].plot([p[x] for p in pts], [p[key] for p in pts], "o-",
                                label=result["label"])
                axes[i, j].set_xlabel("training CPU-minutes" if i == 0 else "images seen")
                axes[i, j].set_ylabel(label)
    for ax in axes[:, :3].ravel():  # chi-squared and magnitudes span decades
        ax.set_yscale("log")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 2),
               frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replot(folder, stem):
    """Redraw the figure of the record ``<folder>/<stem>.json`` without training anything."""
    record = json.loads((folder / f"{stem}.json").read_text())
    png = folder / f"{stem}.png"
    write_figure(record["candidates"], png)
    print(f"wrote {png}")


def main(argv=None):
    args = parse_args(argv)
    out = output_folder(args)
    if args.replot:
        return replot(out, "learning_curves_quick" if args.quick else "learning_curves")
    record = new_record("bench_learning_curves.py", argv)
    stem = "learning_curves_quick" if args.quick else "learning_curves"
    every = candidates(args.quick)
    chosen = dict(every)
    if args.only:
        unknown = sorted(set(args.only) - set(chosen))
        if unknown:
            msg = f"unknown candidates {unknown}; choose from {sorted(chosen)}."
            raise SystemExit(msg)
        chosen = {k: v for k, v in chosen.items() if k in args.only}
    results = {}
    t_start = time.perf_counter()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        clashes = [k for k in chosen if (args.keep / k).exists()]
        if clashes:
            msg = (f"{args.keep} already holds the training directories {clashes}; choose "
                   "another --keep folder or move them away first.")
            raise SystemExit(msg)
        place = contextlib.nullcontext(str(args.keep))
    else:
        place = tempfile.TemporaryDirectory(prefix="minuet-curves-")
    with place as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        train_file, held = _data(args, work)
        record["simulation_seconds"] = round(time.perf_counter() - t0, 1)
        _warm_up(every["default"][1], train_file, args, work)
        if args.quick and "warm_start" in chosen:  # tiny: start from the warm-up's weights
            label, model_config, options = chosen["warm_start"]
            options = {**options, "init": str(work / "warm-up" / "model.safetensors")}
            chosen["warm_start"] = (label, model_config, options)
        for key, (label, model_config, options) in chosen.items():
            result = run_candidate(key, model_config, options, train_file, held, args, work)
            results[key] = {"label": label, **result}
    record.update({
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "cpu_minutes_each": args.cpu_minutes, "threads": args.threads,
        "precision": args.precision,
        "n_train": None if args.train else args.n_train,
        "train_file": str(args.train) if args.train else None, "train_seed": TRAIN_SEED,
        "n_eval": args.n_eval, "held_out_seed": HELD_OUT_SEED, "draws": args.draws,
        "candidates": results,
    })
    if args.merge:
        results = merged_candidates(out / f"{stem}.json", record)
        record["candidates"] = results
    png = out / f"{stem}.png"
    write_figure(results, png)
    finals = {k: r["points"][-1] for k, r in results.items() if r["points"]}
    best = min(finals, key=lambda k: finals[k]["chi2_mean"]) if finals else None
    record["best_at_budget"] = best
    body = []
    for result in results.values():
        p = result["points"][-1]
        body.append((result["label"], f"{result['parameters'] / 1e6:.2f}",
                     f"{p['cpu_minutes']:.1f}", str(p["images_seen"]),
                     f"{p['chi2_mean']:.2f}", f"{p['abs_dmag_r']:.3f}",
                     f"{p['abs_dcolor_gr']:.3f}", f"{p['max_abs_spearman']:.2f}"))
    lines = rst_table(("candidate", "M params", "CPU-min", "images", "chi2_red (mean)",
                       "abs dm_r", "abs d(g-r)", "max abs rho"), body)
    lines += ["", f"Each candidate trained for {args.cpu_minutes:g} CPU-minutes "
              f"({args.precision} precision, {args.threads} "
              f"thread{'s' if args.threads > 1 else ''}, batch "
              f"{args.batch_size}) on the same "
              + (f"file {args.train.name}" if args.train else
                 f"{args.n_train} simulated galaxies (seed {TRAIN_SEED})")
              + f"; quality on {args.n_eval} held-out galaxies (seed {HELD_OUT_SEED}), mean of "
              f"{args.draws} draw{'s' if args.draws > 1 else ''}, at the last point of each "
              f"curve. Lowest chi-squared at this budget: ``{results[best]['label']}``"
              if best else ""]
    lines += figure(png, "held-out quality against CPU time and images seen")
    write_results(stem, record, lines, directory=out)
    print(f"wrote {png}")
    return record


if __name__ == "__main__":
    main()
