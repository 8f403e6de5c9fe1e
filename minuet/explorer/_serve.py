"""Serving the explorer: a Bokeh server on loopback, in the background or blocking."""

import asyncio
import socket
import threading
import time
import warnings
import weakref
from pathlib import Path

from astropy.table import QTable, Table
from astropy.utils.exceptions import AstropyUserWarning

__all__ = ["LOOPBACK_HOSTS", "ExplorerServer", "RemoteAccessWarning", "explore",
           "make_application"]

#: Host names that only this machine can reach.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class RemoteAccessWarning(AstropyUserWarning):
    """The explorer listens on an address other machines can reach."""


def _free_port(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def make_application(data, **layout_options):
    """A Bokeh application that builds one explorer page per browser tab.

    Parameters
    ----------
    data : `~minuet.explorer.ExplorerData`
        The catalogue and model, shared by every tab.
    **layout_options
        Passed to `~minuet.explorer.build_layout` (``max_points``, ``k``, ``n_draws``).

    Returns
    -------
    app : `bokeh.application.Application`

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from minuet import Minuet
    >>> from minuet.explorer import ExplorerData, make_application
    >>> table = Table(np.zeros((3, 5)) + np.arange(3)[:, None],
    ...               names=[f"latent_{i}" for i in range(5)])
    >>> app = make_application(ExplorerData(table, model=Minuet.pretrained()))
    >>> type(app).__name__
    'Application'
    """
    from ._app import build_layout

    return _application(lambda doc: build_layout(data, doc, **layout_options))


def _application(page):
    """A Bokeh application that calls ``page(doc)`` to build each tab's page."""
    from bokeh.application import Application
    from bokeh.application.handlers import FunctionHandler

    from ._app import _require_bokeh

    _require_bokeh()
    return Application(FunctionHandler(page))


class ExplorerServer:
    """A running explorer: its address, and how to stop it.

    Returned by `~minuet.explorer.explore`; the server runs in a background thread until
    :meth:`stop` (or the end of the Python process).

    Attributes
    ----------
    url : str
        The page's address.
    data : `~minuet.explorer.ExplorerData`
        The catalogue being explored.
    """

    def __init__(self, data, *, host, port, origins, layout_options):
        self.data = data
        self.host, self.port = host, port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/"
        self._origins = origins
        self._layout_options = layout_options
        self._ready = threading.Event()
        self._error = None
        self._server = None
        # the tabs' sessions, whose queued reconstructions are cancelled by `stop`: the
        # threads that draw them are not daemons, so Python would run them all at exit
        self._sessions = weakref.WeakSet()
        self._thread = threading.Thread(target=self._run, name="minuet-explore", daemon=True)

    def __repr__(self):
        state = "running" if self.running else "stopped"
        return f"<ExplorerServer {self.url} ({state}), {len(self.data)} galaxies>"

    def _repr_html_(self):
        return (f'<a href="{self.url}" target="_blank">minuet explorer at {self.url}</a> '
                f"({len(self.data):,} galaxies)")

    @property
    def running(self):
        """Whether the server thread is alive."""
        return self._thread.is_alive()

    def _run(self):
        from bokeh.server.server import Server
        from tornado.ioloop import IOLoop

        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            self._server = Server(
                {"/": _application(self._page)},
                io_loop=IOLoop.current(), address=self.host, port=self.port,
                allow_websocket_origin=self._origins,
            )
            self._server.start()
        except Exception as exc:  # handed to the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._server.io_loop.start()
        self._server.io_loop.close(all_fds=True)

    def _page(self, doc):
        from ._app import _build

        _, session = _build(self.data, doc, **self._layout_options)
        self._sessions.add(session)

    def start(self, timeout=60):
        """Start the server thread; return once it listens."""
        self._thread.start()
        self._ready.wait(timeout)
        if self._error is not None:
            msg = f"the explorer could not listen on {self.url}: {self._error}"
            raise OSError(msg) from self._error
        return self

    def stop(self, timeout=10):
        """Stop the server and wait for its thread to end.

        Reconstructions that the tabs queued and that have not started are
        cancelled; one already being drawn finishes first.
        """
        for session in list(self._sessions):
            session.executor.shutdown(wait=False, cancel_futures=True)
        if self._server is None or not self.running:
            return
        loop = self._server.io_loop

        def shutdown():
            self._server.stop()
            loop.stop()

        loop.add_callback(shutdown)
        self._thread.join(timeout)

    def wait(self):
        """Block until the server stops or the user presses Ctrl+C."""
        try:
            while self.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


def _read_table(table, model):
    from ._data import reference_catalogue

    if table is None:
        return reference_catalogue(model)
    if isinstance(table, Table):
        return table
    path = Path(table)
    if not path.is_file():
        msg = f"no table at {path}; give the path of an encode output (ECSV, FITS, Parquet)."
        raise FileNotFoundError(msg)
    return QTable.read(path)


def _read_cutouts(cutouts, model):
    if cutouts is None or not isinstance(cutouts, (str, Path)):
        return cutouts
    from ..cutouts import load_cutouts

    return load_cutouts(cutouts, size=model.image_size, on_invalid="flag").flux


def explore(table=None, *, model=None, cutouts=None, export_dir=None, host="127.0.0.1",
            port=0, allow_remote=False, show=True, block=False, max_points=20_000, k=6,
            n_draws=3):
    """Open the latent-space explorer in a web browser.

    The explorer is a Bokeh server application: a scatter of the latents
    (PCA, UMAP, or any two latents) coloured by any numeric column; click a
    galaxy, or find it by id or position, to see its image, reconstruction
    draws, posteriors, class probabilities and neighbours; move the latent
    sliders to watch the reconstruction change; export box or lasso
    selections. In a notebook it runs in the background and returns at once.

    Parameters
    ----------
    table : `~astropy.table.Table` or path-like, optional
        Latents, one row per galaxy (the output of `minuet.Minuet.encode`).
        Default: the bundled model's reference catalogue.
    model : `minuet.Minuet`, optional
        The model that made the latents; default the bundled model.
    cutouts : array-like or path-like, optional
        The cutouts the table was encoded from, in its order, for images and
        hover thumbnails. Without them reconstructions are shown instead.
    export_dir : path-like, optional
        The only directory selections are written into; export is off
        without it.
    host : str, optional
        Address to listen on; loopback by default.
    port : int, optional
        Port; 0 picks a free one.
    allow_remote : bool, optional
        Needed to listen on an address other than loopback; the page has no
        authentication, so anyone who can reach the port can use it.
    show : bool, optional
        Open the page in the default web browser.
    block : bool, optional
        Wait until Ctrl+C instead of returning (as ``minuet explore`` does).
    max_points, k, n_draws : int, optional
        Most points drawn at once, neighbours shown, reconstruction draws
        shown.

    Returns
    -------
    server : `~minuet.explorer.ExplorerServer`
        With ``url`` and ``stop()``.

    Raises
    ------
    ValueError
        If the table has no latent columns, or ``host`` is not loopback
        without ``allow_remote``.

    Warns
    -----
    RemoteAccessWarning
        When listening on an address other than loopback.

    Examples
    --------
    >>> import urllib.request
    >>> import minuet
    >>> server = minuet.explore(show=False)
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> urllib.request.urlopen(server.url, timeout=60).status
    200
    >>> server.stop()
    """
    from ..core import Minuet
    from ._data import ExplorerData

    host = str(host)
    if host not in LOOPBACK_HOSTS:
        if not allow_remote:
            msg = (
                f"the explorer listens on loopback only; host={host!r} would let other "
                "machines use it (it has no authentication). Pass allow_remote=True "
                "(minuet explore --allow-remote) if that is what you want."
            )
            raise ValueError(msg)
        warnings.warn(
            f"the explorer listens on {host}: anyone who can reach this port can use it, "
            "and export into the export directory.", RemoteAccessWarning, stacklevel=2)
    model = Minuet.pretrained() if model is None else model
    data = table if isinstance(table, ExplorerData) else ExplorerData(
        _read_table(table, model), model=model, cutouts=_read_cutouts(cutouts, model),
        export_dir=export_dir)
    data.warm_up()
    port = int(port) or _free_port(host if host != "localhost" else "127.0.0.1")
    if host in LOOPBACK_HOSTS:
        origins = [f"127.0.0.1:{port}", f"localhost:{port}"]
    else:
        origins = ["*"] if host in ("0.0.0.0", "::") else [f"{host}:{port}"]
    server = ExplorerServer(data, host=host, port=port, origins=origins,
                            layout_options={"max_points": max_points, "k": k,
                                            "n_draws": n_draws}).start()
    if show:
        import webbrowser

        webbrowser.open(server.url)
    if block:
        server.wait()
    return server
