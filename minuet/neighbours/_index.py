"""Nearest-neighbour search in latent space."""

from pathlib import Path

import numpy as np
from astropy.table import QTable, Table
from astropy.utils.decorators import deprecated, deprecated_renamed_argument

from .._config import RENAMED_SINCE
from .._fitting import standardisation
from .._latents import latent_array
from .._validation import count
from .._vocabulary import TABLE_SUFFIX
from .._weights import load_fitted, save_fitted

__all__ = ["LatentIndex"]

METRICS = ("euclidean", "cosine")
BACKENDS = ("auto", "pykdtree", "ckdtree")
_KIND = "minuet-latent-index-2"
_LEGACY_FORMAT = "minuet-latent-index-1"  # the .npz files of minuet-model-1 directories
_MORTON_BITS = 12  # grid cells per axis: 4096; 5 axes fill 60 bits of an int64


def _spread_bits(dims):
    """For every ``_MORTON_BITS``-bit integer, its bits spread ``dims`` positions apart."""
    values = np.arange(2**_MORTON_BITS, dtype=np.int64)
    spread = np.zeros_like(values)
    for bit in range(_MORTON_BITS):
        spread |= ((values >> bit) & 1) << (bit * dims)
    return spread


def morton_order(x, lo, hi):
    """Order of points along a Z-order (Morton) curve through the box ``lo`` to ``hi``.

    Points close in the order are close in space, so a k-d tree whose points
    are stored in this order, queried in this order, reads its memory almost
    sequentially instead of at random (Morton 1966, IBM technical report).
    Dimensions beyond the first ``63 // _MORTON_BITS`` are left out of the key,
    which only weakens the locality.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.neighbours._index import morton_order
    >>> x = np.array([[0.9, 0.9], [0.1, 0.1], [0.9, 0.1], [0.1, 0.9]])
    >>> morton_order(x, np.zeros(2), np.ones(2)).tolist()
    [1, 2, 3, 0]
    """
    dims = min(x.shape[1], 63 // _MORTON_BITS)
    spread = _spread_bits(dims)
    top = 2**_MORTON_BITS - 1
    width = np.where(hi > lo, hi - lo, 1.0)
    code = np.zeros(len(x), dtype=np.int64)
    for d in range(dims):
        cells = np.clip((x[:, d] - lo[d]) / width[d] * top, 0, top).astype(np.int64)
        code |= spread[cells] << d
    return np.argsort(code, kind="stable")


def _pykdtree():
    """The `KDTree` class of pykdtree, or None where pykdtree is not installed."""
    try:
        from pykdtree.kdtree import KDTree
    except ImportError:
        return None
    return KDTree


def _resolve_backend(backend):
    if backend not in BACKENDS:
        msg = f"backend must be one of {BACKENDS}; received {backend!r}."
        raise ValueError(msg)
    if backend == "auto":
        return "pykdtree" if _pykdtree() is not None else "ckdtree"
    if backend == "pykdtree" and _pykdtree() is None:
        msg = ("backend='pykdtree' needs the pykdtree package: pip install pykdtree "
               "(or pass backend='ckdtree' for scipy's tree).")
        raise ImportError(msg)
    return backend


class LatentIndex:
    """
    Nearest neighbours of galaxies in latent space.

    Latents are z-scored with the catalogue's mean and standard deviation
    (``standardize=True``) so that no latent dimension dominates, and a
    k-d tree (`scipy.spatial.cKDTree`) is built over them. With
    ``metric='cosine'`` the z-scored latents are normalised to unit length
    and the reported distance is the cosine distance ``1 - cos(theta)``
    (monotonic in the Euclidean distance between unit vectors, so the same
    tree answers it exactly).

    Two exact k-d trees can answer: pykdtree's (``backend='pykdtree'``,
    multi-threaded with OpenMP, the faster in five dimensions; see the
    performance page) and scipy's `~scipy.spatial.cKDTree`. Both search in
    double precision and return the same neighbours; ``'auto'`` takes
    pykdtree where it is installed (``pip install "minuet[fast]"``).

    The tree holds the catalogue in Z-order (Morton) order and each batch of
    queries is searched in that order too, so that neighbouring queries read
    neighbouring memory; the search is exact and its results are reported
    with the catalogue's own row numbers. Queries run on all cores.

    Parameters
    ----------
    latents : array-like or `~astropy.table.Table`
        The catalogue's ``(N, D)`` latents or a table with ``latent_*`` columns.
    metric : {'euclidean', 'cosine'}, optional
        Distance between galaxies.
    standardize : bool, optional
        Z-score the latents with the catalogue's statistics.
    catalogue : `~astropy.table.Table`, optional
        One row per catalogue galaxy, appended to the query results
        (``catalog`` is its deprecated name).
    leafsize : int, optional
        Leaf size of the k-d tree.
    backend : {'auto', 'pykdtree', 'ckdtree'}, optional
        Which k-d tree answers the queries; not stored by `save`, so an
        index saved with one loads with either.

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.neighbours import LatentIndex
    >>> latents = np.random.default_rng(0).normal(size=(1000, 5))
    >>> index = LatentIndex(latents)
    >>> result = index.query(latents[:2], k=3)
    >>> result["catalog_index"][[0, 3]].tolist()
    [0, 1]
    """

    @deprecated_renamed_argument("catalog", "catalogue", RENAMED_SINCE)
    def __init__(self, latents, *, metric="euclidean", standardize=True, catalogue=None,
                 leafsize=16, backend="auto"):
        if metric not in METRICS:
            msg = f"metric must be one of {METRICS}; received {metric!r}."
            raise ValueError(msg)
        self.latents = latent_array(latents)
        self.metric = metric
        self.standardize = bool(standardize)
        self.leafsize = int(leafsize)
        self.backend = _resolve_backend(backend)
        if self.standardize:
            self._mean, self._std = standardisation(self.latents)
        else:
            self._mean = np.zeros(self.latents.shape[1])
            self._std = np.ones(self.latents.shape[1])
        self.catalogue = None
        self.sha256 = None
        if catalogue is not None:
            self.attach_catalogue(catalogue)
        self._tree = self._build()

    def __len__(self):
        return len(self.latents)

    def __repr__(self):
        return (f"<LatentIndex n={len(self)} dims={self.latents.shape[1]} "
                f"metric={self.metric!r}>")

    def attach_catalogue(self, catalogue):
        """Attach a table, one row per catalogue galaxy, to be joined to query results.

        Parameters
        ----------
        catalogue : `~astropy.table.Table`
            One row per catalogue galaxy, in the order of the latents.

        Examples
        --------
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.neighbours import LatentIndex
        >>> index = LatentIndex(np.eye(3))
        >>> index.attach_catalogue(Table({"name": ["a", "b", "c"]}))
        >>> index.query([[0.1, 0.9, 0.0]], k=1)["name"].tolist()
        ['b']
        """
        if not isinstance(catalogue, Table) or len(catalogue) != len(self.latents):
            msg = (f"catalogue must be a Table with one row per catalogue galaxy "
                   f"({len(self.latents)}); received {type(catalogue).__name__} of length "
                   f"{len(catalogue) if hasattr(catalogue, '__len__') else 'unknown'}.")
            raise ValueError(msg)
        self.catalogue = catalogue

    @deprecated(RENAMED_SINCE, alternative="attach_catalogue")
    def attach_catalog(self, catalog):
        """Attach a table to be joined to query results (deprecated name)."""
        self.attach_catalogue(catalog)

    @property
    @deprecated(RENAMED_SINCE, alternative="catalogue")
    def catalog(self):
        """The attached table (deprecated name of ``catalogue``)."""
        return self.catalogue

    def _transform(self, latents):
        x = (latents - self._mean) / self._std
        if self.metric == "cosine":
            norm = np.linalg.norm(x, axis=1, keepdims=True)
            if np.any(norm == 0):
                msg = ("A latent sits exactly at the catalogue mean, where the cosine "
                       "distance is undefined; use metric='euclidean'.")
                raise ValueError(msg)
            x = x / norm
        return x

    def _build(self):
        x = self._transform(self.latents)
        self._lo, self._hi = x.min(axis=0), x.max(axis=0)
        self._order = morton_order(x, self._lo, self._hi)
        points = np.ascontiguousarray(x[self._order], dtype=np.float64)
        if self.backend == "pykdtree":
            return _pykdtree()(points, leafsize=self.leafsize)
        from scipy.spatial import cKDTree

        return cKDTree(points, leafsize=self.leafsize, balanced_tree=False,
                       compact_nodes=False)

    def _search(self, x, k, workers):
        """Exact k nearest catalogue rows of ``x`` (transformed), searched in Z-order."""
        order = morton_order(x, self._lo, self._hi)
        queries = np.ascontiguousarray(x[order], dtype=np.float64)
        if self.backend == "ckdtree":
            dist_sorted, idx_sorted = self._tree.query(queries, k=k, workers=workers)
        elif workers == -1:  # OpenMP's default: all cores
            dist_sorted, idx_sorted = self._tree.query(queries, k=k)
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=count(workers, "workers"), user_api="openmp"):
                dist_sorted, idx_sorted = self._tree.query(queries, k=k)
        dist, idx = np.empty((len(x), k)), np.empty((len(x), k), dtype=np.int64)
        dist[order] = dist_sorted.reshape(len(x), k)
        idx[order] = self._order[idx_sorted.reshape(len(x), k)]
        return dist, idx

    def query(self, latents, *, k=10, workers=-1):
        """
        Find the ``k`` nearest catalogue galaxies to each query latent.

        Parameters
        ----------
        latents : array-like or `~astropy.table.Table`
            ``(M, D)`` query latents.
        k : int, optional
            Neighbours per query; at most the catalogue size.
        workers : int, optional
            Threads for the search (-1: all cores).

        Returns
        -------
        result : `~astropy.table.QTable`
            ``M * k`` rows sorted by query then rank: ``query_index``,
            ``rank`` (1 = nearest), ``catalog_index``, ``distance`` (in
            z-scored latent units, or the cosine distance), followed by the
            catalogue's columns when a catalogue is attached (a column whose
            name clashes gets the prefix ``catalog_``).

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.neighbours import LatentIndex
        >>> index = LatentIndex(np.arange(10.0)[:, None], standardize=False)
        >>> result = index.query([[3.2]], k=2)
        >>> result["catalog_index"].tolist(), result["distance"].round(2).tolist()
        ([3, 4], [0.2, 0.8])
        """
        x = latent_array(latents, n_features=self.latents.shape[1], name="query latents")
        k = count(k, "k")
        if k > len(self):
            msg = f"k must be between 1 and the catalogue size {len(self)}; received {k}."
            raise ValueError(msg)
        dist, idx = self._search(self._transform(x), k, workers)
        if self.metric == "cosine":
            dist = 0.5 * dist**2
        result = QTable({
            "query_index": np.repeat(np.arange(len(x)), k),
            "rank": np.tile(np.arange(1, k + 1), len(x)),
            "catalog_index": idx.ravel().astype(np.int64),
            "distance": dist.ravel(),
        })
        result["distance"].description = (
            "cosine distance of z-scored latents" if self.metric == "cosine"
            else "Euclidean distance of z-scored latents" if self.standardize
            else "Euclidean distance of latents")
        if self.catalogue is not None:
            rows = self.catalogue[result["catalog_index"]]
            for name in rows.colnames:
                out = f"catalog_{name}" if name in result.colnames else name
                result[out] = rows[name]
        result.meta.update({"metric": self.metric, "k": k, "standardize": self.standardize})
        return result

    def save(self, path):
        """
        Write the latents, settings and attached catalogue in minuet's one format.

        The latents go to ``<stem>.safetensors`` with a ``<stem>.json``
        record, an attached catalogue to ``<stem>.fits``; the record holds
        the SHA-256 of both. The tree itself is not stored: it is rebuilt on
        `load`, which is fast (see ``benchmarks/bench_science.py``) and
        avoids any pickled object.

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` path or its stem.

        Returns
        -------
        path : `~pathlib.Path`
            The ``.safetensors`` file written.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from astropy.table import Table
        >>> from minuet.neighbours import LatentIndex
        >>> index = LatentIndex(np.random.default_rng(0).normal(size=(50, 5)), metric="cosine",
        ...                     catalogue=Table({"id": np.arange(50)}))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = index.save(f"{tmp}/index")
        ...     again = LatentIndex.load(path)
        >>> path.name, again, again.catalogue["id"][7]
        ('index.safetensors', <LatentIndex n=50 dims=5 metric='cosine'>, np.int64(7))
        """
        config = {"metric": self.metric, "standardize": self.standardize,
                  "leafsize": self.leafsize, "catalogue": self.catalogue is not None}
        companions = {}
        if self.catalogue is not None:
            catalogue = QTable(self.catalogue)
            catalogue.meta.clear()
            companions[TABLE_SUFFIX] = lambda tmp: catalogue.write(tmp, format="fits")
        path, self.sha256 = save_fitted(path, _KIND, {"latents": self.latents}, config,
                                        companions=companions)
        return path

    @classmethod
    @deprecated_renamed_argument("catalog", "catalogue", RENAMED_SINCE)
    def load(cls, path, *, catalogue=None):
        """Read an index written by `save`, check its SHA-256s and rebuild its tree.

        Parameters
        ----------
        path : str or `~pathlib.Path`
            The ``.safetensors`` file (or its ``.json`` record); the ``.npz``
            file of an older version is read too.
        catalogue : `~astropy.table.Table`, optional
            Table to attach (see `attach_catalogue`) instead of the saved one
            (``catalog`` is its deprecated name).

        Returns
        -------
        index : `LatentIndex`

        Examples
        --------
        See `save`.
        """
        if Path(path).suffix == ".npz":
            return cls._load_npz(path, catalogue=catalogue)
        tensors, config, record = load_fitted(path, _KIND)
        # records written before the British spelling say "catalog"
        if catalogue is None and config.get("catalogue", config.get("catalog")):
            catalogue = QTable.read(Path(path).with_suffix(TABLE_SUFFIX), format="fits")
        self = cls(tensors["latents"], metric=config["metric"],
                   standardize=config["standardize"], catalogue=catalogue,
                   leafsize=config["leafsize"])
        self.sha256 = record["sha256"]
        return self

    @classmethod
    def _load_npz(cls, path, *, catalogue=None):
        """Read the ``.npz`` file of a ``minuet-model-1`` directory."""
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data.files or str(data["format"]) != _LEGACY_FORMAT:
                msg = f"{path} is not a LatentIndex file written by LatentIndex.save()."
                raise ValueError(msg)
            return cls(data["latents"], metric=str(data["metric"]),
                       standardize=bool(data["standardize"]), catalogue=catalogue,
                       leafsize=int(data["leafsize"]))

    @classmethod
    def fit_head(cls, request):
        """Index the latents, with the catalogue columns, for `~minuet.Minuet.fit_heads`.

        Parameters
        ----------
        request : HeadRequest
            Latents, truth and ``catalogue_columns`` of `~minuet.Minuet.fit_heads`.

        Returns
        -------
        index : `LatentIndex`
        """
        columns = list(request.catalogue_columns)
        return cls(request.latents,
                   catalogue=QTable(request.truth)[columns] if columns else None)

    def describe(self):
        """A few words on the index, for a model's ``repr``.

        Examples
        --------
        >>> import numpy as np
        >>> from minuet.neighbours import LatentIndex
        >>> LatentIndex(np.eye(3)).describe()
        'reference catalogue of 3 galaxies'
        """
        return f"reference catalogue of {len(self)} galaxies"
