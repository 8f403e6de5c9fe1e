"""
Trust off the training distribution: typicality, coverage under shift, recalibration.

For a model with a typicality head and a posterior (made by
``benchmarks/refit_heads.py`` on the simulator's training mixture) this
measures, on galaxies that neither the autoencoder nor the heads saw:

* in distribution (fresh galaxies of the training mixture): coverage of the
  68% and 95% intervals per property, of the flow alone and as shipped
  (with the typicality-grouped conformal adjustment), TARP, and the fraction
  of galaxies flagged atypical;
* on the held-out variant (``minuet.simulate.HELD_OUT_VARIANTS``, a
  combination of modelling choices the training mixture never uses): the
  same coverages before recalibration, and after ``Minuet.recalibrate`` on
  500 of its galaxies, on 2000 fresh ones (one draw, and the mean and
  spread over 20 draws of 500 from a pool of 1000);
* how often flagged and unflagged held-out galaxies miss their 95% redshift
  interval, and the ROC-AUC with which typicality separates held-out from
  in-distribution galaxies;
* the typicality of the real Legacy Surveys stamps in ``shared/data/real``.

Writes ``docs/validation/generated/typicality.{json,rst}``::

    python benchmarks/refit_heads.py --data runs/typicality --out minuet/data/minuet-sim
    python benchmarks/bench_typicality.py --data runs/typicality

``--quick`` runs the same code on a few hundred galaxies and writes
``typicality_quick.*``; its numbers measure nothing.
"""

import argparse
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np
from _report import RUNS, add_output_dir, command_line, output_folder, provenance, rst_table
from refit_heads import encode_with_statistics, simulated

PROPERTIES = ("redshift", "log_mstar", "log_sfr")
REAL = Path(os.environ.get("MINUET_REAL_DIR",
                           Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))


def _values(column):
    return np.asarray(getattr(column, "value", column), dtype=float)


def coverages(summary, truth, props):
    """Coverage of the 68% and 95% intervals per property."""
    out = {}
    for p in props:
        y = _values(truth[p])
        ok = np.isfinite(y) & np.isfinite(_values(summary[f"{p}_median"]))
        out[p] = {str(level): float(np.mean(
            (y[ok] >= _values(summary[f"{p}_lo{level}"])[ok])
            & (y[ok] <= _values(summary[f"{p}_hi{level}"])[ok]))) for level in (68, 95)}
    return out


def misses(summary, truth, prop="redshift"):
    y = _values(truth[prop])
    return (y < _values(summary[f"{prop}_lo95"])) | (y > _values(summary[f"{prop}_hi95"]))


def real_stamp_files():
    """Yield ``(file name, images, invvar)`` for each file of real stamps that is present.

    ``invvar`` is None for a file without one; stamps of a file whose inverse
    variance is zero throughout get NaN (only some stamps have one).
    """
    for name in ("ls_dr9_grz_72x72_stamps.npz", "ls_nsa_grz_72x72_stamps.npz"):
        path = REAL / name
        if not path.exists():
            continue
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            invvar = data["invvar"] if "invvar" in data.files else None
        if invvar is not None and not np.any(invvar > 0):
            invvar = None
        if invvar is not None:
            invvar = np.where(np.any(invvar > 0, axis=(1, 2, 3))[:, None, None, None],
                              invvar, np.nan)
        yield name, images, invvar


def real_stamps(model):
    """Typicality of the real stamps, per file; empty when they are absent."""
    rows = []
    for name, images, invvar in real_stamp_files():
        table = model.encode(images, invvar=invvar, on_invalid="flag")
        rows.append({"file": name, "n": len(table),
                     "flagged": int(np.sum(table["atypical"])),
                     "typicality": [round(float(v), 4) for v in table["typicality"]],
                     "typicality_latent": [round(float(v), 4) for v in table["typicality_latent"]],
                     "typicality_image": [round(float(v), 4) for v in table["typicality_image"]]})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="model directory from refit_heads.py (default: the bundled model)")
    parser.add_argument("--data", default=str(RUNS / "typicality"),
                        help="folder of the cached simulated sets (made when missing)")
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--n-held-out", type=int, default=3000,
                        help="held-out galaxies: the first 1000 are the recalibration pool")
    parser.add_argument("--n-recalibrate", type=int, default=500)
    parser.add_argument("--draws", type=int, default=20, help="recalibration draws")
    parser.add_argument("--samples", type=int, default=1000, help="posterior samples")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rewrite", default=None, metavar="JSON",
                        help="only write the table again from this results file")
    args = add_output_dir(parser, "--out").parse_args(argv)
    if args.rewrite:
        rewrite(args.rewrite)
        return
    if args.quick:
        args.n_test, args.n_held_out, args.n_recalibrate, args.draws = 300, 400, 100, 3
        args.samples = 200

    from sklearn.metrics import roc_auc_score

    from minuet import Minuet
    from minuet.evaluation import tarp
    from minuet.simulate import HELD_OUT_VARIANTS, SimulationConfig
    from minuet.typicality import AtypicalWarning

    warnings.simplefilter("ignore", AtypicalWarning)
    model = Minuet.load(args.model) if args.model else Minuet.pretrained()
    if model.typicality_scorer is None or model.posterior_estimator is None:
        msg = (f"the model {model.name!r} has no typicality head or posterior; make one with "
               "benchmarks/refit_heads.py.")
        raise SystemExit(msg)
    props = [p for p in PROPERTIES if p in model.posterior_estimator.properties]
    variant = HELD_OUT_VARIANTS[0]
    images, invvar, truth = simulated(args.data, "test", args.n_test, SimulationConfig(),
                                      processes=args.processes)
    h_images, h_invvar, h_truth = simulated(args.data, "held_out", args.n_held_out,
                                            SimulationConfig.from_variant(variant),
                                            processes=args.processes)
    test, _ = encode_with_statistics(model, images, invvar)
    held, _ = encode_with_statistics(model, h_images, h_invvar)
    test, truth = test[test["valid"]], truth[np.asarray(test["valid"])]
    keep = np.asarray(held["valid"])
    held, h_truth = held[keep], h_truth[keep]
    n_pool = max(min(1000, len(held) // 3), args.n_recalibrate)
    pool, pool_truth = held[:n_pool], h_truth[:n_pool]
    fresh, fresh_truth = held[n_pool:], h_truth[n_pool:]

    def summaries(latents, seed):
        raw = model.posterior(latents, n_samples=args.samples, seed=seed, calibrated=False)
        shipped = model.posterior(latents, n_samples=args.samples, seed=seed)
        return raw, shipped

    res = {**provenance(), "model": model.name, "model_path": str(args.model),
           "weights_sha256": model.sha256, "held_out_variant": variant,
           "n_test": len(test), "n_pool": n_pool, "n_fresh": len(fresh),
           "n_recalibrate": args.n_recalibrate, "draws": args.draws,
           "command": command_line("bench_typicality.py", argv), "load_average":
           [round(v, 2) for v in os.getloadavg()]}

    raw, shipped = summaries(test, 1)
    res["in_distribution"] = {"raw": coverages(raw, truth, props),
                              "shipped": coverages(shipped, truth, props)}
    draws = model.posterior_estimator.sample(test, n_samples=args.samples, seed=2)
    y = np.column_stack([_values(truth[p]) for p in props])
    t = tarp(draws, y, seed=0)
    res["in_distribution"]["tarp_atc"] = float(t.meta["atc"])
    res["in_distribution"]["tarp_max_deviation"] = float(t.meta["max_deviation"])
    res["in_distribution"]["flagged"] = float(np.mean(test["atypical"]))

    raw_h, shipped_h = summaries(fresh, 3)
    res["held_out"] = {"raw": coverages(raw_h, fresh_truth, props),
                       "shipped": coverages(shipped_h, fresh_truth, props),
                       "flagged": float(np.mean(fresh["atypical"]))}
    rng = np.random.default_rng(0)
    after = []
    for i in range(args.draws):
        rows = np.arange(args.n_recalibrate) if i == 0 else rng.choice(
            n_pool, args.n_recalibrate, replace=False)
        recalibrated = model.recalibrate(pool[rows], pool_truth[rows], n_samples=args.samples,
                                         seed=10 + i)
        after.append(coverages(recalibrated.posterior(fresh, n_samples=args.samples, seed=3),
                               fresh_truth, props))
    res["held_out"]["recalibrated_first"] = after[0]
    res["held_out"]["recalibrated_mean"] = {
        p: {lv: float(np.mean([a[p][lv] for a in after])) for lv in ("68", "95")} for p in props}
    res["held_out"]["recalibrated_std"] = {
        p: {lv: float(np.std([a[p][lv] for a in after])) for lv in ("68", "95")} for p in props}

    flag = np.asarray(fresh["atypical"])
    for name, summary in (("raw", raw_h), ("shipped", shipped_h)):
        miss = misses(summary, fresh_truth)
        res["held_out"][f"miss95_flagged_{name}"] = float(miss[flag].mean()) if flag.any() else None
        res["held_out"][f"miss95_unflagged_{name}"] = (float(miss[~flag].mean())
                                                       if (~flag).any() else None)
    labels = np.r_[np.zeros(len(test)), np.ones(len(fresh))]
    res["auc"] = {name: float(roc_auc_score(labels, -np.r_[_values(test[name]),
                                                           _values(fresh[name])]))
                  for name in ("typicality", "typicality_latent", "typicality_image")}
    res["real"] = real_stamps(model)
    write(res, output_folder(args), quick=args.quick)


def rewrite(path):
    """Write the table again from a results file, without measuring anything."""
    path = Path(path)
    write(json.loads(path.read_text()), path.parent, quick=path.stem.endswith("_quick"))


def _pct(value):
    return f"{100 * value:.1f}%"


def write(res, out, *, quick):
    stem = "typicality_quick" if quick else "typicality"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    ind, held = res["in_distribution"], res["held_out"]
    props = list(ind["raw"])

    def pair(c):
        return f"{_pct(c['68'])} / {_pct(c['95'])}"

    body = []
    for p in props:
        mean, std = held["recalibrated_mean"][p], held["recalibrated_std"][p]
        body.append([p, pair(ind["raw"][p]), pair(ind["shipped"][p]), pair(held["raw"][p]),
                     pair(held["shipped"][p]), pair(held["recalibrated_first"][p]),
                     f"{_pct(mean['68'])} ± {100 * std['68']:.1f} / "
                     f"{_pct(mean['95'])} ± {100 * std['95']:.1f}"])
    header = ["property", "in distribution: flow", "in distribution: shipped",
              f"{res['held_out_variant']}: flow", f"{res['held_out_variant']}: shipped",
              f"recalibrated on {res['n_recalibrate']}",
              f"mean ± sd of {res['draws']} recalibrations"]
    lines = ["Coverage of the 68% / 95% intervals", "", *rst_table(header, body), ""]
    ratio, spread = None, ""
    n_flag = round(held["flagged"] * res["n_fresh"])
    if held["miss95_flagged_raw"] and held["miss95_unflagged_raw"]:
        p1, p2 = held["miss95_flagged_raw"], held["miss95_unflagged_raw"]
        ratio = p1 / p2
        # binomial errors of both miss rates, propagated to the log of their ratio
        log_se = np.sqrt((1 - p1) / (n_flag * p1) + (1 - p2) / ((res["n_fresh"] - n_flag) * p2))
        spread = (f", 68% range {ratio * np.exp(-log_se):.2f} to {ratio * np.exp(log_se):.2f} "
                  f"from the binomial errors of {n_flag} flagged and "
                  f"{res['n_fresh'] - n_flag} unflagged galaxies")
    lines += [
        f"TARP in distribution: area between curve and diagonal {ind['tarp_atc']:+.3f}, "
        f"largest deviation {ind['tarp_max_deviation']:.3f}.",
        "",
        f"Flagged atypical: {_pct(ind['flagged'])} of in-distribution galaxies, "
        f"{_pct(held['flagged'])} of the held-out variant's. Among the held-out variant's "
        "galaxies the flow's 95% redshift interval misses the truth for "
        + (f"{_pct(held['miss95_flagged_raw'])} of flagged and " if held["miss95_flagged_raw"]
           is not None else "(none flagged) and ")
        + f"{_pct(held['miss95_unflagged_raw'])} of unflagged galaxies"
        + (f" (ratio {ratio:.2f}{spread})" if ratio is not None else "") + "; with the shipped "
        "intervals "
        + (f"{_pct(held['miss95_flagged_shipped'])} and " if held["miss95_flagged_shipped"]
           is not None else "- and ")
        + f"{_pct(held['miss95_unflagged_shipped'])}.",
        "",
        "ROC-AUC separating the held-out variant from in-distribution galaxies: "
        + ", ".join(f"``{k}`` {v:.3f}" for k, v in res["auc"].items()) + ".",
        "",
    ]
    for row in res["real"]:
        typ = np.array(row["typicality"], dtype=float)
        lines += [f"Real stamps ``{row['file']}``: {row['flagged']} of {row['n']} flagged "
                  f"atypical; typicality per stamp "
                  + ", ".join(f"{v:.3g}" for v in typ) + ".", ""]
    command = re.sub(r"--data \S+", "--data DATA_DIR", res["command"])
    lines += [
        f"{res['n_test']} in-distribution and {res['n_fresh']} fresh held-out galaxies "
        f"(recalibration pool {res['n_pool']}); model ``{res['model']}``; {res['machine']}, "
        f"{res['date']}; command: ``{command}`` "
        "(DATA_DIR: the simulated sets it writes on first use).",
    ]
    (out / f"{stem}.rst").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
