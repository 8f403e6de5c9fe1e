"""Reconstruction quality of a minuet model, in astronomers' terms.

On a held-out simulated set (a seed never used for training data) this
encodes every galaxy, draws reconstructions with the model's default
few-step sampler and with a many-step run of the same model, and measures
with ``minuet.evaluation.compare_reconstructions``: reduced chi-squared over
the central galaxy's footprint, magnitude and colour errors, half-light
radius and ellipticity errors. The same few-step measurements are repeated
on galaxies of a modelling variant that no training set used
(``--variant``, by default the first of
``minuet.simulate.HELD_OUT_VARIANTS``), the latents' largest rank
correlation between two dimensions is measured on the test set, and the
results are compared with the targets of a converged model (``TARGETS``).
It also encodes and reconstructs the real Legacy Surveys stamps in
``../shared/data/real`` when they are there (``--no-real`` skips them): the
DR9 stamps and the nearby NSA galaxies, shown beside their reconstructions
with their magnitude errors.

Writes ``docs/validation/generated/reconstruction.{json,rst}`` and a figure
``reconstruction.png``::

    python benchmarks/bench_reconstruction.py                 # bundled model, 2000 galaxies
    python benchmarks/bench_reconstruction.py --model runs/x/model --n 500
    python benchmarks/bench_reconstruction.py --quick     # a pipeline check, seconds
"""

import argparse
import json
import time

import numpy as np
from _report import ROOT, add_output_dir, command_line, output_folder, provenance, rst_table

#: Seed of the held-out simulated set. Training sets use other seeds.
HELD_OUT_SEED = 20_251_204
REAL = ROOT.parent / "shared" / "data" / "real"
REAL_STAMPS = REAL / "ls_dr9_grz_72x72_stamps.npz"
NSA_STAMPS = REAL / "ls_nsa_grz_72x72_stamps.npz"
#: Targets of a converged model for the default sampler on held-out galaxies:
#: ``key -> (row, limit)``, the row being the single draw or the mean of 4 draws.
TARGETS = {
    "median_abs_dmag_r": ("one", 0.05),
    "median_abs_dcolor_gr": ("one", 0.04),
    "median_abs_frac_r_half_err": ("one", 0.07),
    "median_chi2_red": ("one", 5.5),
    "median_chi2_red_mean4": ("mean4", 3.0),
    "latent_max_abs_spearman": ("latents", 0.8),
}


def _summary_row(label, summary, seconds_per_galaxy):
    return {
        "sampler": label,
        "median_chi2_red": summary["median_chi2_red"],
        "median_abs_dmag_r": float(summary["median_abs_dmag_r"].value),
        "median_abs_dcolor_gr": float(summary["median_abs_dcolor_gr"].value),
        "median_abs_frac_r_half_err": summary["median_abs_frac_r_half_err"],
        "median_abs_d_ellipticity": summary["median_abs_d_ellipticity"],
        "n_measured": summary["n_measured"],
        "ms_per_galaxy": 1e3 * seconds_per_galaxy,
    }


def evaluate(model, images, invvar, footprint, *, steps, n_samples, seed, latents=None):
    """Reconstruct and compare; ``latents`` (the images' own, encoded once) saves encoding."""
    from minuet.evaluation import compare_reconstructions, summarize_reconstructions

    if latents is None:
        latents = model.encode(images, invvar=invvar, progress=True)
    t0 = time.perf_counter()
    recon = model.reconstruct(latents, steps=steps, n_samples=n_samples, seed=seed,
                              progress=True)
    seconds = (time.perf_counter() - t0) / len(images)
    table = compare_reconstructions(images, recon.data, invvar=invvar, footprint=footprint)
    return summarize_reconstructions(table), seconds, recon, table


def patch_edge_ratio(images, patch):
    """Mean absolute step between neighbouring pixels across the denoiser's patch
    edges, over the mean step elsewhere: 1 for images without patch artefacts."""
    ratios = []
    for axis in (-1, -2):
        steps = np.abs(np.diff(images, axis=axis))
        steps = np.moveaxis(steps, axis, -1).reshape(-1, steps.shape[axis])
        edge = np.arange(steps.shape[-1]) % patch == patch - 1
        ratios.append(steps[:, edge].mean() / steps[:, ~edge].mean())
    return float(np.mean(ratios))


def noise_floor(images, invvar, footprint, *, seed):
    """What a perfect single sample would score: its own noise beside the input's.

    A sample drawn from the right galaxy carries a fresh noise realisation,
    so its residual against the input has twice the noise variance; adding
    sqrt(2) times fresh noise to the input gives the same residual.
    """
    from minuet.evaluation import compare_reconstructions, summarize_reconstructions

    rng = np.random.default_rng(seed)
    sigma = np.where(invvar > 0, 1 / np.sqrt(np.where(invvar > 0, invvar, 1)), 0)
    noisy = images + np.sqrt(2) * sigma * rng.standard_normal(images.shape)
    table = compare_reconstructions(images, noisy, invvar=invvar, footprint=footprint)
    return summarize_reconstructions(table)


def _fallback_invvar(images, invvar):
    """Inverse variance of real stamps, the DR9 sky noise where a stamp has none.

    Stamps without inverse variance get the median sky noise per band of the
    DR9-south stamps that have it (0 and 1).
    """
    with np.load(REAL_STAMPS, allow_pickle=False) as data:
        dr9 = data["invvar"]
    has = np.isfinite(dr9).all(axis=(1, 2, 3)) & (dr9 > 0).any(axis=(1, 2, 3))
    sky = np.array([[np.median(dr9[i][b][dr9[i][b] > 0]) for b in range(3)]
                    for i in np.flatnonzero(has)])
    fallback = np.broadcast_to(np.median(sky, axis=0)[:, None, None], images.shape[1:])
    if invvar is None:
        return np.broadcast_to(fallback, images.shape).astype(np.float32)
    own = np.isfinite(invvar).all(axis=(1, 2, 3)) & (invvar > 0).any(axis=(1, 2, 3))
    return np.where(own[:, None, None, None], np.nan_to_num(invvar), fallback)


def real_stamps(model, path, *, seed):
    """Encode and reconstruct the real stamps in ``path``; their table, inputs and draws."""
    from minuet.evaluation import compare_reconstructions

    with np.load(path, allow_pickle=False) as data:
        images = data["images"].astype(np.float32)
        invvar = data["invvar"] if "invvar" in data.files else None
    invvar = _fallback_invvar(images, invvar)
    latents = model.encode(images, invvar=invvar)
    recon = model.reconstruct(latents, seed=seed)
    table = compare_reconstructions(images, recon.data, invvar=invvar)
    return table, images, recon.data


def _real_rows(table):
    return [{"stamp": i, **{f"dmag_{b}": float(table[f"dmag_{b}"][i].value) for b in "grz"},
             "chi2_red": float(table["chi2_red"][i])} for i in range(len(table))]


def check_targets(one, mean4, max_rho):
    """Each target of ``TARGETS`` with the measured value and whether it is met."""
    rows = {"one": one, "mean4": mean4}
    out = {}
    for key, (row, limit) in TARGETS.items():
        value = max_rho if row == "latents" else rows[row][key.removesuffix("_mean4")]
        out[key] = {"value": float(value), "limit": limit, "met": bool(value <= limit)}
    return out


def write_figure(rows, path):
    """Inputs above their reconstructions, eight per row; ``rows`` is (label, images)."""
    import matplotlib

    matplotlib.use("Agg")
    from minuet.visualization import plot_cutouts

    rows = [(label, images[:8]) for label, images in rows]
    width = max(len(images) for _, images in rows)
    blank = np.full((1, *rows[0][1].shape[1:]), np.nan, dtype=np.float32)
    padded = [np.concatenate([images, np.repeat(blank, width - len(images), axis=0)])
              for _, images in rows]
    fig = plot_cutouts(np.concatenate(padded), ncols=width, rows=[label for label, _ in rows])
    fig.savefig(path, dpi=100)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="model directory or bundled model's name (default: the default)")
    parser.add_argument("--n", type=int, default=2000, help="held-out galaxies")
    parser.add_argument("--many-steps", type=int, default=100,
                        help="steps of the many-step reference run of the same model")
    parser.add_argument("--n-many", type=int, default=None,
                        help="galaxies for the many-step run (default: all)")
    parser.add_argument("--variant", default=None,
                        help="held-out modelling variant measured beside the test set "
                             "(default: the first of minuet.simulate.HELD_OUT_VARIANTS)")
    parser.add_argument("--n-variant", type=int, default=None,
                        help="galaxies of the variant (default: --n)")
    parser.add_argument("--no-variant", action="store_true", help="skip the variant")
    parser.add_argument("--no-real", action="store_true", help="skip the real stamps")
    parser.add_argument("--quick", action="store_true", help="a few galaxies, few steps")
    parser.add_argument("--output-name", default=None,
                        help="stem of the results files (default: reconstruction, or "
                             "reconstruction_quick with --quick)")
    args = add_output_dir(parser).parse_args(argv)
    if args.quick:
        args.n, args.n_many, args.many_steps = min(args.n, 8), 4, 12
        args.n_variant = min(args.n_variant or 8, 8)
    args.output_name = args.output_name or ("reconstruction_quick" if args.quick
                                            else "reconstruction")
    return args


def measure_set(model, images, invvar, footprint):
    """The default sampler's single draw and mean of 4 draws on one set.

    Returns both rows, the single draws, their comparison table and the
    latents' largest rank correlation between two dimensions; the set is
    encoded once.
    """
    from minuet.training import max_abs_spearman

    default_steps = model.autoencoder.config.diffusion.steps
    latents = model.encode(images, invvar=invvar, progress=True)
    summary, seconds, recon, table = evaluate(model, images, invvar, footprint, steps=None,
                                              n_samples=1, seed=1, latents=latents)
    one = _summary_row(f"default ({default_steps} steps)", summary, seconds)
    summary, seconds, _, _ = evaluate(model, images, invvar, footprint, steps=None,
                                      n_samples=4, seed=1, latents=latents)
    mean4 = _summary_row(f"default, mean of 4 samples ({default_steps} steps each)", summary,
                         seconds)
    return one, mean4, recon, table, max_abs_spearman(latents)


def main(argv=None):
    args = parse_args(argv)
    out = output_folder(args)

    from minuet.core import model_from_name
    from minuet.evaluation import summarize_reconstructions
    from minuet.simulate import HELD_OUT_VARIANTS, SimulationConfig, simulate

    model = model_from_name(args.model)
    images, invvar, footprint, _ = simulate(args.n, seed=HELD_OUT_SEED)
    results = {
        **provenance(),
        "command": command_line("bench_reconstruction.py", argv),
        "model": model.name,
        "weights_sha256": model.sha256,
        "n_galaxies": args.n,
        "held_out_seed": HELD_OUT_SEED,
        "rows": [],
    }
    one, mean4, recon, few, rho = measure_set(model, images, invvar, footprint)
    results["rows"] += [one, mean4]
    patch = model.autoencoder.config.denoiser.patch
    results["patch_edge_ratio"] = {"input": patch_edge_ratio(images, patch),
                                   "reconstruction": patch_edge_ratio(recon.data, patch)}
    n_many = args.n_many or args.n
    summary_many, seconds, _, _ = evaluate(model, images[:n_many], invvar[:n_many],
                                           footprint[:n_many], steps=args.many_steps,
                                           n_samples=1, seed=1)
    results["rows"].append(
        _summary_row(f"many-step ({args.many_steps} steps, {n_many} galaxies)", summary_many,
                     seconds)
    )
    # the few-step run on the very galaxies of the many-step run, for a fair ratio
    few_same = _summary_row("few", summarize_reconstructions(few[:n_many]), 0)
    many = results["rows"][-1]
    results["few_vs_many_percent"] = {
        key: 100 * (few_same[key] - many[key]) / many[key]
        for key in ("median_chi2_red", "median_abs_dmag_r", "median_abs_dcolor_gr",
                    "median_abs_frac_r_half_err")
    }
    results["rows"].append(_summary_row("noise alone: a perfect single sample",
                                        noise_floor(images, invvar, footprint, seed=2), 0))
    results["latent_max_abs_spearman"] = rho
    results["targets"] = check_targets(one, mean4, results["latent_max_abs_spearman"])
    figure_rows = [("simulated input", images), ("reconstruction", recon.data)]

    if not args.no_variant:
        variant = args.variant or HELD_OUT_VARIANTS[0]
        n_variant = args.n_variant or args.n
        v_images, v_invvar, v_footprint, _ = simulate(
            n_variant, seed=HELD_OUT_SEED + 1, config=SimulationConfig.from_variant(variant))
        v_one, v_mean4, _, _, v_rho = measure_set(model, v_images, v_invvar, v_footprint)
        results["variant"] = {"name": variant, "n_galaxies": n_variant,
                              "seed": HELD_OUT_SEED + 1, "rows": [v_one, v_mean4],
                              "latent_max_abs_spearman": v_rho,
                              "targets": check_targets(v_one, v_mean4, v_rho)}

    real = {}
    for key, path, label in (("dr9", REAL_STAMPS, "real DR9 stamp"),
                             ("nsa", NSA_STAMPS, "nearby NSA galaxy")):
        if args.no_real or not path.exists():
            continue
        table, real_images, real_recon = real_stamps(model, path, seed=1)
        real[key] = _real_rows(table)
        figure_rows += [(label, real_images), ("reconstruction", real_recon)]
    if "dr9" in real:
        results["real_stamps"] = real["dr9"]
    if "nsa" in real:
        results["nsa_stamps"] = real["nsa"]

    name = args.output_name
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))
    write_figure(figure_rows, out / f"{name}.png")
    lines = report(results, args)
    (out / f"{name}.rst").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return results


def _rows_table(rows):
    header = ("sampler", "chi2_red", "abs dm_r [mag]", "abs d(g-r) [mag]", "abs dR/R",
              "abs de", "ms/galaxy")
    body = [
        (r["sampler"], f"{r['median_chi2_red']:.2f}", f"{r['median_abs_dmag_r']:.3f}",
         f"{r['median_abs_dcolor_gr']:.3f}", f"{r['median_abs_frac_r_half_err']:.3f}",
         f"{r['median_abs_d_ellipticity']:.3f}",
         f"{r['ms_per_galaxy']:.0f}" if r["ms_per_galaxy"] else "")
        for r in rows
    ]
    return rst_table(header, body)


def _targets_table(results):
    labels = {"median_abs_dmag_r": "median abs dm_r [mag], one draw",
              "median_abs_dcolor_gr": "median abs d(g-r) [mag], one draw",
              "median_abs_frac_r_half_err": "median abs dR/R, one draw",
              "median_chi2_red": "median chi2_red, one draw",
              "median_chi2_red_mean4": "median chi2_red, mean of 4 draws",
              "latent_max_abs_spearman": "largest abs Spearman rho between latents"}
    sets = [("test set", results["targets"])]
    if "variant" in results:
        sets.append((results["variant"]["name"], results["variant"]["targets"]))
    body = []
    for key, label in labels.items():
        cells = [label, f"<= {TARGETS[key][1]:g}"]
        for _, targets in sets:
            t = targets[key]
            cells.append(f"{t['value']:.3g} ({'met' if t['met'] else 'missed'})")
        body.append(tuple(cells))
    return rst_table(("measure", "target", *(name for name, _ in sets)), body)


def _assembled_command(args):
    """The command of a record written before records kept their own."""
    return (f"python benchmarks/bench_reconstruction.py --n {args.n}"
            f"{'' if args.n_many is None or args.quick else f' --n-many {args.n_many}'}"
            f"{' --quick' if args.quick else ''}")


def report(results, args):
    """The reStructuredText lines of a results record."""
    lines = _rows_table(results["rows"])
    n_many = args.n_many or args.n
    diff = results["few_vs_many_percent"]
    patch = results["patch_edge_ratio"]
    lines += ["", f"Few-step against many-step on the same {n_many} galaxies: chi2_red "
              f"{diff['median_chi2_red']:+.1f}%, abs dm_r {diff['median_abs_dmag_r']:+.1f}%, "
              f"abs d(g-r) {diff['median_abs_dcolor_gr']:+.1f}%, abs dR/R "
              f"{diff['median_abs_frac_r_half_err']:+.1f}%. The last row is the floor set by "
              "the noise: a reconstruction is a fresh draw with its own noise, so even a "
              "perfect one differs from the input by twice the noise variance (chi2_red near "
              "2; the mean of N draws approaches 1 + 1/N).",
              "", "Pixel steps across the denoiser's patch edges relative to steps "
              f"elsewhere (1 means no patch artefacts): {patch['reconstruction']:.3f} in the "
              f"reconstructions, {patch['input']:.3f} in the inputs."]
    lines += ["", f"Medians over {args.n} held-out simulated galaxies (seed "
              f"{results['held_out_seed']}); model ``{results['model']}`` (SHA-256 "
              f"``{(results['weights_sha256'] or '')[:16]}...``); command: "
              f"``{results.get('command') or _assembled_command(args)}``."]
    if "variant" in results:
        v = results["variant"]
        lines += ["", f"The same default sampler on {v['n_galaxies']} galaxies of the "
                  f"``{v['name']}`` variant, which no training set used (seed {v['seed']}):",
                  ""]
        lines += _rows_table(v["rows"])
    lines += ["", "Against the targets of a converged model:", ""]
    lines += _targets_table(results)
    for key, title in (("real_stamps", "Real DR9 stamps (0 and 1 are bright isolated "
                                       "galaxies; 2-13 a crowded cluster field)"),
                       ("nsa_stamps", "Nearby NSA galaxies (no inverse variance: the DR9 "
                                      "sky noise stands in for it)")):
        if key in results:
            lines += ["", f"{title}:", ""]
            lines += rst_table(
                ("stamp", "dm_g [mag]", "dm_r [mag]", "dm_z [mag]", "chi2_red"),
                [(str(r["stamp"]), f"{r['dmag_g']:+.3f}", f"{r['dmag_r']:+.3f}",
                  f"{r['dmag_z']:+.3f}", f"{r['chi2_red']:.2f}") for r in results[key]],
            )
    return lines


if __name__ == "__main__":
    main()
