"""``minuet train``: train the diffusion autoencoder from a JSON configuration."""

import json
from pathlib import Path


def register(subparsers):
    """Add the ``train`` subcommand to the ``minuet`` command line."""
    parser = subparsers.add_parser(
        "train",
        help="train the diffusion autoencoder",
        description=(
            "Train the diffusion autoencoder described by a JSON TrainingConfig. "
            "Running the same command again resumes from the run folder's checkpoint. "
            "Run under torchrun for several processes (DistributedDataParallel)."
        ),
    )
    parser.add_argument("config", type=Path, help="JSON file of a TrainingConfig")
    parser.add_argument("--output", help="run folder (overrides the configuration)")
    parser.add_argument("--steps", type=int, help="total steps (overrides the configuration)")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps in this call")
    parser.add_argument(
        "--max-minutes", type=float, help="stop, with a checkpoint, after this wall time"
    )
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run)


def _run(args):
    from .config import TrainingConfig
    from .engine import train

    try:
        config = json.loads(args.config.read_text())
    except json.JSONDecodeError as exc:
        msg = f"{args.config} is not valid JSON: {exc}."
        raise ValueError(msg) from None
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"could not read the configuration {args.config} ({exc})."
        raise ValueError(msg) from None
    if not isinstance(config, dict):
        msg = (
            f"{args.config} holds a JSON {type(config).__name__}; a training configuration is "
            'a JSON object of TrainingConfig fields, for example {"data": ..., "model": "tiny"}.'
        )
        raise ValueError(msg)
    if isinstance(config.get("model"), str):
        from minuet.models import DiffusionAutoencoderConfig

        config["model"] = DiffusionAutoencoderConfig.preset(config["model"]).to_dict()
    if args.output:
        config["output"] = args.output
    if args.steps:
        config["steps"] = args.steps
    train(
        TrainingConfig.from_dict(config),
        resume=not args.fresh,
        max_steps=args.max_steps,
        max_minutes=args.max_minutes,
        progress=not args.no_progress,
    )
    return 0
