"""The explorer's page: Bokeh figures and widgets wired to the data layer.

Bokeh is imported only here, so that the data layer and the command line's
help work without it.
"""

import concurrent.futures
from functools import partial

import numpy as np

__all__ = ["build_layout"]

_PANEL_PX = 110  # side of one image tile on the page
_PLACEHOLDER = "drawing..."


def _require_bokeh():
    try:
        import bokeh  # noqa: F401
    except ImportError:
        msg = ("the explorer needs Bokeh: pip install 'minuet[explore]' (or pip install "
               "bokeh).")
        raise ImportError(msg) from None


def _rgba(flux):
    """Lupton composite of one g,r,z flux cube as the uint32 image Bokeh draws."""
    from ..visualization import rgb_composite

    rgb = rgb_composite(flux)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, dtype=np.uint8)])
    return np.ascontiguousarray(rgba).view(np.uint32)[:, :, 0]


def _small_integers(values):
    info = np.iinfo(np.int32)
    return (values.dtype.kind in "iu" and
            (values.size == 0 or (values.min() >= info.min and values.max() <= info.max)))


def _blank(size):
    grey = np.full((size, size, 4), 200, dtype=np.uint8)
    grey[..., 3] = 255
    return grey.view(np.uint32)[:, :, 0]


def _tiles(images, labels):
    n = len(images)
    return {
        "image": list(images), "label": list(labels),
        "x": [i * 1.08 for i in range(n)], "y": [0.0] * n, "dw": [1.0] * n, "dh": [1.0] * n,
        "tx": [i * 1.08 + 0.02 for i in range(n)], "ty": [1.02] * n,
    }


def _tile_figure(name, n, *, title=None, tools=""):
    from bokeh.models import ColumnDataSource, Range1d
    from bokeh.plotting import figure

    source = ColumnDataSource(_tiles([], []), name=name)
    fig = figure(width=int(_PANEL_PX * 1.08 * n) + 10, height=_PANEL_PX + 40, tools=tools,
                 toolbar_location=None, title=title, x_range=Range1d(-0.02, 1.08 * n),
                 y_range=Range1d(-0.02, 1.2), name=f"{name}_figure")
    fig.image_rgba("image", x="x", y="y", dw="dw", dh="dh", source=source)
    fig.text("tx", "ty", text="label", source=source, text_font_size="9pt",
             text_baseline="bottom")
    fig.axis.visible = False
    fig.grid.visible = False
    return fig, source


class _Session:
    """One browser tab's state: the current view, selection and galaxy."""

    def __init__(self, doc, data, *, max_points, k, n_draws):
        from bokeh.models import ColumnDataSource

        self.doc, self.data = doc, data
        self.max_points, self.k, self.n_draws = int(max_points), int(k), int(n_draws)
        self.executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self.generation = 0  # drops results of galaxies selected since
        self._submitted = 0  # the last generation whose draws were started
        self._pending = None  # starts the draws of the current galaxy
        self.selected_rows = np.array([], dtype=int)
        self.selection_text = ""
        self.row = None
        self.method = "pca"
        self.colour = self._default_colour()
        self.xy = data.project(self.method)
        self.x_range, self.y_range = data.limits(self.xy)
        self.points = ColumnDataSource(
            {"x": [], "y": [], "c": [], "row": [], "id": []}, name="points")
        self.density = ColumnDataSource(
            {"image": [], "x": [], "y": [], "dw": [], "dh": []}, name="density")
        self.marker = ColumnDataSource({"x": [], "y": []}, name="marker")
        self.hover = ColumnDataSource({"row": [-1]}, name="hover_row")
        self.painted = ColumnDataSource({"when": [0.0]}, name="painted")

    def _default_colour(self):
        columns = self.data.colour_columns()
        for name in ("redshift", "redshift_median", "anomaly_score"):
            if name in columns:
                return name
        others = [name for name in columns if name not in self.data.latent_names]
        return (others or self.data.latent_names)[0]

    # -- the scatter --------------------------------------------------------------------

    def refresh_points(self):
        rows, n_view = self.data.decimate(self.xy, x_range=self.x_range, y_range=self.y_range,
                                          max_points=self.max_points)
        colour = self.data.column(self.colour)
        ids = self.data.ids[rows]
        # compact binary arrays: numbers travel to the browser as raw buffers, strings as JSON
        self.points.data = {
            "x": self.xy[rows, 0], "y": self.xy[rows, 1], "c": colour[rows].astype(np.float32),
            "row": rows.astype(np.int32),
            "id": ids.astype(np.int32) if _small_integers(ids) else ids.astype(str),
        }
        self.shown = rows
        counts = self.data.density(self.xy, x_range=self.x_range, y_range=self.y_range)
        self.density.data = {
            "image": [np.log1p(counts).astype(np.float32)], "x": [self.x_range[0]],
            "y": [self.y_range[0]],
            "dw": [self.x_range[1] - self.x_range[0]], "dh": [self.y_range[1] - self.y_range[0]],
        }
        hidden = f"; {self.data.n_hidden:,} rows without latents are not shown" \
            if self.data.n_hidden else ""
        self.status.text = (
            f"showing {len(rows):,} of {n_view:,} galaxies in view ({len(self.data):,} in the "
            f"table{hidden}); the grey density counts them all"
        )
        self._mark_selection()
        lo, hi = self.data.percentiles(self.colour, (1, 99))
        if np.isfinite(lo):
            self.mapper.update(low=lo, high=hi if hi > lo else lo + 1)

    def _mark_selection(self):
        if len(self.selected_rows):
            shown = np.flatnonzero(np.isin(self.shown, self.selected_rows))
            self.points.selected.indices = shown.tolist()
        else:
            self.points.selected.indices = []

    def on_ranges(self, event):
        view = (event.x0, event.x1), (event.y0, event.y1)
        if view == (self.x_range, self.y_range):
            return  # the view the browser already has
        self.x_range, self.y_range = view
        self.refresh_points()

    def on_projection(self, attr, old, new):
        self.method = new if new != "two latents" else (self.xsel.value, self.ysel.value)
        self.xsel.disabled = self.ysel.disabled = new != "two latents"
        self._reproject()

    def on_axes(self, attr, old, new):
        if self.projection.value == "two latents":
            self.method = (self.xsel.value, self.ysel.value)
            self._reproject()

    def _reproject(self):
        try:
            self.xy = self.data.project(self.method)
        except ValueError as exc:
            self.message.text = str(exc)
            return
        self.x_range, self.y_range = self.data.limits(self.xy)
        self.scatter.x_range.update(start=self.x_range[0], end=self.x_range[1])
        self.scatter.y_range.update(start=self.y_range[0], end=self.y_range[1])
        label = (["PCA 1", "PCA 2"] if self.method == "pca" else
                 ["UMAP 1", "UMAP 2"] if self.method == "umap" else list(self.method))
        self.scatter.xaxis.axis_label, self.scatter.yaxis.axis_label = label
        self.refresh_points()
        self._place_marker()

    def on_colour(self, attr, old, new):
        if new in self.data._virtual and self.doc is not None:
            # computed from the heads for every row: can take a while, off the page's thread
            self.message.text = f"computing {new} for {len(self.data):,} galaxies..."
            future = self.executor.submit(self.data.column, new)
            future.add_done_callback(lambda f: self.doc.add_next_tick_callback(
                partial(self._set_colour, new, f)))
            return
        self._set_colour(new)

    def _set_colour(self, name, future=None):
        if future is not None:
            try:
                future.result()
            except Exception as exc:  # shown on the page, not lost in a thread
                self.message.text = f"could not compute {name}: {exc}"
                return
            self.message.text = ""
        self.colour = name
        self.colorbar.title = name
        self.refresh_points()

    # -- selection ----------------------------------------------------------------------

    def on_geometry(self, event):
        if not event.final:
            return
        geometry = event.geometry
        if geometry["type"] == "rect":
            rows = self.data.select_box(self.xy, (geometry["x0"], geometry["x1"]),
                                        (geometry["y0"], geometry["y1"]))
            shape = "box"
        elif geometry["type"] == "poly":
            rows = self.data.select_polygon(self.xy, geometry["x"], geometry["y"])
            shape = "lasso"
        else:
            return
        self.selected_rows = rows
        self.selection_text = f"{shape} selection of {len(rows)} rows in the {self._axes()} view"
        self.export_button.disabled = self.data.export_dir is None or not len(rows)
        self.message.text = f"{len(rows):,} galaxies selected by the {shape}."
        self._mark_selection()

    def _axes(self):
        return self.method if isinstance(self.method, str) else " vs ".join(self.method)

    def on_tap(self, event):
        scale = (self.x_range[1] - self.x_range[0], self.y_range[1] - self.y_range[0])
        row = self.data.nearest_shown(self.xy, self.shown, event.x, event.y, scale=scale)
        if row is not None:
            self.select(row)

    def on_search(self):
        try:
            row = self.data.find(self.search.value)
        except ValueError as exc:
            self.message.text = str(exc)
            return
        self.select(row)

    def on_neighbour(self, attr, old, new):
        if new:
            rows = self.neighbour_rows
            if new[0] < len(rows):
                self.neighbour_tiles.selected.indices = []
                self.select(int(rows[new[0]]))

    def on_hover(self, attr, old, new):
        rows = new.get("row", [-1])
        if self.data.cutouts is None or not rows or rows[0] < 0:
            return
        row = int(rows[0])
        self.thumb.data = _tiles([_rgba(self.data.cutouts[row])], [f"id {self.data.ids[row]}"])

    # -- the selected galaxy ------------------------------------------------------------

    def _place_marker(self):
        if self.row is None:
            return
        self.marker.data = {"x": [self.xy[self.row, 0]], "y": [self.xy[self.row, 1]]}

    def select(self, row):
        data = self.data
        self.row = row = int(row)
        self.generation += 1
        generation = self.generation
        self.message.text = ""
        details = data.details(row)
        self._place_marker()
        values = ", ".join(f"{k} = {v:.3g}" for k, v in details["values"].items()
                           if k != "id")
        self.title.text = (f"<b>Galaxy {details['id']}</b> (row {row})<br>latents "
                           f"{np.array2string(details['latents'], precision=3)}<br>{values}")
        size = data.model.image_size
        if details["cutout"] is not None:
            self.images.data = _tiles([_rgba(details["cutout"])] + [_blank(size)] * self.n_draws,
                                      ["cutout (g,r,z)"] + [_PLACEHOLDER] * self.n_draws)
        else:
            self.images.data = _tiles([_blank(size)] * self.n_draws,
                                      [_PLACEHOLDER] * self.n_draws)
        for name, post in details["posterior"].items():
            source, figure_ = self.posteriors[name]
            source.data = {"left": post["edges"][:-1], "right": post["edges"][1:],
                           "top": post["counts"]}
            band = self.intervals[name]
            band.update(left=post["lo68"], right=post["hi68"])
            figure_.title.text = (f"{name} {post['median']:.3g} [{post['lo68']:.3g}, "
                                  f"{post['hi68']:.3g}] (68%)")
            figure_.xaxis.axis_label = post["unit"]
        labels = list(details["classes"])
        self.classes.data = {"label": labels, "p": [details["classes"][n] for n in labels]}
        rows, _ = data.neighbours(row, k=self.k) if data.good[row] else (np.array([], int), 0)
        self.neighbour_rows = rows
        if data.cutouts is not None:
            self.neighbour_tiles.data = _tiles([_rgba(data.cutouts[r]) for r in rows],
                                               [f"id {data.ids[r]}" for r in rows])
        else:
            self.neighbour_tiles.data = _tiles([_blank(size)] * len(rows),
                                               [_PLACEHOLDER] * len(rows))
        for slider, value in zip(self.sliders, details["latents"], strict=True):
            if np.isfinite(value):
                slider.value = float(np.clip(value, slider.start, slider.end))
        self.state.text = "panel: details shown; drawing reconstructions"
        if data.good[row]:
            submit = partial(self._submit_draw, generation, row, rows)
            self._pending = submit
            if self.doc is None:
                submit()
            else:
                # The draws take the CPU for a while: start them once the browser says it
                # has painted the details (on_painted), or after two seconds at the latest.
                self.doc.add_timeout_callback(submit, 2000)
        else:
            self.state.text = "panel: this row has no latents, so no reconstructions"

    def on_painted(self, attr, old, new):
        if self._pending is not None:
            self._pending()

    def _submit_draw(self, generation, row, neighbour_rows):
        if generation != self.generation or self._submitted == generation:
            return None
        self._submitted = generation
        self._pending = None
        future = self.executor.submit(self._draw, row, neighbour_rows)
        future.add_done_callback(partial(self._drawn, generation))
        return future

    def _draw(self, row, neighbour_rows):
        draws = self.data.reconstruct(self.data.latents[row], n_draws=self.n_draws)
        neighbours = None
        if self.data.cutouts is None and len(neighbour_rows):
            neighbours = self.data.reconstruct(self.data.latents[neighbour_rows], n_draws=1)
        return row, draws, neighbours

    def _drawn(self, generation, future):
        if future.cancelled() or self.doc is None:
            return
        self.doc.add_next_tick_callback(partial(self._show_drawn, generation, future))

    def _show_drawn(self, generation, future):
        if generation != self.generation:
            return
        try:
            _row, draws, neighbours = future.result()
        except Exception as exc:  # shown on the page, not lost in a thread
            self.state.text = f"panel: reconstruction failed: {exc}"
            return
        images = [_rgba(d) for d in draws]
        labels = [f"draw {i + 1}" for i in range(len(images))]
        if self.data.cutouts is None:
            labels[0] += " (no cutout)"
            self.images.data = _tiles(images, labels)
        else:
            self.images.data = _tiles(self.images.data["image"][:1] + images,
                                      ["cutout (g,r,z)", *labels])
        if neighbours is not None:
            rows = self.neighbour_rows
            self.neighbour_tiles.data = _tiles(
                [_rgba(d) for d in neighbours],
                [f"id {self.data.ids[r]} (draw)" for r in rows])
        self.state.text = "panel: ready"

    def on_slider(self, attr, old, new):
        if self.row is None:
            return
        z = np.array([s.value for s in self.sliders], dtype=np.float32)
        generation = self.generation
        future = self.executor.submit(lambda: self.data.reconstruct(z, n_draws=1))
        future.add_done_callback(
            lambda f: self.doc.add_next_tick_callback(partial(self._show_slider, generation, f)))

    def _show_slider(self, generation, future):
        if generation != self.generation or future.cancelled():
            return
        self.slider_image.data = _tiles([_rgba(future.result()[0])], ["from the sliders"])

    # -- export -------------------------------------------------------------------------

    def on_export(self):
        try:
            path = self.data.export(self.selected_rows, self.export_name.value,
                                    fmt=self.export_format.value,
                                    description=self.selection_text)
        except (ValueError, OSError) as exc:
            self.message.text = str(exc)
            return
        self.message.text = f"wrote {len(self.selected_rows):,} rows to {path.name}"


def build_layout(data, doc=None, *, max_points=20_000, k=6, n_draws=3):
    """Build the explorer's page for a catalogue.

    With ``doc`` (a Bokeh server document) the page is live: every widget
    calls back into Python. Without it the returned layout is a static
    snapshot of the opening view, for example to show in a notebook with
    `bokeh.io.show`.

    Parameters
    ----------
    data : `~minuet.explorer.ExplorerData`
        The catalogue and model.
    doc : `bokeh.document.Document`, optional
        The server document to add the page to.
    max_points : int, optional
        Most points drawn at once; a density image represents all rows.
    k : int, optional
        Neighbours shown for the selected galaxy.
    n_draws : int, optional
        Reconstruction draws shown for the selected galaxy.

    Returns
    -------
    layout : `bokeh.models.LayoutDOM`

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet import Minuet
    >>> from minuet.explorer import ExplorerData, build_layout
    >>> table = Table(np.random.default_rng(1).normal(size=(300, 5)),
    ...               names=[f"latent_{i}" for i in range(5)])
    >>> layout = build_layout(ExplorerData(table, model=Minuet.pretrained()))
    >>> layout.select_one({"name": "points"}).data["x"].shape
    (300,)
    """
    return _build(data, doc, max_points=max_points, k=k, n_draws=n_draws)[0]


def _build(data, doc, *, max_points, k, n_draws):
    """The page and the session object behind it."""
    _require_bokeh()
    from bokeh.events import RangesUpdate, SelectionGeometry, Tap
    from bokeh.layouts import column, row
    from bokeh.models import (
        BoxAnnotation,
        Button,
        ColorBar,
        ColumnDataSource,
        CustomJS,
        Div,
        FactorRange,
        HoverTool,
        LinearColorMapper,
        Range1d,
        Select,
        Slider,
        TapTool,
        TextInput,
    )
    from bokeh.palettes import Greys256, Viridis256
    from bokeh.plotting import figure

    s = _Session(doc, data, max_points=max_points, k=k, n_draws=n_draws)

    # the scatter
    s.scatter = figure(
        width=620, height=560, output_backend="webgl", name="scatter",
        tools="pan,wheel_zoom,box_select,lasso_select,reset",
        x_range=Range1d(*s.x_range), y_range=Range1d(*s.y_range),
        x_axis_label="PCA 1", y_axis_label="PCA 2", title="Latent space",
    )
    s.scatter.image("image", x="x", y="y", dw="dw", dh="dh", source=s.density,
                    palette=Greys256[::-1][:200], alpha=0.6)
    s.mapper = LinearColorMapper(palette=Viridis256, nan_color="lightgrey")
    dots = s.scatter.scatter("x", "y", source=s.points, size=4, line_color=None,
                             fill_color={"field": "c", "transform": s.mapper}, fill_alpha=0.8,
                             selection_line_color="red", nonselection_fill_alpha=0.4)
    s.scatter.scatter("x", "y", source=s.marker, size=18, marker="circle", fill_color=None,
                      line_color="red", line_width=3)
    s.colorbar = ColorBar(color_mapper=s.mapper, title=s.colour)
    s.scatter.add_layout(s.colorbar, "right")
    hover = HoverTool(renderers=[dots], tooltips=[("id", "@id"), ("colour", "@c{0.000}")])
    if data.cutouts is not None:
        hover.callback = CustomJS(args={"points": s.points, "target": s.hover}, code="""
            const inds = cb_data.index.indices;
            if (inds.length) {
                const row = points.data.row[inds[0]];
                if (target.data.row[0] !== row) { target.data = {row: [row]}; }
            }""")
    # a click selects one galaxy (the Tap event), not a subset of the drawn points
    s.scatter.add_tools(hover, TapTool(renderers=[dots], behavior="inspect"))

    # the controls
    options = ["pca", *(["umap"] if "umap" in data.projections() else []), "two latents"]
    s.projection = Select(title="Projection", value="pca", options=options, name="projection")
    s.xsel = Select(title="x", value=data.latent_names[0], options=data.latent_names,
                    disabled=True)
    s.ysel = Select(title="y", value=data.latent_names[1], options=data.latent_names,
                    disabled=True)
    s.colour_select = Select(title="Colour by", value=s.colour, options=data.colour_columns(),
                             name="colour")
    has_sky = {"ra", "dec"} <= set(data.table.colnames)
    s.search = TextInput(title="Find a galaxy", name="search",
                         placeholder="id or 'ra dec'" if has_sky else "id")
    s.search_button = Button(label="Find", name="search_button")
    s.status = Div(name="status", width=260, height=70)
    s.message = Div(name="message", width=260, height=50)
    s.export_name = TextInput(title="Export the box or lasso selection as", value="selection",
                              name="export_name")
    s.export_format = Select(value="ecsv", options=["ecsv", "fits", "parquet"],
                             name="export_format")
    s.export_button = Button(label="Export", disabled=True, name="export_button")
    where = (f"into {data.export_dir}" if data.export_dir is not None else
             "off: start with an export directory to write selections")
    export_note = Div(text=f"<small>Export {where}.</small>", width=260)
    controls = column(s.projection, row(s.xsel, s.ysel, width=260), s.colour_select,
                      s.search, s.search_button, s.status, s.message, s.export_name,
                      s.export_format, s.export_button, export_note, width=270)

    # the panel of the selected galaxy
    # fixed sizes: new text must not change the page's layout (a relayout redraws everything)
    s.title = Div(text="Click a galaxy, or find one by id.", name="panel_title", width=560,
                  height=72)
    s.state = Div(text="panel: empty", name="panel_state", width=560, height=20)
    images_fig, s.images = _tile_figure(
        "panel_images", n_draws + (data.cutouts is not None),
        title="cutout and reconstruction draws" if data.cutouts is not None else
        "reconstruction draws (no cutouts given)")
    s.posteriors, s.intervals, post_figs = {}, {}, []
    properties = ([] if data.model.posterior_estimator is None
                  else data.model.posterior_estimator.config.properties)
    for name in properties:
        source = ColumnDataSource({"left": [], "right": [], "top": []}, name=f"posterior_{name}")
        fig = figure(width=200, height=160, tools="", toolbar_location=None, title=name)
        fig.quad(left="left", right="right", top="top", bottom=0, source=source,
                 fill_color="steelblue", line_color=None)
        band = BoxAnnotation(left=0.0, right=0.0, fill_alpha=0.2, fill_color="orange")
        fig.add_layout(band)
        fig.yaxis.visible = False
        fig.xaxis.axis_label = ""
        fig.title.text_font_size = "8pt"
        s.posteriors[name] = (source, fig)
        s.intervals[name] = band
        post_figs.append(fig)
    labels = ([] if data.model.morphology_classifier is None
              else list(data.model.morphology_classifier.labels))
    s.classes = ColumnDataSource({"label": [], "p": []}, name="classes")
    class_fig = figure(width=260, height=150, y_range=FactorRange(*labels), x_range=(0, 1),
                       tools="", toolbar_location=None, title="class probabilities")
    class_fig.hbar(y="label", right="p", height=0.7, source=s.classes, fill_color="seagreen")
    neighbour_fig, s.neighbour_tiles = _tile_figure(
        "neighbours", k, title="nearest neighbours in latent space (click one)", tools="tap")
    s.neighbour_rows = np.array([], dtype=int)
    s.sliders = []
    for name in data.latent_names:
        lo, median, hi = data.percentiles(name, (0, 50, 100))  # every galaxy fits
        hi = hi if hi > lo else lo + 1.0
        slider = Slider(title=name, start=lo, end=hi, value=median,
                        step=(hi - lo) / 200, width=240, name=f"slider_{name}")
        s.sliders.append(slider)
    slider_fig, s.slider_image = _tile_figure("slider_image", 1, title="move a latent")
    thumb_fig, s.thumb = _tile_figure("hover_thumbnail", 1, title="under the cursor")
    thumb_fig.visible = data.cutouts is not None
    panel = column(s.title, s.state, images_fig, row(*post_figs), row(class_fig, slider_fig),
                   neighbour_fig, row(column(*s.sliders[:3]), column(*s.sliders[3:])))
    layout = row(controls, column(s.scatter, thumb_fig), panel, name="explorer")

    s.refresh_points()
    if doc is not None:
        s.scatter.on_event(RangesUpdate, s.on_ranges)
        s.scatter.on_event(SelectionGeometry, s.on_geometry)
        s.scatter.on_event(Tap, s.on_tap)
        s.projection.on_change("value", s.on_projection)
        s.xsel.on_change("value", s.on_axes)
        s.ysel.on_change("value", s.on_axes)
        s.colour_select.on_change("value", s.on_colour)
        s.search.on_change("value", lambda attr, old, new: s.on_search())
        s.search_button.on_click(s.on_search)
        s.export_button.on_click(s.on_export)
        s.hover.on_change("data", s.on_hover)
        s.painted.on_change("data", s.on_painted)
        s.title.js_on_change("text", CustomJS(args={"painted": s.painted}, code="""
            requestAnimationFrame(() => setTimeout(() => {
                painted.data = {when: [Date.now()]};
            }, 0));"""))
        s.neighbour_tiles.selected.on_change("indices", s.on_neighbour)
        for slider in s.sliders:
            slider.on_change("value_throttled", s.on_slider)
        doc.add_root(layout)
        doc.title = "minuet explore"
        doc.on_session_destroyed(lambda context: s.executor.shutdown(wait=False,
                                                                      cancel_futures=True))
    return layout, s
