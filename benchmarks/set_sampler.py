"""Change the default sampler settings of a saved model, leaving its weights alone.

The sampler that ``reconstruct`` uses by default (method, number of steps
and the noise levels' schedule) is part of the autoencoder's configuration
in a saved model's ``autoencoder.json``. Choosing it from a measured curve
(``benchmarks/bench_sampler_steps.py``) changes no weight, so this rewrites
that file, the SHA-256 that the manifest keeps of it, and a record of the
change in the manifest's ``info['sampler_changes']``::

    python benchmarks/set_sampler.py minuet/data/minuet-sim-2 --rho 30 \\
        --reason "bench_sampler_steps.py --n 500 --rho 30"

Every other file of the model stays byte for byte as it was.
"""

import argparse
import datetime
import json
from pathlib import Path

#: Settings of the diffusion configuration that only the sampler reads.
SAMPLER_KEYS = ("sampler", "steps", "rho", "sigma_max", "sigma_min")


def set_sampler(folder, changes, *, reason=""):
    """Apply ``changes`` (a subset of `SAMPLER_KEYS`) to the saved model in ``folder``.

    Returns the record added to the manifest.
    """
    from minuet._vocabulary import MANIFEST
    from minuet.models import DiffusionConfig, sha256

    folder = Path(folder)
    unknown = sorted(set(changes) - set(SAMPLER_KEYS))
    if unknown:
        msg = f"only the sampler settings {SAMPLER_KEYS} can change here, not {unknown}."
        raise ValueError(msg)
    manifest = json.loads((folder / MANIFEST).read_text())
    config_path = folder / "autoencoder.json"
    stored = json.loads(config_path.read_text())
    diffusion = stored["config"]["diffusion"]
    before = {key: diffusion[key] for key in changes}
    diffusion.update(changes)
    DiffusionConfig(**diffusion)  # refuses values the sampler cannot use
    config_path.write_text(json.dumps(stored, indent=2, sort_keys=True) + "\n")
    manifest["files"][config_path.name] = sha256(config_path)
    record = {"date": datetime.date.today().isoformat(), "before": before, "after": changes,
              "reason": reason}
    info = manifest.setdefault("info", {})
    info["sampler_changes"] = [*info.get("sampler_changes", []), record]
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="saved model directory")
    parser.add_argument("--sampler", choices=("dpmpp2m", "heun", "euler"))
    parser.add_argument("--steps", type=int)
    parser.add_argument("--rho", type=float)
    parser.add_argument("--sigma-max", type=float)
    parser.add_argument("--sigma-min", type=float)
    parser.add_argument("--reason", default="", help="the measurement behind the change")
    args = parser.parse_args(argv)
    changes = {key: getattr(args, key) for key in SAMPLER_KEYS if getattr(args, key) is not None}
    if not changes:
        parser.error("give at least one setting to change")
    record = set_sampler(args.model, changes, reason=args.reason)
    print(f"{args.model}: {record['before']} -> {record['after']}")
    return record


if __name__ == "__main__":
    main()
