"""Time the simulator and compare simulated cutouts with real DR9 stamps.

Run it with nothing else on the machine (it keeps both cores busy)::

    python benchmarks/bench_simulate.py           # 100k + figure
    python benchmarks/bench_simulate.py --n 2000  # shorter timing
    python benchmarks/bench_simulate.py --n 0                                  # figure, table

Writes ``docs/simulate/simulated_vs_real.png``,
``docs/validation/generated/simulate_comparison.rst`` and (with ``--n``)
``docs/validation/generated/simulate_timing.rst``. The real stamps come from
``$MINUET_REAL_STAMPS`` (default ``../shared/data/real/ls_dr9_grz_72x72_stamps.npz``).
"""

import argparse
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

from minuet.simulate import simulate, write_dataset
from minuet.visualization import rgb_composite

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(
    os.environ.get(
        "MINUET_REAL_STAMPS",
        ROOT.parent / "shared" / "data" / "real" / "ls_dr9_grz_72x72_stamps.npz",
    )
)
GENERATED = ROOT / "docs" / "validation" / "generated"
FIGURE = ROOT / "docs" / "simulate" / "simulated_vs_real.png"


def time_run(n, processes, *, seed=0, output=None):
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
    (GENERATED / "simulate_timing.rst").write_text(text)
    record = {"n": n, "processes": processes, "seed": seed, "cores": os.cpu_count(),
              "seconds": round(elapsed, 1), "date": time.strftime("%Y-%m-%d"),
              "load_average_at_end": [round(value, 2) for value in load]}
    (GENERATED / "simulate_timing.json").write_text(json.dumps(record, indent=2) + "\n")
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


def compare(n_sim=200):
    with np.load(REAL, allow_pickle=False) as data:
        real = data["images"].astype(float)
        real_iv = data["invvar"].astype(float)
    images, invvar, _, truth = simulate(n_sim, seed=0)

    # figure: real stamps on top, simulated below, same Lupton stretch
    show_real = [0, 1, 2, 4, 6, 9, 12]
    order = np.argsort(truth["mag_r"].value)
    show_sim = order[np.linspace(0, n_sim - 1, 14).astype(int)][::2]
    fig, axes = plt.subplots(2, 7, figsize=(12.6, 4.6))
    for ax, k in zip(axes[0], show_real, strict=True):
        ax.imshow(rgb_composite(real[k]), origin="lower")
        ax.set_title(f"DR9 stamp {k}", fontsize=8)
    for ax, k in zip(axes[1], show_sim, strict=True):
        ax.imshow(rgb_composite(images[k]), origin="lower")
        row = truth[k]
        ax.set_title(f"sim z={row['redshift']:.2f} r={row['mag_r'].value:.1f}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        "Top: real Legacy Surveys DR9 stamps. Bottom: minuet.simulate (seed 0), "
        "ordered by r magnitude. Same Lupton RGB stretch.",
        fontsize=9,
    )
    fig.tight_layout(h_pad=1.5)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=110)
    plt.close(fig)

    has_iv = real_iv.reshape(len(real), -1).any(axis=1)
    rms_real = background_rms(real[has_iv], real_iv[has_iv])
    ivnoise_real = [np.median(real_iv[has_iv, b][real_iv[has_iv, b] > 0]) ** -0.5 for b in range(3)]
    rms_sim = background_rms(images, invvar)
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
            " ".join(f"{np.median(invvar[:, b][invvar[:, b] > 0]) ** -0.5:.4f}" for b in range(3)),
        ),
        (
            "PSF FWHM g, r, z (arcsec)",
            " ".join(f"{v:.2f}" for v in star_fwhm),
            " ".join(f"{v:.2f}" for v in sim_fwhm),
        ),
        ("central g-r, median [16, 84]", _pct(gr_r), _pct(gr_s)),
        ("central r-z, median [16, 84]", _pct(rz_r), _pct(rz_s)),
    ]
    width = [
        max(len(r[i]) for r in [*rows, ("statistic", "real DR9 (14 stamps)", "simulated")])
        for i in range(3)
    ]
    rule = "  ".join("=" * w for w in width)
    lines = [
        rule,
        "  ".join(
            h.ljust(w)
            for h, w in zip(
                ("statistic", "real DR9 (14 stamps)", f"simulated ({n_sim})"), width, strict=True
            )
        ),
        rule,
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)) for r in rows]
    lines.append(rule)
    text = (
        "Simulated versus real cutouts\n"
        "=============================\n\n"
        "``python benchmarks/bench_simulate.py --n 0``. Background RMS: 3-sigma-clipped MAD of\n"
        "the "
        "outer 8-pixel border (real: the two stamps with inverse variance). Real PSF FWHM:\n"
        "area above half maximum of stamp 4 (a compact source, possibly a star); simulated:\n"
        "median drawn PSF FWHM. Colours: 4-pixel-radius aperture at the centre.\n\n"
        + "\n".join(lines)
        + "\n"
    )
    GENERATED.mkdir(parents=True, exist_ok=True)
    (GENERATED / "simulate_comparison.rst").write_text(text)
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="galaxies to time (0: skip timing)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="seed of the timed set")
    parser.add_argument("--output", default=None,
                        help="keep the timed set at this path (default: a deleted temporary file)")
    args = parser.parse_args()
    if args.n:
        time_run(args.n, args.processes, seed=args.seed, output=args.output)
    if REAL.exists():
        compare()
    else:
        print(f"real stamps not found at {REAL}; comparison skipped")


if __name__ == "__main__":
    main()
