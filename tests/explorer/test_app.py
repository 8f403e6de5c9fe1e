import concurrent.futures
import types
import urllib.request
import warnings

import numpy as np
import pytest
from astropy.table import Table
from bokeh.document import Document

from minuet.cli import main
from minuet.explorer import ExplorerData, RemoteAccessWarning, build_layout, explore
from minuet.explorer._app import _build


@pytest.fixture
def data(latent_table, tiny_model, tmp_path):
    return ExplorerData(latent_table, model=tiny_model, export_dir=tmp_path)


@pytest.fixture
def session(data):
    _layout, session = _build(data, Document(), max_points=100, k=4, n_draws=2)
    yield session
    session.executor.shutdown(wait=True)


def test_static_layout_shows_decimated_points_and_density(data):
    layout = build_layout(data, max_points=100)
    points = layout.select_one({"name": "points"})
    assert len(points.data["x"]) == 100
    assert set(points.data["row"]) <= set(np.flatnonzero(data.good))
    density = layout.select_one({"name": "density"}).data["image"][0]
    assert np.expm1(density).sum() == pytest.approx(298)
    status = layout.select_one({"name": "status"}).text
    assert "showing 100 of 298 galaxies in view (300 in the table; 2 rows without latents" in status
    assert layout.select_one({"name": "colour"}).value == "redshift"


def test_selecting_a_galaxy_fills_the_panel(session):
    session.search.value = "1010"
    session.on_search()
    assert "Galaxy 1010" in session.title.text
    source, _ = session.posteriors["redshift"]
    assert sum(source.data["top"]) == 1000
    assert set(session.classes.data["label"]) == {"merger", "round"}
    assert len(session.neighbour_rows) == 4
    assert session.images.data["label"] == ["drawing...", "drawing..."]
    # the reconstruction draws, as the server would deliver them
    row, draws, neighbours = session._draw(10, session.neighbour_rows)
    assert draws.shape == (2, 3, 24, 24)
    assert neighbours.shape == (4, 3, 24, 24)
    future = concurrent.futures.Future()
    future.set_result((row, draws, neighbours))
    session._show_drawn(session.generation, future)
    assert session.images.data["label"] == ["draw 1 (no cutout)", "draw 2"]
    assert session.state.text == "panel: ready"
    assert all(label.endswith("(draw)") for label in session.neighbour_tiles.data["label"])
    # results for a galaxy no longer selected are dropped
    session._show_drawn(session.generation - 1, future)
    assert session.state.text == "panel: ready"


def test_unknown_galaxy_is_reported_on_the_page(session):
    session.search.value = "nope"
    session.on_search()
    assert "no galaxy 'nope'" in session.message.text


def test_clicking_a_neighbour_selects_it(session):
    session.select(10)
    first = int(session.neighbour_rows[1])
    session.on_neighbour("indices", [], [1])
    assert session.row == first
    assert f"(row {first})" in session.title.text


def test_box_selection_and_export(session, tmp_path):
    event = types.SimpleNamespace(final=True, geometry={
        "type": "rect", "x0": -10.0, "x1": 10.0, "y0": -10.0, "y1": 10.0})
    session.on_geometry(event)
    assert len(session.selected_rows) == 298
    assert session.export_button.disabled is False
    session.export_name.value = "all of them"
    session.on_export()
    assert session.message.text == "wrote 298 rows to all_of_them.ecsv"
    assert (tmp_path / "all_of_them.ecsv").is_file()
    lasso = types.SimpleNamespace(final=True, geometry={
        "type": "poly", "x": [0.0, 9.0, 0.0], "y": [0.0, 0.0, 9.0]})
    session.on_geometry(lasso)
    assert 0 < len(session.selected_rows) < 298
    assert "lasso selection" in session.selection_text


def test_projection_and_colour_change(session):
    session.projection.value = "two latents"
    session.on_projection("value", "pca", "two latents")
    session.ysel.value = "latent_4"
    session.on_axes("value", "latent_1", "latent_4")
    assert session.scatter.yaxis.axis_label == "latent_4"
    x = session.points.data["x"]
    np.testing.assert_array_equal(x, session.data.latents[session.points.data["row"], 0])
    session.on_colour("value", "redshift", "anomaly_score")
    # a score of every row is computed off the page's thread, then applied
    assert session.message.text == "computing anomaly_score for 300 galaxies..."
    session.executor.submit(lambda: None).result()
    assert "anomaly_score" in session.data.table.colnames
    session._set_colour("anomaly_score")
    assert session.colorbar.title == "anomaly_score"
    np.testing.assert_array_equal(
        session.points.data["c"], session.data.column("anomaly_score")[session.points.data["row"]])


def test_zoom_redecimates(session):
    session.on_ranges(types.SimpleNamespace(x0=0.0, x1=0.5, y0=0.0, y1=0.5))
    x, y = session.points.data["x"], session.points.data["y"]
    assert np.all((x >= 0) & (x <= 0.5) & (y >= 0) & (y <= 0.5))


def test_hover_thumbnail_from_cutouts(latent_table, tiny_model):
    flux = np.random.default_rng(0).uniform(0, 1, (300, 3, 24, 24)).astype(np.float32)
    data = ExplorerData(latent_table, model=tiny_model, cutouts=flux)
    _layout, session = _build(data, Document(), max_points=100, k=3, n_draws=1)
    session.on_hover("data", {}, {"row": [12]})
    assert session.thumb.data["label"] == ["id 1012"]
    assert session.thumb.data["image"][0].shape == (24, 24)
    session.select(12)
    assert session.images.data["label"] == ["cutout (g,r,z)", "drawing..."]
    session.executor.shutdown(wait=True)


def test_server_serves_the_page_on_loopback(data):
    server = explore(data, show=False)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url, timeout=60) as response:
            page = response.read().decode()
        assert response.status == 200
        assert "minuet explore" in page
        assert "300 galaxies" in server._repr_html_()
    finally:
        server.stop()
    assert not server.running


def test_stopping_the_server_cancels_the_reconstructions_its_tabs_queued(data):
    import threading

    server = explore(data, show=False)
    release = threading.Event()
    try:
        with urllib.request.urlopen(server.url, timeout=60) as response:
            assert response.status == 200  # one tab: one session
        (session,) = list(server._sessions)
        running = session.executor.submit(release.wait, 60)
        queued = session.executor.submit(data.reconstruct, data.latents[0], n_draws=1)
        server.stop()
        # the executor's threads are not daemons: without the cancel, Python would draw
        # the queued reconstruction before it could exit
        assert queued.cancelled()
        assert not running.cancelled()
    finally:
        release.set()
        server.stop()
    assert running.result(timeout=60)
    assert not server.running


def test_remote_hosts_need_an_explicit_flag(data):
    with pytest.raises(ValueError, match=r"loopback only.*allow_remote=True"):
        explore(data, host="0.0.0.0", show=False)
    with pytest.warns(RemoteAccessWarning, match="anyone who can reach this port"):
        server = explore(data, host="0.0.0.0", allow_remote=True, show=False)
    server.stop()


def test_command_line_errors(tmp_path, saved_tiny_model, capsys):
    table = tmp_path / "no_latents.ecsv"
    Table({"ra": [1.0], "dec": [2.0]}).write(table)
    model = str(saved_tiny_model.path)
    assert main(["explore", str(table), "--model", model, "--no-browser"]) == 2
    assert "no latent columns" in capsys.readouterr().err
    assert main(["explore", str(tmp_path / "missing.ecsv"), "--model", model]) == 2
    assert "no table at" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["explore", str(table), "--model", model, "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_cutouts_from_a_file(latent_table, tiny_model, tmp_path):
    import h5py

    flux = np.random.default_rng(2).uniform(0, 1, (300, 3, 24, 24)).astype(np.float32)
    with h5py.File(tmp_path / "cutouts.h5", "w") as f:
        f["images"] = flux
    server = explore(latent_table, model=tiny_model, cutouts=tmp_path / "cutouts.h5",
                     show=False)
    try:
        np.testing.assert_allclose(server.data.cutouts, flux, rtol=1e-6)
    finally:
        server.stop()


def test_command_line_serves_until_interrupted(tmp_path, latent_table, saved_tiny_model):
    import os
    import signal
    import subprocess
    import sys

    latent_table.write(tmp_path / "latents.ecsv")
    command = [sys.executable, "-m", "minuet.cli", "explore", str(tmp_path / "latents.ecsv"),
               "--model", str(saved_tiny_model.path), "--no-browser"]
    # stderr goes to a file, which cannot fill up as an unread pipe can; a server that
    # does not stop is made to print every thread's stack there (faulthandler, SIGABRT)
    log = tmp_path / "stderr.txt"
    env = os.environ | {"PYTHONWARNINGS": "ignore", "PYTHONFAULTHANDLER": "1"}
    with open(log, "w") as stderr, subprocess.Popen(command, stdout=subprocess.PIPE,
                                                    stderr=stderr, text=True, env=env) as process:
        try:
            line = process.stdout.readline()
            assert "300 galaxies at http://127.0.0.1:" in line, log.read_text()
            url = line.split(" at ")[1].split()[0]
            with urllib.request.urlopen(url, timeout=60) as response:
                assert response.status == 200
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGABRT)
                process.wait(timeout=30)
                pytest.fail("minuet explore did not stop within 60 s of Ctrl+C; its stderr:\n"
                            + log.read_text()[-8000:])
            assert code == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()
