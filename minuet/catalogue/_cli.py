"""``minuet encode`` and ``minuet reconstruct``: catalogues in and out of files."""

from pathlib import Path

_TABLE_SUFFIXES = (".parquet",)


def register(subparsers):
    """Add the ``encode`` and ``reconstruct`` subcommands."""
    parser = subparsers.add_parser(
        "encode",
        help="encode cutouts from files to a table of latents",
        description=(
            "Encode the cutouts in HDF5 files (simulated sets or research sets of Legacy "
            "Surveys cutouts) and FITS files (one cutout each, Legacy Surveys viewer layout) "
            "to a table of latents, streaming with bounded memory. An interrupted run resumes "
            "when the same command is run again. A Parquet input is a table whose "
            "--column holds the cutouts; it is read whole."
        ),
    )
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IN",
                        help="input files (.h5, .fits, or one .parquet table)")
    parser.add_argument("output", type=Path, metavar="OUT",
                        help="output table: .parquet, .h5, .fits or .ecsv")
    _model_argument(parser)
    parser.add_argument("--column", default="cutout",
                        help="image column of a table input (default: cutout)")
    parser.add_argument("--dataset", default="images",
                        help="image dataset of HDF5 inputs (default: images)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--chunk-size", type=int, default=4096,
                        help="cutouts per part file; the unit of resumption")
    parser.add_argument("--average-dihedral", action="store_true",
                        help="average each latent over the 8 flips and quarter turns")
    _precision_argument(parser)
    parser.add_argument("--compile", action="store_true",
                        help="compile the encoder with torch.compile first (10-40 s once, "
                             "then faster; worth it for tens of thousands of cutouts)")
    parser.add_argument("--no-typicality", action="store_true",
                        help="leave out the typicality columns of HDF5 and FITS inputs "
                             "(their pixel statistics cost about a third of the time)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the output and any unfinished run for it")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_encode)

    parser = subparsers.add_parser(
        "reconstruct",
        help="draw images from a table of latents",
        description=(
            "Draw calibrated-flux images (nanomaggies) from the latent columns of a table "
            "written by 'minuet encode', and write them as a FITS cube (N, 3, H, W) with the "
            "per-pixel spread across samples in a STD extension when --n-samples > 1."
        ),
    )
    parser.add_argument("latents", type=Path, help="table with latent_0 ... columns")
    parser.add_argument("output", type=Path, help="output FITS file")
    _model_argument(parser)
    parser.add_argument("--rows", default=None,
                        help="rows to reconstruct, as START:STOP (default: all)")
    parser.add_argument("--n-samples", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="sampler steps")
    parser.add_argument("--seed", type=int, default=None)
    _precision_argument(parser)
    parser.add_argument("--overwrite", action="store_true")
    parser.set_defaults(func=_reconstruct)


def _model_argument(parser):
    parser.add_argument(
        "--model", default=None,
        help="model directory or bundled model name (default: the bundled model)",
    )


def _precision_argument(parser):
    parser.add_argument(
        "--precision", choices=("auto", "bf16", "fp32"), default="auto",
        help="arithmetic of the network: bf16 autocast, fp32, or auto (bf16 where the "
             "processor computes it natively; the default). Recorded in the output.",
    )


def _load_model(name):
    from ..core import model_from_name

    return model_from_name(name)


def _read_table(path):
    from astropy.io.registry import IORegistryError
    from astropy.table import QTable

    from .._validation import input_file

    input_file(path, "table")
    kwargs = {"path": "latents"} if path.suffix.lower() in (".h5", ".hdf5") else {}
    try:
        return QTable.read(path, **kwargs)
    except (IORegistryError, OSError, ValueError, KeyError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        msg = (
            f"could not read {path} as a table ({type(exc).__name__}: {first}); give a .parquet, "
            ".fits, .ecsv or .h5 (table at path 'latents') file as written by 'minuet encode'."
        )
        raise ValueError(msg) from None


def _same_file(a, b):
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _holds_cutouts(path, *, dataset, column):
    """What cutouts an existing file holds, in words, or None: such a file is an input."""
    suffix = path.suffix.lower()
    if not path.is_file():
        return None
    try:
        if suffix in (".h5", ".hdf5", ".hdf"):
            import h5py

            with h5py.File(path, "r") as handle:
                entry = handle.get(dataset)
                if isinstance(entry, h5py.Dataset) and entry.ndim in (3, 4):
                    return f"an HDF5 dataset {dataset!r} of shape {entry.shape}"
        elif suffix in (".fits", ".fit", ".fts"):
            from astropy.io import fits

            with fits.open(path, memmap=False) as hdul:
                for hdu in hdul:
                    if hdu.is_image and hdu.data is not None and hdu.data.ndim >= 2:
                        return f"a FITS image of shape {hdu.data.shape}"
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            if column in pq.read_schema(path).names:
                return f"a Parquet column {column!r}"
    except Exception:  # an unreadable file is not known to hold cutouts
        return None
    return None


def _check_output(inputs, output, *, dataset="images", column="cutout"):
    """Refuse an OUT that is one of the inputs, or that already holds cutouts."""
    for source in inputs:
        if source == output or _same_file(source, output):
            msg = (
                f"the output {output} is also one of the inputs; minuet never writes over its "
                "input. Give an output name after the inputs (for example latents.parquet)."
            )
            raise ValueError(msg)
    holds = _holds_cutouts(output, dataset=dataset, column=column)
    if holds is not None:
        msg = (
            f"the output {output} already holds cutouts ({holds}), so it looks like an input "
            "file, not a table of latents; --overwrite does not replace it. If the output "
            "name was forgotten, add one after the inputs (for example latents.parquet)."
        )
        raise ValueError(msg)


def _cutout_table(path, column):
    """Read a table of cutouts, restoring (3, s, s) cells that Parquet stored flattened."""
    import numpy as np

    table = _read_table(path)
    if column not in table.colnames:
        msg = f"{path} has no column {column!r}; its columns are {table.colnames}."
        raise ValueError(msg)
    cells = table[column]
    if cells.ndim == 2:
        side = round(float(np.sqrt(cells.shape[1] / 3)))
        if 3 * side * side != cells.shape[1]:
            msg = (
                f"column {column!r} holds rows of {cells.shape[1]} values, which is not "
                "3 x size x size; store g, r, z cutouts of shape (3, size, size)."
            )
            raise ValueError(msg)
        table[column] = cells.reshape(len(table), 3, side, side)
    return table


def _encode(args):
    from ._stream import encode_catalogue, write_table

    _check_output(args.inputs, args.output, dataset=args.dataset, column=args.column)
    model = _load_model(args.model)
    tables = [p for p in args.inputs if p.suffix.lower() in _TABLE_SUFFIXES]
    if tables:
        if len(args.inputs) > 1:
            msg = "give a single table input, or any number of HDF5/FITS files, not both."
            raise ValueError(msg)
        if args.output.exists() and not args.overwrite:
            msg = f"{args.output} exists; pass --overwrite to replace it."
            raise FileExistsError(msg)
        result = model.encode(_cutout_table(tables[0], args.column), column=args.column,
                              batch_size=args.batch_size, on_invalid="flag",
                              progress=not args.no_progress, precision=args.precision,
                              compile=args.compile)
        result.remove_column(args.column)
        write_table(result, args.output)
    else:
        result = encode_catalogue(
            args.inputs, args.output, model=model, batch_size=args.batch_size,
            chunk_size=args.chunk_size, dataset=args.dataset,
            average_dihedral=args.average_dihedral, precision=args.precision,
            compile=args.compile, typicality=not args.no_typicality,
            overwrite=args.overwrite, progress=not args.no_progress,
        )
    n_bad = int((~result["valid"]).sum())
    print(f"encoded {len(result)} cutouts ({n_bad} refused, see the 'flag' column) "
          f"to {args.output}")
    if "atypical" in result.colnames and model.typicality_scorer is not None:
        print(f"typicality: {model.sample_typicality(result)}")
    return 0


def _rows(text, n):
    """The slice of a ``--rows START:STOP`` argument, checked against ``n`` rows."""
    start, colon, stop = text.partition(":")
    try:
        first = int(start) if start.strip() else 0
        last = int(stop) if stop.strip() else n
    except ValueError:
        first = last = None
    if not colon or first is None or not 0 <= first < last <= n:
        msg = (
            f"--rows {text!r} is not START:STOP with 0 <= START < STOP <= {n}, the number of "
            "rows of the latents table (for example --rows 0:10)."
        )
        raise ValueError(msg)
    return slice(first, last)


def _reconstruct(args):
    import numpy as np
    from astropy.io import fits

    _check_output([args.latents], args.output)
    model = _load_model(args.model)
    table = _read_table(args.latents)
    if args.rows:
        table = table[_rows(args.rows, len(table))]
    if args.output.exists() and not args.overwrite:
        msg = f"{args.output} exists; pass --overwrite to replace it."
        raise FileExistsError(msg)
    images = model.reconstruct(table, n_samples=args.n_samples, steps=args.steps,
                               seed=args.seed, progress=True, precision=args.precision)
    header = fits.Header()
    header["BUNIT"] = "nanomaggy"
    header["BANDS"] = "grz"
    for i, band in enumerate("grz"):
        header[f"BAND{i}"] = band
    header["MINUETV"] = images.meta["minuet_version"]
    header["MODEL"] = images.meta["model"]
    header["WSHA256"] = images.meta["weights_sha256"]
    header["NSAMPLES"] = images.meta["n_samples"]
    header["STEPS"] = images.meta["steps"]
    header["SEED"] = str(images.meta["seed"])
    header["PRECISN"] = images.meta["precision"]
    hdus = [fits.PrimaryHDU(np.asarray(images.data), header=header)]
    if images.uncertainty is not None:
        hdus.append(fits.ImageHDU(np.asarray(images.uncertainty.array), name="STD"))
    fits.HDUList(hdus).writeto(args.output, overwrite=args.overwrite)
    print(f"wrote {len(table)} reconstructions ({args.n_samples} sample(s) each) to {args.output}")
    return 0
