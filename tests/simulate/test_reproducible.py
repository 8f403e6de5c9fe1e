"""The simulator's output for a fixed seed, byte for byte.

The digests below were recorded from the simulator on x86_64 with the
library versions in ``RECORDED``; a change that alters a single output byte
(a reordered sum, another FFT length, a different random draw) fails here.
Other platforms or versions of the numerical libraries may round
differently, so there the test is skipped with the reason.

The images, inverse variances and footprints depend on numpy, scipy and
GalSim alone; the truth table also on the photometry libraries, so its
test records those too, and on the processor: numpy computes some float64
functions with AVX512F kernels where the CPU has them and with other code
elsewhere, and the two round differently in the last bit (the truth digest
differs between an AVX512 and an AVX2-only x86 machine with the same
installation, while the three image digests hold). Its digest is recorded
for both kinds.
"""

import hashlib
import platform
from importlib.metadata import version

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
TRUTH_DIGESTS = {
    "avx512f": "8e03d3bd22af03bbf906738d998f7e7d4cf1acad65be1ab4fbe9d3824e72e224",
    "no avx512f": "5c926ec6b70a66d00c38ac50effdf3f4339e925ac2829d2312fe97db29ef9b9b",
}


def _simd():
    """``'avx512f'`` where the CPU reports AVX512F (Linux), ``'no avx512f'`` elsewhere."""
    from minuet.models import precision

    return "avx512f" if "avx512f" in precision._linux_cpu_flags() else "no avx512f"


def _sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def truth_digest(truth):
    """SHA-256 over the truth table's column names and values, in table order."""
    digest = hashlib.sha256()
    for name in truth.colnames:
        value = np.asarray(getattr(truth[name], "value", truth[name]))
        if value.dtype.kind in "OU":
            value = np.char.encode(value.astype(str), "utf-8")
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


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


def test_truth_bytes_for_a_fixed_seed(output):
    _skip_unless_recorded_with(TRUTH_RECORDED)
    if platform.system() != "Linux":
        pytest.skip("the truth digests were recorded on Linux, which says whether the CPU has "
                    "AVX512F")
    assert truth_digest(output[3]) == TRUTH_DIGESTS[_simd()]
