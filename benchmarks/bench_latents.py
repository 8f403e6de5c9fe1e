"""What the five numbers track: rank correlations with truth, and latent traversals.

On a held-out simulated set (seed 20251206, used neither for training nor by
the other benchmarks) this encodes every galaxy with a model (default: the
bundled one) and measures

* the Spearman rank correlation of each latent number with each truth
  parameter of the simulator: physical properties, photometry, structure,
  the morphology labels, and observing conditions and orientation, which a
  good latent should ignore (a table);
* latent traversals: for a few reference galaxies, each latent number in turn
  is moved from its 5th to its 95th percentile over the set, the others held
  at the galaxy's own values, and the image is drawn with the same seed for
  every panel, so that only the latent changes between panels.

Writes ``docs/validation/generated/latents.{json,rst}`` and
``latents_traversal.png`` (``latents_quick*`` with ``--quick``)::

    python benchmarks/bench_latents.py               # 3000 galaxies
    python benchmarks/bench_latents.py --quick       # 200 galaxies, a pipeline check
"""

import argparse

import numpy as np
from _report import add_output_dir, figure, new_record, output_folder, rst_table, write_results

#: Seed of this benchmark's held-out simulated set.
SEED = 20_251_206

#: Truth parameters, by group: (column or derived name, label).
PARAMETERS = {
    "physical": [("redshift", "redshift"), ("log_mstar", "log M*"), ("log_sfr", "log SFR"),
                 ("quenched", "quenched")],
    "photometry": [("mag_r", "r magnitude"), ("g_r", "g - r (observed)"),
                   ("r_z", "r - z (observed)")],
    "structure": [("half_light_radius", "half-light radius"), ("axis_ratio", "axis ratio"),
                  ("bulge_fraction", "bulge fraction"), ("sersic_bulge", "Sersic n (bulge)"),
                  ("arm_strength", "arm strength"), ("clumpiness", "clumpiness"),
                  ("asymmetry", "asymmetry")],
    "labels": [("merger", "merger"), ("spiral_arms", "spiral arms"), ("edge_on", "edge-on"),
               ("round", "round"), ("companion", "companion")],
    "nuisance": [("position_angle", "position angle"), ("psf_fwhm_r", "PSF FWHM r"),
                 ("sky_sigma_r", "sky noise r"), ("n_stars", "stars in cutout"),
                 ("n_neighbours", "field neighbours")],
}


def truth_columns(truth):
    """Plain float arrays of the truth parameters that the table has, in PARAMETERS order."""
    derived = {"g_r": ("mag_g", "mag_r"), "r_z": ("mag_r", "mag_z")}
    columns = {}
    for group, entries in PARAMETERS.items():
        for name, label in entries:
            if name in derived:
                a, b = derived[name]
                if a not in truth.colnames or b not in truth.colnames:
                    continue
                values = _plain(truth[a]) - _plain(truth[b])
            elif name in truth.colnames:
                values = _plain(truth[name])
            else:
                continue
            columns[name] = (label, group, values)
    return columns


def _plain(column):
    return np.asarray(getattr(column, "value", column), dtype=float)


def spearman(latents, columns):
    """Spearman rho of every (parameter, latent number) pair, over the finite rows."""
    from scipy.stats import spearmanr

    rho = np.full((len(columns), latents.shape[1]), np.nan)
    for i, (_, _, values) in enumerate(columns.values()):
        ok = np.isfinite(values) & np.all(np.isfinite(latents), axis=1)
        if np.ptp(values[ok]) == 0:
            continue  # constant in this set
        for j in range(latents.shape[1]):
            rho[i, j] = spearmanr(values[ok], latents[ok, j]).statistic
    return rho


def traversals(model, latents, images, references, *, steps, seed=0):
    """Input and traversal panels: for each reference galaxy and latent number, one row."""
    lo, hi = np.nanpercentile(latents, [5, 95], axis=0)
    panels, titles, rows = [], [], []
    for ref in references:
        for d in range(latents.shape[1]):
            values = np.linspace(lo[d], hi[d], steps)
            grid = np.repeat(latents[ref][None], steps, axis=0)
            grid[:, d] = values
            # one call per panel, each with the same seed: the same starting noise everywhere
            drawn = [model.reconstruct(z[None], seed=seed).data[0] for z in grid]
            panels += [images[ref], *drawn]
            titles += [f"input #{ref}" if d == 0 else "", *(f"{v:+.2f}" for v in values)]
            # short row labels: the galaxy's number is in the title of its first input panel
            rows.append(model.latent_names[d])
    return np.stack(panels), titles, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model directory (default: bundled)")
    parser.add_argument("--n", type=int, default=3000, help="held-out galaxies")
    parser.add_argument("--references", type=int, default=3,
                        help="reference galaxies for the traversals")
    parser.add_argument("--steps", type=int, default=7, help="panels per traversal")
    parser.add_argument("--quick", action="store_true",
                        help="200 galaxies, 2 references, 5 panels; writes latents_quick.*")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    if args.quick:
        args.n, args.references, args.steps = min(args.n, 200), 2, 5

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minuet import Minuet
    from minuet.simulate import simulate
    from minuet.visualization import plot_cutouts

    stem = "latents_quick" if args.quick else "latents"
    record = new_record("bench_latents.py", argv)
    model = Minuet.load(args.model) if args.model else Minuet.pretrained()
    images, invvar, _, truth = simulate(args.n, seed=SEED)
    table = model.encode(images, invvar=invvar)
    latents = np.stack([np.asarray(table[name], float) for name in model.latent_names], axis=1)
    valid = np.asarray(table["valid"])
    columns = truth_columns(truth[valid])
    rho = spearman(latents[valid], columns)
    names = list(model.latent_names)
    record |= {"model": model.name, "weights_sha256": model.sha256, "seed": SEED,
               "n_galaxies": int(valid.sum()), "latents": names,
               "rho": {name: dict(zip(names, map(float, row), strict=True))
                       for name, row in zip(columns, rho, strict=True)},
               "groups": {name: group for name, (_, group, _) in columns.items()},
               "best": {}}
    for name, row in zip(columns, rho, strict=True):
        if np.isfinite(row).any():
            j = int(np.nanargmax(np.abs(row)))
            record["best"][name] = [names[j], float(row[j])]

    # references: galaxies at the 20th, 50th and 80th percentiles of r magnitude
    mag = _plain(truth["mag_r"])
    order = np.flatnonzero(valid)[np.argsort(mag[valid])]
    quantiles = np.linspace(0.2, 0.8, args.references) if args.references > 1 else [0.5]
    references = [int(order[int(q * (len(order) - 1))]) for q in quantiles]
    panels, titles, rows = traversals(model, latents, images, references, steps=args.steps)
    # one panel row per latent number; at 1.1 inches a panel, eight columns fill a page's width
    fig = plot_cutouts(panels, titles=titles, rows=rows, ncols=args.steps + 1, panel_size=1.1)
    trav = out / f"{stem}_traversal.png"
    fig.savefig(trav, dpi=110)
    plt.close(fig)
    record |= {"references": references, "traversal_steps": args.steps,
               "figures": [trav.name]}

    body = []
    for (name, (label, group, _)), row in zip(columns.items(), rho, strict=True):
        best = record["best"].get(name)
        body.append((label, group, *(f"{v:+.2f}" if np.isfinite(v) else "n/a" for v in row),
                     f"{best[0]} ({best[1]:+.2f})" if best else "n/a"))
    lines = [f"Spearman rank correlation of each latent number with the simulator's truth, "
             f"over {int(valid.sum())} held-out simulated galaxies (seed {SEED}), model "
             f"``{model.name}``. A rho near +1 or -1: the number orders galaxies by that "
             "parameter; the nuisance rows should stay near 0.", "",
             *rst_table(("parameter", "group", *names, "strongest"), body),
             *figure(trav, "latent traversals of reference galaxies",
                     f"Latent traversals of galaxies {', '.join(map(str, references))} (20th "
                     "to 80th percentile of r magnitude), one block of five rows per galaxy. "
                     "The first panel of each row is the input; the others are drawn with the "
                     "same seed from the galaxy's latent with the number that labels the row "
                     "moved from its 5th to its 95th percentile (panel titles).")]
    write_results(stem, record, lines, directory=out)


if __name__ == "__main__":
    main()
