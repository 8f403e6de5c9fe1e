import sys
import types

import numpy as np
import pytest
from astropy.table import QTable, Table

from minuet.explorer import EXPORT_FORMATS, ExplorerData, umap_available


@pytest.fixture
def data(latent_table, tiny_model, tmp_path):
    return ExplorerData(latent_table, model=tiny_model, export_dir=tmp_path)


def test_table_without_latents_is_refused(tiny_model):
    table = Table({"ra": [1.0, 2.0], "dec": [3.0, 4.0]})
    with pytest.raises(ValueError, match=r"no latent columns .*latent_0.*Minuet.encode"):
        ExplorerData(table, model=tiny_model)
    with pytest.raises(TypeError, match="astropy Table"):
        ExplorerData(np.zeros((3, 5)), model=tiny_model)
    empty = Table(np.full((2, 5), np.nan), names=[f"latent_{i}" for i in range(5)])
    with pytest.raises(ValueError, match="no row of the table has finite latents"):
        ExplorerData(empty, model=tiny_model)


def test_rows_without_latents_are_counted_not_shown(data):
    assert data.n_hidden == 2
    xy = data.project("pca")
    assert np.isnan(xy[[5, 77]]).all()
    rows, n_view = data.decimate(xy)
    assert n_view == 298
    assert not np.isin([5, 77], rows).any()


def test_scores_are_added_as_colour_columns(data):
    columns = data.colour_columns()
    assert {"p_round", "p_merger", "anomaly_score", "redshift"} <= set(columns)
    assert "flag" not in columns
    # computed for every row only when first asked for
    assert "p_round" not in data.table.colnames
    assert "p_round" not in data.details(3)["values"]
    p = data.column("p_round")
    assert {"p_round", "p_merger"} <= set(data.table.colnames)
    assert "anomaly_score" not in data.table.colnames
    assert np.isfinite(data.column("anomaly_score")[data.good]).all()
    assert np.all((p[data.good] >= 0) & (p[data.good] <= 1))
    with pytest.raises(ValueError, match="no column 'nope'"):
        data.column("nope")


def test_pca_projection(data):
    xy = data.project("pca")
    good = xy[data.good]
    # the first component carries at least as much variance as the second
    assert good[:, 0].var() >= good[:, 1].var()
    # a linear map of the z-scored latents: centred
    np.testing.assert_allclose(good.mean(axis=0), 0, atol=1e-5)
    assert data.project("pca") is xy  # cached


def test_latent_pair_projection(data):
    xy = data.project(("latent_3", "latent_1"))
    np.testing.assert_array_equal(xy[data.good, 0], data.latents[data.good, 3])
    np.testing.assert_array_equal(xy[data.good, 1], data.latents[data.good, 1])
    with pytest.raises(ValueError, match="two of"):
        data.project(("latent_0", "redshift"))
    with pytest.raises(ValueError, match="unknown projection 'tsne'"):
        data.project("tsne")


def test_umap_without_the_package(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # import fails
    assert not umap_available()
    assert data.projections() == ["pca"]
    with pytest.raises(ValueError, match="umap-learn"):
        data.project("umap")


def test_umap_with_the_package(data, monkeypatch):
    calls = {}

    class FakeUMAP:
        def __init__(self, n_components, random_state):
            calls["init"] = (n_components, random_state)

        def fit(self, x):
            calls["fit"] = len(x)
            return self

        def transform(self, x):
            return x[:, :2] * 2

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    assert umap_available()
    assert "umap" in data.projections()
    xy = data.project("umap", max_fit=100)
    assert calls == {"init": (2, 0), "fit": 100}
    np.testing.assert_allclose(xy[data.good], data.latents[data.good, :2] * 2)


def test_decimation_is_capped_and_stable_under_zoom(data):
    xy = data.project("pca")
    rows, n_view = data.decimate(xy, max_points=50)
    assert len(rows) == 50
    assert n_view == 298
    # zooming in keeps every point that was drawn and lies in the smaller view
    x_range, y_range = (-0.5, 1.0), (-1.0, 0.5)
    zoomed, n_zoomed = data.decimate(xy, x_range=x_range, y_range=y_range, max_points=50)
    inside = ((xy[rows, 0] >= -0.5) & (xy[rows, 0] <= 1.0)
              & (xy[rows, 1] >= -1.0) & (xy[rows, 1] <= 0.5))
    assert set(rows[inside]) <= set(zoomed)
    assert n_zoomed < n_view
    # the same call twice draws the same points
    np.testing.assert_array_equal(rows, data.decimate(xy, max_points=50)[0])


def test_density_counts_every_row_in_view(data):
    xy = data.project("pca")
    x_range, y_range = data.limits(xy)
    counts = data.density(xy, x_range=x_range, y_range=y_range, bins=20)
    assert counts.shape == (20, 20)
    assert counts.sum() == 298


def test_box_and_lasso_select_every_row_not_only_drawn_ones(data):
    xy = data.project(("latent_0", "latent_1"))
    rows = data.select_box(xy, (0.5, -0.5), (-1, 1))  # reversed bounds are fine
    x, y = xy[:, 0], xy[:, 1]
    expected = np.flatnonzero((x >= -0.5) & (x <= 0.5) & (y >= -1) & (y <= 1))
    np.testing.assert_array_equal(rows, expected)
    # a triangle: x >= 0, y >= 0, x + y <= 2
    lasso = data.select_polygon(xy, [0, 2, 0], [0, 0, 2])
    expected = np.flatnonzero((x > 0) & (y > 0) & (x + y < 2))
    np.testing.assert_array_equal(np.sort(lasso), expected)
    with pytest.raises(ValueError, match="at least three vertices"):
        data.select_polygon(xy, [0, 1], [0, 1])


def test_click_picks_the_nearest_drawn_point(data):
    xy = data.project(("latent_0", "latent_1"))
    rows = np.array([0, 1, 2])
    assert data.nearest_shown(xy, rows, xy[1, 0], xy[1, 1]) == 1
    far = data.nearest_shown(xy, rows, 100.0, 100.0, scale=(10.0, 10.0))
    assert far is None
    assert data.nearest_shown(xy, rows[:0], 0.0, 0.0) is None


def test_find_by_id_and_position(data, latent_table):
    assert data.find("1010") == 10
    assert data.find(" 1299 ") == 299
    ra, dec = latent_table["ra"][42], latent_table["dec"][42]
    assert data.find(f"{ra} {dec}") == 42
    assert data.find(f"{ra + 1 / 3600 / np.cos(np.radians(dec))},{dec}") == 42
    with pytest.raises(ValueError, match="no galaxy '5' in the id column"):
        data.find("5")
    with pytest.raises(ValueError, match=r"no galaxy within 5\.0 arcsec"):
        data.find("10 -80")
    with pytest.raises(ValueError, match="type an id"):
        data.find("  ")


def test_find_by_string_id_and_row_number(latent_table, tiny_model):
    latent_table["id"] = [f"g{i}" for i in range(300)]
    assert ExplorerData(latent_table, model=tiny_model).find("g12") == 12
    del latent_table["id"]
    assert ExplorerData(latent_table, model=tiny_model).find("12") == 12


def test_neighbours_exclude_the_galaxy_and_match_brute_force(data):
    rows, distances = data.neighbours(10, k=5)
    assert 10 not in rows
    assert len(rows) == 5
    assert np.all(np.diff(distances) >= 0)
    z = data.latents[data.good]
    zs = (data.latents - z.mean(axis=0)) / z.std(axis=0)
    d = np.linalg.norm(zs - zs[10], axis=1)
    d[~data.good] = np.inf
    d[10] = np.inf
    np.testing.assert_array_equal(rows, np.argsort(d)[:5])
    with pytest.raises(ValueError, match="has no latents"):
        data.neighbours(5)


def test_details_of_one_galaxy(data):
    details = data.details(10, n_samples=400, bins=20)
    assert details["id"] == 1010
    assert details["values"]["redshift"] == pytest.approx(float(data.column("redshift")[10]))
    post = details["posterior"]["redshift"]
    assert post["counts"].sum() == 400
    assert len(post["edges"]) == 21
    assert post["lo68"] <= post["median"] <= post["hi68"]
    assert set(details["classes"]) == {"merger", "round"}
    assert details["cutout"] is None
    refused = data.details(5)
    assert refused["posterior"] == {}
    with pytest.raises(ValueError, match="row must be between 0 and 299"):
        data.details(300)


def test_reconstructions_are_seeded(data):
    first = data.reconstruct(data.latents[10], n_draws=2)
    assert first.shape == (2, 3, 24, 24)
    np.testing.assert_array_equal(first, data.reconstruct(data.latents[10], n_draws=2))
    assert not np.array_equal(first[0], first[1])  # two different draws


def test_cutouts_must_match_the_table(latent_table, tiny_model):
    with pytest.raises(ValueError, match=r"one g,r,z cutout per table row, shape \(300"):
        ExplorerData(latent_table, model=tiny_model, cutouts=np.zeros((10, 3, 24, 24)))
    flux = np.ones((300, 3, 24, 24), dtype=np.float32)
    data = ExplorerData(latent_table, model=tiny_model, cutouts=flux)
    assert data.details(3)["cutout"].shape == (3, 24, 24)


@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_export_writes_rows_with_provenance(data, tmp_path, fmt):
    path = data.export([3, 1, 2], "my selection", fmt=fmt, description="box of 3 rows")
    assert path == tmp_path / f"my_selection.{fmt}"
    back = QTable.read(path)
    assert back["id"].tolist() == [1001, 1002, 1003]
    if fmt == "fits":  # the keywords of the FITS output of `minuet encode`
        assert back.meta["MODEL"] == "tiny-explorer"
        assert back.meta["MINUETV"]
        assert "selection: box of 3 rows" in back.meta["comments"]
        return
    assert back.meta["model"] == "tiny-explorer"  # the table's own meta is kept
    assert back.meta["minuet_version"]
    assert "weights_sha256" in back.meta
    assert back.meta["selection"] == "box of 3 rows"


def test_export_stays_in_its_directory_and_never_overwrites(data, tmp_path):
    first = data.export([1], "../../etc/passwd")
    assert first.parent == tmp_path
    assert first.name == "passwd.ecsv"
    second = data.export([2], "passwd.ecsv")
    assert second.name == "passwd-1.ecsv"
    assert QTable.read(first)["id"].tolist() == [1001]
    assert data.export([1], "...").name == "selection.ecsv"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "passwd-1.ecsv", "passwd.ecsv", "selection.ecsv"]


def test_export_errors(data, latent_table, tiny_model, tmp_path):
    with pytest.raises(ValueError, match="no galaxies are selected"):
        data.export([], "x")
    with pytest.raises(ValueError, match="format must be one of"):
        data.export([1], "x", fmt="csv")
    off = ExplorerData(latent_table, model=tiny_model)
    with pytest.raises(ValueError, match="export is off"):
        off.export([1], "x")
    with pytest.raises(ValueError, match="does not exist"):
        ExplorerData(latent_table, model=tiny_model, export_dir=tmp_path / "missing")


def test_percentiles_and_limits(data):
    lo, median, hi = data.percentiles("latent_2", (0, 50, 100))
    z = data.latents[data.good, 2]
    assert (lo, hi) == (pytest.approx(z.min()), pytest.approx(z.max()))
    assert median == pytest.approx(np.median(z))
    xy = data.project("pca")
    (x0, x1), (y0, y1) = data.limits(xy)
    good = xy[data.good]
    assert x0 < good[:, 0].min()
    assert x1 > good[:, 0].max()
    assert y0 < good[:, 1].min()
    assert y1 > good[:, 1].max()
