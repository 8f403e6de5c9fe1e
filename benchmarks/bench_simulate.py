"""Time the simulator and compare simulated cutouts with real DR9 stamps.

Run it with nothing else on the machine (it keeps both cores busy)::

    python benchmarks/bench_simulate.py           # 100k + figure
    python benchmarks/bench_simulate.py --n 2000  # shorter timing
    python benchmarks/bench_simulate.py --n 0                                  # figure, table

Writes ``docs/simulate/simulated_vs_real.png``, ``docs/simulate/colour_redshift.png``,
``docs/validation/generated/simulate_comparison.rst``,
``docs/validation/generated/simulate_colours.rst`` and (with ``--n``)
``docs/validation/generated/simulate_timing.rst``. The real stamps come from
``$MINUET_REAL_STAMPS`` (default ``../shared/data/real/ls_dr9_grz_72x72_stamps.npz``).
"""

import argparse
import itertools
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _report import GENERATED, add_output_dir, output_folder

from minuet.simulate import simulate, write_dataset
from minuet.visualization import rgb_composite

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(
    os.environ.get(
        "MINUET_REAL_STAMPS",
        ROOT.parent / "shared" / "data" / "real" / "ls_dr9_grz_72x72_stamps.npz",
    )
)
REAL_NSA = REAL.parent / "ls_nsa_grz_72x72_stamps.npz"
#: Where the figures of the simulator's documentation page go (unless --output-dir is given).
FIGURES = ROOT / "docs" / "simulate"


def time_run(n, processes, *, out, seed=0, output=None):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.h5" if output is None else Path(output)
        t0 = time.perf_counter()
        write_dataset(path, n, seed=seed, processes=processes, chunk_size=512, overwrite=True)
        elapsed = time.perf_counter() - t0
    load = os.getloadavg()
    text = (
        "Simulator timing\n"
        "================\n\n"
        f"``python benchmarks/bench_simulate.py --n {n} --processes {processes} --seed {seed}"
        f"{'' if output is None else ' --output ' + Path(output).name}``\n\n"
        f"- galaxies: {n}\n"
        f"- worker processes: {processes} on {os.cpu_count()} cores "
        f"({platform.processor() or 'cpu'})\n"
        f"- wall time: {elapsed:.1f} s ({elapsed / 60:.2f} min), "
        f"{1e3 * elapsed * processes / n:.1f} ms of CPU per galaxy per core\n"
    )
    (out / "simulate_timing.rst").write_text(text)
    record = {"n": n, "processes": processes, "seed": seed, "cores": os.cpu_count(),
              "seconds": round(elapsed, 1), "date": time.strftime("%Y-%m-%d"),
              "load_average_at_end": [round(value, 2) for value in load]}
    (out / "simulate_timing.json").write_text(json.dumps(record, indent=2) + "\n")
    print(text)


def cpu_time(n, *, out, seed=1):
    """CPU seconds per galaxy of one process, which the machine's load changes far less
    than it changes wall time; ``--cpu N`` writes it beside the load average."""
    import resource

    simulate(8, seed=99)  # grids and caches
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    simulate(n, seed=seed)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter() - t0
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    load = os.getloadavg()
    text = (
        "Simulator CPU time\n"
        "==================\n\n"
        f"``python benchmarks/bench_simulate.py --n 0 --cpu {n} --skip-figures``\n\n"
        f"- galaxies: {n} (default mixture, seed {seed}), one process\n"
        f"- CPU time: {cpu:.1f} s, {1e3 * cpu / n:.1f} ms per galaxy; wall time {wall:.1f} s\n"
    )
    (out / "simulate_cpu.rst").write_text(text)
    record = {"n": n, "seed": seed, "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2),
              "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
              "load_average_at_end": [round(value, 2) for value in load]}
    (out / "simulate_cpu.json").write_text(json.dumps(record, indent=2) + "\n")
    print(text)


def background_rms(images, invvar=None):
    """Robust per-band RMS of the outer 8-pixel border (MAD, 3-sigma clipped)."""
    border = np.zeros(images.shape[-2:], dtype=bool)
    border[:8] = border[-8:] = True
    border[:, :8] = border[:, -8:] = True
    out = []
    for b in range(3):
        pix = images[:, b][:, border]
        if invvar is not None:
            pix = pix[invvar[:, b][:, border] > 0]
        pix = pix.ravel()
        for _ in range(3):
            mad = 1.4826 * np.median(np.abs(pix - np.median(pix)))
            pix = pix[np.abs(pix - np.median(pix)) < 3 * mad]
        out.append(1.4826 * np.median(np.abs(pix - np.median(pix))))
    return np.array(out)


def half_max_fwhm(image):
    """FWHM (pixels) from the area above half the peak of the central source."""
    c = image.shape[-1] // 2
    box = image[c - 8 : c + 8, c - 8 : c + 8]
    area = np.sum(box > 0.5 * box.max())
    return 2.0 * np.sqrt(area / np.pi)


def central_colours(images, radius=4.0):
    """g - r and r - z in a circular aperture at the cutout centre."""
    yy, xx = np.mgrid[: images.shape[-2], : images.shape[-1]]
    c = images.shape[-1] // 2
    aperture = np.hypot(yy - c, xx - c) <= radius
    flux = images[:, :, aperture].sum(axis=-1)
    ok = np.all(flux > 0, axis=1)
    mags = 22.5 - 2.5 * np.log10(flux[ok])
    return mags[:, 0] - mags[:, 1], mags[:, 1] - mags[:, 2]


def _pct(x):
    p16, p50, p84 = np.percentile(x, [16, 50, 84])
    return f"{p50:.2f} [{p16:.2f}, {p84:.2f}]"


def _rgb(image):
    return rgb_composite(image)


def compare(n_sim=240, *, out, figures):
    with np.load(REAL, allow_pickle=False) as data:
        real = data["images"].astype(float)
        real_iv = data["invvar"].astype(float)
    nsa = None
    if REAL_NSA.exists():
        with np.load(REAL_NSA, allow_pickle=False) as data:
            nsa = data["images"].astype(float)
    images, invvar, _, truth = simulate(n_sim, seed=0)

    # figure: real DR9 stamps, real nearby NSA galaxies, then simulated cutouts
    # (the brightest nearby ones, then a spread in r magnitude); same Lupton stretch
    show_real = [0, 1, 2, 4, 6, 9, 12]
    order = np.argsort(truth["mag_r"].value)
    bright = order[:7]
    spread = order[np.linspace(7, n_sim - 1, 7).astype(int)]
    rows = [("DR9", real, show_real)]
    if nsa is not None:
        rows.append(("NSA", nsa, list(range(7))))
    rows += [("sim", images, list(bright)), ("sim", images, list(spread))]
    # about page width, so that the titles read at the size the docs show it
    fig, axes = plt.subplots(len(rows), 7, figsize=(9.8, 1.75 * len(rows) + 0.4))
    for (kind, stack, idx), row_axes in zip(rows, axes, strict=True):
        for ax, k in zip(row_axes, idx, strict=True):
            ax.imshow(_rgb(stack[k]), origin="lower")
            if kind == "sim":
                t = truth[k]
                ax.set_title(
                    f"z={t['redshift']:.2f} r={t['mag_r'].value:.1f}\n"
                    f"{t['variant'].replace('_', ' ')}", fontsize=8.5
                )
            else:
                ax.set_title(f"{kind} stamp {k}", fontsize=9.5)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for (kind, _, _), row_axes in zip(rows, axes, strict=True):
        row_axes[0].set_ylabel({"DR9": "real DR9", "NSA": "real NSA"}.get(kind, "simulated"),
                               fontsize=10)
    fig.tight_layout(h_pad=0.8, w_pad=0.3)
    figures.mkdir(parents=True, exist_ok=True)
    fig.savefig(figures / "simulated_vs_real.png", dpi=100)
    plt.close(fig)

    has_iv = real_iv.reshape(len(real), -1).any(axis=1)
    rms_real = background_rms(real[has_iv], real_iv[has_iv])
    ivnoise_real = [np.median(real_iv[has_iv, b][real_iv[has_iv, b] > 0]) ** -0.5 for b in range(3)]
    decals = np.asarray(truth["survey"] == "DECaLS")
    rms_sim = background_rms(images[decals], invvar[decals])
    star_fwhm = [half_max_fwhm(real[4, b]) * 0.262 for b in range(3)]
    sim_fwhm = [np.median(truth[f"psf_fwhm_{b}"].value) for b in "grz"]
    gr_r, rz_r = central_colours(real)
    gr_s, rz_s = central_colours(images)
    rows = [
        ("background RMS g (nmgy)", f"{rms_real[0]:.4f}", f"{rms_sim[0]:.4f}"),
        ("background RMS r (nmgy)", f"{rms_real[1]:.4f}", f"{rms_sim[1]:.4f}"),
        ("background RMS z (nmgy)", f"{rms_real[2]:.4f}", f"{rms_sim[2]:.4f}"),
        (
            "invvar^-1/2 median g, r, z",
            " ".join(f"{v:.4f}" for v in ivnoise_real),
            " ".join(
                f"{np.median(invvar[decals, b][invvar[decals, b] > 0]) ** -0.5:.4f}"
                for b in range(3)
            ),
        ),
        (
            "PSF FWHM g, r, z (arcsec)",
            " ".join(f"{v:.2f}" for v in star_fwhm),
            " ".join(f"{v:.2f}" for v in sim_fwhm),
        ),
        ("central g-r, median [16, 84]", _pct(gr_r), _pct(gr_s)),
        ("central r-z, median [16, 84]", _pct(rz_r), _pct(rz_s)),
    ]
    if nsa is not None:
        total = nsa.sum(axis=(2, 3))
        rows.append(
            (
                "total r mag in stamp, NSA vs 7 brightest sim",
                _pct(22.5 - 2.5 * np.log10(total[:, 1])),
                _pct(truth["mag_r"].value[bright]),
            )
        )
    _write_table(
        rows,
        ("statistic", "real DR9 (14 stamps)", f"simulated ({n_sim})"),
        "Simulated versus real cutouts",
        "``python benchmarks/bench_simulate.py --n 0``. Background RMS: 3-sigma-clipped MAD of\n"
        "the outer 8-pixel border (real: the two stamps with inverse variance; simulated: the\n"
        "DECaLS-depth cutouts). Real PSF FWHM: area above half maximum of stamp 4 (a compact\n"
        "source, possibly a star); simulated: median drawn PSF FWHM. Colours: 4-pixel-radius\n"
        "aperture at the centre.\n\n",
        out / "simulate_comparison.rst",
    )


def _write_table(rows, header, title, intro, path):
    width = [max(len(r[i]) for r in [*rows, header]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in width)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, width, strict=True)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
    lines.append(rule)
    text = f"{title}\n{'=' * len(title)}\n\n" + intro + "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)


def colour_loci(n=5000, seed=20251201, *, out, figures):
    """Colour-redshift figure and table against the DESI LRG and ELG selections.

    The same draw and cuts as ``tests/simulate/test_colours.py``: the reference
    variant to r < 23 (so that the z ~ 1 star formers DESI targets are present),
    magnitudes before Galactic extinction.
    """
    from minuet.simulate import SimulationConfig, variant_choices
    from minuet.simulate import _population as pop
    from minuet.simulate import _seds as seds

    rng = np.random.default_rng(seed)
    config = SimulationConfig(mag_limit=23.0, nearby_fraction=0.0)
    gal = pop.draw_centrals(n, rng, config, variant_choices("reference"))
    g, r, zm, w1 = seds.magnitudes(
        gal["template_coeffs"], gal["redshift"], gal["dust_av"], "calzetti00", ("g", "r", "z", "w1")
    ).T
    z = gal["redshift"]
    q = gal["quenched"] & (gal["log_mstar"] > 10.8)
    sf = ~gal["quenched"]
    lrg = ((zm - w1) > 0.8 * (r - zm) - 0.6) & (((g - w1) > 2.9) | ((r - w1) > 1.8))
    gr, rz = g - r, r - zm
    elg = (rz > 0.15) & (gr < 0.5 * rz + 0.1) & (gr < -1.2 * rz + 1.6)

    edges = np.linspace(0.05, 1.0, 11)
    mid = 0.5 * (edges[1:] + edges[:-1])
    # two by two at about page width, so that labels read at the size the docs show it
    fig, axes = plt.subplots(2, 2, figsize=(9.0, 7.4))
    axes = axes.ravel()
    for colour, label, ax in ((gr, "g - r", axes[0]), (rz, "r - z", axes[1])):
        for sel, name, c in ((q, "quiescent, log M > 10.8", "C3"), (sf, "star-forming", "C0")):
            pct = np.array(
                [
                    np.percentile(colour[sel & (z > lo) & (z < hi)], [16, 50, 84])
                    if np.sum(sel & (z > lo) & (z < hi)) > 5
                    else [np.nan] * 3
                    for lo, hi in itertools.pairwise(edges)
                ]
            )
            ax.fill_between(mid, pct[:, 0], pct[:, 2], color=c, alpha=0.25)
            ax.plot(mid, pct[:, 1], color=c, label=name)
        ax.set_xlabel("redshift")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8.5)
    ax = axes[2]
    for sel, name, c in (
        (sf & (z < 0.6) & (g < 23.5), "star-forming z < 0.6", "C2"),
        (sf & (z > 0.8) & (g < 23.5), "star-forming z > 0.8", "C0"),
    ):
        ax.scatter(rz[sel], gr[sel], s=2, color=c, label=name, alpha=0.5)
    x = np.linspace(0.15, 1.6, 50)
    ax.plot(x, np.minimum(0.5 * x + 0.1, -1.2 * x + 1.6), "k-", lw=1)
    ax.axvline(0.15, color="k", lw=1)
    ax.set_xlim(-0.5, 2.0)
    ax.set_ylim(-0.5, 2.0)
    ax.set_xlabel("r - z")
    ax.set_ylabel("g - r")
    ax.set_title("DESI ELG box (Raichoor et al. 2023)", fontsize=10)
    ax.legend(fontsize=8.5, markerscale=4)
    ax = axes[3]
    massive = gal["quenched"] & (gal["log_mstar"] > 11.0)
    for sel, name, c in (
        (massive & (z > 0.4) & (z < 0.9), "quiescent log M > 11, 0.4 < z < 0.9", "C3"),
        (sf & (z < 0.25), "star-forming z < 0.25", "C2"),
    ):
        ax.scatter(g[sel] - w1[sel], r[sel] - w1[sel], s=2, color=c, label=name, alpha=0.5)
    ax.axvline(2.9, color="k", lw=1)
    ax.axhline(1.8, color="k", lw=1)
    ax.set_xlabel("g - W1")
    ax.set_ylabel("r - W1")
    ax.set_title("DESI LRG low-z cut (Zhou et al. 2023):\nright of or above the lines",
                 fontsize=10)
    ax.legend(fontsize=8.5, markerscale=4)
    fig.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    fig.savefig(figures / "colour_redshift.png", dpi=100)
    plt.close(fig)

    def frac(flag, sel):
        return f"{flag[sel].mean():.2f} ({int(sel.sum())})"

    bright = g < 23.5
    rows = [
        (
            "LRG colour cuts, quiescent log M > 11, 0.4 < z < 0.9",
            ">= 0.80",
            frac(lrg, massive & (z > 0.4) & (z < 0.9)),
        ),
        ("LRG colour cuts, star-forming z < 0.25", "<= 0.05", frac(lrg, sf & (z < 0.25))),
        (
            "ELG box, star-forming g < 23.5, 0.8 < z < 1",
            ">= 0.50",
            frac(elg, sf & bright & (z > 0.8)),
        ),
        (
            "ELG box, star-forming g < 23.5, 0.6 < z < 0.8",
            "(not tested)",
            frac(elg, sf & bright & (z > 0.6) & (z < 0.8)),
        ),
        ("ELG box, star-forming g < 23.5, z < 0.6", "<= 0.05", frac(elg, sf & bright & (z < 0.6))),
    ]
    for lo, hi in ((0.3, 0.5), (0.5, 0.7), (0.7, 0.9)):
        zs = (z > lo) & (z < hi)
        rows.append(
            (
                f"median r - z at {lo} < z < {hi}: quiescent / star-forming",
                "rising; SF bluer by > 0.2",
                f"{np.median(rz[q & zs]):.2f} / "
                f"{np.median(rz[sf & (gal['log_mstar'] > 10) & zs]):.2f}",
            )
        )
    _write_table(
        rows,
        ("selection (published cut)", "test requires", "fraction inside (number)"),
        "Simulated colours against DESI selections",
        "``python benchmarks/bench_simulate.py --n 0``; the same draw and cuts as\n"
        "``tests/simulate/test_colours.py`` (reference variant, r < 23, before Galactic\n"
        "extinction).\n\n",
        out / "simulate_colours.rst",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="galaxies to time (0: skip timing)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--cpu", type=int, default=0, help="galaxies for the CPU-time run")
    parser.add_argument("--skip-figures", action="store_true", help="timing only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the timed set")
    parser.add_argument(
        "--output",
        default=None,
        help="keep the timed set at this path (default: a deleted temporary file)",
    )
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    # the figures go beside the simulator's page, or with the results of another folder
    figures = FIGURES if out.resolve() == GENERATED.resolve() else out
    if args.n:
        time_run(args.n, args.processes, out=out, seed=args.seed, output=args.output)
    if args.cpu:
        cpu_time(args.cpu, out=out)
    if args.skip_figures:
        return
    colour_loci(out=out, figures=figures)
    if REAL.exists():
        compare(out=out, figures=figures)
    else:
        print(f"real stamps not found at {REAL}; comparison skipped")


if __name__ == "__main__":
    main()
