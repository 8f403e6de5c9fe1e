"""Science from five numbers, measured against the simulator's truth.

On a held-out simulated set (a seed used neither for training the
autoencoder nor for fitting the heads) this measures, for a model with
science heads (default: the bundled model):

* posteriors: coverage of the 68% and 95% central intervals per property,
  PIT histograms and TARP; sigma_NMAD, bias and outlier fraction of the
  redshift medians; scatter and bias (dex) of log M* and log SFR;
* morphology: ROC-AUC and PR-AUC per label;
* neighbours: the fraction of a galaxy's 10 nearest reference-catalogue
  neighbours that stay among the 10 nearest when the galaxy is turned by 90
  degrees;
* beside each, the supervised CNN trained directly on the pixels when its
  results exist (``benchmarks/bench_baselines.py``).

Writes ``docs/validation/generated/heads.{json,rst}`` and ``heads_calibration.png``::

    python benchmarks/bench_heads.py --n 5000
"""

import argparse
import json

import numpy as np
from _report import (
    add_output_dir,
    output_folder,
    provenance,
    rst_table,
    simulator_fingerprint,
)
from bench_reconstruction import HELD_OUT_SEED

PROPERTIES = ("redshift", "log_mstar", "log_sfr")
LABELS = ("merger", "spiral_arms", "edge_on", "round")


def rotation_retention(model, images, invvar, *, k=10):
    """Mean fraction of the k nearest neighbours kept when the galaxy turns by 90 degrees."""
    before = model.neighbours(model.encode(images, invvar=invvar), k=k)
    turned = np.rot90(images, 1, axes=(2, 3)).copy()
    turned_iv = np.rot90(invvar, 1, axes=(2, 3)).copy()
    after = model.neighbours(model.encode(turned, invvar=turned_iv), k=k)
    a = np.asarray(before["catalog_index"]).reshape(-1, k)
    b = np.asarray(after["catalog_index"]).reshape(-1, k)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b, strict=True)]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--n", type=int, default=5000, help="held-out galaxies")
    parser.add_argument("--n-rotation", type=int, default=1000,
                        help="galaxies for the rotation test")
    parser.add_argument("--samples", type=int, default=1000, help="posterior samples")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minuet import Minuet
    from minuet.evaluation import (
        binary_metrics,
        coverage,
        log_quantity_metrics,
        pit,
        plot_pit,
        plot_tarp,
        redshift_metrics,
        tarp,
    )
    from minuet.simulate import simulate

    model = Minuet.load(args.model) if args.model else Minuet.pretrained()
    images, invvar, _, truth = simulate(args.n, seed=HELD_OUT_SEED + 1)
    latents = model.encode(images, invvar=invvar, progress=True)
    good = np.asarray(latents["valid"])
    results = {**provenance(), "model": model.name, "weights_sha256": model.sha256,
               "n_galaxies": int(good.sum()), "held_out_seed": HELD_OUT_SEED + 1}

    props = [p for p in PROPERTIES if p in model.posterior_estimator.config.properties]
    draws = model.posterior_estimator.sample(latents[good], n_samples=args.samples, seed=0)
    true = np.column_stack([np.asarray(getattr(truth[p], "value", truth[p]))[good]
                            for p in props])
    cover = coverage(draws, true, names=props)
    results["coverage"] = {row["property"]: {"68": float(row["coverage_68"]),
                                             "95": float(row["coverage_95"])} for row in cover}
    medians = np.median(draws, axis=1)
    results["point"] = {}
    for j, name in enumerate(props):
        metric = redshift_metrics if name == "redshift" else log_quantity_metrics
        results["point"][name] = {k: float(getattr(v, "value", v))
                                  for k, v in metric(medians[:, j], true[:, j]).items()}
    tarp_result = tarp(draws, true, seed=0)
    results["tarp_atc"] = float(tarp_result.meta["atc"])

    probs = model.classify(latents[good])
    results["classification"] = {
        label: {k: float(v) for k, v in
                binary_metrics(np.asarray(truth[label])[good], probs[f"p_{label}"]).items()}
        for label in LABELS if f"p_{label}" in probs.colnames
    }
    n_rot = min(args.n_rotation, args.n)
    results["rotation_retention_k10"] = rotation_retention(model, images[:n_rot],
                                                           invvar[:n_rot])

    baseline_path = out / "baselines_summary.json"
    baselines = json.loads(baseline_path.read_text()) if baseline_path.exists() else {}
    cnn = baselines.get("supervised_cnn")
    cnn_run = baselines.get("runs", {}).get("supervised_cnn", baselines)
    stale_cnn = None
    if cnn and cnn_run.get("simulator") != simulator_fingerprint():
        stale_cnn, cnn = cnn_run.get("date", "an earlier run"), None
    results["cnn"] = cnn
    results["cnn_test"] = cnn_run.get("test")
    results["cnn_minutes"] = cnn_run.get("minutes")

    # two by two, so that at a page's width the labels are as large as the text
    ncols = 2
    nrows = -(-(len(props) + 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.5, 3.0 * nrows), layout="constrained",
                             squeeze=False)
    axes = axes.ravel()
    pits = pit(draws, true)
    for j, name in enumerate(props):
        plot_pit(pits[:, j], ax=axes[j], label=name)
        axes[j].set_title(f"PIT: {name}")
    plot_tarp(tarp_result, ax=axes[len(props)], label="joint")
    axes[len(props)].set_title("TARP, all three jointly")
    for ax in axes[len(props) + 1:]:
        ax.remove()
    fig.savefig(out / "heads_calibration.png", dpi=110)

    rows = []
    for name in props:
        c, p = results["coverage"][name], results["point"][name]
        yard = (cnn or {}).get(name, {})
        if name == "redshift":
            sharp = (f"sigma_NMAD {p['sigma_nmad']:.4f}, bias {p['bias']:+.4f}, "
                     f"outliers {p['outlier_fraction']:.3f}")
            other = (f"sigma_NMAD {yard['sigma_nmad']:.4f}, bias {yard['bias']:+.4f}, "
                     f"outliers {yard['outlier_fraction']:.3f}" if yard else "n/a")
        else:
            sharp = f"scatter {p['scatter']:.3f} dex, bias {p['bias']:+.3f} dex"
            other = (f"scatter {yard['scatter']:.3f} dex, bias {yard['bias']:+.3f} dex"
                     if yard else "n/a")
        cnn_cover = (f"{100 * yard['coverage_68']:.1f}% / {100 * yard['coverage_95']:.1f}%"
                     if yard else "n/a")
        rows.append((name, f"{100 * c['68']:.1f}% / {100 * c['95']:.1f}%", sharp,
                     cnn_cover, other))
    lines = rst_table(("property", "coverage 68% / 95%", "medians vs truth",
                       "CNN coverage 68% / 95%", "CNN on pixels"), rows)
    lines += [""]
    rows = []
    for label, m in results["classification"].items():
        cnn_auc = (cnn or {}).get(label, {}).get("roc_auc")
        rows.append((label, f"{m['prevalence']:.2f}", f"{m['roc_auc']:.3f}", f"{m['pr_auc']:.3f}",
                     "n/a" if cnn_auc is None else f"{cnn_auc:.3f}",
                     "n/a" if cnn_auc is None else f"{m['roc_auc'] / cnn_auc:.2f}"))
    lines += rst_table(("label", "prevalence", "ROC-AUC", "PR-AUC", "CNN ROC-AUC",
                        "ratio"), rows)
    if cnn:
        ratio = results["point"]["redshift"]["sigma_nmad"] / cnn["redshift"]["sigma_nmad"]
        results["sigma_nmad_ratio_to_cnn"] = ratio
        lines += ["", f"sigma_NMAD(z) from the five numbers is {ratio:.2f} times the CNN's "
                  f"(goal: at most 1.3). The CNN (``python benchmarks/bench_baselines.py``) "
                  f"was trained for {cnn_run.get('minutes')} minutes on the pixels of the same "
                  f"labelled galaxies as the heads and tested on the first "
                  f"{cnn_run.get('n_test')} of these held-out galaxies; its intervals are "
                  f"Gaussian (mean and variance outputs)."]
    if stale_cnn:
        lines += ["", f"The supervised CNN's results (``python benchmarks/bench_baselines.py``, "
                  f"{stale_cnn[:10]}) were measured on galaxies of another version of the "
                  f"simulator, so they are not compared here; rerun it to fill the CNN columns."]
    lines += ["", f"Neighbours kept among the 10 nearest after a 90 degree turn: "
              f"{100 * results['rotation_retention_k10']:.1f}% ({n_rot} galaxies). "
              f"TARP area between curve and diagonal: {results['tarp_atc']:+.3f}.", "",
              f"{results['n_galaxies']} held-out simulated galaxies (seed {HELD_OUT_SEED + 1}); "
              f"model ``{model.name}``; {results['machine']}, {results['date']}; command: "
              f"``python benchmarks/bench_heads.py --n {args.n}``."]
    (out / "heads.json").write_text(json.dumps(results, indent=2))
    (out / "heads.rst").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
