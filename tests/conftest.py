import os
from pathlib import Path

import numpy as np
import pytest

_SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_STAMPS = Path(
    os.environ.get(
        "MINUET_REAL_STAMPS", _SHARED / "data" / "real" / "ls_dr9_grz_72x72_stamps.npz"
    )
)


@pytest.fixture(scope="session")
def real_stamps():
    """The 14 real Legacy Surveys DR9 stamps, or a clean skip where they are absent."""
    if not REAL_STAMPS.exists():
        pytest.skip(f"real Legacy Surveys stamps not found at {REAL_STAMPS}")
    with np.load(REAL_STAMPS, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
