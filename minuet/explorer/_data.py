"""The explorer's data layer: everything the page shows, computed without Bokeh.

The browser only ever receives what these functions return: a decimated set
of points, a density image, the details of one galaxy. Nothing here knows of
Bokeh, so every behaviour is testable with plain arrays.
"""

import re
from pathlib import Path

import numpy as np
from astropy.table import QTable, Table

__all__ = ["EXPORT_FORMATS", "ExplorerData", "reference_catalogue", "umap_available"]

#: File formats of exported selections and the astropy writer of each.
EXPORT_FORMATS = {"ecsv": "ascii.ecsv", "fits": "fits", "parquet": "parquet"}

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def umap_available():
    """Whether the optional ``umap-learn`` package is installed.

    Returns
    -------
    available : bool

    Examples
    --------
    >>> from minuet.explorer import umap_available
    >>> isinstance(umap_available(), bool)
    True
    """
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def _numeric_1d(column):
    values = getattr(column, "value", column)
    values = np.asarray(values)
    return values.ndim == 1 and values.dtype.kind in "biuf"


def _sanitise(name):
    """Keep a plain file stem: letters, digits, ``_``, ``-`` and ``.``, no leading dot."""
    stem = _SAFE_NAME.sub("_", Path(str(name)).name).strip("._")
    for fmt in EXPORT_FORMATS:
        if stem.lower().endswith("." + fmt):
            stem = stem[: -len(fmt) - 1]
    return stem[:80] or "selection"


class ExplorerData:
    """The catalogue behind the explorer: projections, decimation, selection, export.

    Parameters
    ----------
    table : `~astropy.table.Table`
        One row per galaxy with the latent columns (``latent_0`` ...), for
        example the output of `minuet.Minuet.encode`. Rows whose latents are
        not finite (refused cutouts) stay in the table but are not shown;
        `n_hidden` counts them.
    model : `minuet.Minuet`
        The model that made the latents: its heads give the posteriors,
        class probabilities and reconstructions of the selected galaxy.
    cutouts : array-like, optional
        Flux of shape ``(N, 3, H, W)`` in nanomaggies, one cutout per table
        row, bands g, r, z (a `~minuet.cutouts.Cutouts` object works too).
        Without them the explorer shows reconstructions in their place.
    export_dir : path-like, optional
        The only directory selections may be written into. Without it,
        export is disabled.
    scores : bool, optional
        Offer the model's class probabilities (``p_<label>``) and
        ``anomaly_score`` as colour columns when the table lacks them,
        computed for every row when first used.
    seed : int, optional
        Seed of the decimation order and of the reconstruction draws.

    Raises
    ------
    ValueError
        If the table lacks latent columns, or ``cutouts`` does not have one
        cutout per row.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet import Minuet
    >>> from minuet.explorer import ExplorerData
    >>> rng = np.random.default_rng(0)
    >>> table = Table(rng.normal(size=(500, 5)), names=[f"latent_{i}" for i in range(5)])
    >>> data = ExplorerData(table, model=Minuet.pretrained())
    >>> xy = data.project("pca")
    >>> shown, n_in_view = data.decimate(xy, max_points=100)
    >>> len(shown), n_in_view
    (100, 500)
    """

    def __init__(self, table, *, model, cutouts=None, export_dir=None, scores=True, seed=0):
        if not isinstance(table, Table):
            msg = (
                f"the explorer takes an astropy Table of latents; received "
                f"{type(table).__name__}. Read the file with QTable.read or encode cutouts "
                "with Minuet.encode first."
            )
            raise TypeError(msg)
        names = list(model.latent_names)
        missing = [name for name in names if name not in table.colnames]
        if missing:
            msg = (
                f"the table has no latent columns {missing} (its columns are "
                f"{table.colnames[:12]}{' ...' if len(table.colnames) > 12 else ''}). The "
                "explorer needs the five numbers per galaxy: encode the cutouts with "
                "Minuet.encode (or `minuet encode`) and open its output table."
            )
            raise ValueError(msg)
        self.model = model
        self.table = QTable(table, copy=False)
        self.latent_names = names
        z = np.column_stack(
            [np.asarray(getattr(self.table[n], "value", self.table[n]), dtype=np.float32)
             for n in names]
        )
        self.latents = z
        #: Boolean mask of the rows that have finite latents (the rows shown).
        self.good = np.all(np.isfinite(z), axis=1)
        if not self.good.any():
            msg = "no row of the table has finite latents; there is nothing to explore."
            raise ValueError(msg)
        self._rows = np.flatnonzero(self.good)
        rng = np.random.default_rng(seed)
        self._order = self._rows[rng.permutation(len(self._rows))]
        self.seed = int(seed)
        self.ids = (np.asarray(self.table["id"]) if "id" in self.table.colnames
                    else np.arange(len(self.table)))
        self.cutouts = self._check_cutouts(cutouts)
        self.export_dir = None if export_dir is None else Path(export_dir).resolve()
        if self.export_dir is not None and not self.export_dir.is_dir():
            msg = (f"the export directory {self.export_dir} does not exist; create it or "
                   "name an existing one.")
            raise ValueError(msg)
        self._projections = {}
        self._index = None
        self._virtual = {}  # colour columns computed from the heads when first asked for
        self._columns = {}  # float copies of columns, made once
        self._stats = {}  # percentiles of columns, computed once
        self._views = {}  # recent views' decimations and densities (every new tab's first)
        if scores:
            self._add_scores()

    # -- the table --------------------------------------------------------------------

    def __len__(self):
        return len(self.table)

    @property
    def n_hidden(self):
        """Number of rows without finite latents, which are not shown."""
        return int((~self.good).sum())

    def _check_cutouts(self, cutouts):
        if cutouts is None:
            return None
        flux = np.asarray(getattr(cutouts, "flux", cutouts))
        if flux.ndim != 4 or flux.shape[1] != 3 or len(flux) != len(self.table):
            msg = (
                f"cutouts must hold one g,r,z cutout per table row, shape ({len(self.table)}, "
                f"3, H, W); received shape {flux.shape}. Give the cutouts the table was "
                "encoded from, in the same order."
            )
            raise ValueError(msg)
        return flux

    def _add_scores(self):
        """Offer the heads' class probabilities and anomaly score as colour columns.

        They are computed for every row the first time they are asked for
        (:meth:`column`): for a million rows that takes the classifiers tens of
        seconds on a CPU, which the explorer should not spend before it opens.
        """
        model = self.model
        if model.morphology_classifier is not None:
            for label in model.morphology_classifier.labels:
                if f"p_{label}" not in self.table.colnames:
                    self._virtual[f"p_{label}"] = self._class_probabilities
        if model.anomaly_scorer is not None and "anomaly_score" not in self.table.colnames:
            self._virtual["anomaly_score"] = self._anomaly_score

    def _class_probabilities(self):
        table = self.model.classify(self.latents)
        for name in table.colnames:
            if name not in self.table.colnames:
                self.table[name] = np.asarray(table[name], dtype=np.float32)
                self._virtual.pop(name, None)

    def _anomaly_score(self):
        score = self.model.anomaly_score(self.latents)["anomaly_score"]
        self.table["anomaly_score"] = np.asarray(score, dtype=np.float32)
        self._virtual.pop("anomaly_score", None)

    def colour_columns(self):
        """Names of the numeric one-dimensional columns a scatter can be coloured by.

        Returns
        -------
        names : list of str
        """
        own = [name for name in self.table.colnames
               if _numeric_1d(self.table[name]) and self.table[name].dtype.kind != "b"]
        return own + list(self._virtual)

    def column(self, name):
        """Values of a column as a float array (NaN where masked).

        Parameters
        ----------
        name : str

        Returns
        -------
        values : `~numpy.ndarray`
        """
        if name in self._columns:
            return self._columns[name]
        if name in self._virtual:
            self._virtual[name]()
        if name not in self.table.colnames:
            msg = f"no column {name!r}; the numeric columns are {self.colour_columns()}."
            raise ValueError(msg)
        column = self.table[name]
        values = getattr(column, "filled", None)
        values = column.filled(np.nan) if values is not None else column
        values = np.asarray(getattr(values, "value", values), dtype=float)
        values.flags.writeable = False  # kept for the next call: nobody may change it
        self._columns[name] = values
        return values

    def percentiles(self, name, q):
        """Percentiles of a column (or latent) over the rows shown, computed once.

        Parameters
        ----------
        name : str
            A column, or a latent name.
        q : tuple of float
            Percentiles, between 0 and 100.

        Returns
        -------
        values : tuple of float
            NaN where the column has no finite value.
        """
        key = (name, tuple(q))
        if key not in self._stats:
            values = self.column(name)[self.good]
            values = values[np.isfinite(values)]
            result = (tuple(float(v) for v in np.percentile(values, q)) if values.size
                      else (np.nan,) * len(q))
            self._stats[key] = result
        return self._stats[key]

    # -- projections --------------------------------------------------------------------

    def projections(self):
        """Names :meth:`project` accepts besides pairs of latent columns.

        Returns
        -------
        names : list of str
            ``'pca'``, and ``'umap'`` where ``umap-learn`` is installed.
        """
        return ["pca", "umap"] if umap_available() else ["pca"]

    def project(self, method="pca", *, max_fit=100_000):
        """Two coordinates per row: a 2-D projection of the latents.

        Parameters
        ----------
        method : str or tuple of str, optional
            ``'pca'`` (principal components of the z-scored latents),
            ``'umap'`` (needs ``umap-learn``), or a pair of latent column
            names such as ``('latent_0', 'latent_3')``.
        max_fit : int, optional
            At most this many rows (a fixed random subset) fit the
            projection; every row is then transformed.

        Returns
        -------
        xy : `~numpy.ndarray`
            Shape ``(N, 2)``; NaN for rows without latents.
        """
        key = tuple(method) if not isinstance(method, str) else method
        if key in self._projections:
            return self._projections[key]
        xy = np.full((len(self.table), 2), np.nan, dtype=np.float32)
        z = self.latents[self.good].astype(np.float64)
        fit_rows = np.sort(self._order[:max_fit])
        if isinstance(key, tuple):
            unknown = [name for name in key if name not in self.latent_names]
            if len(key) != 2 or unknown:
                msg = (f"a scatter of latents takes two of {self.latent_names}; received "
                       f"{list(key)}.")
                raise ValueError(msg)
            xy[self.good] = z[:, [self.latent_names.index(name) for name in key]]
        elif key == "pca":
            fit = self.latents[fit_rows].astype(np.float64)
            mean, std = fit.mean(axis=0), fit.std(axis=0)
            std = np.where(std > 0, std, 1.0)
            _, _, vt = np.linalg.svd((fit - mean) / std, full_matrices=False)
            # a fixed sign per component: the largest loading is positive
            vt *= np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]
            xy[self.good] = ((z - mean) / std) @ vt[:2].T
        elif key == "umap":
            if not umap_available():
                msg = ("the UMAP projection needs the umap-learn package (pip install "
                       "umap-learn); use 'pca' or a pair of latents.")
                raise ValueError(msg)
            import umap

            reducer = umap.UMAP(n_components=2, random_state=self.seed)
            reducer.fit(self.latents[fit_rows])
            xy[self.good] = reducer.transform(z.astype(np.float32))
        else:
            msg = (f"unknown projection {method!r}; use one of {self.projections()} or a "
                   f"pair of latent names.")
            raise ValueError(msg)
        self._projections[key] = xy
        return xy

    # -- what the browser receives ------------------------------------------------------

    @staticmethod
    def _in_view(xy, x_range, y_range):
        inside = np.all(np.isfinite(xy), axis=1)
        if x_range is not None:
            inside &= (xy[:, 0] >= x_range[0]) & (xy[:, 0] <= x_range[1])
        if y_range is not None:
            inside &= (xy[:, 1] >= y_range[0]) & (xy[:, 1] <= y_range[1])
        return inside

    def decimate(self, xy, *, x_range=None, y_range=None, max_points=20_000):
        """Rows to draw as points: at most ``max_points`` of those in view.

        Rows are taken in a fixed random order, so a point drawn once stays
        drawn while the view zooms in on it, and the sample is unbiased.

        Parameters
        ----------
        xy : `~numpy.ndarray`
            Output of :meth:`project`.
        x_range, y_range : tuple of float, optional
            The view; default everything.
        max_points : int, optional
            Most points sent to the browser.

        Returns
        -------
        rows : `~numpy.ndarray`
            Row indices of the points to draw.
        n_in_view : int
            Rows in the view; the rest are represented by :meth:`density`.
        """
        key = ("decimate", id(xy), x_range, y_range, max_points)
        if key not in self._views:
            inside = self._in_view(xy[self._order], x_range, y_range)
            self._remember(key, (self._order[inside][:max_points], int(inside.sum())))
        return self._views[key]

    def _remember(self, key, value, size=16):
        while len(self._views) >= size:
            self._views.pop(next(iter(self._views)))
        self._views[key] = value

    def density(self, xy, *, x_range, y_range, bins=200):
        """Counts of all rows on a grid over the view, for a density image.

        Parameters
        ----------
        xy : `~numpy.ndarray`
            Output of :meth:`project`.
        x_range, y_range : tuple of float
            The view.
        bins : int, optional
            Grid cells per side.

        Returns
        -------
        counts : `~numpy.ndarray`
            Shape ``(bins, bins)``, rows along y (origin at the bottom).
        """
        key = ("density", id(xy), tuple(x_range), tuple(y_range), bins)
        if key not in self._views:
            x0, x1 = x_range
            y0, y1 = y_range
            inside = self._in_view(xy, (x0, x1), (y0, y1))
            # bin indices by hand: several times faster than histogram2d for a million rows
            ix = ((xy[inside, 0] - x0) * (bins / (x1 - x0))).astype(np.intp)
            iy = ((xy[inside, 1] - y0) * (bins / (y1 - y0))).astype(np.intp)
            np.clip(ix, 0, bins - 1, out=ix)
            np.clip(iy, 0, bins - 1, out=iy)
            counts = np.bincount(iy * bins + ix, minlength=bins * bins).reshape(bins, bins)
            self._remember(key, counts.astype(float))
        return self._views[key]

    def limits(self, xy, *, pad=0.05):
        """A view that holds every row, padded by a fraction of its width.

        Returns
        -------
        x_range, y_range : tuple of float
        """
        key = ("limits", id(xy), pad)
        if key not in self._stats:
            good = xy[np.all(np.isfinite(xy), axis=1)]
            lo, hi = good.min(axis=0), good.max(axis=0)
            span = np.where(hi > lo, hi - lo, 1.0)
            lo, hi = lo - pad * span, hi + pad * span
            self._stats[key] = (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))
        return self._stats[key]

    # -- selection ----------------------------------------------------------------------

    def select_box(self, xy, x_range, y_range):
        """Every row (not only those drawn) inside a box.

        Returns
        -------
        rows : `~numpy.ndarray`
        """
        x0, x1 = sorted(x_range)
        y0, y1 = sorted(y_range)
        return np.flatnonzero(self._in_view(xy, (x0, x1), (y0, y1)))

    def select_polygon(self, xy, xs, ys):
        """Every row inside a polygon (a lasso), given by its vertices.

        Returns
        -------
        rows : `~numpy.ndarray`
        """
        from matplotlib.path import Path as PolygonPath

        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        if len(xs) < 3 or len(xs) != len(ys):
            msg = (f"a lasso needs at least three vertices with x and y each; received "
                   f"{len(xs)} x and {len(ys)} y.")
            raise ValueError(msg)
        candidates = np.flatnonzero(
            self._in_view(xy, (xs.min(), xs.max()), (ys.min(), ys.max())))
        inside = PolygonPath(np.column_stack([xs, ys])).contains_points(xy[candidates])
        return candidates[inside]

    def nearest_shown(self, xy, rows, x, y, *, scale=(1.0, 1.0), tolerance=0.02):
        """The drawn row nearest a click, or None when none is close.

        Parameters
        ----------
        xy : `~numpy.ndarray`
            Output of :meth:`project`.
        rows : `~numpy.ndarray`
            The rows drawn (from :meth:`decimate`).
        x, y : float
            The click, in data coordinates.
        scale : tuple of float, optional
            Width and height of the view, so that distance is measured in
            fractions of the plot.
        tolerance : float, optional
            Farthest a point may be, as a fraction of the view.

        Returns
        -------
        row : int or None
        """
        if len(rows) == 0:
            return None
        d = np.hypot((xy[rows, 0] - x) / scale[0], (xy[rows, 1] - y) / scale[1])
        best = int(np.nanargmin(d))
        return int(rows[best]) if d[best] <= tolerance else None

    def find(self, query, *, radius_arcsec=5.0):
        """The row of a galaxy given its id, or its sky position ``'ra dec'`` in degrees.

        Parameters
        ----------
        query : str
            An id from the ``id`` column (the row number when the table has
            none), or two numbers ``ra dec`` when the table has ``ra`` and
            ``dec`` columns.
        radius_arcsec : float, optional
            Farthest a position match may be.

        Returns
        -------
        row : int

        Raises
        ------
        ValueError
            If nothing matches.
        """
        text = str(query).strip().replace(",", " ")
        parts = text.split()
        if len(parts) == 2 and {"ra", "dec"} <= set(self.table.colnames):
            try:
                ra, dec = (float(p) for p in parts)
            except ValueError:
                pass
            else:
                return self._find_position(ra, dec, radius_arcsec)
        if not text:
            msg = "type an id (or 'ra dec' in degrees) to find a galaxy."
            raise ValueError(msg)
        ids = self.ids
        if ids.dtype.kind in "iu":
            try:
                value = int(float(text))
            except ValueError:
                value = None
            match = np.flatnonzero(ids == value) if value is not None else []
        else:
            match = np.flatnonzero(np.char.strip(ids.astype(str)) == text)
        if len(match) == 0:
            where = "the id column" if "id" in self.table.colnames else "row numbers"
            msg = f"no galaxy {text!r} in {where}."
            raise ValueError(msg)
        return int(match[0])

    def _find_position(self, ra, dec, radius_arcsec):
        ra0, dec0 = np.radians(self.column("ra")), np.radians(self.column("dec"))
        ra1, dec1 = np.radians(ra), np.radians(dec)
        # haversine: stable at small separations
        a = (np.sin((dec0 - dec1) / 2) ** 2
             + np.cos(dec0) * np.cos(dec1) * np.sin((ra0 - ra1) / 2) ** 2)
        sep = np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))) * 3600
        sep[~self.good] = np.inf
        best = int(np.nanargmin(sep))
        if not sep[best] <= radius_arcsec:
            msg = (f"no galaxy within {radius_arcsec} arcsec of ra={ra}, dec={dec} (the "
                   f"nearest is {sep[best]:.1f} arcsec away).")
            raise ValueError(msg)
        return best

    # -- one galaxy ---------------------------------------------------------------------

    def neighbours(self, row, *, k=8):
        """The ``k`` nearest galaxies to a row in latent space, itself excluded.

        Returns
        -------
        rows : `~numpy.ndarray`
        distances : `~numpy.ndarray`
            In z-scored latent units.
        """
        from ..neighbours import LatentIndex

        if not self.good[row]:
            msg = f"row {row} has no latents; it has no neighbours."
            raise ValueError(msg)
        if self._index is None:
            self._index = LatentIndex(self.latents[self.good])
        k_query = min(k + 1, len(self._rows))
        found = self._index.query(self.latents[[row]], k=k_query)
        rows = self._rows[np.asarray(found["catalog_index"])]
        distances = np.asarray(found["distance"], dtype=float)
        keep = rows != row
        return rows[keep][:k], distances[keep][:k]

    def warm_up(self):
        """Build the neighbour index and run the heads once, so the first click is quick.

        Returns
        -------
        self : `~minuet.explorer.ExplorerData`
        """
        row = int(self._rows[0])
        self.neighbours(row, k=1)
        self.details(row, n_samples=20)
        return self

    def details(self, row, *, n_samples=1000, bins=30):
        """What the panel shows of one galaxy, except the reconstructions.

        Parameters
        ----------
        row : int
        n_samples : int, optional
            Posterior samples behind the histograms.
        bins : int, optional
            Histogram bins.

        Returns
        -------
        details : dict
            ``id``, ``latents``, ``values`` (the table's other numeric
            columns), ``posterior`` (per property: ``edges``, ``counts``,
            ``median``, ``lo68``, ``hi68`` and ``unit``), ``classes``
            (label to probability) and ``cutout`` (flux or None).
        """
        row = int(row)
        if not 0 <= row < len(self.table):
            msg = f"row must be between 0 and {len(self.table) - 1}; received {row}."
            raise ValueError(msg)
        z = self.latents[[row]]
        out = {
            "row": row,
            "id": self.ids[row].item() if hasattr(self.ids[row], "item") else self.ids[row],
            "latents": z[0].astype(float),
            "values": {name: float(self.column(name)[row]) for name in self.colour_columns()
                       if name not in self.latent_names and name not in self._virtual},
            "posterior": {},
            "classes": {},
            "cutout": None if self.cutouts is None else self.cutouts[row],
        }
        if not self.good[row]:
            return out
        if self.model.posterior_estimator is not None:
            table = self.model.posterior(z, n_samples=n_samples, seed=self.seed, samples=True)
            for name in self.model.posterior_estimator.config.properties:
                samples = np.asarray(getattr(table[f"{name}_samples"], "value",
                                             table[f"{name}_samples"]))[0]
                counts, edges = np.histogram(samples[np.isfinite(samples)], bins=bins)
                unit = getattr(table[f"{name}_median"], "unit", None)
                out["posterior"][name] = {
                    "edges": edges, "counts": counts,
                    "unit": "" if unit is None else unit.to_string(),
                    **{key: float(np.asarray(getattr(table[f"{name}_{key}"], "value",
                                                     table[f"{name}_{key}"]))[0])
                       for key in ("median", "lo68", "hi68")},
                }
        if self.model.morphology_classifier is not None:
            table = self.model.classify(z)
            out["classes"] = {name[2:]: float(table[name][0]) for name in table.colnames}
        return out

    def reconstruct(self, latents, *, n_draws=3, seed=None):
        """Reconstructions drawn from latents, in nanomaggies.

        Parameters
        ----------
        latents : array-like
            One latent vector, or several of shape ``(M, latent_dim)``.
        n_draws : int, optional
            Draws per latent vector.
        seed : int, optional
            Default the explorer's seed, so a galaxy looks the same each
            time it is selected.

        Returns
        -------
        flux : `~numpy.ndarray`
            Shape ``(M * n_draws, 3, H, W)``: the draws of each vector in turn.
        """
        z = np.atleast_2d(np.asarray(latents, dtype=np.float32))
        z = np.repeat(z, n_draws, axis=0)
        seed = self.seed if seed is None else seed
        return self.model.reconstruct(z, seed=seed).data

    # -- export -------------------------------------------------------------------------

    def export(self, rows, name, *, fmt="ecsv", description=None):
        """Write rows of the table into the export directory.

        Parameters
        ----------
        rows : array-like of int
            The rows to write.
        name : str
            File name; reduced to a plain name (letters, digits, ``_``,
            ``-``, ``.``), never a path. An existing file is never
            overwritten: a number is appended instead.
        fmt : {'ecsv', 'fits', 'parquet'}, optional
            File format.
        description : str, optional
            How the rows were chosen, recorded in ``meta['selection']``.

        Returns
        -------
        path : `~pathlib.Path`

        Raises
        ------
        ValueError
            If no export directory was named, the format is unknown, or no
            row is selected.
        """
        if self.export_dir is None:
            msg = ("export is off: start the explorer with an export directory "
                   "(minuet explore --export-dir DIR, or export_dir=...) to write selections.")
            raise ValueError(msg)
        if fmt not in EXPORT_FORMATS:
            msg = f"format must be one of {list(EXPORT_FORMATS)}; received {fmt!r}."
            raise ValueError(msg)
        rows = np.asarray(rows, dtype=int)
        if rows.size == 0:
            msg = "no galaxies are selected; draw a box or a lasso on the scatter first."
            raise ValueError(msg)
        stem = _sanitise(name)
        path = self.export_dir / f"{stem}.{fmt}"
        n = 1
        while path.exists():
            path = self.export_dir / f"{stem}-{n}.{fmt}"
            n += 1
        table = self.table[np.sort(rows)]
        table.meta = dict(self.table.meta)
        for key, value in self.model.provenance().items():
            table.meta.setdefault(key, value)
        table.meta["exported"] = self.model.provenance()["date"]
        if description:
            table.meta["selection"] = str(description)
        if fmt == "fits":
            # the same 8-character keywords as the FITS output of ``minuet encode``
            from .._vocabulary import fits_keywords

            meta = table.meta
            table.meta = fits_keywords(meta)
            table.meta["COMMENT"] = [f"exported by minuet explore {meta['exported']}"] + (
                [f"selection: {description}"] if description else [])
        table.write(path, format=EXPORT_FORMATS[fmt])
        return path


def reference_catalogue(model):
    """The model's bundled reference catalogue as a table of latents.

    Parameters
    ----------
    model : `minuet.Minuet`
        A model with a reference catalogue (`minuet.Minuet.pretrained` has
        one: thousands of simulated galaxies with their true properties).

    Returns
    -------
    table : `~astropy.table.QTable`
        ``id``, the latent columns and the catalogue's own columns.

    Examples
    --------
    >>> from minuet import Minuet
    >>> from minuet.explorer import reference_catalogue
    >>> table = reference_catalogue(Minuet.pretrained())
    >>> len(table) >= 1000, table.colnames[:3]
    (True, ['id', 'latent_0', 'latent_1'])
    """
    index = model.latent_index
    if index is None:
        msg = (f"the model {model.name!r} has no reference catalogue; give the explorer a "
               "table of latents (the output of Minuet.encode).")
        raise ValueError(msg)
    table = QTable()
    catalog = index.catalogue
    ids = (np.asarray(catalog["index"]) if catalog is not None and "index" in catalog.colnames
           else np.arange(len(index)))
    table["id"] = ids
    for i, name in enumerate(model.latent_names):
        table[name] = index.latents[:, i].astype(np.float32)
    if catalog is not None:
        for name in catalog.colnames:
            if name not in table.colnames and name != "index":
                table[name] = catalog[name]
    table.meta.update(model.provenance())
    table.meta["catalogue"] = f"reference catalogue of the bundled model {model.name!r}"
    return table
