"""Train and evaluate the baselines that minuet is judged against.

Three baselines, each trained on the same simulated training file and
evaluated on the same held-out file:

* ``PCABaseline``: five principal components of the stretched cutouts;
* ``DeterministicAutoencoder``: minuet's encoder with a one-pass decoder
  (mean-squared-error loss, footprint-weighted);
* ``SupervisedCNN``: a residual CNN trained on the pixels to predict
  redshift, stellar mass and SFR (Gaussian mean and variance) and the four
  morphology labels.

The files are written by the simulator, for example::

    minuet simulate 20000 runs/sim-heads-20k.h5 --seed 2
    minuet simulate 5000 runs/sim-test-20251205.h5 --seed 20251205

A full run takes about ``3 x --minutes`` of CPU time plus the evaluation, so
run it with nothing else on the machine::

    python benchmarks/bench_baselines.py --minutes 20

``--only cnn`` (or ``pca``, ``autoencoder``) trains and evaluates just those
baselines and keeps the others' results from the existing results file, each
with its own date and budget in the training table; the held-out set must be
the one they were measured on.

``--quick`` simulates a few hundred galaxies when the files are missing and
trains tiny models for a few seconds each: it checks the pipeline end to end,
its numbers mean nothing. Results go to
``docs/validation/generated/baselines_summary.{json,rst}`` (``baselines_quick``
with ``--quick``); weights to ``--weights-out``.
"""

import argparse
import datetime
import io
import json
import os
import platform
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import torch
from _report import RUNS, add_output_dir, command_line, output_folder, simulator_fingerprint
from astropy.table import MaskedColumn, Table

from minuet import __version__
from minuet.baselines import (
    DeterministicAutoencoder,
    DeterministicAutoencoderConfig,
    PCABaseline,
    SupervisedCNN,
    SupervisedCNNConfig,
)
from minuet.cutouts import nanomaggy
from minuet.evaluation import (
    binary_metrics,
    compare_reconstructions,
    coverage,
    log_quantity_metrics,
    redshift_metrics,
    summarize_reconstructions,
    tarp,
)
from minuet.models import EncoderConfig

PROPERTIES = ("redshift", "log_mstar", "log_sfr")
LABELS = ("merger", "spiral_arms", "edge_on", "round")
#: The baselines, by the names of ``--only``, and the keys of their results.
BASELINES = {"pca": "pca", "autoencoder": "deterministic_autoencoder", "cnn": "supervised_cnn"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="The default files are the labelled set the bundled model's heads were fitted "
        "on and the held-out set of benchmarks/bench_heads.py: 'minuet simulate 20000 "
        "runs/sim-heads-20k.h5 --seed 2' and 'minuet simulate 5000 "
        "runs/sim-test-20251205.h5 --seed 20251205' (runs/ is ignored by git).",
    )
    parser.add_argument("--train", default=str(RUNS / "sim-heads-20k.h5"),
                        help="simulated HDF5 training file")
    parser.add_argument("--test", default=str(RUNS / "sim-test-20251205.h5"),
                        help="simulated HDF5 held-out file (a different seed)")
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="wall-clock training budget per network baseline")
    parser.add_argument("--n-test", type=int, default=2000,
                        help="held-out galaxies to evaluate (the first ones)")
    parser.add_argument("--pca-images", type=int, default=5000,
                        help="training cutouts for the PCA fit")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 2, or 1 with --quick, which runs "
                        "beside other work rather than alone)")
    parser.add_argument("--weights-out", default=None,
                        help="folder for the trained weights (not committed); default "
                        "runs/baselines, or runs/baselines-quick with --quick")
    parser.add_argument("--quick", action="store_true",
                        help="tiny data and tiny models, about a minute: a smoke test")
    parser.add_argument("--only", nargs="+", choices=BASELINES, default=list(BASELINES),
                        help="baselines to train; the others' results are kept from the "
                        "existing results file")
    parser.add_argument("--note", default="",
                        help="what else was running on the machine, recorded with the numbers")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    return add_output_dir(parser, "--out").parse_args(argv)


def quick_data(args):
    """Small simulated files for --quick when the named files are absent."""
    from minuet.simulate import write_dataset

    folder = Path(args.weights_out) / "quick-data"
    paths = []
    for path, n, seed in ((args.train, 256, 1), (args.test, 64, 2)):
        if Path(path).exists():
            paths.append(Path(path))
            continue
        path = folder / Path(path).name
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            write_dataset(path, n, seed=seed)
        paths.append(path)
    return paths


def read_test(path, n):
    from minuet.simulate import read_dataset

    flux, invvar, footprint, truth = read_dataset(path, stop=n)
    return (np.asarray(flux, np.float32), np.asarray(invvar, np.float32),
            np.asarray(footprint, bool), truth)


def plain(value):
    """JSON-friendly numbers: Quantities become [value, unit]-free floats with a unit key."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, u.Quantity):
        return float(value.value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def evaluate_reconstruction(model, flux, invvar, footprint):
    start = time.perf_counter()
    latents = model.encode(flux)
    rec = model.reconstruct(latents).to_value(nanomaggy)
    seconds = time.perf_counter() - start
    table = compare_reconstructions(flux, rec, invvar=invvar, footprint=footprint)
    summary = plain(summarize_reconstructions(table))
    stretch = model.stretch
    weight = footprint[:, None] * (invvar > 0)
    error = (stretch.forward(rec) - stretch.forward(flux)) ** 2
    summary["stretched_mse_footprint"] = float((error * weight).sum() / weight.sum())
    summary["encode_decode_seconds_per_1000"] = 1000 * seconds / len(flux)
    return summary


def evaluate_cnn(cnn, flux, truth, *, seed):
    start = time.perf_counter()
    table = cnn.predict(flux)
    seconds = time.perf_counter() - start
    result = {"predict_seconds_per_1000": 1000 * seconds / len(flux)}
    true = np.column_stack([np.asarray(getattr(truth[p], "value", truth[p]), float)
                            for p in PROPERTIES])
    mean = np.column_stack([table[f"{p}_mean"].value for p in PROPERTIES])
    std = np.column_stack([table[f"{p}_std"].value for p in PROPERTIES])
    result["redshift"] = redshift_metrics(mean[:, 0], true[:, 0])
    for j, name in enumerate(PROPERTIES[1:], start=1):
        result[name] = plain(log_quantity_metrics(mean[:, j], true[:, j]))
    rng = np.random.default_rng(seed)
    samples = mean[:, None, :] + std[:, None, :] * rng.standard_normal((len(mean), 1000, 3))
    cov = coverage(samples, true, names=PROPERTIES)
    for row in cov:
        result[row["property"]] |= {"coverage_68": float(row["coverage_68"]),
                                    "coverage_95": float(row["coverage_95"])}
    result["tarp_atc"] = tarp(samples, true, seed=seed).meta["atc"]
    for name in LABELS:
        labels = np.asarray(truth[name], dtype=bool)
        try:
            result[name] = binary_metrics(labels, table[f"p_{name}"])
        except ValueError as exc:  # one class only in a tiny test set
            result[name] = {"roc_auc": None, "pr_auc": None, "note": str(exc)}
    return result


def rst_table(rows, names):
    table = Table()
    for name in names:
        values = [row.get(name) for row in rows]
        if all(v is None or isinstance(v, int | float) for v in values):
            table[name] = MaskedColumn([np.nan if v is None else v for v in values],
                                       mask=[v is None for v in values], format=".4g")
        else:
            table[name] = [str(v) for v in values]
    buffer = io.StringIO()
    table.write(buffer, format="ascii.rst")
    return buffer.getvalue()


def write_rst(path, result, command):
    rec_names = ["baseline", "median_chi2_red", "median_abs_dmag_r", "median_abs_dcolor_gr",
                 "median_abs_frac_r_half_err", "median_abs_d_ellipticity",
                 "stretched_mse_footprint"]
    rec_rows = [{"baseline": name, **result["reconstruction"][name]}
                for name in result["reconstruction"]]
    cnn = result["supervised_cnn"]
    prop_rows = [{"property": p, **{k: v for k, v in cnn[p].items() if k != "n"}}
                 for p in PROPERTIES]
    prop_names = ["property", "bias", "sigma_nmad", "outlier_fraction", "scatter", "nmad",
                  "coverage_68", "coverage_95"]
    label_rows = [{"label": n, **cnn[n]} for n in LABELS]
    lines = [
        ".. generated by benchmarks/bench_baselines.py; do not edit",
        "",
        f"Command: ``{command}``",
        "",
        f"Latest run: minuet {result['minuet_version']}, {result['date']}, {result['machine']}.",
        f"Training: {result['n_train']} simulated galaxies (``{result['train']}``), each network "
        f"for the budget and on the date in the training table; evaluation: {result['n_test']} "
        f"held-out galaxies (``{result['test']}``).",
        "",
        "Reconstructions from a 5-number code (PCA and deterministic autoencoder)",
        "",
        rst_table(rec_rows, rec_names),
        "Physical properties from the pixels (supervised CNN; bias and sigma_NMAD of "
        "redshift are in dz/(1+z), those of mass and SFR in dex)",
        "",
        rst_table(prop_rows, prop_names),
        "Morphology labels from the pixels (supervised CNN)",
        "",
        rst_table(label_rows, ["label", "roc_auc", "pr_auc", "prevalence", "n"]),
        "Training",
        "",
        rst_table([{"baseline": k, **v} for k, v in result["training"].items()],
                  ["baseline", "budget_minutes", "date", "steps", "seconds", "stopped",
                   "best_val_loss"]),
    ]
    path.write_text("\n".join(lines))


def main(argv=None):
    args = parse_args(argv)
    if args.weights_out is None:
        args.weights_out = RUNS / ("baselines-quick" if args.quick else "baselines")
    if args.threads is None:
        args.threads = 1 if args.quick else 2
    torch.set_num_threads(args.threads)
    command = command_line("bench_baselines.py", argv)
    if args.quick:
        train_path, test_path = quick_data(args)
        minutes, n_test, pca_images = min(args.minutes, 0.2), min(args.n_test, 64), 256
        encoder = EncoderConfig(patch=8, width=32, depth=1, heads=2)
        ae_config = DeterministicAutoencoderConfig(encoder, decoder_widths=(32, 16, 16, 8))
        cnn_config = SupervisedCNNConfig(widths=(16, 32, 32))
        validate_every = 10
    else:
        train_path, test_path = Path(args.train), Path(args.test)
        for path in (train_path, test_path):
            if not path.exists():
                msg = (f"{path} does not exist; write it with 'minuet simulate N {path} --seed S' "
                       "or pass --train/--test (or --quick for a smoke test).")
                raise SystemExit(msg)
        minutes, n_test, pca_images = args.minutes, args.n_test, args.pca_images
        ae_config, cnn_config = DeterministicAutoencoderConfig(), SupervisedCNNConfig()
        validate_every = 200
    weights = Path(args.weights_out)
    weights.mkdir(parents=True, exist_ok=True)
    flux, invvar, footprint, truth = read_test(test_path, n_test)
    fit = {"steps": 10**7, "max_minutes": minutes, "batch_size": args.batch_size,
           "validate_every": validate_every, "progress": args.progress}
    import h5py

    with h5py.File(train_path, "r") as f:
        n_train = int(f["images"].shape[0])
    run = {
        "minuet_version": __version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"torch {torch.__version__}, {args.threads} threads",
        "note": args.note, "quick": args.quick, "minutes": minutes, "command": command,
        "train": Path(train_path).name, "n_train": n_train,
        "test": Path(test_path).name, "n_test": len(flux),
        "simulator": simulator_fingerprint(),
    }
    out = output_folder(args)
    stem = "baselines_quick" if args.quick else "baselines_summary"
    result = _earlier_results(out / f"{stem}.json", run, [BASELINES[b] for b in args.only])

    def trained(name, record):
        result["training"][name] = {**record, "budget_minutes": minutes, "date": run["date"]}
        result["runs"][name] = run

    if "pca" in args.only:
        start = time.perf_counter()
        pca = PCABaseline(seed=args.seed).fit(train_path, max_images=pca_images)
        trained("pca", {"steps": None, "seconds": time.perf_counter() - start,
                        "stopped": f"fitted on {pca_images} images", "best_val_loss": None})
        pca.save(weights / "pca")
        result["reconstruction"]["pca"] = evaluate_reconstruction(pca, flux, invvar, footprint)
        result["reconstruction"]["pca"]["explained_variance"] = float(
            pca.explained_variance_ratio_.sum())
        print("PCA:", json.dumps(result["reconstruction"]["pca"]), flush=True)

    if "autoencoder" in args.only:
        ae = DeterministicAutoencoder(ae_config, seed=args.seed).fit(train_path, **fit)
        ae.save(weights / "deterministic_autoencoder")
        trained("deterministic_autoencoder", _training(ae.history))
        result["reconstruction"]["deterministic_autoencoder"] = evaluate_reconstruction(
            ae, flux, invvar, footprint)
        print("AE:", json.dumps(result["reconstruction"]["deterministic_autoencoder"]),
              flush=True)

    if "cnn" in args.only:
        cnn = SupervisedCNN(cnn_config, seed=args.seed).fit(train_path, learning_rate=1e-3,
                                                            **fit)
        cnn.save(weights / "supervised_cnn")
        trained("supervised_cnn", _training(cnn.history))
        result["supervised_cnn"] = evaluate_cnn(cnn, flux, truth, seed=args.seed)
        print("CNN:", json.dumps(result["supervised_cnn"]), flush=True)

    (out / f"{stem}.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    write_rst(out / f"{stem}.rst", result, command)
    print(f"wrote {out / stem}.json and .rst; weights in {weights}")


def _earlier_results(path, run, names):
    """The results record to add this run's baselines (``names``) to.

    The baselines not trained now keep their results from ``path`` when they
    were measured on the same held-out set; otherwise they cannot be
    compared and the run stops, saying so.
    """
    kept = [b for b in BASELINES.values() if b not in names]
    result = {**run, "reconstruction": {}, "training": {}, "runs": {}}
    if not kept:
        return result
    if not path.exists():
        msg = (f"--only trains {', '.join(names)}, but there is no {path.name} in {path.parent} "
               "to keep the other baselines' results from; run all the baselines once first.")
        raise SystemExit(msg)
    earlier = json.loads(path.read_text())
    same_test = (Path(earlier.get("test", "")).name, earlier.get("n_test")) == (
        run["test"], run["n_test"])
    if not same_test:
        msg = (f"{path.name} was measured on {earlier.get('n_test')} galaxies of "
               f"{earlier.get('test')}, this run on {run['n_test']} of {run['test']}: the "
               "baselines would not be comparable. Pass the same --test and --n-test, or run "
               "all the baselines.")
        raise SystemExit(msg)
    result["runs"] = {name: earlier.get("runs", {}).get(name, _run_of(earlier))
                      for name in kept}
    for name in kept:
        if name in earlier["training"]:
            result["training"][name] = {"budget_minutes": earlier.get("minutes"),
                                        "date": earlier.get("date"),
                                        **earlier["training"][name]}
        if name in earlier["reconstruction"]:
            result["reconstruction"][name] = earlier["reconstruction"][name]
        if name in earlier:
            result[name] = earlier[name]
    return result


def _run_of(record):
    """The provenance entries of a results record written before ``runs`` existed."""
    return {k: record[k] for k in ("minuet_version", "date", "machine", "note", "quick",
                                   "minutes", "train", "n_train", "test", "n_test", "simulator")
            if k in record}


def _training(history):
    return {k: history[k] for k in ("steps", "seconds", "stopped", "best_val_loss")}


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        main()
