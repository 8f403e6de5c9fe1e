import pytest
from astropy.utils.exceptions import AstropyDeprecationWarning

import minuet.baselines


def test_old_home_of_the_baselines_still_works_with_a_warning():
    with pytest.warns(AstropyDeprecationWarning, match="moved to minuet.baselines.PCABaseline"):
        from minuet.evaluation.baselines import PCABaseline
    assert PCABaseline is minuet.baselines.PCABaseline
    with pytest.raises(ImportError):
        from minuet.evaluation.baselines import nothing_here  # noqa: F401
