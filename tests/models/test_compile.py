"""The compiled encoder: one shape for every batch, the same latents, a clean fallback."""

import h5py
import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.table import QTable
from astropy.utils.exceptions import AstropyUserWarning

from minuet.catalogue import encode_catalogue
from minuet.cli import main
from minuet.models import Encoder, EncoderConfig, compiled_network, inference_copy, precision


def _latents(table):
    return np.column_stack([np.asarray(table[f"latent_{i}"]) for i in range(5)])


@pytest.fixture(autouse=True)
def forget_compilations():
    """Each test compiles afresh: the cache of compiled networks outlives a test's stand-ins."""
    precision._COMPILED.clear()
    yield
    precision._COMPILED.clear()


@pytest.fixture
def shapes(monkeypatch):
    """Stand in for `torch.compile`: run the network eagerly, recording each batch's shape."""
    seen = []

    def fake_compile(module, **options):
        assert options == {"dynamic": False}

        def network(x):
            seen.append(tuple(x.shape))
            return module(x)

        network.embed = module.embed
        return network

    monkeypatch.setattr(precision.torch, "compile", fake_compile)
    return seen


@pytest.fixture
def broken_compiler(monkeypatch):
    calls = []

    def fail(module, **options):
        calls.append(module)
        msg = "no working C++ compiler"
        raise RuntimeError(msg)

    monkeypatch.setattr(precision.torch, "compile", fail)
    return calls


@pytest.fixture
def images():
    return np.random.default_rng(8).normal(0, 0.05, (10, 3, 72, 72)).astype("f4")


def test_a_failed_compilation_returns_the_network_and_says_why(broken_compiler):
    frozen = inference_copy(Encoder(EncoderConfig(image_size=24, width=32, depth=1, heads=2)),
                            torch.float32)
    example = torch.zeros(4, 3, 24, 24)
    network, why_not = compiled_network(frozen, example)
    assert network is frozen
    assert "RuntimeError: no working C++ compiler" in why_not
    again, why_again = compiled_network(frozen, example)  # remembered, not tried again
    assert again is frozen
    assert why_again == why_not
    assert len(broken_compiler) == 1


def test_every_batch_reaches_the_compiled_encoder_in_one_shape(saved_tiny_model, images,
                                                              shapes):
    eager = saved_tiny_model.encode(images, batch_size=4, precision="fp32")
    table = saved_tiny_model.encode(images, batch_size=4, precision="fp32", compile=True)
    # the compiling call, then three batches of 4, the last padded from 2
    assert shapes == [(4, 3, 72, 72)] * 4
    np.testing.assert_allclose(_latents(table), _latents(eager), rtol=0, atol=1e-5)
    assert table.meta["compile"] is True
    assert eager.meta["compile"] is False


def test_a_failed_compilation_warns_and_encodes_the_same(saved_tiny_model, images,
                                                         broken_compiler):
    eager = saved_tiny_model.encode(images, batch_size=4, precision="fp32")
    with pytest.warns(AstropyUserWarning, match="could not compile the encoder.*no working C"):
        table = saved_tiny_model.encode(images, batch_size=4, precision="fp32", compile=True)
    np.testing.assert_allclose(_latents(table), _latents(eager), rtol=0, atol=1e-5)


def test_compile_must_be_a_boolean(saved_tiny_model, images):
    with pytest.raises(TypeError, match="compile must be True or False"):
        saved_tiny_model.encode(images, compile="yes")


def test_catalogues_and_the_command_line_record_compile(saved_tiny_model, images, shapes,
                                                        tmp_path):
    source = tmp_path / "set.h5"
    with h5py.File(source, "w") as f:
        f["images"] = images
    plain = encode_catalogue(source, tmp_path / "plain.ecsv", model=saved_tiny_model,
                             batch_size=4, chunk_size=6, progress=False)
    table = encode_catalogue(source, tmp_path / "c.fits", model=saved_tiny_model,
                             batch_size=4, chunk_size=6, compile=True, progress=False)
    assert set(shapes) == {(4, 3, 72, 72)}
    # bf16 on both sides; only the padding of the last batch differs
    np.testing.assert_allclose(_latents(table), _latents(plain), rtol=0, atol=1e-3)
    assert table.meta["compile"] is True
    assert plain.meta["compile"] is False
    assert fits.getheader(tmp_path / "c.fits", 1)["COMPILED"] is True
    out = tmp_path / "cli.ecsv"
    assert main(["encode", str(source), str(out), "--model", str(saved_tiny_model.path),
                 "--no-progress", "--compile"]) == 0
    assert QTable.read(out).meta["compile"] is True


def test_a_run_resumes_only_with_the_compile_setting_it_began_with(saved_tiny_model, images,
                                                                   shapes, tmp_path):
    source = tmp_path / "set.h5"
    with h5py.File(source, "w") as f:
        f["images"] = images
    out = tmp_path / "latents.ecsv"
    encode_catalogue(source, out, model=saved_tiny_model, chunk_size=4, compile=True,
                     keep_parts=True, progress=False)
    out.unlink()
    with pytest.raises(ValueError, match=r"another model setting \(compile\)"):
        encode_catalogue(source, out, model=saved_tiny_model, chunk_size=4, progress=False)


@pytest.mark.slow
def test_the_real_compiler_gives_the_eager_latents(saved_tiny_model, images):
    """On a machine with a working compiler: compiled fp32 latents equal the eager ones."""
    import warnings

    eager = saved_tiny_model.encode(images, batch_size=4, precision="fp32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = saved_tiny_model.encode(images, batch_size=4, precision="fp32", compile=True)
    failed = [w for w in caught if issubclass(w.category, AstropyUserWarning)]
    if failed:
        pytest.skip(f"no working torch.compile here: {failed[0].message}")
    np.testing.assert_allclose(_latents(table), _latents(eager), rtol=0, atol=1e-4)
