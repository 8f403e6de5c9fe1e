"""Refit the bundled model's science heads on the simulator's training mixture.

Simulates galaxies of the broad training mixture (``SimulationConfig()``,
every training variant, none of ``HELD_OUT_VARIANTS``) with fixed seeds,
encodes them with the bundled autoencoder (unchanged), fits every head on
them (posterior flow, morphology classifiers, reference catalogue, anomaly
density and typicality) and, on a second, separate set of the same mixture,
the conformal adjustment of the posterior intervals grouped by typicality
(`~minuet.posterior.IntervalCalibration`), then writes the model directory::

    python benchmarks/refit_heads.py --data runs/typicality --out minuet/data/minuet-sim

The simulated sets are cached in ``--data`` (``train.h5``, ``calibration.h5``)
and reused by ``benchmarks/bench_typicality.py``. ``--n-train 300 --n-calibration
200`` makes a tiny model in about a minute (what the tests run).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _report import command_line, provenance

#: Columns of the truth catalogue kept in the bundled reference catalogue.
CATALOGUE_COLUMNS = ("index", "redshift", "log_mstar", "log_sfr", "mag_g", "mag_r", "mag_z",
                     "merger", "spiral_arms", "edge_on", "round", "variant")
#: Seeds of the simulated sets (never used to train the autoencoder, seed 1).
SEEDS = {"train": 7001, "calibration": 7002, "test": 7003, "held_out": 7004}
#: Inner edges of the typicality groups of the bundled interval calibration.
TYPICALITY_EDGES = (0.05, 0.3)


def simulated(data, name, n, config, *, processes=2):
    """Read the cached set ``data/name.h5``, simulating it first when missing or too small."""
    from minuet.simulate import read_dataset, write_dataset

    path = Path(data) / f"{name}.h5"
    if path.exists():
        try:
            images, invvar, _, truth = read_dataset(path)
        except OSError as exc:  # an interrupted earlier run of this script
            print(f"{path} is unreadable ({exc}); simulating it again")
        else:
            if len(truth) >= n and truth.meta.get("seed") in (None, SEEDS[name]):
                return images[:n], invvar[:n], truth[:n]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_dataset(path, n, seed=SEEDS[name], config=config, processes=processes,
                  overwrite=True, progress=True)
    images, invvar, _, truth = read_dataset(path)
    return images, invvar, truth


def encode_with_statistics(model, images, invvar):
    """Latents table (with typicality when the model has it) and cutout statistics."""
    from minuet.cutouts import load_cutouts
    from minuet.typicality import cutout_statistics

    latents = model.encode(images, invvar=invvar, on_invalid="flag", progress=False)
    cutouts = load_cutouts(images, invvar=invvar, size=model.image_size, on_invalid="flag")
    stats = np.full((len(cutouts), 7), np.nan)
    stats[cutouts.valid] = cutout_statistics(cutouts.flux[cutouts.valid],
                                             cutouts.mask[cutouts.valid])
    return latents, stats


def refit(model, data, *, n_train, n_calibration, seed=0, processes=2, posterior_config=None,
          progress=False):
    """Fit every head of ``model`` on the training mixture; return timings and sizes."""
    from minuet.simulate import SimulationConfig

    timing = {}
    t = time.perf_counter()
    images, invvar, truth = simulated(data, "train", n_train, SimulationConfig(),
                                      processes=processes)
    cal_images, cal_invvar, cal_truth = simulated(data, "calibration", n_calibration,
                                                  SimulationConfig(), processes=processes)
    timing["simulate_or_read_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model.typicality_scorer = None  # the training set's statistics come from the pixels
    latents, stats = encode_with_statistics(model, images, invvar)
    timing["encode_s"] = time.perf_counter() - t
    t = time.perf_counter()
    columns = [name for name in CATALOGUE_COLUMNS if name in truth.colnames]
    model.fit_heads(latents, truth, catalogue_columns=columns, statistics=stats, seed=seed,
                    posterior_config=posterior_config, progress=progress)
    timing["fit_heads_s"] = time.perf_counter() - t
    t = time.perf_counter()
    cal_latents, _ = encode_with_statistics(model, cal_images, cal_invvar)
    calibrated = model.recalibrate(cal_latents, cal_truth, seed=seed, by_typicality=True,
                                   edges=TYPICALITY_EDGES)
    model.posterior_calibration = calibrated.posterior_calibration
    timing["calibrate_s"] = time.perf_counter() - t
    return {"n_train": len(truth), "n_calibration": len(cal_truth),
            "seeds": {"train": SEEDS["train"], "calibration": SEEDS["calibration"]},
            "variants": list(SimulationConfig().variants),
            "seconds": {k: round(v, 1) for k, v in timing.items()}}


def add_refit_arguments(parser, *, n_train, n_calibration):
    """The options of a refit of every head: data folder, output, set sizes, seeds."""
    parser.add_argument("--data", required=True, help="folder of the cached simulated sets")
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--n-train", type=int, default=n_train)
    parser.add_argument("--n-calibration", type=int, default=n_calibration)
    parser.add_argument("--processes", type=int, default=2, help="simulator processes")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap on the posterior flow's epochs (default: its own)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def refit_from_arguments(model, args, *, script, argv):
    """`refit` with the options of `add_refit_arguments`; return the ``heads_data`` record."""
    from minuet.posterior import PosteriorConfig

    config = None if args.max_epochs is None else PosteriorConfig(max_epochs=args.max_epochs)
    record = refit(model, args.data, n_train=args.n_train, n_calibration=args.n_calibration,
                   seed=args.seed, processes=args.processes, posterior_config=config,
                   progress=True)
    return {**record, "simulator": "minuet.simulate training mixture",
            "command": command_line(script, argv)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="model directory whose autoencoder is kept (default: bundled)")
    add_refit_arguments(parser, n_train=5000, n_calibration=2500)
    args = parser.parse_args(argv)

    from minuet import Minuet, __version__

    t0 = time.perf_counter()
    model = Minuet.load(args.model) if args.model else Minuet.pretrained()
    heads_data = refit_from_arguments(model, args, script="refit_heads.py", argv=argv)
    model.info = dict(model.info)
    model.info["heads_data"] = heads_data
    model.info["heads_assembled"] = {**provenance(), "minuet_version": __version__,
                                     "seconds": round(time.perf_counter() - t0, 1)}
    path = model.save(args.out, overwrite=True)
    print(repr(model))
    print(f"wrote {path}")
    print(json.dumps(model.info["heads_data"], indent=1))


if __name__ == "__main__":
    main()
