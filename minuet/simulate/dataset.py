"""Writing and streaming simulated datasets as HDF5 files.

File layout
-----------
``images``
    (N, 3, 72, 72) float32, g, r, z flux in nanomaggies per pixel.
``invvar``
    (N, 3, 72, 72) float32, inverse variance (0 = masked).
``footprint``
    (N, 72, 72) bool, segmentation of the central system.
``truth``
    The truth catalogue, written by `astropy.io.misc.hdf5.write_table_hdf5`
    with ``serialize_meta=True`` (units survive the round trip).

File attributes: ``bands`` ('g', 'r', 'z'), ``pixscale`` (arcsec),
``seed``, ``minuet_version``, ``simulator_config`` (JSON) and ``n``.
"""

import multiprocessing
from pathlib import Path

import numpy as np

from .._vocabulary import BANDS as _BANDS
from .config import SimulationConfig
from .core import simulate_range, truth_table

__all__ = ["iter_batches", "read_dataset", "write_dataset"]

BANDS = _BANDS


def _work(job):
    start, stop, seed, config_dict = job
    return start, simulate_range(
        start, stop, seed=seed, config=SimulationConfig.from_dict(config_dict)
    )


def write_dataset(
    path, n, *, seed=0, config=None, processes=1, chunk_size=512, progress=False, overwrite=False
):
    """Simulate ``n`` galaxies and write them to an HDF5 file.

    The galaxies are those of :func:`~minuet.simulate.simulate` for the same
    ``seed`` and ``config``: galaxy ``i`` depends only on both and on ``i``,
    so the file's contents do not depend on ``processes`` or ``chunk_size``.

    Parameters
    ----------
    path : str or path-like
        Output file.
    n : int
        Number of galaxies.
    seed : int, optional
        Seed of the sequence.
    config : `~minuet.simulate.SimulationConfig`, optional
        Simulator settings.
    processes : int, optional
        Worker processes; 1 simulates in this process.
    chunk_size : int, optional
        Galaxies per unit of work and per write.
    progress : bool, optional
        Show a tqdm progress bar.
    overwrite : bool, optional
        Replace an existing file.

    Returns
    -------
    path : `~pathlib.Path`
        The file written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from minuet.simulate import write_dataset, read_dataset
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_dataset(pathlib.Path(tmp) / "sim.h5", 3, seed=4)
    ...     images, invvar, footprint, truth = read_dataset(path)
    >>> images.shape, len(truth)
    ((3, 3, 72, 72), 3)
    """
    import h5py
    from astropy.io.misc.hdf5 import write_table_hdf5
    from tqdm.auto import tqdm

    from .._vocabulary import version
    from .core import _check_count

    config = SimulationConfig() if config is None else config
    n = _check_count(n, "n")
    chunk_size = _check_count(chunk_size, "chunk_size")
    processes = _check_count(processes, "processes")
    path = Path(path)
    if path.exists() and not overwrite:
        msg = f"{path} already exists; pass overwrite=True (or --overwrite) to replace it."
        raise OSError(msg)
    size = config.stamp_size
    jobs = [
        (s, min(s + chunk_size, n), int(seed), config.to_dict()) for s in range(0, n, chunk_size)
    ]
    columns = []
    with h5py.File(path, "w") as f:
        f.attrs["bands"] = np.array(BANDS, dtype="S1")
        f.attrs["pixscale"] = config.pixscale
        f.attrs["seed"] = int(seed)
        f.attrs["minuet_version"] = version()
        f.attrs["simulator_config"] = config.to_json()
        f.attrs["n"] = n
        rows = min(64, n)
        images = f.create_dataset(
            "images",
            (n, 3, size, size),
            dtype="f4",
            chunks=(rows, 3, size, size),
            track_times=False,
        )
        invvar = f.create_dataset(
            "invvar",
            (n, 3, size, size),
            dtype="f4",
            chunks=(rows, 3, size, size),
            track_times=False,
        )
        footprint = f.create_dataset(
            "footprint",
            (n, size, size),
            dtype=bool,
            chunks=(rows, size, size),
            compression="lzf",
            track_times=False,
        )
        bar = tqdm(total=n, disable=not progress, unit="galaxy", desc="simulate")
        if processes == 1:
            results = map(_work, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("spawn").Pool(processes)
            results = pool.imap(_work, jobs)
        try:
            for start, (im, iv, fp, cols) in results:
                stop = start + im.shape[0]
                images[start:stop] = im
                invvar[start:stop] = iv
                footprint[start:stop] = fp
                columns.append(cols)
                bar.update(stop - start)
        finally:
            bar.close()
            if pool is not None:
                pool.close()
                pool.join()
        merged = {k: np.concatenate([c[k] for c in columns]) for k in columns[0]}
        table = truth_table(merged, seed=seed, config=config)
        write_table_hdf5(table, f, path="truth", serialize_meta=True)
    return path


def _check_file(f, path):
    missing = {"images", "invvar", "footprint", "truth"} - set(f)
    if missing:
        msg = (
            f"{path} is not a minuet simulated dataset: it lacks {sorted(missing)}. "
            "Write one with minuet.simulate.write_dataset or `minuet simulate`."
        )
        raise ValueError(msg)


def read_dataset(path, *, start=0, stop=None):
    """Read galaxies ``start`` to ``stop`` of a simulated dataset.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`write_dataset`.
    start, stop : int, optional
        Row range; all rows by default.

    Returns
    -------
    images, invvar : `~numpy.ndarray`, shape (n, 3, H, W)
        Flux in nanomaggies and its inverse variance (0 where masked).
    footprint : `~numpy.ndarray`, shape (n, H, W), bool
        Segmentation of the central system.
    truth : `~astropy.table.QTable`
        The truth catalogue of those rows.

    Examples
    --------
    >>> from minuet.simulate import read_dataset, write_dataset
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())  # any folder of yours
    >>> path = write_dataset(folder / "sim.h5", 4, seed=3)
    >>> images, invvar, footprint, truth = read_dataset(path, start=1, stop=3)
    >>> images.shape, truth["index"].tolist()
    ((2, 3, 72, 72), [1, 2])
    """
    import h5py
    from astropy.io.misc.hdf5 import read_table_hdf5
    from astropy.table import QTable

    with h5py.File(path, "r") as f:
        _check_file(f, path)
        sl = slice(start, stop)
        images = f["images"][sl]
        invvar = f["invvar"][sl]
        footprint = f["footprint"][sl]
        truth = QTable(read_table_hdf5(f, path="truth"))[sl]
    return images, invvar, footprint, truth


def iter_batches(path, *, batch_size=256, start=0, stop=None):
    """Stream a simulated dataset in batches without loading it whole.

    Parameters
    ----------
    path : str or path-like
        File written by :func:`write_dataset`.
    batch_size : int, optional
        Galaxies per batch.
    start, stop : int, optional
        Row range; all rows by default.

    Yields
    ------
    images, invvar, footprint, truth
        As :func:`read_dataset`, for ``batch_size`` consecutive galaxies
        (fewer in the last batch).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from minuet.simulate import write_dataset, iter_batches
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_dataset(pathlib.Path(tmp) / "sim.h5", 5, seed=2)
    ...     sizes = [len(t) for *_, t in iter_batches(path, batch_size=2)]
    >>> sizes
    [2, 2, 1]
    """
    import h5py
    from astropy.io.misc.hdf5 import read_table_hdf5
    from astropy.table import QTable

    from .core import _check_count

    batch_size = _check_count(batch_size, "batch_size")
    with h5py.File(path, "r") as f:
        _check_file(f, path)
        truth = QTable(read_table_hdf5(f, path="truth"))
        n = f["images"].shape[0]
        stop = n if stop is None else min(stop, n)
        for lo in range(start, stop, batch_size):
            hi = min(lo + batch_size, stop)
            yield f["images"][lo:hi], f["invvar"][lo:hi], f["footprint"][lo:hi], truth[lo:hi]
