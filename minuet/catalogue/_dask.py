"""Encoding with Dask: dask arrays of cutouts, and lists of files on a cluster."""

import functools
from pathlib import Path

import numpy as np

from ._stream import (
    _unit_rows,
    encode_unit,
    finish_run,
    part_path,
    prepare_run,
    typicality_meta,
    typicality_setting,
    write_part,
)

__all__ = ["encode_dask_array", "encode_files_dask"]


def _model_reference(model):
    """A small, picklable reference to a model: its directory or bundled name, and SHA-256."""
    from ..core import Minuet

    if isinstance(model, Minuet):
        if model.path is None:
            msg = (
                "Dask workers load the model from disk, but this model was never saved; "
                "call model.save(directory) first (on a filesystem the workers can read)."
            )
            raise ValueError(msg)
        return str(model.path), model.sha256
    if isinstance(model, (str, Path)):
        return str(model), None
    msg = f"model must be a Minuet, a model directory or a bundled name; got {type(model)!r}."
    raise TypeError(msg)


@functools.lru_cache(maxsize=4)
def _worker_model(location, sha256):
    """Load a model once per worker process and keep it for every later task.

    Dask's nanny starts workers with ``OMP_NUM_THREADS=1``, so PyTorch in a
    worker uses one thread; run one worker thread per core.
    """
    from ..core import model_from_name

    model = model_from_name(location)
    if sha256 is not None and model.sha256 != sha256:
        msg = (
            f"the model at {location} has SHA-256 {model.sha256}, not {sha256}: the workers "
            "see different weights from the client."
        )
        raise ValueError(msg)
    return model


def _encode_block(block, *, reference, batch_size, average_dihedral, precision):
    from ..cutouts import load_cutouts

    model = _worker_model(*reference)
    cutouts = load_cutouts(block, on_invalid="flag", size=model.image_size)
    return model.encode_cutouts(
        cutouts, batch_size=batch_size, progress=False, average_dihedral=average_dihedral,
        precision=precision,
    )


def encode_dask_array(array, *, model, batch_size=256, average_dihedral=False,
                      precision="auto"):
    """Encode a dask array of cutouts lazily, block by block.

    Parameters
    ----------
    array : `dask.array.Array`
        Flux in nanomaggies, shape ``(N, 3, H, W)``, bands g, r, z. It is
        rechunked so that each block holds whole cutouts.
    model : `~minuet.Minuet`, str or path-like
        A saved model (its directory is read by each worker, once), a model
        directory, or the name of a bundled model.
    batch_size : int, optional
        Cutouts per network call inside a block.
    average_dihedral : bool, optional
        Average each latent over the 8 flips and quarter turns.
    precision : {'auto', 'bf16', 'fp32'}, optional
        Arithmetic of the network, as for `~minuet.Minuet.encode_cutouts`;
        ``'auto'`` is resolved on the client, so that every worker computes alike.

    Returns
    -------
    latents : `dask.array.Array`
        Shape ``(N, latent_dim)``, float32; NaN rows for refused cutouts.
        Only the latents: the typicality of `~minuet.Minuet.encode` also
        needs each cutout's pixels, so for catalogues that should say which
        galaxies are unlike the training set, encode the files with
        `encode_files_dask` (or `~minuet.catalogue.encode_catalogue`), whose
        tables carry the typicality columns.

    Examples
    --------
    >>> import dask.array as da
    >>> from minuet.catalogue import encode_dask_array
    >>> from minuet import Minuet
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> model = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")))
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())  # any folder of yours
    >>> _ = model.save(folder / "tiny")
    >>> cutouts = da.zeros((10, 3, 72, 72), chunks=(4, 3, 72, 72))
    >>> encode_dask_array(cutouts, model=model).compute().shape
    (10, 5)
    """
    import dask.array as da

    from ..models import resolve_precision

    precision = resolve_precision(precision)  # on the client: every worker computes alike
    reference = _model_reference(model)
    if array.ndim != 4 or array.shape[1] != 3:
        msg = f"expected a dask array of shape (N, 3, H, W); got shape {array.shape}."
        raise ValueError(msg)
    array = array.rechunk({1: -1, 2: -1, 3: -1})
    latent_dim = _worker_model(*reference).latent_dim
    return da.map_blocks(
        _encode_block,
        array,
        reference=reference,
        batch_size=batch_size,
        average_dihedral=average_dihedral,
        precision=precision,
        dtype=np.float32,
        chunks=(array.chunks[0], (latent_dim,)),
        drop_axis=[2, 3],
        meta=np.empty((0, latent_dim), dtype=np.float32),
    )


def _encode_unit_task(k, unit, *, reference, sources, parts_dir, dataset, batch_size,
                      average_dihedral, options, precision, typicality):
    path = part_path(Path(parts_dir), k)
    if not path.exists():
        columns = encode_unit(
            _worker_model(*reference), unit, sources, dataset=dataset, batch_size=batch_size,
            average_dihedral=average_dihedral, options=options, precision=precision,
            typicality=typicality,
        )
        write_part(path, columns)
    return _unit_rows(unit)


def encode_files_dask(
    sources,
    output,
    *,
    model,
    client=None,
    batch_size=256,
    chunk_size=4096,
    dataset="images",
    average_dihedral=False,
    precision="auto",
    typicality=True,
    overwrite=False,
    keep_parts=False,
    **cutout_options,
):
    """Encode many files on a Dask cluster, one task per unit, resumable.

    The plan, part files and merge are those of
    `~minuet.catalogue.encode_catalogue`, so a run interrupted on a cluster
    resumes, on a cluster or on one machine, without losing or duplicating a
    row. Each worker loads the model once. The inputs, the model and
    ``<output>.parts/`` must be on a filesystem every worker can read and
    write.

    Parameters
    ----------
    sources : str, path-like or sequence of them
        HDF5 and/or FITS files, as for `~minuet.catalogue.encode_catalogue`.
    output : str or path-like
        Output table (``.parquet``, ``.h5``, ``.fits`` or ``.ecsv``).
    model : `~minuet.Minuet`, str or path-like
        A saved model, a model directory, or a bundled model's name.
    client : `distributed.Client`, optional
        The cluster's client; default the current Dask scheduler.
    batch_size, chunk_size, dataset, average_dihedral, typicality, overwrite, keep_parts
        As for `~minuet.catalogue.encode_catalogue`: by default the table has the
        typicality columns and flag of `~minuet.Minuet.encode`, measured on the
        workers.
    **cutout_options
        As for `~minuet.catalogue.encode_catalogue`.
    precision : {'auto', 'bf16', 'fp32'}, optional
        As for `~minuet.catalogue.encode_catalogue`; ``'auto'`` is resolved
        on the client, so that every worker computes alike.

    Returns
    -------
    table : `~astropy.table.QTable`
        The merged output table, with the columns of
        `~minuet.catalogue.encode_catalogue`.

    Examples
    --------
    Without a ``client`` the tasks run on Dask's default scheduler, here on
    two small files:

    >>> import tempfile
    >>> import h5py
    >>> import numpy as np
    >>> from minuet import Minuet
    >>> from minuet.catalogue import encode_files_dask
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    >>> model = Minuet(DiffusionAutoencoder(config))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = model.save(f"{tmp}/model")  # workers read the weights from here
    ...     for name, n in [("a", 3), ("b", 5)]:
    ...         with h5py.File(f"{tmp}/{name}.h5", "w") as f:
    ...             f["images"] = np.ones((n, 3, 24, 24), dtype=np.float32)
    ...     table = encode_files_dask([f"{tmp}/a.h5", f"{tmp}/b.h5"], f"{tmp}/latents.ecsv",
    ...                               model=model, chunk_size=4)
    >>> len(table), table["source_index"].tolist()
    (8, [0, 0, 0, 1, 1, 1, 1, 1])
    """
    import dask

    from ..models import resolve_precision

    precision = resolve_precision(precision)
    reference = _model_reference(model)
    driver_model = _worker_model(*reference)
    options = {"on_invalid": "flag", "size": driver_model.image_size} | cutout_options
    model_id = {"name": driver_model.name, "sha256": driver_model.sha256,
                "average_dihedral": bool(average_dihedral), "precision": precision}
    typicality = typicality_setting(driver_model, typicality, model_id)
    parts_dir, sources, plan = prepare_run(
        sources, output, model_id=model_id, chunk_size=chunk_size, dataset=dataset,
        options=options, overwrite=overwrite,
    )
    tasks = [
        dask.delayed(_encode_unit_task, pure=False)(
            k, unit, reference=reference, sources=sources, parts_dir=str(parts_dir),
            dataset=dataset, batch_size=batch_size, average_dihedral=average_dihedral,
            options=options, precision=precision, typicality=typicality,
        )
        for k, unit in enumerate(plan)
        if not part_path(parts_dir, k).exists()
    ]
    if client is None:
        dask.compute(*tasks)
    else:
        client.gather(client.compute(tasks))
    return finish_run(output, parts_dir, sources, plan, latent_names=driver_model.latent_names,
                      meta=driver_model.provenance() | {"precision": precision}
                      | typicality_meta(driver_model, typicality),
                      keep_parts=keep_parts)
