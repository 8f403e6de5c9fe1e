"""``minuet models``: the bundled and registered models."""


def register(subparsers):
    """Add the ``models`` subcommand to the ``minuet`` command line."""
    parser = subparsers.add_parser(
        "models",
        help="list the bundled and registered models",
        description=(
            "List the models that Minuet.pretrained(name) and --model NAME accept: those "
            "bundled with the package and those of the model registry, which are downloaded "
            "once, checked against their SHA-256 and kept in the cache."
        ),
    )
    parser.add_argument("--download", metavar="NAME",
                        help="download and verify this registered model now")
    parser.set_defaults(func=_run)


def _run(args):
    from ._registry import download_model, list_models

    if args.download:
        path = download_model(args.download)
        print(f"{args.download}: verified, in {path}")
        return 0
    table = list_models()
    table["size_mb"].format = ".1f"
    table["description"] = [_short(text) for text in table["description"]]
    table.pprint_all()
    return 0


def _short(text, width=60):
    """The first sentence of ``text``, cut to ``width`` characters."""
    text = str(text).split(". ")[0].rstrip(".")
    return text if len(text) <= width else text[: width - 3] + "..."
