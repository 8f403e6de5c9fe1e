"""Run every benchmark of the validation report, one stage after another.

::

    python benchmarks/run_all.py --quick            # pipeline check, a few minutes on 2 cores
    python benchmarks/run_all.py                    # the full report (hours; run it alone)
    python benchmarks/run_all.py --only latents performance
    python benchmarks/run_all.py --skip scale baselines
    python benchmarks/run_all.py --extra baselines "--train a.h5 --test b.h5"

Each stage runs its own script in a fresh Python process, so that one stage's
memory, threads and failures do not reach the next. The full mode runs every
script with its defaults and writes the tables and figures that the
validation page shows. ``--quick`` runs tiny sizes and writes the ``_quick``
variants of the same files beside them, so that the full results are never
overwritten: stages whose scripts have no quick output of their own run with
``--output-dir`` a scratch folder, and their files are copied back with
``_quick`` added to the name. ``--output-dir`` puts every stage's files and
the summary in another folder.

A stage whose inputs are missing (the simulated training and test files of the
baselines, or the disk space of the streaming test) is not started; the
summary says what is missing and the command that makes it. At the end a
summary of the stages' times and files is printed and kept in
``docs/validation/generated/run_all.{json,rst}`` (``run_all_quick.*``).
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import _report
from _report import GENERATED, PREVIOUS_STAGE_VARIABLE, ROOT, provenance, rst_table

BENCHMARKS = Path(__file__).resolve().parent


def _option(arguments, name, default):
    """Value of ``--name value`` or ``--name=value`` in an argument list."""
    value = default
    for i, arg in enumerate(arguments):
        if arg == name and i + 1 < len(arguments):
            value = arguments[i + 1]
        elif arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
    return value


def _check_baselines(arguments):
    from bench_baselines import parse_args

    args = parse_args(arguments)
    missing = [Path(p) for p in (args.train, args.test) if not Path(p).exists()]
    if not missing:
        return []
    sizes = {args.train: (20_000, 2), args.test: (5_000, 20_251_205)}
    make = "; ".join(f"minuet simulate {sizes[str(p)][0]} {p} --seed {sizes[str(p)][1]} "
                     "--processes 2" for p in missing)
    return [f"missing {', '.join(map(str, missing))}. Make them with: {make} "
            "(or point to your own files: --extra baselines \"--train A.h5 --test B.h5\")"]


def _check_morphology_size(arguments):
    train = Path(_option(arguments, "--train", MORPHOLOGY_TRAIN))
    if train.exists():
        return []
    return [f"missing {train}. Make it with: minuet simulate 100000 {train} --seed 4 "
            "--processes 2 (12.5 GB; or point to your own labelled file: "
            "--extra morphology_size \"--train A.h5\")"]


def _check_explore(arguments):
    from minuet.explorer._browser import missing

    problem = missing()
    return [problem] if problem else []


def _check_scale(arguments):
    n = int(_option(arguments, "--n", 1_000_000))
    folder = Path(_option(arguments, "--workdir", tempfile.gettempdir()))
    need = n * 3 * 72 * 72 * 2 * 1.1  # float16 cutouts, with room for the HDF5 chunks
    free = shutil.disk_usage(folder).free
    if free >= need:
        return []
    return [f"the streaming test writes {need / 1e9:.0f} GB to {folder}, which has "
            f"{free / 1e9:.0f} GB free. Give a roomier folder "
            "(--extra scale \"--workdir DIR\") or fewer cutouts (--extra scale \"--n 200000\")"]


#: The labelled file of the morphology-size stage: the seed-4 long-run shard.
MORPHOLOGY_TRAIN = "runs/long_run/train_seed4_100k.h5"


@dataclass(frozen=True)
class Stage:
    """One benchmark script and its arguments in the full and the quick mode."""

    name: str
    script: str
    what: str
    full: tuple = ()
    quick: tuple = ()
    #: The script has no quick output names of its own: redirect and rename its files.
    redirect: bool = False
    #: Function of the full-mode arguments that lists what a full run lacks.
    check: object = None
    extra: tuple = field(default=(), compare=False)

    def arguments(self, quick):
        return [*(self.quick if quick else self.full), *self.extra]

    def command(self, quick):
        return shlex.join(["python", f"benchmarks/{self.script}", *self.arguments(quick)])


STAGES = (
    Stage("simulate", "bench_simulate.py", "simulator timing, simulated against real stamps",
          quick=("--n", "200"), redirect=True),
    Stage("models", "bench_models.py", "speed of the default and reference networks",
          quick=("--quick",)),
    Stage("science", "bench_science.py", "speed of posterior sampling and neighbour search",
          quick=("--catalogue-size", "100000", "--galaxies", "1000"), redirect=True),
    Stage("baselines", "bench_baselines.py", "PCA, deterministic autoencoder, supervised CNN",
          quick=("--quick",), check=_check_baselines),
    Stage("reconstruction", "bench_reconstruction.py", "reconstruction quality of the model",
          full=("--n", "2000", "--n-many", "500"),
          quick=("--n", "32", "--n-many", "8", "--many-steps", "20", "--n-variant", "16",
                 "--output-name", "reconstruction_quick")),
    Stage("tradeoff", "bench_tradeoff.py", "blur against fidelity: PCA, autoencoder, diffusion",
          full=("--n", "1000"), quick=("--quick",)),
    Stage("heads", "bench_heads.py", "posteriors, classifiers and neighbours against truth",
          full=("--n", "5000"), quick=("--n", "200", "--n-rotation", "100", "--samples", "200"),
          redirect=True),
    Stage("morphology_size", "bench_morphology_size.py",
          "morphology ROC-AUC against the number of labelled galaxies",
          full=("--train", MORPHOLOGY_TRAIN), quick=("--quick",), check=_check_morphology_size),
    Stage("typicality", "bench_typicality.py",
          "typicality, coverage on a held-out simulator variant, recalibration",
          full=("--data", "runs/typicality"),
          quick=("--quick", "--data", "runs/typicality-quick")),
    Stage("shift", "bench_shift.py",
          "flags, coverage and the sample test under controlled shifts of the cutouts",
          full=("--data", "runs/typicality"),
          quick=("--quick", "--data", "runs/typicality-quick")),
    Stage("scale", "bench_scale.py", "streaming from disk and Dask workers",
          quick=("--quick",), check=_check_scale),
    Stage("latents", "bench_latents.py", "what each latent number tracks; latent traversals",
          quick=("--quick",)),
    Stage("performance", "bench_performance.py", "throughput against reference settings; FLOP/s",
          quick=("--quick",)),
    Stage("scaling", "bench_scaling.py", "time and memory against the number of galaxies",
          quick=("--quick",)),
    Stage("explore", "bench_explore.py", "the explorer in headless Chromium: render, selection",
          quick=("--quick",), check=_check_explore),
    Stage("learning_curves", "bench_learning_curves.py",
          "held-out quality against CPU time and images seen, per recipe",
          quick=("--quick",)),
    Stage("data_pipeline", "bench_data_pipeline.py",
          "training images per second from memory and from disk, with background readers",
          quick=("--quick",)),
    Stage("sampler_steps", "bench_sampler_steps.py",
          "reconstruction quality against the number of sampler steps",
          quick=("--quick",)),
    Stage("losses", "run_all.py", "the 'where minuet loses' summary from the results above",
          full=("--only", "losses"), quick=("--quick", "--only", "losses")),
)
NAMES = tuple(stage.name for stage in STAGES)


# --- redirected stages ----------------------------------------------------------------------

def _quick_name(path):
    return path.name if path.stem.endswith("_quick") else f"{path.stem}_quick{path.suffix}"


def _run_script(stage, quick, previous=None):
    """Run one stage in a fresh process; return the files it wrote to the results folder.

    ``previous`` names the stage that ran just before, for the footers' load averages.
    """
    arguments = stage.arguments(quick)
    if stage.name != "losses" and GENERATED.resolve() != _report.GENERATED.resolve():
        arguments = [*arguments, "--output-dir", str(GENERATED)]
    env = {**os.environ, PREVIOUS_STAGE_VARIABLE: previous or ""}
    script = str(BENCHMARKS / stage.script)
    if quick and stage.redirect:
        with tempfile.TemporaryDirectory() as tmp:
            code = subprocess.call([sys.executable, script, *arguments, "--output-dir", tmp],
                                   cwd=ROOT, env=env)
            written = []
            for path in sorted(Path(tmp).iterdir()):
                if path.is_file():
                    target = GENERATED / _quick_name(path)
                    shutil.copyfile(path, target)
                    written.append(target)
    else:
        before = _snapshot()
        code = subprocess.call([sys.executable, script, *arguments], cwd=ROOT, env=env)
        after = _snapshot()
        written = sorted(p for p, stamp in after.items() if before.get(p) != stamp)
    return code, written


def _snapshot():
    return {p: p.stat().st_mtime_ns for p in GENERATED.iterdir() if p.is_file()}


# --- the losses summary ----------------------------------------------------------------------

#: Reconstruction targets of a converged model (the model card's). The reduced
#: chi-squared target is relative: a factor over the noise floor of one draw (a
#: perfect draw carries its own noise, so it reaches about 2, not 1).
TARGETS = {"median_chi2_red": 1.3, "median_abs_dmag_r": 0.03, "median_abs_dcolor_gr": 0.03,
           "median_abs_frac_r_half_err": 0.05}


def _missed_targets(rows, judged=None):
    """The targets that the first (default) row of a reconstruction run misses.

    ``judged`` is the run's own verdict on its targets (the ``targets`` entry
    of records that have one, from ``bench_reconstruction.check_targets``);
    older records without it are judged on ``TARGETS``, whose reduced
    chi-squared target scales the noise floor of the run (its row whose
    sampler starts with ``noise``; 2 where there is none).
    """
    if judged is not None:
        return [f"{key.removeprefix('median_')} {t['value']:.3g} against at most {t['limit']:g}"
                for key, t in judged.items() if not t["met"]]
    first, last = rows[0], rows[-1]
    floor = last["median_chi2_red"] if last["sampler"].startswith("noise") else 2.0
    missed = []
    for key, target in TARGETS.items():
        limit, why = target, ""
        if key == "median_chi2_red":
            limit = target * floor
            why = f" ({target:g} times the {floor:.2f} of a perfect draw)"
        if first[key] > limit:
            missed.append(f"{key.removeprefix('median_')} {first[key]:.3g} against at most "
                          f"{limit:.3g}{why}")
    return missed


def _first(*names):
    """The first results file that exists, read, and its name; (None, None) if none does."""
    for name in names:
        path = GENERATED / name
        if path.exists():
            return json.loads(path.read_text()), name
    return None, None


def _cnn_point(heads):
    """Where a supervised CNN, trained on the heads' labelled galaxies, beats the heads."""
    cnn, mine = heads.get("cnn"), heads["point"]
    if not isinstance(cnn, dict):
        return None
    better = []
    for prop, key, unit in (("redshift", "sigma_nmad", ""), ("log_mstar", "scatter", " dex"),
                            ("log_sfr", "scatter", " dex")):
        if prop in mine and prop in cnn and cnn[prop][key] < mine[prop][key]:
            better.append(f"{prop} {key} {cnn[prop][key]:.3f}{unit} against "
                          f"{mine[prop][key]:.3f}{unit} ({mine[prop][key] / cnn[prop][key]:.2f}x)")
    if not better:
        return None
    return ("A supervised CNN that sees the pixels, trained on the same labelled galaxies, "
            "predicts better than the five numbers: " + "; ".join(better) + ".")


def _tradeoff_point(rows):
    """Where one diffusion draw is further from the truth than the blurred decoders."""
    draws = [row for row in rows if row["decoder"].startswith("minuet")]
    if not draws:
        return None
    single, others = draws[0], [row for row in rows if not row["decoder"].startswith("minuet")]
    closer = [f"{row['decoder']} {row['median_chi2_red']:.3g}" for row in others
              if row["median_chi2_red"] < single["median_chi2_red"]]
    if not closer:
        return None
    text = (f"One diffusion draw is sharp but not the closest image: its median reduced "
            f"chi-squared ({single['median_chi2_red']:.3g}, high-frequency power ratio "
            f"{single['high_frequency_power_ratio']:.2f}) is above that of the blurred "
            f"five-number decoders ({', '.join(closer)}).")
    for row in draws[1:]:
        text += (f" The {row['decoder'].removeprefix('minuet, ')} reaches "
                 f"{row['median_chi2_red']:.3g} with a power ratio of "
                 f"{row['high_frequency_power_ratio']:.2f}: averaging trades sharpness for "
                 "fidelity.")
    return text


def losses_lines(quick=False):
    """Bullet points of where minuet falls short, each from a results file.

    The quick mode reads only the quick results; the full mode reads the full
    ones, and the quick baselines when no full baseline run exists (said so).
    """
    q = "_quick" if quick else ""
    lines = []

    def point(text, *sources):
        lines.extend([f"- {text} ({', '.join(f'``{s}``' for s in sources)})", ""])

    rec, rec_name = _first(f"reconstruction{q}.json")
    if rec:
        last = rec["rows"][-1]
        missed = _missed_targets(rec["rows"], rec.get("targets"))
        if missed:
            point(f"Reconstructions with the default sampler miss {len(missed)} of the "
                  f"{len(rec.get('targets', TARGETS))} targets of a converged model on "
                  "held-out simulations: "
                  + "; ".join(missed) + f". The {last['sampler']} run reaches chi2_red "
                  + f"{last['median_chi2_red']:.3g}.", rec_name)
    base, base_name = _first(*([] if quick else ["baselines_summary.json"]),
                             "baselines_quick.json")
    if rec and base:
        pca = base["reconstruction"]["pca"]
        pca_ms = pca["encode_decode_seconds_per_1000"]
        ms = rec["rows"][0]["ms_per_galaxy"]
        caveat = (" (PCA from the quick baselines run, fitted on a few hundred galaxies)"
                  if base_name.endswith("_quick.json") else "")
        point(f"Speed and fidelity against PCA: five principal components encode and decode "
              f"a galaxy in {pca_ms:.2f} ms; minuet's encoder and {rec['rows'][0]['sampler']} "
              f"sampler take {ms:.0f} ms, {ms / pca_ms:,.0f} times longer. PCA's median "
              f"reduced chi-squared is {pca['median_chi2_red']:.3g}, minuet's "
              f"{rec['rows'][0]['median_chi2_red']:.3g}{caveat}.", rec_name, base_name)
    heads, name = _first(f"heads{q}.json")
    if heads:
        worst = min(heads["classification"].items(), key=lambda kv: kv[1]["roc_auc"])
        point_ = heads["point"]
        text = ["Science from five numbers is coarse:"]
        if "redshift" in point_:
            text.append(f"redshift sigma_NMAD {point_['redshift']['sigma_nmad']:.3f} with "
                        f"{100 * point_['redshift']['outlier_fraction']:.0f} per cent "
                        "outliers,")
        text += [f"{p} scatter {point_[p]['scatter']:.2f} dex," for p in ("log_mstar", "log_sfr")
                 if p in point_]
        text.append(f"and the weakest label, {worst[0]}, reaches ROC-AUC "
                    f"{worst[1]['roc_auc']:.2f}.")
        point(" ".join(text), name)
        cnn_point = _cnn_point(heads)
        if cnn_point:
            point(cnn_point, name)
    trade, name = _first(f"tradeoff{q}.json")
    if trade:
        point_ = _tradeoff_point(trade["rows"])
        if point_:
            point(point_, name)
    perf, name = _first(f"performance{q}.json")
    if perf:
        slower = [f"{r['quantity']} ({r['speedup']:.2f}x)" for r in perf["rows"]
                  if r["speedup"] < 1]
        if slower:
            point("Slower than the alternative in the same run: " + "; ".join(slower) + ".",
                  name)
        flops = perf["flops"]
        point(f"The encoder reaches {100 * flops['fraction_of_fp32_peak']:.0f} per cent of this "
              f"machine's measured fp32 matmul peak ({flops['achieved_gflops']:.1f} of "
              f"{flops['fp32_peak_gflops']:.1f} GFLOP/s).", name)
    lat, name = _first(f"latents{q}.json")
    if lat:
        groups = lat.get("groups", {})
        weak = [t for t, (_, rho) in lat["best"].items()
                if abs(rho) < 0.3 and groups.get(t) != "nuisance"]
        if weak:
            point("No single latent number tracks " + ", ".join(weak)
                  + " (every Spearman rho between -0.3 and +0.3).", name)
        nuisance = [f"{t} ({latent}, rho {rho:+.2f})" for t, (latent, rho) in lat["best"].items()
                    if abs(rho) >= 0.2 and groups.get(t) == "nuisance"]
        if nuisance:
            point("Some latent numbers respond to observing conditions or orientation, which "
                  "a description of the galaxy should ignore: " + ", ".join(nuisance) + ".",
                  name)
    lines.extend([
        "- Training on simulations only. The bundled model and its heads have never seen a "
        "real survey image; the real DR9 stamps in the reconstruction table show the "
        "domain gap, and no number on this page says how the latents behave on real "
        "galaxies.",
        "",
    ])
    return lines


def write_losses(quick=False):
    suffix = "_quick" if quick else ""
    path = GENERATED / f"losses{suffix}.rst"
    lines = [".. generated by benchmarks/run_all.py --only losses; do not edit", "",
             *losses_lines(quick),
             f"Built {provenance()['date']} from the results files named in each point; "
             f"command: ``python benchmarks/run_all.py{' --quick' if quick else ''} "
             "--only losses``.", ""]
    path.write_text("\n".join(lines))
    print("\n".join(lines))
    return [path]


# --- the driver ------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="stages, in order: " + ", ".join(NAMES),
    )
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes (continuous integration): writes the _quick files")
    parser.add_argument("--only", nargs="+", choices=NAMES, metavar="STAGE",
                        help="run only these stages (in the usual order)")
    parser.add_argument("--skip", nargs="+", choices=NAMES, metavar="STAGE", default=[],
                        help="leave these stages out")
    parser.add_argument("--extra", nargs=2, action="append", default=[],
                        metavar=("STAGE", "ARGS"),
                        help="more arguments for one stage's script, as one quoted string")
    parser.add_argument("--list", action="store_true", help="list the stages and exit")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="folder of every stage's results and of the summary (default: "
                             "docs/validation/generated, which the documentation includes)")
    args = parser.parse_args(argv)
    for name, _ in args.extra:
        if name not in NAMES:
            parser.error(f"--extra: unknown stage {name!r}; the stages are {', '.join(NAMES)}")
    return args


def selected(args):
    """The stages to run, in order, with their extra arguments."""
    extra = {}
    for name, text in args.extra:
        extra[name] = (*extra.get(name, ()), *shlex.split(text))
    wanted = set(args.only or NAMES) - set(args.skip)
    return [replace(s, extra=extra.get(s.name, ())) for s in STAGES if s.name in wanted]


def run_stage(stage, quick, previous=None):
    """Run one stage (after the stage named ``previous``); return (status, seconds, files, note)."""
    if not quick and stage.check:
        problems = stage.check(stage.arguments(False))
        if problems:
            return "not run", 0.0, [], " ".join(problems)
    start = time.perf_counter()
    if stage.name == "losses":
        files, code = write_losses(quick), 0
    else:
        code, files = _run_script(stage, quick, previous)
    seconds = time.perf_counter() - start
    if code:
        return "failed", seconds, files, f"exit status {code}; the output above says why"
    return "ok", seconds, files, ""


def _shown(path):
    """A path as the summary shows it: relative to the repository where it lies inside it."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def write_summary(records, quick):
    """Merge the records of the stages just run into the stored summary and write it.

    A partial run (``--only``, ``--skip``) replaces the records of the stages it
    ran and keeps every other stage's record, with its own date, as it was.
    """
    suffix = "_quick" if quick else ""
    path = GENERATED / f"run_all{suffix}.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    stored.setdefault("stages", {})
    stored["stages"].update(records)
    stored["stages"] = {n: stored["stages"][n] for n in NAMES if n in stored["stages"]}
    path.write_text(json.dumps(stored, indent=2) + "\n")
    body = [(name, r["status"], f"{r['seconds']:.0f}", r["date"], r["command"])
            for name, r in stored["stages"].items()]
    total = sum(r["seconds"] for r in stored["stages"].values())
    mode = "quick mode, a pipeline check" if quick else "full mode"
    kept = stored["stages"].values()
    machines = sorted({r.get("machine", "an unrecorded machine") for r in kept})
    dates = sorted({r["date"] for r in kept})
    when = (f"on {dates[0]}" if len(dates) == 1 else
            f"between {dates[0]} and {dates[-1]}, a stage at a time where the dates differ")
    lines = [".. generated by benchmarks/run_all.py; do not edit", "",
             *rst_table(("stage", "status", "seconds", "date", "command"), body), "",
             f"Stage times of ``python benchmarks/run_all.py{' --quick' if quick else ''}`` "
             f"({mode}) on {' and '.join(machines)}, {when}: {total:.0f} s in all.", ""]
    (GENERATED / f"run_all{suffix}.rst").write_text("\n".join(lines))
    return path


def main(argv=None):
    global GENERATED  # the results folder of every function here
    args = parse_args(argv)
    if args.output_dir is not None:
        GENERATED = args.output_dir
    stages = selected(args)
    if args.list:
        for s in stages:
            print(f"{s.name:15s} {s.what}\n{'':15s} {s.command(args.quick)}")
        return 0
    GENERATED.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"{len(stages)} stages, {'quick' if args.quick else 'full'} mode; "
          f"load average {load:.2f} on {os.cpu_count()} cores at the start", flush=True)
    records, rows, previous = {}, [], None
    for stage in stages:
        print(f"\n=== {stage.name}: {stage.command(args.quick)}", flush=True)
        status, seconds, files, note = run_stage(stage, args.quick, previous)
        previous = stage.name
        records[stage.name] = {"status": status, "seconds": round(seconds, 1),
                               "command": stage.command(args.quick),
                               "files": [_shown(p) for p in files],
                               "note": note, **provenance()}
        rows.append((stage.name, status, f"{seconds:.0f}",
                     ", ".join(p.name for p in files) or "-"))
        if note:
            print(f"=== {stage.name}: {status}: {note}", flush=True)
    summary = write_summary(records, args.quick)
    print("\n" + "\n".join(rst_table(("stage", "status", "seconds", "files written"), rows)))
    print(f"total {sum(r['seconds'] for r in records.values()):.0f} s; results in "
          f"{_shown(GENERATED)}/; summary in {_shown(summary)}")
    for name, r in records.items():
        if r["status"] != "ok":
            print(f"{name}: {r['status']}. {r['note']}")
    return int(any(r["status"] != "ok" for r in records.values()))


if __name__ == "__main__":
    sys.exit(main())
