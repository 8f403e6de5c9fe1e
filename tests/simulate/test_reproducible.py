"""The simulator's output for a fixed seed, byte for byte.

The digests below were recorded from the simulator on x86_64 with the
library versions in ``RECORDED``; a change that alters a single output byte
(a reordered sum, another FFT length, a different random draw) fails here.
Other platforms or versions of the numerical libraries may round
differently, so there the test is skipped with the reason.

The images, inverse variances and footprints depend on numpy, scipy and
GalSim alone. The truth table also depends on the photometry libraries, so
its test records those too, and on the processor: numpy and OpenBLAS pick
float64 kernels by what the CPU offers (AVX2, AVX512F, AVX512 with the Ice
Lake or Sapphire Rapids extensions), and those round differently in the
last bits. Its values are therefore compared with a stored table
(``data/truth_seed3_start250.ecsv``) to a relative 1e-9, and its integer,
boolean and text columns exactly: far tighter than any change of a draw or
a formula, which moves values at the per-cent level, and loose enough for
the last bits.
"""

import hashlib
import platform
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from minuet.simulate import simulate

galsim = pytest.importorskip("galsim")
scipy = pytest.importorskip("scipy")

RECORDED = {
    "machine": "x86_64",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "galsim": "2.8.5",
}

# 40 galaxies from index 250 of seed 3: they straddle two population blocks.
DIGESTS = {
    "images": "3405b8b908d9b73a5dad99da5ba09a93610ee626e3fc120fc2d71528902ad915",
    "invvar": "56a1930db43f899b4b1b61eb2e75dee29be7e3a3c9c27bf071accdf4f9fe7c74",
    "footprint": "c2e6aea223d13f6db74e620736fb15c1469324736c9b3803e1ed3a5c5725bd97",
}
TRUTH_RECORDED = {
    **RECORDED,
    "astropy": "8.0.2",
    "kcorrect": "5.1.9",
    "speclite": "1.0.0",
    "extinction": "0.4.9",
    "pyerfa": "2.0.1.5",
}
TRUTH_TABLE = Path(__file__).parent / "data" / "truth_seed3_start250.ecsv"


def _sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _values(column):
    value = np.asarray(getattr(column, "value", column))
    return value.astype(str) if value.dtype.kind in "OU" else value


def _skip_unless_recorded_with(recorded):
    found = {"machine": platform.machine()}
    found |= {name: version(name) for name in recorded if name != "machine"}
    if found != recorded:
        pytest.skip(f"digests recorded with {recorded}; this platform has {found}")


@pytest.fixture(scope="module")
def output():
    return simulate(40, seed=3, start=250)


def test_output_bytes_for_a_fixed_seed(output):
    _skip_unless_recorded_with(RECORDED)
    images, invvar, footprint, _ = output
    found = {
        "images": _sha256(images),
        "invvar": _sha256(invvar),
        "footprint": _sha256(footprint),
    }
    assert found == DIGESTS


def test_truth_for_a_fixed_seed(output):
    from astropy.table import Table

    _skip_unless_recorded_with(TRUTH_RECORDED)
    truth, recorded = output[3], Table.read(TRUTH_TABLE)
    assert truth.colnames == recorded.colnames
    for name in truth.colnames:
        found, expected = _values(truth[name]), _values(recorded[name])
        assert str(getattr(truth[name], "unit", None)) == str(
            getattr(recorded[name], "unit", None)), name
        assert found.shape == expected.shape, name
        if found.dtype.kind == "f":
            np.testing.assert_allclose(found, expected, rtol=1e-9, atol=1e-12, err_msg=name)
        else:
            np.testing.assert_array_equal(found, expected, err_msg=name)

