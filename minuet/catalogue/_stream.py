"""Streaming, resumable encoding of catalogues stored in many files.

The work is cut into a fixed plan of units (a slice of rows of one HDF5
file, or a group of single-cutout FITS files). Each unit is encoded on its
own and written atomically as one part file in ``<output>.parts/``; a
manifest there records the plan and the model. A run that is killed keeps
every finished part, and the next run with the same arguments encodes only
the missing units. When all parts exist they are merged, in plan order, into
the output table, which is also written atomically. Memory stays bounded by
one unit, whatever the size of the catalogue.
"""

import json
import os
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
from astropy.table import QTable, vstack
from tqdm.auto import tqdm

from .._codec import no_typicality_head
from .._latents import refuse_nonfinite_latents
from .._prefetch import prefetch
from .._validation import input_file
from .._vocabulary import ENCODE_COLUMNS, TYPICALITY_COLUMNS, encoded_columns, fits_keywords
from .._weights import tensors_sha256
from ..cutouts import iter_hdf5, load_cutouts
from ._resume import check_parts, fingerprint, input_stamps, read_manifest, why_different

__all__ = ["encode_catalogue"]

_PLAN_FORMAT = "minuet-encode-plan-1"
_WRITERS = {
    ".parquet": {"format": "parquet"},
    ".h5": {"format": "hdf5", "path": "latents", "serialize_meta": True},
    ".hdf5": {"format": "hdf5", "path": "latents", "serialize_meta": True},
    ".fits": {"format": "fits"},
    ".ecsv": {"format": "ascii.ecsv"},
}
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")
_FITS_SUFFIXES = (".fits", ".fit", ".fz", ".fits.gz")


def _is_hdf5(path):
    name = path.name.lower()
    if name.endswith(_HDF5_SUFFIXES):
        return True
    if name.endswith(_FITS_SUFFIXES):
        return False
    if h5py.is_hdf5(path):
        return True
    msg = (
        f"cannot tell the format of the input {path}: expected an HDF5 file "
        f"({', '.join(_HDF5_SUFFIXES)}) or a FITS file ({', '.join(_FITS_SUFFIXES)})."
    )
    raise ValueError(msg)


def make_plan(sources, *, chunk_size, dataset="images"):
    """Cut the sources into units of at most ``chunk_size`` cutouts.

    Parameters
    ----------
    sources : str, path-like or sequence of them
        HDF5 files of many cutouts and/or FITS files of one cutout each.
    chunk_size : int
        Cutouts per unit.
    dataset : str, optional
        Image dataset name in the HDF5 files.

    Returns
    -------
    plan : list of dict
        Units in output order; each has ``kind`` (``'hdf5'`` or ``'fits'``),
        the source index or indices and the rows it covers.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = [Path(s) for s in sources]
    if not sources:
        msg = "no input files were given; pass one or more HDF5 or FITS files."
        raise ValueError(msg)
    if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        msg = f"chunk_size must be a positive integer; got {chunk_size!r}."
        raise ValueError(msg)
    for path in sources:
        input_file(path)
    plan, fits_group = [], []

    def flush_fits():
        if fits_group:
            plan.append({"kind": "fits", "sources": list(fits_group)})
            fits_group.clear()

    for index, path in enumerate(sources):
        if _is_hdf5(path):
            flush_fits()
            n = _hdf5_rows(path, dataset)
            plan.extend(
                {"kind": "hdf5", "source": index, "start": start,
                 "stop": min(start + chunk_size, n)}
                for start in range(0, n, chunk_size)
            )
        else:
            fits_group.append(index)
            if len(fits_group) == chunk_size:
                flush_fits()
    flush_fits()
    return [str(p) for p in sources], plan


def _hdf5_rows(path, dataset):
    """Number of cutouts in an HDF5 input, with errors that name the file and the dataset."""
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        msg = f"could not open {path} as HDF5 ({exc}); check that the file is a complete HDF5 file."
        raise ValueError(msg) from None
    with handle:
        if dataset not in handle:
            msg = (
                f"{path} has no dataset {dataset!r}; its top-level entries are "
                f"{sorted(handle)}. Pass dataset= naming the image dataset."
            )
            raise ValueError(msg)
        images = handle[dataset]
        if not isinstance(images, h5py.Dataset) or images.ndim != 4:
            kind = "a group" if isinstance(images, h5py.Group) else f"shape {images.shape}"
            msg = (
                f"{dataset!r} in {path} is {kind}, not an (N, bands, H, W) array of cutouts; "
                "pass dataset= naming the image dataset."
            )
            raise ValueError(msg)
        return images.shape[0]


def _unit_rows(unit):
    if unit["kind"] == "hdf5":
        return unit["stop"] - unit["start"]
    return len(unit["sources"])


def _read_unit(unit, sources, *, dataset, batch_size, options):
    """Yield (cutouts, source index per row, row within source) for one unit."""
    if unit["kind"] == "hdf5":
        # the next batch's pixels are read while this one is encoded; its checks wait for
        # the main thread, where they do not slow the network down by taking a core from it
        batches = iter_hdf5(
            sources[unit["source"]], batch_size=batch_size, dataset=dataset,
            start=unit["start"], stop=unit["stop"], read_ahead=True, **options,
        )
        for cutouts in batches:
            yield cutouts, np.full(len(cutouts), unit["source"]), np.asarray(cutouts.ids)
    else:
        # files are opened, read and checked together while the batch before is encoded
        yield from prefetch(_read_files(unit["sources"], sources, batch_size, options))


def _read_files(group_rows, sources, batch_size, options):
    for first in range(0, len(group_rows), batch_size):
        group = group_rows[first:first + batch_size]
        cutouts = load_cutouts([sources[i] for i in group], **options)
        yield cutouts, np.asarray(group), np.zeros(len(group), dtype=int)


def encode_unit(model, unit, sources, *, dataset, batch_size, average_dihedral, options,
                precision="auto", compile=False, typicality=False):
    """Encode one unit of the plan and return its columns as plain arrays."""
    columns = {"source_index": [], "row": [], "latents": [], "valid": [], "flag": [],
               "masked_fraction": []}
    if typicality:
        columns |= {name: [] for name in TYPICALITY_COLUMNS}
    for cutouts, source_index, row in _read_unit(
        unit, sources, dataset=dataset, batch_size=batch_size, options=options
    ):
        latents = model.encode_cutouts(cutouts, batch_size=batch_size, progress=False,
                                       average_dihedral=average_dihedral, precision=precision,
                                       compile=compile)
        refuse_nonfinite_latents(latents, cutouts, on_invalid=options.get("on_invalid"))
        columns["latents"].append(latents)
        columns["source_index"].append(source_index)
        columns["row"].append(row)
        encoded = encoded_columns(latents, cutouts.valid, cutouts.reason, cutouts.mask)
        for name in ENCODE_COLUMNS:
            columns[name].append(encoded[name])
        if typicality:
            scores = model.typicality_scorer.score_cutouts(latents, cutouts)
            for name in TYPICALITY_COLUMNS:
                columns[name].append(np.asarray(scores[name]))
    return {key: np.concatenate(value) for key, value in columns.items()}


def write_part(path, columns):
    """Write one unit's columns atomically (npz, no pickled objects).

    The part also records its unit's number and the fingerprint of the run
    (from the manifest beside it), so that a resumed run can tell a part of
    its own from a copied or stale one, and the SHA-256 of all its columns
    (`minuet._weights.tensors_sha256`), checked before the part is reused.
    """
    manifest = json.loads((path.parent / "manifest.json").read_text())
    columns = {**columns, "run": np.array(fingerprint(manifest)),
               "unit": np.array(int(path.stem.rsplit("-", 1)[1]))}
    columns["sha256"] = np.array(tensors_sha256(columns))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **columns)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_part(path):
    """Read one part file written by :func:`write_part`."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        msg = (
            f"part file {path} cannot be read ({type(exc).__name__}: {exc}); it was damaged "
            "after it was checked. Run the same command again to encode its unit anew."
        )
        raise ValueError(msg) from None


def part_path(parts_dir, k):
    """Name of the part file of unit ``k``."""
    return parts_dir / f"part-{k:07d}.npz"


def _check_ours(parts_dir, manifest_path):
    """Refuse to use ``<output>.parts`` when it is not a directory of minuet's own."""
    if not parts_dir.exists():
        return
    if not parts_dir.is_dir():
        msg = f"{parts_dir} exists and is not a directory; move it away or use another output."
        raise FileExistsError(msg)
    ours = manifest_path.exists()
    if ours:
        try:
            ours = json.loads(manifest_path.read_text()).get("format") == _PLAN_FORMAT
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            ours = True  # damaged, but it is our manifest's name in our directory's name
    others = [e.name for e in parts_dir.iterdir()
              if not (e.name.startswith("part-") or e.name.startswith("manifest.json"))]
    if others or (manifest_path.exists() and not ours):
        msg = (
            f"{parts_dir} holds files that minuet did not write ({sorted(others)[:3]}"
            f"{' ...' if len(others) > 3 else ''}); it keeps the part files of an unfinished "
            "run there. Move that directory away or use another output name."
        )
        raise FileExistsError(msg)


def prepare_run(sources, output, *, model_id, chunk_size, dataset, options, overwrite):
    """Make or reopen the parts directory of a run; return (parts_dir, sources, plan)."""
    output = Path(output)
    if output.suffix.lower() not in _WRITERS:
        msg = (
            f"cannot tell the output format from {output.name!r}; use one of the suffixes "
            f"{sorted(_WRITERS)}."
        )
        raise ValueError(msg)
    if output.exists() and not overwrite:
        msg = f"{output} exists; pass overwrite=True (--overwrite) to replace it."
        raise FileExistsError(msg)
    sources, plan = make_plan(sources, chunk_size=chunk_size, dataset=dataset)
    manifest = {
        "format": _PLAN_FORMAT,
        "sources": sources,
        "inputs": input_stamps([Path(source) for source in sources]),
        "plan": plan,
        "dataset": dataset,
        "model": model_id,
        "options": {key: repr(value) for key, value in sorted(options.items())},
    }
    parts_dir = output.with_name(output.name + ".parts")
    manifest_path = parts_dir / "manifest.json"
    _check_ours(parts_dir, manifest_path)
    previous = read_manifest(manifest_path) if manifest_path.exists() else manifest
    if previous is not None and fingerprint(previous) != fingerprint(manifest):
        finished = list(parts_dir.glob("part-*.npz"))
        if finished and not overwrite:
            msg = (
                f"{parts_dir} holds an unfinished run that cannot be resumed: "
                f"{why_different(previous, manifest)}. Pass overwrite=True (--overwrite) to "
                "discard it and start over, or use another output name."
            )
            raise ValueError(msg)
        shutil.rmtree(parts_dir)  # ours; with no finished part nothing is lost
    parts_dir.mkdir(parents=True, exist_ok=True)
    if previous is None or not manifest_path.exists():
        tmp = manifest_path.with_name("manifest.json.tmp")
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, manifest_path)
    check_parts(parts_dir, plan, fingerprint(manifest), part_path)
    return parts_dir, sources, plan


def finish_run(output, parts_dir, sources, plan, *, latent_names, meta, keep_parts=False):
    """Merge every part in plan order into the output table, atomically."""
    output = Path(output)
    tables = []
    for k in range(len(plan)):
        columns = read_part(part_path(parts_dir, k))
        table = QTable()
        table["source_index"] = columns["source_index"].astype(np.int32)
        table["row"] = columns["row"].astype(np.int64)
        for i, name in enumerate(latent_names):
            table[name] = columns["latents"][:, i]
        for name, dtype in ENCODE_COLUMNS.items():
            table[name] = columns[name].astype(dtype, copy=False)
        for name in TYPICALITY_COLUMNS:
            if name in columns:
                table[name] = columns[name]
        tables.append(table)
    table = vstack(tables, metadata_conflicts="silent") if len(tables) > 1 else tables[0]
    table.meta.update(meta)
    table.meta["sources"] = list(sources)
    write_table(table, output)
    if not keep_parts:
        shutil.rmtree(parts_dir)
    return table


def write_table(table, output):
    """Write a table atomically, in the format its suffix names.

    FITS headers get the provenance as standard 8-character keywords.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in _WRITERS:
        msg = (
            f"cannot tell the output format from {output.name!r}; use one of the suffixes "
            f"{sorted(_WRITERS)}."
        )
        raise ValueError(msg)
    if suffix == ".fits":
        table = table.copy(copy_data=False)
        table.meta = fits_keywords(table.meta)
    tmp = output.with_name(f".{output.name}.tmp{output.suffix}")
    table.write(tmp, overwrite=True, **_WRITERS[suffix])
    os.replace(tmp, output)


def typicality_setting(model, typicality, model_id):
    """Whether a run measures typicality; recorded in ``model_id`` when it does.

    False for a model without a typicality head, whatever was asked. Runs
    begun without the setting keep matching their manifests, which never
    name it.
    """
    typicality = bool(typicality) and model.typicality_scorer is not None
    if typicality:
        model_id["typicality"] = True
    return typicality


def typicality_meta(model, typicality):
    """The table metadata that says what a run's typicality columns mean, or why there are none."""
    if typicality:
        return dict(model.typicality_scorer.meta)
    if model.typicality_scorer is None:
        return {"typicality": no_typicality_head(model.name)}
    return {"typicality": "not measured (typicality=False)."}


def encode_catalogue(
    sources,
    output,
    *,
    model,
    batch_size=256,
    chunk_size=4096,
    dataset="images",
    average_dihedral=False,
    precision="auto",
    compile=False,
    typicality=True,
    overwrite=False,
    keep_parts=False,
    progress=None,
    **cutout_options,
):
    """Encode the cutouts of many files to one table, with bounded memory and resume.

    The inputs are cut into units of ``chunk_size`` cutouts; each unit is read,
    encoded and written as its own part file before the next one is read, so
    memory stays bounded by one unit. Parts are written atomically and a
    manifest records the plan, so a run that is interrupted (even by
    ``SIGKILL``) resumes where it stopped when called again with the same
    arguments, and its output equals that of an uninterrupted run row for row.
    Before a part is reused it is checked: a truncated, corrupt, copied or
    foreign part is encoded again (with a `~minuet.catalogue.ResumeWarning`),
    and an input file that changed since the run began (size, modification
    time or first MiB) stops the run with a `ValueError` naming it.

    Parameters
    ----------
    sources : str, path-like or sequence of them
        HDF5 files of many cutouts (simulated sets, or research sets of
        ``(N, 3, 152, 152)`` cutouts, centre-cropped) and/or FITS files of one
        cutout each in the Legacy Surveys viewer layout.
    output : str or path-like
        Output table; its suffix chooses the format: ``.parquet``, ``.h5`` /
        ``.hdf5`` (table at path ``latents``), ``.fits`` or ``.ecsv``.
    model : `~minuet.Minuet`
        The model that encodes.
    batch_size : int, optional
        Cutouts per network call.
    chunk_size : int, optional
        Cutouts per unit of work and part file.
    dataset : str, optional
        Image dataset in the HDF5 files.
    average_dihedral : bool, optional
        Average each latent over the 8 flips and quarter turns.
    precision : {'auto', 'bf16', 'fp32'}, optional
        Arithmetic of the network, as for `~minuet.Minuet.encode_cutouts`;
        resolved once here and recorded as ``meta['precision']``. A run
        resumes only with the precision it started with.
    compile : bool, optional
        Run a compiled encoder (see `~minuet.Minuet.encode_cutouts`): a
        one-off compilation of 10-40 s, for a gain that measured from
        nothing to 1.7 times the eager rate on CPUs with native bf16;
        worth trying from tens of thousands of cutouts. Recorded as
        ``meta['compile']``; a run resumes only with the setting it
        started with.
    typicality : bool, optional
        Add the typicality columns and flag of `~minuet.Minuet.encode`
        (``typicality``, ``typicality_latent``, ``typicality_image``,
        ``atypical``), so that the heads warn for the catalogue as they do
        for an ``encode`` table; measuring the cutouts' pixel statistics
        costs about a third of the encoding time. Ignored for a model
        without a typicality head (``meta['typicality']`` then says so). A
        run resumes only with the setting it started with.
    overwrite : bool, optional
        Replace an existing output, and discard an unfinished run that used
        other inputs or another model.
    keep_parts : bool, optional
        Keep the part files after the merge.
    progress : bool or None, optional
        Show a progress bar (default: when there is more than one unit).
    **cutout_options
        Passed to the cutout reader (``on_invalid``, ``min_valid_fraction``,
        ``zeropoint``, ...). The default ``on_invalid='flag'`` keeps refused
        cutouts as rows with NaN latents and the reason in ``flag``.

    Returns
    -------
    table : `~astropy.table.QTable`
        The output table: ``source_index`` (into ``meta['sources']``),
        ``row`` (within the source file), the latent columns, ``valid``,
        ``flag`` and ``masked_fraction``, and with ``typicality`` the
        typicality columns.

    Examples
    --------
    Ten blank 24x24 cutouts in one HDF5 file, encoded in units of four by an
    untrained tiny model:

    >>> import tempfile
    >>> import h5py
    >>> import numpy as np
    >>> from minuet import Minuet
    >>> from minuet.catalogue import encode_catalogue
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    >>> model = Minuet(DiffusionAutoencoder(config))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with h5py.File(f"{tmp}/field.h5", "w") as f:
    ...         f["images"] = np.ones((10, 3, 24, 24), dtype=np.float32)
    ...     table = encode_catalogue(f"{tmp}/field.h5", f"{tmp}/latents.ecsv", model=model,
    ...                              chunk_size=4)
    >>> len(table), table.colnames[:3]
    (10, ['source_index', 'row', 'latent_0'])
    >>> table["row"].tolist() == list(range(10))
    True
    """
    from ..models import resolve_precision, retained_heap

    precision = resolve_precision(precision)
    options = {"on_invalid": "flag", "size": model.image_size} | cutout_options
    model_id = {"name": model.name, "sha256": model.sha256,
                "average_dihedral": bool(average_dihedral), "precision": precision}
    if compile:  # runs begun before the option existed keep matching their manifests
        model_id["compile"] = True
    typicality = typicality_setting(model, typicality, model_id)
    output = Path(output)
    parts_dir, sources, plan = prepare_run(
        sources, output, model_id=model_id, chunk_size=chunk_size, dataset=dataset,
        options=options, overwrite=overwrite,
    )
    todo = [k for k in range(len(plan)) if not part_path(parts_dir, k).exists()]
    total = sum(_unit_rows(u) for u in plan)
    done = total - sum(_unit_rows(plan[k]) for k in todo)
    bar = tqdm(total=total, initial=done, desc=f"encoding to {output.name}", unit="galaxy",
               disable=not (len(plan) > 1 if progress is None else progress))
    # one retained heap across the units: the parts' buffers are reused, not faulted in again
    with bar, retained_heap():
        for k in todo:
            columns = encode_unit(
                model, plan[k], sources, dataset=dataset, batch_size=batch_size,
                average_dihedral=average_dihedral, options=options, precision=precision,
                compile=compile, typicality=typicality,
            )
            write_part(part_path(parts_dir, k), columns)
            bar.update(_unit_rows(plan[k]))
    meta = model.provenance() | {"precision": precision, "compile": bool(compile)}
    meta |= typicality_meta(model, typicality)
    return finish_run(output, parts_dir, sources, plan, latent_names=model.latent_names,
                      meta=meta, keep_parts=keep_parts)
