"""Reconstruction quality of a minuet model, in astronomers' terms.

On a held-out simulated set (a seed never used for training data) this
encodes every galaxy, draws reconstructions with the model's default
few-step sampler and with a many-step run of the same model, and measures
with ``minuet.evaluation.compare_reconstructions``: reduced chi-squared over
the central galaxy's footprint, magnitude and colour errors, half-light
radius and ellipticity errors. It also encodes and reconstructs the real
Legacy Surveys DR9 stamps when they are available (``--real``).

Writes ``docs/validation/generated/reconstruction.{json,rst}`` and a figure
``reconstruction.png``::

    python benchmarks/bench_reconstruction.py                 # bundled model, 2000 galaxies
    python benchmarks/bench_reconstruction.py --model runs/x/model --n 500
"""

import argparse
import json
import time

import numpy as np
from _report import ROOT, add_output_dir, output_folder, provenance, rst_table

#: Seed of the held-out simulated set. Training sets use other seeds.
HELD_OUT_SEED = 20_251_204
REAL_STAMPS = ROOT.parent / "shared" / "data" / "real" / "ls_dr9_grz_72x72_stamps.npz"


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


def evaluate(model, images, invvar, footprint, *, steps, n_samples, seed):
    from minuet.evaluation import compare_reconstructions, summarize_reconstructions

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


def real_stamps(model, *, seed):
    from minuet.evaluation import compare_reconstructions

    with np.load(REAL_STAMPS, allow_pickle=False) as data:
        images, invvar = data["images"], data["invvar"]
    has_invvar = np.isfinite(invvar).all(axis=(1, 2, 3)) & (invvar > 0).any(axis=(1, 2, 3))
    # stamps without inverse variance: the sky noise of the DR9-south coadds of stamps 0-1
    sky = np.array([np.median(invvar[i][b][invvar[i][b] > 0])
                    for i in np.flatnonzero(has_invvar) for b in range(3)]).reshape(-1, 3)
    fallback = np.broadcast_to(np.median(sky, axis=0)[:, None, None], images.shape[1:])
    invvar = np.where(has_invvar[:, None, None, None], np.nan_to_num(invvar), fallback)
    latents = model.encode(images, invvar=invvar)
    recon = model.reconstruct(latents, seed=seed)
    table = compare_reconstructions(images, recon.data, invvar=invvar)
    return table, images, recon.data


def write_figure(images, recon, real_images, real_recon, path):
    import matplotlib

    matplotlib.use("Agg")
    from minuet.visualization import plot_cutouts

    rows = [images[:8], recon[:8]]
    labels = ["simulated input", "reconstruction"]
    if real_images is not None:
        rows += [real_images[:8], real_recon[:8]]
        labels += ["real DR9 stamp", "reconstruction"]
    fig = plot_cutouts(np.concatenate(rows), ncols=8, rows=labels)
    fig.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--n", type=int, default=2000, help="held-out galaxies")
    parser.add_argument("--many-steps", type=int, default=100,
                        help="steps of the many-step reference run of the same model")
    parser.add_argument("--n-many", type=int, default=None,
                        help="galaxies for the many-step run (default: all)")
    parser.add_argument("--no-real", action="store_true", help="skip the real stamps")
    parser.add_argument("--output-name", default="reconstruction")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)

    from minuet import Minuet
    from minuet.simulate import simulate

    model = Minuet.load(args.model) if args.model else Minuet.pretrained()
    images, invvar, footprint, _ = simulate(args.n, seed=HELD_OUT_SEED)
    results = {
        **provenance(),
        "model": model.name,
        "weights_sha256": model.sha256,
        "n_galaxies": args.n,
        "held_out_seed": HELD_OUT_SEED,
        "rows": [],
    }
    default_steps = model.autoencoder.config.diffusion.steps
    summary, seconds, recon, few = evaluate(model, images, invvar, footprint, steps=None,
                                            n_samples=1, seed=1)
    results["rows"].append(_summary_row(f"default ({default_steps} steps)", summary, seconds))
    patch = model.autoencoder.config.denoiser.patch
    results["patch_edge_ratio"] = {"input": patch_edge_ratio(images, patch),
                                   "reconstruction": patch_edge_ratio(recon.data, patch)}
    summary, seconds, _, _ = evaluate(model, images, invvar, footprint, steps=None,
                                      n_samples=4, seed=1)
    results["rows"].append(
        _summary_row(f"default, mean of 4 samples ({default_steps} steps each)", summary,
                     seconds)
    )
    n_many = args.n_many or args.n
    summary_many, seconds, _, _ = evaluate(model, images[:n_many], invvar[:n_many],
                                           footprint[:n_many], steps=args.many_steps,
                                           n_samples=1, seed=1)
    results["rows"].append(
        _summary_row(f"many-step ({args.many_steps} steps, {n_many} galaxies)", summary_many,
                     seconds)
    )
    # the few-step run on the very galaxies of the many-step run, for a fair ratio
    from minuet.evaluation import summarize_reconstructions

    few_same = _summary_row("few", summarize_reconstructions(few[:n_many]), 0)
    many = results["rows"][-1]
    results["few_vs_many_percent"] = {
        key: 100 * (few_same[key] - many[key]) / many[key]
        for key in ("median_chi2_red", "median_abs_dmag_r", "median_abs_dcolor_gr",
                    "median_abs_frac_r_half_err")
    }
    results["rows"].append(_summary_row("noise alone: a perfect single sample",
                                        noise_floor(images, invvar, footprint, seed=2), 0))

    real_images = real_recon = None
    if not args.no_real and REAL_STAMPS.exists():
        table, real_images, real_recon = real_stamps(model, seed=1)
        results["real_stamps"] = [
            {"stamp": i, "dmag_g": float(table["dmag_g"][i].value),
             "dmag_r": float(table["dmag_r"][i].value),
             "dmag_z": float(table["dmag_z"][i].value), "chi2_red": float(table["chi2_red"][i])}
            for i in range(len(table))
        ]

    name = args.output_name
    (out / f"{name}.json").write_text(json.dumps(results, indent=2))
    write_figure(images, recon.data, real_images, real_recon, out / f"{name}.png")

    header = ("sampler", "chi2_red", "abs dm_r [mag]", "abs d(g-r) [mag]", "abs dR/R",
              "abs de", "ms/galaxy")
    body = [
        (r["sampler"], f"{r['median_chi2_red']:.2f}", f"{r['median_abs_dmag_r']:.3f}",
         f"{r['median_abs_dcolor_gr']:.3f}", f"{r['median_abs_frac_r_half_err']:.3f}",
         f"{r['median_abs_d_ellipticity']:.3f}", f"{r['ms_per_galaxy']:.0f}")
        for r in results["rows"]
    ]
    body[-1] = (*body[-1][:-1], "")
    lines = rst_table(header, body)
    diff = results["few_vs_many_percent"]
    lines += ["", f"Few-step against many-step on the same {n_many} galaxies: chi2_red "
              f"{diff['median_chi2_red']:+.1f}%, abs dm_r {diff['median_abs_dmag_r']:+.1f}%, "
              f"abs d(g-r) {diff['median_abs_dcolor_gr']:+.1f}%, abs dR/R "
              f"{diff['median_abs_frac_r_half_err']:+.1f}%. The last row is the floor set by "
              "the noise: a reconstruction is a fresh draw with its own noise, so even a "
              "perfect one differs from the input by twice the noise variance (chi2_red near "
              "2; the mean of N draws approaches 1 + 1/N).",
              "", f"Pixel steps across the denoiser's {patch}-pixel patch edges relative to "
              f"steps elsewhere (1 means no patch artefacts): "
              f"{results['patch_edge_ratio']['reconstruction']:.3f} in the reconstructions, "
              f"{results['patch_edge_ratio']['input']:.3f} in the inputs."]
    lines += ["", f"Medians over {args.n} held-out simulated galaxies (seed {HELD_OUT_SEED}); "
              f"model ``{model.name}`` (SHA-256 ``{(model.sha256 or '')[:16]}...``); "
              f"{results['machine']}, {results['date']}; command: "
              f"``python benchmarks/bench_reconstruction.py --n {args.n}"
              f"{'' if args.n_many is None else f' --n-many {args.n_many}'}``."]
    if "real_stamps" in results:
        lines += ["", "Real DR9 stamps 0 and 1 (bright isolated galaxies):", ""]
        lines += rst_table(
            ("stamp", "dm_g [mag]", "dm_r [mag]", "dm_z [mag]", "chi2_red"),
            [(str(s["stamp"]), f"{s['dmag_g']:+.3f}", f"{s['dmag_r']:+.3f}",
              f"{s['dmag_z']:+.3f}", f"{s['chi2_red']:.2f}")
             for s in results["real_stamps"][:2]],
        )
    (out / f"{name}.rst").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
