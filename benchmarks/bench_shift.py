"""
Answers and warnings under controlled shifts of the input cutouts.

Every real survey differs from the simulator in ways nobody listed in
advance. This benchmark takes held-out galaxies of the training mixture,
whose truth is known, changes their cutouts in the ways real data most often
differ (photometric zero points, depth, sky subtraction, seeing, angular
scale) by stated amounts, and measures for each change what a user would
see and what the truth says:

* the fraction of galaxies flagged ``atypical`` (5% at most when nothing is
  changed);
* the coverage of the shipped 68% and 95% intervals and the median bias of
  the posterior medians, per property;
* how often flagged and unflagged galaxies miss their 95% redshift interval
  (a useful flag picks out the galaxies whose answers are wrong);
* the sample-level test (`minuet.typicality.sample_typicality`) on the whole
  set, and how often it calls a random 200 of the galaxies unlike the
  training set at its default level, 0.001.

The held-out simulator variant of ``bench_typicality.py`` is reported beside
them. The test galaxies are cached in ``--data`` (``test.h5``,
``held_out.h5``, shared with ``bench_typicality.py``)::

    python benchmarks/bench_shift.py --data runs/typicality

writes ``docs/validation/generated/shift.{json,rst}``; ``--quick`` runs the same
code on 200 galaxies and writes ``shift_quick.*``, whose numbers measure
nothing.
"""

import argparse
import json
import os
import warnings
from pathlib import Path

import numpy as np
from _report import RUNS, add_output_dir, command_line, output_folder, provenance, rst_table
from bench_typicality import real_stamp_files
from refit_heads import simulated

PROPERTIES = ("redshift", "log_mstar", "log_sfr")
#: Pixel scale of the cutouts, arcsec.
PIXSCALE = 0.262
#: Subsample size and number of draws for the sample test's detection rate.
SUBSAMPLE, SUBSAMPLE_DRAWS = 200, 20
BANDS = "grz"


def _noise_sigma(invvar):
    """Per-pixel noise from the inverse variance (0 where it is unknown)."""
    invvar = np.asarray(invvar, dtype=np.float64)
    return np.where(invvar > 0, 1.0 / np.sqrt(np.where(invvar > 0, invvar, 1.0)), 0.0)


def _restore_noise(transform, images, invvar, rng):
    """Apply ``transform`` to images and add white noise back to the original per-pixel level.

    Smoothing or resampling a noisy image lowers (and correlates) its noise;
    a real image of a galaxy seen that way would have the survey's usual
    noise on top. The variance ``transform`` leaves of unit white noise is
    measured on a noise field of the same shape, and independent noise makes
    up the rest, so that the per-pixel variance, which the inverse variance
    states, is unchanged.
    """
    out = transform(images)
    unit = transform(rng.standard_normal(images[:8].shape).astype(np.float32))
    kept = float(np.clip(np.var(unit[..., 8:-8, 8:-8]), 0.0, 1.0))
    extra = np.sqrt(1.0 - kept) * _noise_sigma(invvar)
    return (out + extra * rng.standard_normal(images.shape)).astype(np.float32), invvar


def _zoom(factor):
    from scipy.ndimage import zoom

    def transform(images):
        size = images.shape[-1]
        out = np.empty_like(images)
        for i, image in enumerate(images):
            big = zoom(image, (1, factor, factor), order=1)
            side = big.shape[-1]
            if side >= size:
                a = (side - size) // 2
                out[i] = big[:, a:a + size, a:a + size]
            else:
                a = (size - side) // 2
                out[i] = np.pad(big, ((0, 0), (a, size - side - a), (a, size - side - a)))
        return out

    return transform


def _blur(fwhm_arcsec):
    from scipy.ndimage import gaussian_filter

    sigma = fwhm_arcsec / (2 * np.sqrt(2 * np.log(2))) / PIXSCALE

    def transform(images):
        return gaussian_filter(images, (0, 0, sigma, sigma)).astype(np.float32)

    return transform


def shifts():
    """The changes, in order: name, what it stands for, and the function that makes it.

    Each function takes ``(images, invvar, rng)`` and returns new
    ``(images, invvar)``; the truth stays as it was.
    """
    def fainter(mag, bands):
        scale = np.ones(3, dtype=np.float32)
        for band in bands:
            scale[BANDS.index(band)] = 10 ** (-0.4 * mag)

        def apply(images, invvar, rng):
            return images * scale[:, None, None], invvar

        return apply

    def deeper_noise(factor):
        def apply(images, invvar, rng):
            extra = np.sqrt(factor**2 - 1) * _noise_sigma(invvar)
            noisy = images + extra * rng.standard_normal(images.shape)
            return noisy.astype(np.float32), invvar / factor**2

        return apply

    def sky(level):
        def apply(images, invvar, rng):
            return (images + level * _noise_sigma(invvar)).astype(np.float32), invvar

        return apply

    def restored(transform):
        def apply(images, invvar, rng):
            return _restore_noise(transform, images, invvar, rng)

        return apply

    return [
        ("none", "the held-out galaxies as simulated", None),
        ("all bands 0.1 mag fainter", "a grey zero-point error", fainter(0.1, "grz")),
        ("g 0.1 mag fainter", "a zero-point error in one band", fainter(0.1, "g")),
        ("z 0.1 mag fainter", "a zero-point error in one band", fainter(0.1, "z")),
        ("g 0.3 mag fainter", "colours off by a template mismatch", fainter(0.3, "g")),
        ("z 0.3 mag fainter", "colours off by a template mismatch", fainter(0.3, "z")),
        ("noise x1.5", "a shallower survey", deeper_noise(1.5)),
        ("noise x2", "a shallower survey", deeper_noise(2.0)),
        ("sky +1 sigma", "a sky subtraction left one sigma of background",
         sky(1.0)),
        ("seeing +0.8 arcsec", "a broader PSF (Gaussian, added in quadrature), noise restored",
         restored(_blur(0.8))),
        ("angular size x0.8", "galaxies smaller on the sky (another pixel scale), noise restored",
         restored(_zoom(0.8))),
        ("angular size x1.25", "galaxies larger on the sky, noise restored",
         restored(_zoom(1.25))),
    ]


def _values(column):
    return np.asarray(getattr(column, "value", column), dtype=float)


def measure(model, latents, truth, props, *, samples, seed, rng):
    """What a user sees and what the truth says, for one set of encoded cutouts."""
    from minuet.typicality import sample_typicality

    post = model.posterior(latents, n_samples=samples, seed=seed)
    row = {"n": len(latents), "flagged": float(np.mean(latents["atypical"]))}
    for p in props:
        y = _values(truth[p])
        inside = {lv: (y >= _values(post[f"{p}_lo{lv}"])) & (y <= _values(post[f"{p}_hi{lv}"]))
                  for lv in (68, 95)}
        row[p] = {"coverage68": float(np.mean(inside[68])),
                  "coverage95": float(np.mean(inside[95])),
                  "median_bias": float(np.median(_values(post[f"{p}_median"]) - y))}
    flag = np.asarray(latents["atypical"], dtype=bool)
    y = _values(truth["redshift"])
    miss = ~((y >= _values(post["redshift_lo95"])) & (y <= _values(post["redshift_hi95"])))
    row["miss95_flagged"] = float(miss[flag].mean()) if flag.any() else None
    row["miss95_unflagged"] = float(miss[~flag].mean()) if (~flag).any() else None
    n_cal = latents.meta["typicality_calibration_galaxies"]
    whole = model.sample_typicality(latents)
    row["sample"] = whole.as_dict()
    size = min(SUBSAMPLE, len(latents))
    detected = [sample_typicality(latents["typicality_latent"][rows],
                                  latents["typicality_image"][rows],
                                  n_calibration=n_cal).unlike_training
                for rows in (rng.choice(len(latents), size, replace=False)
                             for _ in range(SUBSAMPLE_DRAWS))]
    row["subsample"] = {"n": size, "draws": SUBSAMPLE_DRAWS,
                        "detected": float(np.mean(detected))}
    return row


def real_samples(model):
    """The sample test on each file of real stamps in ``shared/data/real`` (empty if absent)."""
    rows = []
    for name, images, invvar in real_stamp_files():
        latents = model.encode(images, invvar=invvar, on_invalid="flag", progress=False)
        rows.append({"file": name, **model.sample_typicality(latents).as_dict()})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1].strip())
    parser.add_argument("--model", default=None,
                        help="model directory (default: the bundled model)")
    parser.add_argument("--data", default=str(RUNS / "typicality"),
                        help="folder of the cached simulated sets (made when missing)")
    parser.add_argument("--n", type=int, default=2000, help="held-out galaxies per shift")
    parser.add_argument("--samples", type=int, default=1000, help="posterior samples")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--no-variant", action="store_true",
                        help="leave out the held-out simulator variant")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rewrite", default=None, metavar="JSON",
                        help="only write the table again from this results file")
    args = add_output_dir(parser).parse_args(argv)
    if args.rewrite:
        path = Path(args.rewrite)
        write(json.loads(path.read_text()), path.parent, quick=path.stem.endswith("_quick"))
        return
    if args.quick:
        args.n, args.samples = 200, 200

    from minuet import Minuet
    from minuet.simulate import HELD_OUT_VARIANTS, SimulationConfig
    from minuet.typicality import AtypicalWarning

    warnings.simplefilter("ignore", AtypicalWarning)
    model = Minuet.load(args.model) if args.model else Minuet.pretrained()
    if model.typicality_scorer is None or model.posterior_estimator is None:
        msg = (f"the model {model.name!r} has no typicality head or posterior; make one with "
               "benchmarks/refit_heads.py.")
        raise SystemExit(msg)
    props = [p for p in PROPERTIES if p in model.posterior_estimator.properties]
    images, invvar, truth = simulated(args.data, "test", args.n, SimulationConfig(),
                                      processes=args.processes)
    images = np.asarray(images, dtype=np.float32)
    res = {**provenance(), "model": model.name, "weights_sha256": model.sha256,
           "n_galaxies": len(truth), "samples": args.samples, "properties": props,
           "command": command_line("bench_shift.py", argv),
           "load_average": [round(v, 2) for v in os.getloadavg()], "rows": []}
    for i, (name, meaning, change) in enumerate(shifts()):
        rng = np.random.default_rng(1000 + i)
        shifted, shifted_invvar = ((images, invvar) if change is None
                                   else change(images, invvar, rng))
        latents = model.encode(shifted, invvar=shifted_invvar, on_invalid="flag", progress=False)
        keep = np.asarray(latents["valid"])
        row = measure(model, latents[keep], truth[keep], props, samples=args.samples, seed=1,
                      rng=rng)
        res["rows"].append({"shift": name, "meaning": meaning, **row})
        print(f"{name}: flagged {row['flagged']:.3f}, sample p {row['sample']['p_value']:.2g}",
              flush=True)
    if not args.no_variant:
        variant = HELD_OUT_VARIANTS[0]
        v_images, v_invvar, v_truth = simulated(args.data, "held_out", args.n,
                                                SimulationConfig.from_variant(variant),
                                                processes=args.processes)
        latents = model.encode(v_images, invvar=v_invvar, on_invalid="flag", progress=False)
        keep = np.asarray(latents["valid"])
        row = measure(model, latents[keep], v_truth[keep], props, samples=args.samples, seed=1,
                      rng=np.random.default_rng(999))
        res["rows"].append({"shift": f"held-out variant {variant}",
                            "meaning": "modelling choices no training set used", **row})
    res["real"] = real_samples(model)
    write(res, output_folder(args), quick=args.quick)


def _pair(d):
    return f"{100 * d['coverage68']:.0f} / {100 * d['coverage95']:.0f}"


def write(res, out, *, quick):
    """Write ``shift.json`` and the page ``shift.rst`` from a results record."""
    stem = "shift_quick" if quick else "shift"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(res, indent=1) + "\n")
    props = res["properties"]
    short = {"redshift": "z", "log_mstar": "log M*", "log_sfr": "log SFR"}

    def pct(v):
        return "—" if v is None else f"{100 * v:.0f}%"

    def p_text(p):
        return "< 1e-300" if p < 1e-300 else f"{p:.1g}"

    answers, warned = [], []
    for row in res["rows"]:
        s = row["sample"]
        auc = max(v for v in (s["auc_latent"], s["auc_image"]) if v == v)
        answers.append([row["shift"], *[_pair(row[p]) for p in props],
                        *[f"{row[p]['median_bias']:+.3f}" for p in props]])
        warned.append([row["shift"], f"{100 * row['flagged']:.1f}%",
                       f"{pct(row['miss95_flagged'])} / {pct(row['miss95_unflagged'])}",
                       p_text(s["p_value"]), f"{auc:.3f}",
                       f"{100 * row['subsample']['detected']:.0f}%"])
    sub = res["rows"][0]["subsample"]
    lines = [f"Held-out galaxies of the training mixture ({res['n_galaxies']:,}), each shift "
             "applied to all of them. What the answers do: coverage of the shipped 68% and "
             "95% intervals in percent, and the median of posterior median minus truth (dex "
             "for the masses and rates).", "",
             *rst_table(["shift", *[f"{short.get(p, p)}: 68 / 95% covered" for p in props],
                         *[f"{short.get(p, p)}: bias" for p in props]], answers), "",
             "What warns: the fraction flagged ``atypical``, how often flagged and unflagged "
             "galaxies miss their 95% redshift interval, the sample test on the whole set "
             "(p-value and the larger of its two AUCs), and the fraction of "
             f"{sub['draws']} random subsets of {sub['n']} galaxies that it calls unlike the "
             "training set at p < 0.001.", "",
             *rst_table(["shift", "flagged", "z 95% missed: flagged / not",
                         "sample test: p", "AUC", f"random {sub['n']} called unlike"], warned),
             "", "What each shift stands for: " + "; ".join(
                 f"*{row['shift']}*, {row['meaning']}" for row in res["rows"][1:]) + ".", ""]
    for real in res.get("real", []):
        if real["p_value"] == real["p_value"]:
            auc = max(v for v in (real["auc_latent"], real["auc_image"]) if v == v)
            verdict = ("unlike the training set" if real["unlike_training"]
                       else "not distinguishable from the training set")
            lines += [f"Real stamps ``{real['file']}`` ({real['n_galaxies']}): {verdict}, "
                      f"p = {p_text(real['p_value'])}, AUC {auc:.3f}; "
                      f"{100 * real['flagged_fraction']:.0f}% flagged.", ""]
        else:
            lines += [f"Real stamps ``{real['file']}`` ({real['n_galaxies']}): too few for the "
                      "sample test.", ""]
    lines.append(f"Model ``{res['model']}``; {res['machine']}, {res['date']}; command "
                 f"``{res['command']}``.")
    text = "\n".join([f".. generated by {res['command']}; do not edit", "", *lines, ""])
    (out / f"{stem}.rst").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
