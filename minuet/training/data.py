"""Training data: HDF5 cutout files, a reproducible split and loss weights."""

import json
import os
import warnings
from pathlib import Path

import h5py
import numpy as np

from minuet.cutouts import AsinhStretch

from ._footprint import central_footprint

__all__ = ["CutoutFile", "compact_cutouts", "loss_weights", "split_indices"]

#: ``layout`` attribute of the compact files written by `compact_cutouts`.
COMPACT_LAYOUT = "minuet-stretched-float16-1"


def _take(dataset, key):
    """Rows ``key`` (a slice or sorted indices) of an HDF5 dataset.

    Row by row for indices: h5py's fancy selection across many chunks is
    some 30 times slower than reading the rows one at a time.
    """
    if isinstance(key, slice):
        return dataset[key]
    rows = [dataset[int(i)] for i in key]
    return np.stack(rows) if rows else np.empty((0, *dataset.shape[1:]), dataset.dtype)


def split_indices(n, *, validation_fraction=0.05, seed=0):
    """Split ``range(n)`` into reproducible training and validation indices.

    The split depends only on ``n``, ``validation_fraction`` and ``seed``, so
    every run (and every process of a distributed run) agrees on it.

    Parameters
    ----------
    n : int
        Number of images.
    validation_fraction : float, optional
        Fraction held out for validation, in [0, 1).
    seed : int, optional
        Seed of the permutation.

    Returns
    -------
    train, validation : `numpy.ndarray`
        Sorted indices of the two parts.

    Examples
    --------
    >>> from minuet.training import split_indices
    >>> train, val = split_indices(10, validation_fraction=0.2, seed=1)
    >>> len(train), len(val), sorted([*train, *val]) == list(range(10))
    (8, 2, True)
    """
    if not 0 <= validation_fraction < 1:
        msg = f"validation_fraction must lie in [0, 1); got {validation_fraction!r}."
        raise ValueError(msg)
    order = np.random.default_rng([seed, 0x5EED]).permutation(n)
    n_val = round(validation_fraction * n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def loss_weights(footprint, invvar, *, inside=0.9, outside=0.1):
    """Per-pixel loss weights from the galaxy footprint and inverse variance.

    Pixels of the central galaxy's footprint weigh ``inside``, the rest
    ``outside`` (0.9 and 0.1 in Gagliano, Shen & Villar 2025,
    arXiv:2512.04145); pixels with zero or non-finite inverse variance
    (masked) weigh zero. In the arcsinh-stretched space the noise of faint
    pixels is nearly uniform, so the inverse variance is used only as a mask.

    Parameters
    ----------
    footprint : array_like
        Boolean footprints ``(N, H, W)``.
    invvar : array_like
        Inverse variances ``(N, C, H, W)``.
    inside, outside : float
        Weights of footprint and background pixels.

    Returns
    -------
    weight : `numpy.ndarray`
        ``(N, C, H, W)`` float32 weights.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.training import loss_weights
    >>> footprint = np.zeros((1, 4, 4), bool)
    >>> footprint[0, 1:3, 1:3] = True
    >>> invvar = np.ones((1, 3, 4, 4))
    >>> invvar[0, :, 0, 0] = 0.0  # a masked pixel
    >>> loss_weights(footprint, invvar)[0, 0]
    array([[0. , 0.1, 0.1, 0.1],
           [0.1, 0.9, 0.9, 0.1],
           [0.1, 0.9, 0.9, 0.1],
           [0.1, 0.1, 0.1, 0.1]], dtype=float32)
    """
    footprint = np.asarray(footprint, dtype=bool)[:, None]
    valid = np.isfinite(invvar) & (np.asarray(invvar) > 0)
    return (np.where(footprint, inside, outside) * valid).astype(np.float32)


class CutoutFile:
    """Read stretched cutouts and loss weights from one HDF5 file.

    Two layouts are understood:

    * simulated files: ``images`` ``(N, 3, 72, 72)`` in nanomaggies,
      ``invvar`` (0 = masked) and ``footprint`` ``(N, 72, 72)``;
    * research sets of real cutouts: ``images`` ``(N, 3, S, S)`` with
      ``S >= 72``, centre-cropped to 72 pixels; a missing ``invvar`` means
      every finite pixel is valid, a missing ``footprint`` is computed with
      photutils segmentation (`~minuet.evaluation.central_segmentation`);
    * compact files written by `compact_cutouts`: the network input itself,
      stretched and stored as float16 (NaN = masked), with the footprint,
      about 36 kB per 72-pixel galaxy instead of 125 kB.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file.
    size : int
        Side of the cutouts given to the model.
    stretch : `~minuet.cutouts.AsinhStretch`, optional
        Flux to network-input mapping.
    in_memory : bool
        Read and prepare the whole file once, keeping stretched images and
        weights as float16 (about 62 kB per galaxy); fast random access and
        footprints computed only once.
    inside, outside : float
        Loss weights of footprint and background pixels.

    Examples
    --------
    A research set of real cutouts needs only an ``images`` dataset:

    >>> import h5py
    >>> import numpy as np
    >>> from minuet.training import CutoutFile
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())  # any folder of yours
    >>> path = folder / "research.h5"
    >>> rng = np.random.default_rng(0)
    >>> with h5py.File(path, "w") as f:
    ...     _ = f.create_dataset("images", data=rng.normal(0, 0.003, (4, 3, 152, 152)))
    >>> data = CutoutFile(path)
    >>> x, weight = data.read([2, 0])
    >>> len(data), x.shape, weight.shape
    (4, (2, 3, 72, 72), (2, 3, 72, 72))
    """

    def __init__(self, path, *, size=72, stretch=None, in_memory=False, inside=0.9, outside=0.1):
        self.path = Path(path)
        self.size = size
        self.stretch = AsinhStretch() if stretch is None else stretch
        self.inside, self.outside = inside, outside
        if not self.path.exists():
            msg = f"training file {self.path} does not exist; check the path in the configuration."
            raise FileNotFoundError(msg)
        with h5py.File(self.path, "r") as f:
            self.compact = f.attrs.get("layout") == COMPACT_LAYOUT
            if self.compact:
                stored = AsinhStretch.from_dict(json.loads(f.attrs["stretch"]))
                if stored != self.stretch:
                    msg = (
                        f"{self.path} holds cutouts stretched with {stored}, but the run "
                        f"uses {self.stretch}; write the compact file again with the run's "
                        "stretch."
                    )
                    raise ValueError(msg)
            elif "images" not in f:
                msg = (
                    f"{self.path} has no 'images' dataset; expected (N, 3, S, S) fluxes in "
                    f"nanomaggies, found datasets {sorted(f)}."
                )
                raise ValueError(msg)
            shape = f["stretched" if self.compact else "images"].shape
            self.has_invvar = "invvar" in f
            self.has_footprint = "footprint" in f
        if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3] or shape[2] < size:
            msg = (
                f"{self.path}: 'images' must be shaped (N, 3, S, S) with S >= {size}; got {shape}."
            )
            raise ValueError(msg)
        self.n = shape[0]
        self._cache = None
        if in_memory:
            # filled block by block: the float32 copy of the whole file never exists
            for start in range(0, self.n, 1024):
                parts = self._read_prepared(slice(start, start + 1024))
                if self._cache is None:
                    self._cache = tuple(
                        np.empty((self.n, *part.shape[1:]), dtype=np.float16) for part in parts
                    )
                for store, part in zip(self._cache, parts, strict=True):
                    store[start : start + len(part)] = part

    def __len__(self):
        return self.n

    def _crop(self, a):
        lo = (a.shape[-1] - self.size) // 2
        return a[..., lo : lo + self.size, lo : lo + self.size]

    def _read_prepared(self, key):
        if not self.compact:
            return self._prepare(*self._read_raw(key))
        with h5py.File(self.path, "r") as f:
            x = self._crop(np.asarray(_take(f["stretched"], key), dtype=np.float32))
            footprint = self._crop(np.asarray(_take(f["footprint"], key), dtype=bool))
        valid = np.isfinite(x)
        weight = loss_weights(footprint, valid, inside=self.inside, outside=self.outside)
        return np.where(valid, x, 0.0).astype(np.float32), weight

    def _read_raw(self, key):
        with h5py.File(self.path, "r") as f:
            images = self._crop(np.asarray(_take(f["images"], key), dtype=np.float32))
            invvar = (
                self._crop(np.asarray(_take(f["invvar"], key), dtype=np.float32))
                if self.has_invvar
                else np.ones_like(images)
            )
            footprint = (
                self._crop(np.asarray(_take(f["footprint"], key), dtype=bool))
                if self.has_footprint
                else None
            )
        return images, invvar, footprint

    def read(self, indices):
        """Return stretched images and loss weights for ``indices``.

        Parameters
        ----------
        indices : sequence of int
            Rows of the file, in any order; repeats are allowed.

        Returns
        -------
        x, weight : `numpy.ndarray`
            Both ``(len(indices), 3, size, size)`` float32; non-finite
            pixels are set to zero with zero weight.

        Examples
        --------
        See the class example, which reads rows 2 and 0.
        """
        indices = np.asarray(indices)
        if self._cache is not None:
            return tuple(a[indices].astype(np.float32) for a in self._cache)
        # h5py wants increasing indices: read sorted, then restore the order
        order = np.argsort(indices)
        unique, inverse = np.unique(indices[order], return_inverse=True)
        back = np.empty_like(order)
        back[order] = inverse
        if self.compact:
            return tuple(a[back] for a in self._read_prepared(unique))
        raw = self._read_raw(unique)
        return self._prepare(*(None if a is None else a[back] for a in raw))

    def _prepare(self, images, invvar, footprint):
        finite = np.isfinite(images)
        images = np.where(finite, images, 0.0)
        invvar = np.where(finite, invvar, 0.0)
        if footprint is None:
            footprint = np.stack(
                [central_footprint(im, iv) for im, iv in zip(images, invvar, strict=True)]
            )
        weight = loss_weights(footprint, invvar, inside=self.inside, outside=self.outside)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            x = self.stretch.forward(images).astype(np.float32)
        return x, weight


def compact_cutouts(source, destination, *, stretch=None, chunk_size=1024, overwrite=False):
    """Write a training file of stretched float16 cutouts and footprints.

    The network input is stored instead of the fluxes: the stretched images
    as float16 (masked or non-finite pixels as NaN) and the central
    galaxy's footprint, with the stretch in the file's attributes. Training
    reads it without stretching or segmenting again, and a 72-pixel galaxy
    takes about 36 kB instead of the 125 kB of a simulated file (fluxes and
    inverse variances in float32); float16 keeps three significant digits,
    far below the noise of stretched sky pixels (about 0.1). Cutouts larger
    than ``size`` are kept whole: `CutoutFile` centre-crops on reading.
    Each galaxy is its own HDF5 chunk, so random batches read only what
    they use.

    Parameters
    ----------
    source : str or path-like
        An HDF5 file that `CutoutFile` reads (simulated or research layout).
    destination : str or path-like
        The compact file to create.
    stretch : `~minuet.cutouts.AsinhStretch`, optional
        The stretch of the runs that will read the file.
    chunk_size : int
        Galaxies converted at a time.
    overwrite : bool
        Replace an existing ``destination``.

    Returns
    -------
    path : `pathlib.Path`
        ``destination``.

    Examples
    --------
    >>> import h5py
    >>> import numpy as np
    >>> from minuet.training import CutoutFile, compact_cutouts
    >>> import tempfile
    >>> from pathlib import Path
    >>> tmp = Path(tempfile.mkdtemp())
    >>> rng = np.random.default_rng(0)
    >>> with h5py.File(tmp / "raw.h5", "w") as f:
    ...     f["images"] = rng.normal(0, 0.003, (4, 3, 72, 72)).astype("f4")
    ...     f["invvar"] = np.full((4, 3, 72, 72), 1e5, "f4")
    ...     f["footprint"] = np.ones((4, 72, 72), bool)
    >>> path = compact_cutouts(tmp / "raw.h5", tmp / "compact.h5")
    >>> x, w = CutoutFile(path).read([3, 1])
    >>> x0, w0 = CutoutFile(tmp / "raw.h5").read([3, 1])
    >>> bool(np.abs(x - x0).max() < 1e-3), bool((w == w0).all())
    (True, True)
    """
    source, destination = Path(source), Path(destination)
    if source.resolve() == destination.resolve():
        msg = f"compact_cutouts would overwrite its source {source}; choose another destination."
        raise ValueError(msg)
    if destination.exists() and not overwrite:
        msg = f"{destination} exists; pass overwrite=True to replace it."
        raise FileExistsError(msg)
    stretch = AsinhStretch() if stretch is None else stretch
    with h5py.File(source, "r") as f:
        size = f["images"].shape[-1] if "images" in f else 0
    reader = CutoutFile(source, size=size or 72, stretch=stretch)
    tmp = destination.with_name(destination.name + ".tmp")
    with h5py.File(tmp, "w") as out:
        shape = (reader.n, 3, reader.size, reader.size)
        x_set = out.create_dataset(
            "stretched", shape, dtype=np.float16, chunks=(1, *shape[1:])
        )
        f_set = out.create_dataset(
            "footprint", (reader.n, *shape[2:]), dtype=bool, chunks=(1, *shape[2:])
        )
        for start in range(0, reader.n, chunk_size):
            key = slice(start, min(start + chunk_size, reader.n))
            images, invvar, footprint = reader._read_raw(key)
            finite = np.isfinite(images) & np.isfinite(invvar) & (invvar > 0)
            if footprint is None:
                clean = np.where(finite, images, 0.0)
                footprint = np.stack(
                    [central_footprint(im, iv) for im, iv in zip(clean, finite, strict=True)]
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                x = stretch.forward(np.where(finite, images, 0.0))
            x_set[key] = np.where(finite, x, np.nan).astype(np.float16)
            f_set[key] = footprint
        out.attrs["layout"] = COMPACT_LAYOUT
        out.attrs["stretch"] = json.dumps(stretch.to_dict())
        out.attrs["source"] = str(source)
    os.replace(tmp, destination)
    return destination
