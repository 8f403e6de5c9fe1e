"""How the morphology classifiers' ROC-AUC grows with the number of labelled galaxies.

The classifiers see only the five numbers, so their ROC-AUC is bounded by
what the latent keeps of each label and by how many labelled galaxies they
are fitted on. This benchmark separates the two: it encodes a labelled
simulated file, fits `~minuet.morphology.MorphologyClassifier` on its first
N galaxies for a series of N, and scores every fit on the same held-out
galaxies (seed ``HELD_OUT_SEED + 1``, as ``bench_heads.py``). A curve that
still climbs at the largest N says that more labelled galaxies would help;
one that has flattened says that the latent is the limit.

The labelled file is read in chunks, so it may be larger than memory (a
long-run shard of 100,000 galaxies holds 12.5 GB). Its galaxies should not
be the held-out ones; they may be galaxies that the autoencoder was trained
on, and the record says which file and seed they came from.

Writes ``docs/validation/generated/morphology_size.{json,rst,png}``
(``morphology_size_quick.*`` with ``--quick``, which simulates its own few
hundred labelled galaxies: a pipeline check, not a measurement)::

    python benchmarks/bench_morphology_size.py --train runs/long_run/train_seed4_100k.h5
    python benchmarks/bench_morphology_size.py --quick
    python benchmarks/bench_morphology_size.py --train runs/sim-heads-20k.h5 \\
        --sizes 1000 5000 20000 --n-test 2000
"""

import argparse
from pathlib import Path

import numpy as np
from _report import (
    add_output_dir,
    new_record,
    output_folder,
    rst_table,
    simulator_fingerprint,
    write_results,
)
from bench_reconstruction import HELD_OUT_SEED

#: The labels and the ROC-AUC that the morphology classifiers aim for.
LABELS = ("merger", "spiral_arms", "edge_on", "round")
TARGET_AUC = 0.85
#: Galaxies read and encoded at a time.
CHUNK = 5000
#: The ``--quick`` setting: labelled sizes, held-out galaxies, epochs, seed of the labelled set.
QUICK_SIZES = [100, 300]
QUICK_N_TEST = 200
QUICK_MAX_EPOCHS = 20
QUICK_TRAIN_SEED = 4


def encode_labelled(model, path, n, *, progress=True):
    """Latents and truth of the first ``n`` galaxies of a simulated HDF5 file, read in chunks."""
    from astropy.table import vstack
    from tqdm import tqdm

    from minuet.simulate import read_dataset

    latents, truths = [], []
    with tqdm(total=n, desc="encoding labelled galaxies", unit="galaxy",
              disable=not progress) as bar:
        for start in range(0, n, CHUNK):
            images, invvar, _, truth = read_dataset(path, start=start, stop=min(n, start + CHUNK))
            table = model.encode(images, invvar=invvar, progress=False)
            latents.append(table)
            truths.append(truth)
            bar.update(len(truth))
    return (vstack(latents, metadata_conflicts="silent"),
            vstack(truths, metadata_conflicts="silent"))


def label_array(truth, label):
    """A truth label column as a boolean array."""
    return np.asarray(truth[label]).astype(bool)


def auc_curve(train_latents, train_truth, test_latents, test_truth, sizes, *, seed=0,
              classifier_options=None):
    """ROC-AUC on the test galaxies of classifiers fitted on the first N training galaxies.

    Only galaxies whose latent is valid take part. Returns one row per
    size: ``n_train``, ``fit_s`` and, per label, its ROC-AUC and PR-AUC.
    """
    import time

    from minuet.evaluation import binary_metrics
    from minuet.morphology import MorphologyClassifier

    good = np.asarray(train_latents["valid"])
    train_latents, train_truth = train_latents[good], train_truth[good]
    test_good = np.asarray(test_latents["valid"])
    test_latents, test_truth = test_latents[test_good], test_truth[test_good]
    rows = []
    for n in sizes:
        if n > len(train_latents):
            msg = (f"asked for {n} labelled galaxies, but the file has only "
                   f"{len(train_latents)} with valid latents; pass smaller --sizes.")
            raise SystemExit(msg)
        t = time.perf_counter()
        clf = MorphologyClassifier(**(classifier_options or {}))
        clf.fit(train_latents[:n], train_truth[:n], labels=list(LABELS), seed=seed)
        fit_s = time.perf_counter() - t
        proba = clf.predict_proba(test_latents)
        row = {"n_train": int(n), "fit_s": round(fit_s, 1)}
        for label in LABELS:
            metrics = binary_metrics(label_array(test_truth, label),
                                     np.asarray(proba[f"p_{label}"]))
            row[label] = {"roc_auc": metrics["roc_auc"], "pr_auc": metrics["pr_auc"]}
        rows.append(row)
        print(row, flush=True)
    return rows


def plot_curve(rows, path, *, cnn=None):
    """ROC-AUC against the number of labelled galaxies, one line per label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    n = [row["n_train"] for row in rows]
    for label, colour in zip(LABELS, ("C0", "C1", "C2", "C3"), strict=True):
        ax.plot(n, [row[label]["roc_auc"] for row in rows], "o-", color=colour,
                label=label.replace("_", " "))
        if cnn and label in cnn:
            ax.axhline(cnn[label], color=colour, ls=":", lw=1)
    ax.axhline(TARGET_AUC, color="k", ls="--", lw=1, label=f"goal {TARGET_AUC}")
    ax.set_xscale("log")
    ax.set_xlabel("labelled galaxies the classifiers were fitted on")
    ax.set_ylabel("ROC-AUC on held-out galaxies")
    title = "morphology from the five numbers"
    ax.set_title(title + (" (dotted: CNN on the pixels)" if cnn else ""), fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _cnn_aucs(directory):
    """The supervised CNN's ROC-AUC per label (``bench_baselines.py``), when it exists and
    was measured on the simulator of this run; None otherwise."""
    import json

    path = directory / "baselines_summary.json"
    if not path.is_file():
        return None
    baselines = json.loads(path.read_text())
    cnn = baselines.get("supervised_cnn") or {}
    run = baselines.get("runs", {}).get("supervised_cnn", baselines)
    if run.get("simulator") != simulator_fingerprint():
        return None
    return {label: cnn[label]["roc_auc"] for label in LABELS
            if isinstance(cnn.get(label), dict) and "roc_auc" in cnn[label]} or None


def _reaching(labels):
    """``'merger reaches'``, ``'merger and round reach'`` or ``'no label reaches'``."""
    if not labels:
        return "no label reaches"
    if len(labels) == 1:
        return f"{labels[0]} reaches"
    return f"{', '.join(labels[:-1])} and {labels[-1]} reach"


def report_lines(record):
    """The reStructuredText table and caption of a run."""
    rows = record["rows"]
    body = [(f"{row['n_train']:,}", *(f"{row[label]['roc_auc']:.3f}" for label in LABELS),
             f"{row['fit_s']:.0f}") for row in rows]
    header = ("labelled galaxies", *(label.replace("_", " ") for label in LABELS), "fit (s)")
    last = rows[-1]
    met = [label.replace("_", " ") for label in LABELS if last[label]["roc_auc"] >= TARGET_AUC]
    lines = [
        f"ROC-AUC of the morphology classifiers on {record['n_test']:,} held-out simulated "
        f"galaxies (seed {record['test_seed']}), fitted on the first N galaxies of "
        f"``{record['train_file']}`` (model ``{record['model']}``).",
        "",
        *rst_table(header, body),
        "",
        f"At {last['n_train']:,} labelled galaxies {_reaching(met)} the goal of {TARGET_AUC}.",
    ]
    if len(rows) > 1:
        before = rows[-2]
        steps = ", ".join(f"{label.replace('_', ' ')} "
                          f"{last[label]['roc_auc'] - before[label]['roc_auc']:+.3f}"
                          for label in LABELS)
        lines[-1] += (f" The last step, from {before['n_train']:,} to {last['n_train']:,}, "
                      f"changed the ROC-AUC by {steps}.")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--train", default=None,
                        help="simulated HDF5 file with truth (minuet simulate), read in chunks")
    parser.add_argument("--quick", action="store_true",
                        help="simulate 300 labelled and 200 held-out galaxies, fit on 100 and "
                             "300 for a few epochs; writes morphology_size_quick.*")
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[1000, 2000, 5000, 10000, 20000, 50000, 100000],
                        help="numbers of labelled galaxies to fit on (first N of the file)")
    parser.add_argument("--n-test", type=int, default=5000, help="held-out galaxies")
    parser.add_argument("--seed", type=int, default=0, help="seed of the classifiers' fits")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap on the classifiers' training epochs (default: theirs)")
    parser.add_argument("--width", type=int, default=None,
                        help="hidden width of the classifiers (default: theirs)")
    args = add_output_dir(parser).parse_args(argv)
    if args.quick:
        args.sizes, args.n_test = QUICK_SIZES, QUICK_N_TEST
        args.max_epochs = args.max_epochs or QUICK_MAX_EPOCHS
    elif args.train is None:
        parser.error("--train is required (a labelled file from `minuet simulate`), "
                     "unless --quick")
    sizes = sorted(set(args.sizes))
    if sizes[0] < 10:
        parser.error("--sizes must be at least 10 galaxies each")
    if args.quick and args.train is None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            from minuet.simulate import write_dataset

            args.train = str(write_dataset(Path(tmp) / "train_quick.h5", max(sizes),
                                           seed=QUICK_TRAIN_SEED))
            run(args, sizes, argv)
    else:
        run(args, sizes, argv)


def run(args, sizes, argv):
    """Encode, fit at every size, score, and write the results of one run."""
    import h5py

    from minuet import Minuet
    from minuet.simulate import simulate

    with h5py.File(args.train, "r") as f:
        available = len(f["images"])
        train_seed = f.attrs.get("seed")
    n_train = min(max(sizes), available)
    sizes = [n for n in sizes if n <= n_train]
    if not sizes:
        raise SystemExit(f"{args.train} holds {available} galaxies, fewer than every --sizes; "
                         "pass smaller --sizes")

    model = Minuet.load(args.model) if args.model else Minuet.pretrained()
    train_latents, train_truth = encode_labelled(model, args.train, n_train)
    test_seed = HELD_OUT_SEED + 1
    images, invvar, _, test_truth = simulate(args.n_test, seed=test_seed)
    test_latents = model.encode(images, invvar=invvar, progress=True)
    options = {key: value for key, value in (("max_epochs", args.max_epochs),
                                             ("width", args.width)) if value is not None}
    rows = auc_curve(train_latents, train_truth, test_latents, test_truth, sizes,
                     seed=args.seed, classifier_options=options)

    record = new_record("bench_morphology_size.py", argv) | {
        "model": model.name, "weights_sha256": model.sha256, "train_file": Path(args.train).name,
        "train_seed": None if train_seed is None else int(train_seed),
        "test_seed": test_seed, "n_test": int(np.asarray(test_latents["valid"]).sum()),
        "simulator_sha256": simulator_fingerprint(), "classifier_options": options,
        "target_roc_auc": TARGET_AUC, "rows": rows,
    }
    out = output_folder(args)
    stem = "morphology_size_quick" if args.quick else "morphology_size"
    cnn = _cnn_aucs(out)
    plot_curve(rows, out / f"{stem}.png", cnn=cnn)
    lines = report_lines(record)
    write_results(stem, record, lines, directory=out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
