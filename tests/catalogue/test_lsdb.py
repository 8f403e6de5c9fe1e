import h5py
import numpy as np
import pytest
from astropy.table import Table

from minuet import Minuet
from minuet.catalogue import encode_lsdb
from minuet.cutouts import fetch_legacy_cutouts, load_cutouts

lsdb = pytest.importorskip("lsdb")
pd = pytest.importorskip("pandas")

# LSDB's own use of a pandas keyword that pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in NestedFrame")


@pytest.fixture(scope="module")
def model(saved_tiny_model):
    return saved_tiny_model


@pytest.fixture
def positions():
    """Twelve galaxies spread over the sky, with one the cutout service cannot serve."""
    ra = np.linspace(5.0, 355.0, 12)
    dec = np.linspace(1.0, 60.0, 12)
    dec[7] = -85.0
    return pd.DataFrame({"objid": np.arange(100, 112), "ra": ra, "dec": dec})


def _catalog(frame):
    return lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec", partition_rows=4)


def test_latents_equal_those_of_the_downloaded_cutouts(legacy_viewer, model, positions):
    catalog = _catalog(positions)
    assert catalog.npartitions > 1
    lazy = encode_lsdb(catalog, model=model, cache=False)
    assert legacy_viewer == []  # nothing is downloaded before compute
    result = lazy.compute().sort_values("objid")
    assert len(result) == len(positions)
    assert len(legacy_viewer) == len(positions)

    direct = fetch_legacy_cutouts(Table.from_pandas(positions), cache=False, on_invalid="flag",
                                  progress=False)
    expected = model.encode_cutouts(direct, progress=False)
    got = np.stack([result[name].to_numpy(dtype=float) for name in model.latent_names], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, equal_nan=True)
    assert result["minuet_valid"].tolist() == [i != 7 for i in range(12)]
    assert np.isnan(got[7]).all()
    assert result["minuet_flag"].iloc[7].startswith("download failed")
    assert (result["minuet_flag"].drop(result.index[7]) == "").all()


def test_cutout_function_replaces_the_download(legacy_viewer, model, positions, tmp_path):
    rng = np.random.default_rng(0)
    store = {oid: rng.normal(0, 0.02, (3, 72, 72)).astype(np.float32)
             for oid in positions["objid"]}
    by_position = {(round(r, 6), round(d, 6)): store[o]
                   for o, r, d in positions[["objid", "ra", "dec"]].itertuples(index=False)}

    def local_store(table):
        keys = zip(np.round(table["ra"], 6), np.round(table["dec"], 6), strict=True)
        return load_cutouts(np.stack([by_position[key] for key in keys]))

    # a HATS catalogue on disk, opened by path
    _catalog(positions).write_catalog(tmp_path / "galaxies", progress_bar=False)
    result = encode_lsdb(tmp_path / "galaxies", model=model, cutouts=local_store).compute()
    assert legacy_viewer == []
    result = result.sort_values("objid")
    expected = model.encode_cutouts(load_cutouts(np.stack(list(store.values()))), progress=False)
    got = np.stack([result[name].to_numpy(dtype=float) for name in model.latent_names], axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert result["minuet_valid"].all()


def test_bad_arguments_are_refused(model, positions):
    catalog = _catalog(positions)
    with pytest.raises(ValueError, match=r"already has the columns \['latent_0'\]"):
        encode_lsdb(_catalog(positions.assign(latent_0=1.0)), model=model)
    with pytest.raises(ValueError, match=r"options \['layer'\] are for the Legacy Surveys"):
        encode_lsdb(catalog, model=model, cutouts=load_cutouts, layer="ls-dr9")
    with pytest.raises(TypeError, match="cutouts must be a function"):
        encode_lsdb(catalog, model=model, cutouts="store")
    with pytest.raises(ValueError, match="never saved"):
        encode_lsdb(catalog, model=Minuet(model.autoencoder))


def test_old_keyword_name_of_the_catalogue_still_works(model, positions):
    from astropy.utils.exceptions import AstropyDeprecationWarning

    with pytest.warns(AstropyDeprecationWarning, match='"catalog" was deprecated'):
        lazy = encode_lsdb(catalog=_catalog(positions), model=model, cutouts=load_cutouts)
    assert "latent_0" in lazy.columns


def test_a_cutout_function_must_keep_every_row(model, positions):
    lazy = encode_lsdb(_catalog(positions), model=model,
                       cutouts=lambda table: load_cutouts(np.ones((1, 3, 72, 72), "f4")))
    # LSDB re-raises a partition's error as a RuntimeError that quotes it
    with pytest.raises((ValueError, RuntimeError), match="one cutout per row"):
        lazy.compute()


def test_one_schema_for_every_path(model, positions, tmp_path):
    from minuet._vocabulary import ENCODE_COLUMNS
    from minuet.catalogue import encode_catalogue

    rng = np.random.default_rng(3)
    images = rng.normal(0, 0.02, (len(positions), 3, 72, 72)).astype(np.float32)
    images[2, :, :10] = np.nan  # a partly masked cutout
    by_position = {(round(r, 6), round(d, 6)): image for (r, d), image
                   in zip(positions[["ra", "dec"]].itertuples(index=False), images, strict=True)}

    def local_store(table):
        keys = zip(np.round(table["ra"], 6), np.round(table["dec"], 6), strict=True)
        return load_cutouts(np.stack([by_position[key] for key in keys]), on_invalid="flag")

    in_memory = model.encode(images, on_invalid="flag", progress=False)
    with h5py.File(tmp_path / "images.h5", "w") as handle:
        handle["images"] = images
    streamed = encode_catalogue(tmp_path / "images.h5", tmp_path / "out.fits", model=model,
                                progress=False)
    lazy = encode_lsdb(_catalog(positions), model=model, cutouts=local_store)
    result = lazy.compute().sort_values("objid")
    for name, dtype in ENCODE_COLUMNS.items():
        if dtype.kind != "U":
            assert in_memory[name].dtype == dtype, name
            assert streamed[name].dtype == dtype, name
            assert result[f"minuet_{name}"].to_numpy().dtype == dtype, name
    assert in_memory["masked_fraction"][2] > 0
    np.testing.assert_allclose(streamed["masked_fraction"], in_memory["masked_fraction"])
    np.testing.assert_allclose(result["minuet_masked_fraction"], in_memory["masked_fraction"])


def test_typicality_columns_equal_those_of_encode(positions):
    from minuet._vocabulary import DEFAULT_MODEL, TYPICALITY_COLUMNS
    from minuet.simulate import simulate

    images, _, _, _ = simulate(len(positions), seed=31)
    images[4] = np.nan  # a refused cutout
    by_position = {(round(r, 6), round(d, 6)): image for (r, d), image
                   in zip(positions[["ra", "dec"]].itertuples(index=False), images, strict=True)}

    def local_store(table):
        keys = zip(np.round(table["ra"], 6), np.round(table["dec"], 6), strict=True)
        return load_cutouts(np.stack([by_position[key] for key in keys]), on_invalid="flag")

    pretrained = Minuet.pretrained()
    direct = pretrained.encode(images, on_invalid="flag", progress=False)
    lazy = encode_lsdb(_catalog(positions), model=DEFAULT_MODEL, cutouts=local_store)
    assert set(TYPICALITY_COLUMNS) <= set(lazy.columns)
    result = lazy.compute().sort_values("objid")
    for name in ("typicality", "typicality_latent", "typicality_image"):
        np.testing.assert_allclose(result[name].to_numpy(dtype=float), direct[name],
                                   rtol=1e-5, equal_nan=True)
    assert result["atypical"].to_numpy().dtype == bool
    np.testing.assert_array_equal(result["atypical"], direct["atypical"])
    assert not result["minuet_valid"].iloc[4]
    assert np.isnan(result["typicality"].iloc[4])

    without = encode_lsdb(_catalog(positions), model=DEFAULT_MODEL, cutouts=local_store,
                          typicality=False)
    assert not set(TYPICALITY_COLUMNS) & set(without.columns)


def test_a_model_without_a_typicality_head_adds_no_typicality_columns(model, positions):
    from minuet._vocabulary import TYPICALITY_COLUMNS

    assert model.typicality_scorer is None
    lazy = encode_lsdb(_catalog(positions), model=model, cutouts=load_cutouts)
    assert not set(TYPICALITY_COLUMNS) & set(lazy.columns)
