"""The ``minuet simulate`` subcommand."""

import os

__all__ = ["register"]


def _default_processes():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def register(subparsers):
    """Add ``simulate N OUT [--variant NAME] [--processes P]`` to the command line."""
    from .variants import HELD_OUT_VARIANTS, VARIANTS

    listing = "; ".join(
        f"{name}{' (held out)' if name in HELD_OUT_VARIANTS else ''}" for name in VARIANTS
    )
    parser = subparsers.add_parser(
        "simulate",
        help="simulate Legacy-Surveys-like g,r,z cutouts with a truth catalogue",
        description="Simulate N galaxies and write images, inverse variance, footprints "
        "and the truth catalogue to an HDF5 file. By default each galaxy is drawn under "
        "one of the training variants; --variant restricts the file to the named ones. "
        "The file is identical for a given seed whatever the number of processes.",
    )
    parser.add_argument("n", type=int, help="number of galaxies")
    parser.add_argument("output", help="output HDF5 file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sequence (default 0)")
    parser.add_argument(
        "--variant",
        action="append",
        choices=sorted(VARIANTS),
        metavar="NAME",
        help="modelling variant to draw from; repeat for a mixture (default: the "
        f"training mixture of every variant not held out). Variants: {listing}",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="worker processes (default: all available cores)",
    )
    parser.add_argument("--chunk-size", type=int, default=512, help="galaxies per work unit")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _run(args):
    from .config import SimulationConfig
    from .dataset import write_dataset

    config = SimulationConfig() if not args.variant else SimulationConfig(variants=args.variant)
    path = write_dataset(
        args.output,
        args.n,
        seed=args.seed,
        config=config,
        processes=args.processes if args.processes is not None else _default_processes(),
        chunk_size=args.chunk_size,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.n} galaxies ({', '.join(config.variants)}) to {path}")
    return 0
