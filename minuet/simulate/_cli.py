"""The ``minuet simulate`` subcommand."""

__all__ = ["register"]


def register(subparsers):
    """Add ``simulate N OUT --seed S [--processes P]`` to the command line."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate Legacy-Surveys-like g,r,z cutouts with a truth catalogue",
        description="Simulate N galaxies and write images, inverse variance, footprints "
        "and the truth catalogue to an HDF5 file.",
    )
    parser.add_argument("n", type=int, help="number of galaxies")
    parser.add_argument("output", help="output HDF5 file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sequence (default 0)")
    parser.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--chunk-size", type=int, default=512, help="galaxies per work unit")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _run(args):
    from .dataset import write_dataset

    path = write_dataset(
        args.output,
        args.n,
        seed=args.seed,
        processes=args.processes,
        chunk_size=args.chunk_size,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.n} galaxies to {path}")
    return 0
