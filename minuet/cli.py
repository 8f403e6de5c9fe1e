"""The ``minuet`` command line.

Each subcommand lives beside the code it drives, in a private ``_cli`` module
with a ``register(subparsers)`` function; this module only collects them, so
that ``minuet --help`` stays fast and imports no heavy dependency.
"""

import argparse
import importlib
import sys

__all__ = ["main"]

_COMMAND_MODULES = (
    "minuet._demo",
    "minuet.catalogue._cli",
    "minuet.explorer._cli",
    "minuet.registry._cli",
    "minuet.simulate._cli",
    "minuet.training._cli",
)


def build_parser():
    """Return the argument parser with every available subcommand."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="minuet",
        description="Five numbers per galaxy: encode, reconstruct and simulate g,r,z cutouts.",
    )
    parser.add_argument("--version", action="version", version=f"minuet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv=None):
    """Run the command line; return the process exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``minuet``; default those of the process.

    Returns
    -------
    status : int
        0 on success, 2 when the command failed with a message on stderr.

    Examples
    --------
    Without a command it prints the help and succeeds:

    >>> from minuet.cli import main
    >>> main([])  # doctest: +ELLIPSIS
    usage: minuet [-h] [--version] COMMAND ...
    ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as exc:
        print(f"minuet {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
