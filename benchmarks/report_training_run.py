"""The learning curve of a long training run, across its sittings, for the model card.

Reads a run folder written by ``train_production.py`` (its ``history.jsonl``,
whose validation rows carry held-out quality, and ``sittings.json``) and
writes ``docs/validation/generated/<name>_training.{json,rst,png}``: held-out
quality against images seen, one colour per sitting, beside the short
warm-start curve of ``learning_curves.json`` when it is there, and a table of
the sittings (steps, images, wall time, training data, code version)::

    python benchmarks/report_training_run.py runs/minuet-sim-2 --name minuet-sim-2

Nothing is trained or evaluated here; the numbers are those the run measured.
"""

import argparse
import json
from pathlib import Path

from _report import add_output_dir, figure, new_record, output_folder, rst_table, write_results
from bench_learning_curves import METRICS


def read_run(folder):
    """Held-out points and sittings of the run in ``folder``."""
    folder = Path(folder)
    history = folder / "history.jsonl"
    if not history.exists():
        msg = f"{folder} holds no history.jsonl; give the --output folder of train_production.py."
        raise SystemExit(msg)
    rows = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
    sittings_path = folder / "sittings.json"
    sittings = json.loads(sittings_path.read_text()) if sittings_path.exists() else []
    batch = json.loads((folder / "config.json").read_text()).get("batch_size", 64)
    points = []
    for row in rows:
        if "held_out" not in row:
            continue
        sitting = next((i for i, s in enumerate(sittings) if row["step"] <= s["until_step"]),
                       len(sittings))
        points.append({"step": row["step"], "images_seen": row["step"] * batch,
                       "sitting": sitting + 1, **row["held_out"]})
    return points, sittings, batch


def sitting_rows(sittings, batch):
    """One table row per sitting."""
    body, start = [], 0
    for i, s in enumerate(sittings, 1):
        data = ", ".join(f"{d['file']} (seed {d.get('seed', '?')}, {d.get('n', '?')} galaxies)"
                         for d in s.get("data", []))
        commit = s.get("code", {}).get("commit", "")
        arithmetic = s.get("precision", "not recorded")
        if "cpu_bf16_extensions" in s:
            arithmetic += f" ({', '.join(s['cpu_bf16_extensions']) or 'no native bf16'})"
        body.append((str(i), f"{start}-{s['until_step']}",
                     f"{(s['until_step'] - start) * batch:,}", f"{s['minutes']:.0f}",
                     data or "not recorded", commit[:10] or "not recorded", arithmetic))
        start = s["until_step"]
    return body


def write_figure(points, warm, path, name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(2.6 * len(METRICS), 3.2),
                             constrained_layout=True)
    sittings = sorted({p["sitting"] for p in points})
    for j, (key, label) in enumerate(METRICS):
        ax = axes[j]
        if warm:
            ax.plot([p["images_seen"] for p in warm], [p[key] for p in warm], "k:",
                    marker=".", label="20 CPU-min warm start")
        for s in sittings:
            pts = [p for p in points if p["sitting"] == s]
            ax.plot([p["images_seen"] for p in pts], [p[key] for p in pts], "o-",
                    label=f"{name}, sitting {s}")
        ax.set_xlabel("images seen")
        ax.set_ylabel(label)
    # a long run moves within a narrow range: linear axes read better than log ones
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 3),
               frameon=False)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run folder of train_production.py")
    parser.add_argument("--name", default="minuet-sim-2", help="model name in the report")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    # the folder by name only: where a machine kept it says nothing about the run
    record = new_record("report_training_run.py", [args.run.name, "--name", args.name])
    points, sittings, batch = read_run(args.run)
    curves = out / "learning_curves.json"
    warm = []
    if curves.exists():
        warm = json.loads(curves.read_text()).get("candidates", {}).get(
            "warm_start", {}).get("points", [])
    stem = f"{args.name.replace('-', '_')}_training"
    record.update({"name": args.name, "batch_size": batch, "points": points,
                   "sittings": sittings})
    png = out / f"{stem}.png"
    write_figure(points, warm, png, args.name)
    lines = rst_table(("sitting", "steps", "images", "wall minutes", "training data", "commit",
                       "arithmetic"),
                      sitting_rows(sittings, batch))
    if points:
        last = points[-1]
        lines += ["", f"Held-out quality at step {last['step']} ({last['images_seen']:,} images "
                  f"seen): reduced chi-squared of the mean of draws {last['chi2_mean']:.2f}, "
                  f"median abs delta r {last['abs_dmag_r']:.3f} mag, median abs delta (g-r) "
                  f"{last['abs_dcolor_gr']:.3f} mag, largest abs Spearman rho between latents "
                  f"{last['max_abs_spearman']:.2f}. The held-out galaxies and draws are those of "
                  "the learning curves, so the curves continue each other."]
    lines += figure(png, f"held-out quality of {args.name} against images seen, per sitting")
    write_results(stem, record, lines, directory=out)
    return record


if __name__ == "__main__":
    main()
