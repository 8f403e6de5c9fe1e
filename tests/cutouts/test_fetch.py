import numpy as np
import pytest
from astropy.config import paths
from astropy.coordinates import SkyCoord
from astropy.table import Table

from minuet.cutouts import fetch_legacy_cutouts


@pytest.fixture
def server(legacy_viewer):
    return legacy_viewer


def test_fetch_sends_the_viewer_query(server):
    table = Table({"RA": [150.1, 150.2], "Dec": [2.0, 3.0]})
    cutouts = fetch_legacy_cutouts(table, cache=False, progress=False, invvar=True)
    assert len(server) == 2
    path, query = server[0]
    assert path == "/viewer/fits-cutout"
    assert query["ra"] == ["150.1000000"]
    assert query["dec"] == ["2.0000000"]
    assert query["layer"] == ["ls-dr10"]
    assert query["pixscale"] == ["0.262"]
    assert query["bands"] == ["grz"]
    assert query["size"] == ["72"]
    assert "invvar" in query
    assert cutouts.flux.shape == (2, 3, 72, 72)
    np.testing.assert_array_equal(cutouts.flux[:, :, 0, 0], [[2.0, 3.0, 4.0], [3.0, 4.0, 5.0]])
    assert cutouts.has_invvar.all()
    assert cutouts.ids.tolist() == [0, 1]
    assert cutouts.meta["layer"] == "ls-dr10"


def test_fetch_other_layer_and_band_order(server):
    coords = SkyCoord([10.0], [1.0], unit="deg")
    cutouts = fetch_legacy_cutouts(
        coords, layer="ls-dr9", bands="zrg", size=80, cache=False, progress=False
    )
    _, query = server[0]
    assert query["layer"] == ["ls-dr9"]
    assert query["size"] == ["80"]
    assert "invvar" not in query
    # planes come back z, r, g and are reordered; 80 px are cropped to 72
    np.testing.assert_array_equal(cutouts.flux[0, :, 0, 0], [3.0, 2.0, 1.0])
    assert not cutouts.has_invvar.any()


def test_failed_download_raises_naming_the_row(server):
    table = Table({"ra": [1.0, 2.0], "dec": [1.0, -85.0]})
    with pytest.raises(OSError, match=r"row 1 \(ra=2.000000, dec=-85.000000\): download failed"):
        fetch_legacy_cutouts(table, cache=False, progress=False)


def test_failed_rows_are_flagged(server):
    table = Table({"ra": [1.0, 2.0, 3.0], "dec": [1.0, -85.0, -75.0]})
    cutouts = fetch_legacy_cutouts(table, cache=False, progress=False, on_invalid="flag")
    assert cutouts.valid.tolist() == [True, False, False]
    assert cutouts.reason[1].startswith("download failed")
    assert "could not read" in cutouts.reason[2]
    assert cutouts.mask[1:].all()
    assert cutouts.flux[1:].sum() == 0.0


def test_cached_download_is_reused(server, tmp_path):
    table = Table({"ra": [5.0], "dec": [5.0]})
    with paths.set_temp_cache(tmp_path):
        first = fetch_legacy_cutouts(table, progress=False)
        second = fetch_legacy_cutouts(table, progress=False)
    assert len(server) == 1
    np.testing.assert_array_equal(first.flux, second.flux)


def test_show_progress_is_the_deprecated_name_of_progress(server):
    from astropy.utils.exceptions import AstropyDeprecationWarning

    table = Table({"ra": [150.1], "dec": [2.0]})
    with pytest.warns(AstropyDeprecationWarning, match="pass progress=... instead"):
        cutouts = fetch_legacy_cutouts(table, cache=False, show_progress=False)
    assert len(cutouts) == 1


def test_bad_fetch_input():
    with pytest.raises(ValueError, match=r"the table lacks column\(s\) \['dec'\]"):
        fetch_legacy_cutouts(Table({"ra": [1.0]}), progress=False)
    with pytest.raises(ValueError, match=r"the table has no rows"):
        fetch_legacy_cutouts(Table({"ra": [], "dec": []}), progress=False)
    with pytest.raises(ValueError, match=r"expected an astropy Table with ra and dec"):
        fetch_legacy_cutouts([(1.0, 2.0)], progress=False)
    with pytest.raises(ValueError, match=r"\|dec\| <= 90"):
        fetch_legacy_cutouts(Table({"ra": [1.0], "dec": [95.0]}), progress=False)


@pytest.mark.remote_data
def test_real_viewer():
    table = Table({"ra": [180.0], "dec": [1.0]})
    cutouts = fetch_legacy_cutouts(table, cache=False, progress=False, on_invalid="flag")
    assert cutouts.flux.shape == (1, 3, 72, 72)
