"""Options given to encode_lsdb over the ones it sets itself."""

import numpy as np
import pytest

from minuet.catalogue import encode_lsdb

lsdb = pytest.importorskip("lsdb")
pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in NestedFrame")


def test_on_invalid_is_taken_not_repeated(legacy_viewer, saved_tiny_model):
    frame = pd.DataFrame({"ra": [10.0, 20.0], "dec": [5.0, 6.0]})
    catalog = lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec")
    result = encode_lsdb(catalog, model=saved_tiny_model, cache=False,
                         on_invalid="flag", min_valid_fraction=0.9).compute()
    assert result["minuet_valid"].all()
    assert np.isfinite(result["latent_0"]).all()
