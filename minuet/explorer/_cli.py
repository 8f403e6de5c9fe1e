"""The ``minuet explore`` subcommand."""

from pathlib import Path

__all__ = ["register"]


def register(subparsers):
    """Add the ``explore`` subcommand."""
    parser = subparsers.add_parser(
        "explore",
        help="explore a table of latents in the web browser",
        description=(
            "Open the latent-space explorer, a Bokeh server page on this machine: a scatter "
            "of the latents coloured by any column, a panel with the selected galaxy's image, "
            "reconstructions, posteriors and neighbours, latent sliders, and export of box or "
            "lasso selections. Without TABLE it opens the bundled reference catalogue. Stop "
            "it with Ctrl+C."
        ),
    )
    parser.add_argument("table", nargs="?", type=Path, metavar="TABLE",
                        help="table of latents (output of minuet encode); default the "
                             "bundled reference catalogue")
    parser.add_argument("--cutouts", type=Path, default=None, metavar="FILE",
                        help="the cutouts the table was encoded from (HDF5 or FITS), in its "
                             "order, for images and hover thumbnails")
    parser.add_argument("--model", default=None,
                        help="model directory or bundled model name (default: the bundled "
                             "model)")
    parser.add_argument("--export-dir", type=Path, default=None, metavar="DIR",
                        help="the only directory selections are exported into (default: "
                             "export off)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host other machines can reach; the page has no "
                             "authentication")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a web browser; print the address only")
    parser.add_argument("--max-points", type=int, default=20_000,
                        help="most points drawn at once (default: 20000)")
    parser.set_defaults(func=_explore)


def _explore(args):
    from ..core import model_from_name
    from ._serve import explore

    model = model_from_name(args.model)
    server = explore(args.table, model=model, cutouts=args.cutouts,
                     export_dir=args.export_dir, host=args.host, port=args.port,
                     allow_remote=args.allow_remote, show=False, max_points=args.max_points)
    print(f"minuet explore: {len(server.data):,} galaxies at {server.url} (Ctrl+C to stop)",
          flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(server.url)
    server.wait()
    return 0
