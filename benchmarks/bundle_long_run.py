"""Bundle the long run's autoencoder with heads fitted on the training mixture.

Takes the EMA weights of a long run's kept state
(``benchmarks/long_run/<name>/checkpoint.safetensors``, the same weights that
the run folder's ``model.safetensors`` holds), writes its model card from the
record of every sitting (data shards and their seeds, steps, images, minutes,
arithmetic, code commits), fits every science head on the broad training
mixture as ``refit_heads.py`` does, and writes the model directory::

    python benchmarks/bundle_long_run.py minuet-sim-2 --data runs/typicality \\
        --out minuet/data/minuet-sim-2 --n-train 50000 --n-calibration 5000

``--n-train 300 --n-calibration 200`` makes a small model in a couple of
minutes. The simulated sets are cached in ``--data`` and shared with
``refit_heads.py`` and ``bench_typicality.py``.
"""

import argparse
import json
import time
from pathlib import Path

from _report import ROOT, provenance
from refit_heads import add_refit_arguments, refit_from_arguments

#: Where the long runs keep their state.
LONG_RUNS = ROOT / "benchmarks" / "long_run"


def ema_autoencoder(state):
    """The EMA network of a run's exact-resume checkpoint, with its training record.

    ``state`` is a run folder holding ``checkpoint.safetensors`` and
    ``config.json`` (a long run's kept state).
    """
    import torch
    from safetensors import safe_open

    from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig

    state = Path(state)
    config = json.loads((state / "config.json").read_text())
    with safe_open(state / "checkpoint.safetensors", framework="pt") as f:
        meta = json.loads((f.metadata() or {}).get("minuet", "{}"))
        tensors = {k[4:]: f.get_tensor(k) for k in f.keys() if k.startswith("ema.")}  # noqa: SIM118
    if not tensors:
        raise SystemExit(f"{state / 'checkpoint.safetensors'} holds no EMA weights: is it a "
                         "training checkpoint of minuet?")
    model = DiffusionAutoencoder(DiffusionAutoencoderConfig.from_dict(config["model"]))
    model.load_state_dict(tensors)
    model.record = {"metadata": {"steps": meta.get("step"), "training": config}}
    return model.to(torch.float32).eval()


def training_card(state, name):
    """The model card's account of a long run: data, compute and the sittings."""
    sittings = json.loads((Path(state) / "sittings.json").read_text())
    plan_path = Path(state) / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else {}
    batch = plan.get("batch_size", 64)
    rows, start = [], 0
    for number, sitting in enumerate(sittings, 1):
        data = sitting.get("data") or [{}]
        steps = sitting["until_step"] - start
        rows.append({
            "sitting": number, "steps": [start, sitting["until_step"]],
            "images": steps * batch, "minutes": sitting.get("minutes"),
            "date": sitting.get("date"),
            "data": [{"file": d.get("file"), "seed": d.get("seed"), "n": d.get("n")}
                     for d in data],
            "precision": sitting.get("precision", "not recorded"),
            "commit": (sitting.get("code") or {}).get("commit"),
            "note": sitting.get("note"),
        })
        start = sitting["until_step"]
    galaxies = sum(d["n"] or 0 for row in rows for d in row["data"])
    minutes = sum(row["minutes"] or 0 for row in rows)
    return {
        "summary": (
            "Diffusion autoencoder (Gagliano, Shen & Villar 2025, arXiv:2512.04145 method) "
            "trained on minuet.simulate Legacy-Surveys-like g,r,z cutouts of the broad "
            "training mixture of modelling variants. Trained on SIMULATIONS only: expect "
            "a domain gap on real survey images."
        ),
        "training_run": name,
        "training_data": {"shards": [d for row in rows for d in row["data"]],
                          "n_galaxies": galaxies,
                          "simulator": "minuet.simulate training mixture"},
        "training_steps": start,
        "training_images": start * batch,
        "training_minutes": round(minutes, 1),
        "plan": plan,
        "sittings": rows,
        "init": "minuet-sim (warm start)" if plan.get("recipe") == "warm_start" else None,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="name of the long run (its state in benchmarks/long_run/) "
                                    "or a folder holding such a state")
    parser.add_argument("--name", default=None, help="model name (default: the run's)")
    add_refit_arguments(parser, n_train=20_000, n_calibration=5_000)
    args = parser.parse_args(argv)

    from minuet import Minuet, __version__

    state = Path(args.run) if Path(args.run).is_dir() else LONG_RUNS / args.run
    if not (state / "checkpoint.safetensors").is_file():
        raise SystemExit(f"no long-run state at {state}: give a run name of "
                         f"{LONG_RUNS} or a folder with checkpoint.safetensors")
    name = args.name or state.name
    t0 = time.perf_counter()
    model = Minuet(ema_autoencoder(state), name=name)
    heads_data = refit_from_arguments(model, args, script="bundle_long_run.py", argv=argv)
    model.info = training_card(state, state.name) | {
        "heads_data": heads_data,
        "assembled": {**provenance(), "minuet_version": __version__,
                      "seconds": round(time.perf_counter() - t0, 1)},
    }
    path = model.save(args.out, overwrite=True)
    print(repr(model))
    print(f"wrote {path}")
    print(json.dumps({k: v for k, v in model.info.items() if k != "sittings"}, indent=1))


if __name__ == "__main__":
    main()
