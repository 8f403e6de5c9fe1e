"""Assemble a bundled model: trained autoencoder + science heads fitted on simulated truth.

The autoencoder comes from a training run (``minuet train``; its EMA weights
are ``<run>/model.safetensors``). The heads (posterior flow, morphology
classifiers, reference catalogue for neighbour search, anomaly density) are
fitted on the latents of a simulated set with truth that the autoencoder was
not validated on. The result is a model directory with a model card in its
manifest, ready to ship in ``minuet/data/``::

    python benchmarks/build_pretrained.py runs/sim100k/model \\
        --heads-data runs/sim-heads-20k.h5 --out minuet/data/minuet-sim
"""

import argparse
import json
import time
from pathlib import Path

from _report import provenance

#: Columns of the truth catalogue kept in the bundled reference catalogue.
CATALOGUE_COLUMNS = ("index", "redshift", "log_mstar", "log_sfr", "mag_g", "mag_r", "mag_z",
                     "merger", "spiral_arms", "edge_on", "round")
#: Entries of the training configuration that name files; the bundle keeps their names only.
PATH_KEYS = ("data", "init", "output")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("weights", help="trained autoencoder (<run>/model)")
    parser.add_argument("--heads-data", required=True,
                        help="simulated HDF5 set with truth for fitting the heads")
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--name", default="minuet-sim")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from minuet import Minuet, __version__
    from minuet.models import load_model
    from minuet.simulate import read_dataset

    t0 = time.perf_counter()
    autoencoder = load_model(args.weights)
    images, invvar, _, truth = read_dataset(args.heads_data)
    model = Minuet(autoencoder, name=args.name)
    latents = model.encode(images, invvar=invvar, progress=True)
    columns = [name for name in CATALOGUE_COLUMNS if name in truth.colnames]
    model.fit_heads(latents, truth, catalogue_columns=columns, seed=args.seed, progress=True)
    record = autoencoder.record.get("metadata", {})
    training = record.get("training", {})
    model.info = {
        "summary": (
            "Diffusion autoencoder (Gagliano, Shen & Villar 2025, arXiv:2512.04145 method) "
            "trained on minuet.simulate Legacy-Surveys-like g,r,z cutouts. Trained on "
            "SIMULATIONS only: expect a domain gap on real survey images."
        ),
        "training_data": {"files": _file_names(training.get("data")),
                          "seed": training.get("seed")},
        "training_steps": record.get("steps"),
        "training_config": {key: _file_names(value) if key in PATH_KEYS else value
                            for key, value in training.items()},
        "heads_data": {"file": Path(args.heads_data).name, "n_galaxies": len(truth),
                       "simulation_seed": truth.meta.get("seed")},
        "assembled": {**provenance(), "minuet_version": __version__,
                      "seconds": round(time.perf_counter() - t0, 1)},
    }
    path = model.save(args.out, overwrite=True)
    size = sum(f.stat().st_size for f in Path(path).iterdir()) / 1e6
    print(repr(model))
    print(f"wrote {path} ({size:.1f} MB)")
    print(json.dumps(model.info, indent=1, default=str)[:2000])


def _file_names(paths):
    """File names without their folders: a bundle should not carry this machine's paths."""
    if paths is None:
        return None
    if isinstance(paths, (list, tuple)):
        return [Path(p).name for p in paths]
    return Path(paths).name


if __name__ == "__main__":
    main()
