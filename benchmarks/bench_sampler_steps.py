"""Held-out reconstruction quality against the number of sampler steps.

For one model (the bundled one by default) this reconstructs the same
held-out simulated galaxies with the same seeds at each step count and
measures, with `minuet.training.reconstruction_quality`, the reduced
chi-squared over the true footprint of the mean of draws and of one draw,
median |delta r| and |delta (g-r)|, and the time per galaxy. The
recommended step count is the smallest whose four measurements (the two
chi-squared values, |delta r| and |delta (g-r)|) are each within
``--tolerance`` (default 5%, either way) of the run with the most steps:
fewer steps where quality holds.

Writes ``docs/validation/generated/sampler_steps.{json,rst,png}``
(``sampler_steps_quick.*`` with ``--quick``)::

    python benchmarks/bench_sampler_steps.py --quick
    python benchmarks/bench_sampler_steps.py --n 500
    python benchmarks/bench_sampler_steps.py --model runs/x/model --sampler heun
    python benchmarks/bench_sampler_steps.py --sigma-max 20 --output-dir runs/steps-20
"""

import argparse
import json
import time

from _report import add_output_dir, figure, new_record, output_folder, rst_table, write_results
from bench_reconstruction import HELD_OUT_SEED


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few galaxies and step counts")
    parser.add_argument("--model", default=None,
                        help="Minuet model directory, or autoencoder weights (default: bundled)")
    parser.add_argument("--n", type=int, default=200, help="held-out galaxies")
    parser.add_argument("--draws", type=int, default=2, help="draws averaged per galaxy")
    parser.add_argument("--steps", type=int, nargs="+",
                        default=[2, 3, 4, 6, 8, 10, 14, 20, 30])
    parser.add_argument("--sampler", default=None, help="sampler (default: the model's)")
    parser.add_argument("--sigma-max", type=float, default=None,
                        help="noise level of the first step (default: the model's)")
    parser.add_argument("--rho", type=float, default=None,
                        help="spacing exponent of the noise levels (default: the model's)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="relative loss of quality accepted against the most steps")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw the figure from the written record")
    args = add_output_dir(parser).parse_args(argv)
    if args.quick:
        args.n, args.draws, args.steps = 4, 1, [2, 4, 8]
    return args


def load(path):
    """``(autoencoder, stretch, name)`` of a Minuet directory, weights, or the bundled model."""
    from pathlib import Path

    from minuet import Minuet
    from minuet.cutouts import AsinhStretch
    from minuet.models import load_model

    if path is None:
        model = Minuet.pretrained()
        return model.autoencoder, model.stretch, model.name
    path = Path(path)
    if path.is_dir():
        model = Minuet.load(path)
        return model.autoencoder, model.stretch, model.name
    return load_model(path), AsinhStretch(), path.stem


#: Measurements that a few-step run must reproduce: a lower chi-squared is no better
#: than a higher one here, since smoother (less sharp) draws leave smaller residuals.
COMPARED = ("chi2_mean", "chi2_one", "abs_dmag_r", "abs_dcolor_gr")


def recommend(rows, tolerance):
    """Smallest step count within ``tolerance`` of the most steps in every measurement.

    Within means a relative difference of at most ``tolerance`` either way,
    for each of `COMPARED`.
    """
    ref = max(rows, key=lambda r: r["steps"])
    for row in sorted(rows, key=lambda r: r["steps"]):
        if all(abs(row[k] - ref[k]) <= tolerance * abs(ref[k]) for k in COMPARED):
            return row["steps"]
    return ref["steps"]


def write_figure(rows, path, recommended):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(2, 2, figsize=(7.5, 5.6), constrained_layout=True)
    steps = [r["steps"] for r in rows]
    for ax, key, label in zip(
        axes.ravel(), ("chi2_mean", "chi2_one", "abs_dmag_r", "abs_dcolor_gr"),
        ("reduced chi2, mean of draws", "reduced chi2, one draw", "median |delta r| [mag]",
         "median |delta (g-r)| [mag]"), strict=True,
    ):
        ax.plot(steps, [r[key] for r in rows], "o-")
        ax.axvline(recommended, color="0.6", ls="--")
        ax.set_xscale("log")
        # the measured step counts as the only tick labels: log minor labels overlap
        ax.set_xticks(steps)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("sampler steps")
        ax.set_ylabel(label)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    out = output_folder(args)
    if args.replot:
        stem = "sampler_steps_quick" if args.quick else "sampler_steps"
        old = json.loads((out / f"{stem}.json").read_text())
        write_figure(old["rows"], out / f"{stem}.png", old["recommended_steps"])
        return old
    record = new_record("bench_sampler_steps.py", argv)
    import torch

    from minuet.simulate import simulate
    from minuet.training import reconstruction_quality

    if args.threads:
        torch.set_num_threads(args.threads)
    model, stretch, name = load(args.model)
    # the sampler reads these from the model's configuration at every call
    schedule = model.config.diffusion
    for key in ("sampler", "sigma_max", "rho"):
        if getattr(args, key) is not None:
            setattr(schedule, key, getattr(args, key))
    images, invvar, footprint, _ = simulate(args.n, seed=HELD_OUT_SEED)
    rows = []
    for steps in sorted(set(args.steps)):
        t0 = time.perf_counter()
        q = reconstruction_quality(model, images, invvar, footprint, stretch=stretch,
                                   n_draws=args.draws, steps=steps, seed=5)
        seconds = time.perf_counter() - t0
        rows.append({"steps": steps, **q,
                     "ms_per_galaxy_draw": 1e3 * seconds / (args.n * args.draws)})
        print(f"steps {steps:3d}: chi2 {q['chi2_mean']:.3f} / {q['chi2_one']:.3f}, |dr| "
              f"{q['abs_dmag_r']:.4f}, |d(g-r)| {q['abs_dcolor_gr']:.4f}", flush=True)
    recommended = recommend(rows, args.tolerance)
    record.update({"model": name, "sampler": schedule.sampler,
                   "sigma_max": schedule.sigma_max, "rho": schedule.rho,
                   "model_default_steps": schedule.steps, "n_galaxies": args.n,
                   "held_out_seed": HELD_OUT_SEED, "draws": args.draws,
                   "tolerance": args.tolerance, "recommended_steps": recommended,
                   "rows": rows})
    stem = "sampler_steps_quick" if args.quick else "sampler_steps"
    png = out / f"{stem}.png"
    write_figure(rows, png, recommended)
    body = [(str(r["steps"]), f"{r['chi2_mean']:.3f}", f"{r['chi2_one']:.3f}",
             f"{r['abs_dmag_r']:.4f}", f"{r['abs_dcolor_gr']:.4f}",
             f"{r['ms_per_galaxy_draw']:.1f}") for r in rows]
    lines = rst_table(("steps", f"chi2_red (mean of {args.draws})", "chi2_red (one draw)",
                       "abs dm_r", "abs d(g-r)", "ms per draw"), body)
    lines += ["", f"Model ``{name}`` with the ``{record['sampler']}`` sampler (its default: "
              f"{record['model_default_steps']} steps; noise levels from sigma_max "
              f"{schedule.sigma_max:g} with rho {schedule.rho:g}) on {args.n} held-out "
              f"simulated galaxies (seed {HELD_OUT_SEED}), the same draws' seeds at every "
              f"step count. Fewest steps within {100 * args.tolerance:g}% (either way) of the "
              f"{rows[-1]['steps']}-step run in all four columns of quality: "
              f"**{recommended}**. With few galaxies the medians scatter by several per "
              "cent, so the choice is only as firm as ``--n`` allows."]
    lines += figure(png, "reconstruction quality against the number of sampler steps")
    write_results(stem, record, lines, directory=out)
    return record


if __name__ == "__main__":
    main()
