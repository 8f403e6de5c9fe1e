"""Blur against fidelity: minuet's diffusion decoder beside the 5-number baselines.

On the same held-out simulated galaxies, this reconstructs every galaxy from a
five-number code with

* PCA (five components) and the deterministic autoencoder trained by
  ``benchmarks/bench_baselines.py`` (their weights in ``--weights``);
* minuet's diffusion decoder (the bundled model): one draw, and the mean of
  four draws;

and measures the astronomers' metrics of ``minuet.evaluation`` (reduced
chi-squared over the footprint, magnitude, colour, size and ellipticity
errors) beside the sharpness: the power spectrum of the stretched
reconstructions relative to that of the inputs
(``minuet.evaluation.radial_power_spectrum``). A decoder that predicts the
mean image scores a low chi-squared and loses the small scales; a generative
decoder keeps the small scales and pays in chi-squared for drawing its own
noise. Writes ``docs/validation/generated/tradeoff.{json,rst,png}``::

    python benchmarks/bench_baselines.py --train TRAIN.h5 --test TEST.h5   # first
    python benchmarks/bench_tradeoff.py --test TEST.h5 --n 1000
    python benchmarks/bench_tradeoff.py --quick   # after bench_baselines.py --quick
"""

import argparse
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from _report import RUNS, add_output_dir, output_folder, provenance, rst_table

METRICS = ("median_chi2_red", "median_abs_dmag_r", "median_abs_dcolor_gr",
           "median_abs_frac_r_half_err", "median_abs_d_ellipticity")


def _decoders(args):
    """Name and ``flux -> reconstructed flux`` function of every decoder."""
    from minuet import Minuet
    from minuet.baselines import DeterministicAutoencoder, PCABaseline
    from minuet.cutouts import nanomaggy

    weights = Path(args.weights)
    missing = [p for p in (weights / "pca.json", weights / "deterministic_autoencoder.json")
               if not p.exists()]
    if missing:
        msg = (f"baseline weights {[str(p) for p in missing]} are missing; run "
               "'python benchmarks/bench_baselines.py' (or --quick) first, or pass --weights.")
        raise SystemExit(msg)
    pca = PCABaseline.load(weights / "pca.safetensors")
    ae = DeterministicAutoencoder.load(weights / "deterministic_autoencoder")
    model = Minuet.pretrained()

    def baseline(net):
        return lambda flux, invvar: net.reconstruct(net.encode(flux)).to_value(nanomaggy)

    def diffusion(n_samples):
        def run(flux, invvar):
            latents = model.encode(flux, invvar=invvar, progress=False)
            return model.reconstruct(latents, n_samples=n_samples, seed=1, progress=False).data
        return run

    return model, [("PCA, 5 components", baseline(pca)),
                   ("deterministic autoencoder", baseline(ae)),
                   ("minuet, one draw", diffusion(1)),
                   ("minuet, mean of 4 draws", diffusion(4))]


def _test_set(args):
    from minuet.simulate import read_dataset, simulate

    if args.quick and not Path(args.test).exists():
        images, invvar, footprint, _ = simulate(args.n, seed=20_251_205)
        return images, invvar, footprint, "simulated on the fly, seed 20251205"
    if not Path(args.test).exists():
        msg = (f"{args.test} does not exist; write it with "
               f"'minuet simulate 5000 {args.test} --seed 20251205' or pass --test.")
        raise SystemExit(msg)
    images, invvar, footprint, _ = read_dataset(args.test, stop=args.n)
    return images, invvar, footprint, args.test


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--test", default=str(RUNS / "sim-test-20251205.h5"),
                        help="held-out simulated HDF5 file (the baselines' test file)")
    parser.add_argument("--n", type=int, default=1000, help="galaxies")
    parser.add_argument("--weights", default=None,
                        help="folder of the baselines' weights (bench_baselines --weights-out; "
                        "default runs/baselines, or runs/baselines-quick with --quick)")
    parser.add_argument("--quick", action="store_true", help="a few dozen galaxies")
    args = add_output_dir(parser).parse_args(argv)
    out = output_folder(args)
    if args.quick:
        args.n = min(args.n, 48)
    if args.weights is None:
        args.weights = RUNS / ("baselines-quick" if args.quick else "baselines")

    from minuet.evaluation import (
        compare_reconstructions,
        radial_power_spectrum,
        summarize_reconstructions,
    )

    model, decoders = _decoders(args)
    images, invvar, footprint, source = _test_set(args)
    stretch = model.stretch
    frequency, p_input = radial_power_spectrum(stretch.forward(images))
    high = frequency >= 0.25
    results = {**provenance(), "model": model.name, "weights_sha256": model.sha256,
               "n_galaxies": len(images), "test": source, "frequency": frequency.tolist(),
               "input_power": p_input.mean(0).tolist(), "rows": []}
    for name, decode in decoders:
        t0 = time.perf_counter()
        recon = decode(images, invvar)
        seconds = time.perf_counter() - t0
        summary = summarize_reconstructions(
            compare_reconstructions(images, recon, invvar=invvar, footprint=footprint))
        _, power = radial_power_spectrum(stretch.forward(recon))
        ratio = power.mean(0) / p_input.mean(0)
        results["rows"].append({
            "decoder": name,
            **{k: float(getattr(summary[k], "value", summary[k])) for k in METRICS},
            "power_ratio": ratio.tolist(),
            "high_frequency_power_ratio": float(ratio[high].mean()),
            "ms_per_galaxy": 1e3 * seconds / len(images),
        })
        print(name, json.dumps({k: results["rows"][-1][k] for k in
                                (*METRICS, "high_frequency_power_ratio")}), flush=True)

    suffix = "_quick" if args.quick else ""
    (out / f"tradeoff{suffix}.json").write_text(json.dumps(results, indent=2))

    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    for row in results["rows"]:
        ax.plot(frequency, row["power_ratio"], label=row["decoder"])
    ax.axhline(1, color="k", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("spatial frequency [cycles / pixel]")
    ax.set_ylabel("power of reconstruction / input")
    ax.set_title("Sharpness of 5-number reconstructions")
    ax.legend(fontsize=8)
    fig.savefig(out / f"tradeoff{suffix}.png", dpi=100)
    plt.close(fig)

    header = ("decoder", "chi2_red", "abs dm_r [mag]", "abs d(g-r) [mag]", "abs dR/R",
              "abs de", "power at >= 0.25 / px", "ms/galaxy")
    body = [(r["decoder"], f"{r['median_chi2_red']:.2f}", f"{r['median_abs_dmag_r']:.3f}",
             f"{r['median_abs_dcolor_gr']:.3f}", f"{r['median_abs_frac_r_half_err']:.3f}",
             f"{r['median_abs_d_ellipticity']:.3f}", f"{r['high_frequency_power_ratio']:.2f}",
             f"{r['ms_per_galaxy']:.1f}") for r in results["rows"]]
    lines = rst_table(header, body)
    lines += ["", f"Medians over {len(images)} held-out simulated galaxies ({Path(source).name}); "
              "power: the stretched reconstructions' power spectrum over the inputs' at "
              "spatial frequencies of 0.25 cycles per pixel and above (1 = as sharp as the "
              f"data, noise included). Model ``{model.name}``; {results['machine']}, "
              f"{results['date']}; command: ``python benchmarks/bench_tradeoff.py"
              f"{' --quick' if args.quick else f' --n {args.n}'}``."]
    (out / f"tradeoff{suffix}.rst").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return results


if __name__ == "__main__":
    main()
