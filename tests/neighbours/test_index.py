import json

import numpy as np
import pytest
from astropy.table import Table

from minuet.neighbours import LatentIndex


def brute_force(catalog, queries, k):
    mean, std = catalog.mean(axis=0), catalog.std(axis=0)
    a, b = (catalog - mean) / std, (queries - mean) / std
    d = np.linalg.norm(b[:, None, :] - a[None, :, :], axis=2)
    order = np.argsort(d, axis=1)[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    scales = np.array([1.0, 10.0, 0.1, 3.0, 1.0])
    return rng.normal(size=(2000, 5)) * scales, rng.normal(size=(30, 5)) * scales


def test_matches_brute_force_on_zscored_latents(data):
    catalog, queries = data
    result = LatentIndex(catalog).query(queries, k=4)
    assert len(result) == 30 * 4
    order, dist = brute_force(catalog, queries, 4)
    assert np.array_equal(np.asarray(result["catalog_index"]).reshape(30, 4), order)
    assert np.allclose(np.asarray(result["distance"]).reshape(30, 4), dist)
    assert np.array_equal(result["rank"][:4], [1, 2, 3, 4])
    assert np.array_equal(result["query_index"][:5], [0, 0, 0, 0, 1])


def test_standardisation_matters(data):
    catalog, queries = data
    raw = LatentIndex(catalog, standardize=False).query(queries, k=1)
    scored = LatentIndex(catalog).query(queries, k=1)
    assert np.any(raw["catalog_index"] != scored["catalog_index"])


def test_cosine_distance(data):
    catalog, _ = data
    index = LatentIndex(catalog, metric="cosine")
    # A scaled copy of a galaxy's z-scored latent points the same way: distance 0.
    z = (catalog[7] - catalog.mean(axis=0)) / catalog.std(axis=0)
    query = catalog.mean(axis=0) + 3 * z * catalog.std(axis=0)
    result = index.query(query[None, :], k=2)
    assert result["catalog_index"][0] == 7
    assert result["distance"][0] == pytest.approx(0, abs=1e-12)
    cos = np.dot(z, (catalog[result["catalog_index"][1]] - catalog.mean(axis=0))
                 / catalog.std(axis=0))
    norm = np.linalg.norm(z) * np.linalg.norm(
        (catalog[result["catalog_index"][1]] - catalog.mean(axis=0)) / catalog.std(axis=0))
    assert result["distance"][1] == pytest.approx(1 - cos / norm)


def test_catalog_rows_are_joined(data):
    catalog, queries = data
    truth = Table({"redshift": np.linspace(0, 1, 2000), "rank": np.arange(2000)})
    result = LatentIndex(catalog, catalogue=truth).query(queries, k=2)
    assert np.allclose(result["redshift"], truth["redshift"][result["catalog_index"]])
    assert "catalog_rank" in result.colnames


def test_neighbours_share_properties():
    # Latents that are noisy functions of two properties: neighbours in latent
    # space must have much closer properties than random pairs.
    rng = np.random.default_rng(1)
    props = rng.uniform(0, 1, size=(5000, 2))
    mixing = rng.normal(size=(2, 5))
    latents = np.tanh(props @ mixing) + 0.02 * rng.normal(size=(5000, 5))
    index = LatentIndex(latents, catalogue=Table({"redshift": props[:, 0]}))
    result = index.query(latents[:200], k=6)
    neighbours = result[result["rank"] > 1]
    close = np.median(np.abs(neighbours["redshift"] - props[neighbours["query_index"], 0]))
    random = np.median(np.abs(props[:200, 0] - props[200:400, 0]))
    assert close < 0.2 * random


def test_save_load(data, tmp_path):
    catalog, queries = data
    index = LatentIndex(catalog, metric="cosine", leafsize=8)
    path = index.save(tmp_path / "index")
    assert path.suffix == ".safetensors"
    assert path.with_suffix(".json").is_file()
    loaded = LatentIndex.load(path)
    assert loaded.metric == "cosine"
    assert loaded.leafsize == 8
    a, b = index.query(queries, k=3), loaded.query(queries, k=3)
    assert np.array_equal(a["catalog_index"], b["catalog_index"])
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a LatentIndex"):
        LatentIndex.load(tmp_path / "other.npz")


def test_saved_index_owns_its_catalogue(data, tmp_path):
    catalog, _ = data
    names = Table({"name": [f"g{i}" for i in range(len(catalog))]})
    path = LatentIndex(catalog, catalogue=names).save(tmp_path / "index")
    loaded = LatentIndex.load(path)
    assert loaded.catalogue["name"].tolist() == names["name"].tolist()
    assert loaded.sha256 == json.loads(path.with_suffix(".json").read_text())["sha256"]
    table = path.with_suffix(".fits")
    table.write_bytes(table.read_bytes()[:-2880])
    with pytest.raises(ValueError, match="does not match the SHA-256"):
        LatentIndex.load(path)


def test_latent_table_input(data):
    catalog, queries = data
    table = Table({f"latent_{i}": catalog[:, i] for i in range(5)})
    qtable = Table({f"latent_{i}": queries[:, i] for i in range(5)})
    a = LatentIndex(table).query(qtable, k=2)
    b = LatentIndex(catalog).query(queries, k=2)
    assert np.array_equal(a["catalog_index"], b["catalog_index"])


def test_bad_input(data):
    catalog, queries = data
    index = LatentIndex(catalog)
    with pytest.raises(ValueError, match="metric"):
        LatentIndex(catalog, metric="manhattan")
    with pytest.raises(ValueError, match=r"shape \(N, 5\)"):
        index.query(queries[:, :2])
    with pytest.raises(ValueError, match="k must be"):
        index.query(queries, k=0)
    nan = queries.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        index.query(nan)
    with pytest.raises(ValueError, match="one row per catalogue galaxy"):
        LatentIndex(catalog, catalogue=Table({"a": [1, 2]}))
    with pytest.raises(ValueError, match="cosine"):
        LatentIndex(catalog, metric="cosine").query(catalog.mean(axis=0)[None, :])


def test_old_catalogue_spelling_still_works(data, tmp_path):
    import json

    from astropy.utils.exceptions import AstropyDeprecationWarning

    latents, _ = data
    names = Table({"name": [f"g{i}" for i in range(len(latents))]})
    with pytest.warns(AstropyDeprecationWarning, match="catalog"):
        index = LatentIndex(latents, catalog=names)
    assert index.catalogue is names
    with pytest.warns(AstropyDeprecationWarning, match="attach_catalogue"):
        index.attach_catalog(names[::-1])
    with pytest.warns(AstropyDeprecationWarning, match="catalogue"):
        assert index.catalog["name"][0] == names["name"][-1]
    path = index.save(tmp_path / "index")
    with pytest.warns(AstropyDeprecationWarning, match="catalog"):
        again = LatentIndex.load(path, catalog=names)
    assert again.catalogue["name"][0] == "g0"
    # a record written with the American key loads its table
    record = tmp_path / "index.json"
    config = json.loads(record.read_text())
    config["config"]["catalog"] = config["config"].pop("catalogue")
    record.write_text(json.dumps(config))
    assert LatentIndex.load(path).catalogue["name"][0] == names["name"][-1]
