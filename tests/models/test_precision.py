from pathlib import Path

import numpy as np
import pytest
import torch

from minuet.models import (
    DiffusionAutoencoder,
    DiffusionAutoencoderConfig,
    autocast,
    cpu_has_native_bf16,
    cpu_matrix_extensions,
    precision,
    resolve_precision,
)


@pytest.fixture
def flags(monkeypatch):
    """Pretend to run on a Linux CPU with the given /proc/cpuinfo flags."""

    def set_flags(names):
        monkeypatch.setattr(precision.platform, "system", lambda: "Linux")
        monkeypatch.setattr(precision, "_linux_cpu_flags", lambda: set(names))
        cpu_matrix_extensions.cache_clear()

    yield set_flags
    cpu_matrix_extensions.cache_clear()


@pytest.mark.parametrize(("names", "native"), [
    ({"avx2", "avx512f"}, False),
    ({"avx512f", "avx512_bf16"}, True),
    ({"amx_tile", "amx_bf16"}, True),
    ({"asimd", "bf16"}, True),  # Arm FEAT_BF16
    (set(), False),
])
def test_native_bf16_detection(flags, names, native):
    flags(names)
    assert cpu_has_native_bf16() is native
    assert resolve_precision("auto") == ("bf16" if native else "fp32")
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("bf16") == "bf16"  # asked for, even where it is emulated


def test_amx_is_reported(flags):
    flags({"amx_tile", "amx_bf16", "avx512_bf16"})
    assert cpu_matrix_extensions() == ("avx512_bf16", "amx_bf16", "amx_tile")


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="reads Linux's /proc/cpuinfo")
def test_this_machine_reads_its_flags():
    with open("/proc/cpuinfo") as f:
        text = f.read()
    assert cpu_has_native_bf16() is (" avx512_bf16" in text or " amx_bf16" in text
                                     or " bf16" in text)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match=r"precision must be one of .*got 'fp16'"):
        resolve_precision("fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast("half")


def test_auto_on_other_devices():
    assert resolve_precision("auto", "meta") == "fp32"


def test_autocast_dtypes():
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24))
    x = torch.rand(2, 3, 24, 24)
    with torch.no_grad():
        with autocast("bf16"):
            assert net.encoder.embed(x.reshape(2, -1)[:, :192]).dtype == torch.bfloat16
            z = net.encode(x)  # latents always come back in fp32
        assert z.dtype == torch.float32
        with autocast("fp32"):
            assert net.encoder.embed(x.reshape(2, -1)[:, :192]).dtype == torch.float32


def test_fused_self_attention_matches_separate_projections():
    from torch.nn import functional as F

    from minuet.models._layers import Attention

    torch.manual_seed(0)
    attn = Attention(16, 2)
    x = torch.randn(3, 7, 16)
    q = attn.q(x).reshape(3, 7, 2, 8).transpose(1, 2)
    k, v = attn.kv(x).reshape(3, 7, 2, 2, 8).unbind(2)
    y = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2))
    expected = attn.out(y.transpose(1, 2).reshape(3, 7, 16))
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-6)
    context = torch.randn(3, 4, 16)
    q = attn.q(x).reshape(3, 7, 2, 8).transpose(1, 2)
    k, v = attn.kv(context).reshape(3, 4, 2, 2, 8).unbind(2)
    y = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2))
    torch.testing.assert_close(attn(x, context), attn.out(y.transpose(1, 2).reshape(3, 7, 16)))


def test_bf16_denoiser_keeps_a_bf16_residual_stream():
    config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    net = DiffusionAutoencoder(config)
    with torch.no_grad(), autocast("bf16"):
        out = net.denoiser(torch.rand(2, 3, 24, 24), torch.zeros(2), torch.zeros(2, 5))
        image = net.decode(torch.zeros(2, 5), steps=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 24, 24)
    assert image.dtype == torch.float32  # the sampler's arithmetic stays fp32


@pytest.mark.parametrize("kind", ["vit", "perceiver"])
def test_inference_copy_matches_autocast(kind):
    from minuet.models import Encoder, EncoderConfig, inference_copy

    torch.manual_seed(0)
    encoder = Encoder(EncoderConfig(kind=kind, image_size=24, width=32, depth=2, heads=2)).eval()
    x = torch.rand(16, 3, 24, 24)
    frozen = inference_copy(encoder)
    assert encoder.embed.weight.dtype == torch.float32  # the original is untouched
    assert all(p.dtype == torch.bfloat16 and not p.requires_grad for p in frozen.parameters())
    fused = [m for m in frozen.modules() if getattr(m, "_fused", None) is not None]
    assert len(fused) == 2 * (1 + (kind == "perceiver"))  # every attention layer of 2 blocks
    with torch.no_grad():
        exact = encoder(x)
        with autocast("bf16"):
            cast = encoder(x).float()
        copy = frozen(x.to(torch.bfloat16)).float()
    spread = exact.std(0)
    # the copy computes what autocast computes, without its casts, with the exact GELU and
    # (on the CPU) with bf16 attention scores: its outputs are no further from fp32 than
    # autocast's, at worst or on average; an untrained network's latents barely vary, so
    # bf16 rounding is a large part of their spread here
    assert (copy - exact).abs().max() < 1.5 * (cast - exact).abs().max() + 1e-4
    assert (copy - exact).pow(2).mean().sqrt() < 1.5 * (cast - exact).pow(2).mean().sqrt() + 1e-4
    assert torch.all((copy - exact).abs().max(0).values < 0.5 * spread)


@pytest.mark.parametrize("chunk_bytes", [1, 2_000, 1 << 20])
def test_fused_attention_equals_the_unfused_one(monkeypatch, chunk_bytes):
    from minuet.models import _layers

    # the fused CPU path takes the batch in chunks of scores: one galaxy at a time,
    # a few galaxies with a ragged last chunk, and the whole batch at once
    monkeypatch.setattr(_layers, "_SCORE_CHUNK_BYTES", chunk_bytes)
    torch.manual_seed(1)
    layer = _layers.Attention(16, 2).eval()
    x, context = torch.randn(5, 7, 16), torch.randn(5, 4, 16)
    with torch.no_grad():
        before, before_cross = layer(x), layer(x, context)
        layer.fuse()
        after, after_cross = layer(x), layer(x, context)
    torch.testing.assert_close(before, after)
    torch.testing.assert_close(before_cross, after_cross)


def test_bf16_fused_attention_stays_near_fp32():
    from minuet.models._layers import Attention

    torch.manual_seed(2)
    layer = Attention(32, 4).eval()
    x = torch.randn(6, 81, 32)
    with torch.no_grad():
        exact = layer(x)
        layer.fuse(torch.bfloat16)  # the scale is folded in fp32, then rounded once
        for module in (layer.q, layer.kv, layer.out):
            module.to(torch.bfloat16)
        fast = layer(x.to(torch.bfloat16)).float()
    assert layer._fused[0].dtype == torch.bfloat16
    # a few bf16 rounding steps of the output's scale, nowhere more
    assert (fast - exact).abs().max() < 8 * 2**-8 * exact.abs().max()


@pytest.mark.parametrize("compiling", [False, True])
def test_cpu_attention_survives_scores_that_overflow_base_2(monkeypatch, compiling):
    from torch.nn import functional as F

    from minuet.models import _layers

    # scores of several hundred overflow 2**s (and underflow it below -126): those
    # chunks go through the max-subtracting softmax; under torch.compile every chunk does
    monkeypatch.setattr(_layers, "_compiling", lambda: compiling)
    monkeypatch.setattr(_layers, "_SCORE_CHUNK_BYTES", 2_000)
    torch.manual_seed(3)
    q, k, v = torch.randn(3, 5, 2, 9, 8).unbind(0)
    for scale in (1.0, 300.0, -300.0):
        expected = F.scaled_dot_product_attention(q * scale, k, v, scale=1.0).transpose(1, 2)
        got = _layers._cpu_attention(q * scale * _layers._LOG2_E, k, v)
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_epilogue_linear_computes_what_the_public_operators_do(monkeypatch, fused):
    from torch.nn import functional as F

    from minuet.models import _layers

    if fused and _layers._onednn_linear() is None:
        pytest.skip("this PyTorch has no oneDNN fused linear; the fallback is tested")
    if not fused:
        monkeypatch.setattr(_layers, "_onednn_linear", lambda: None)
    torch.manual_seed(4)
    x = torch.randn(2, 81, 128).bfloat16()
    weight, bias = (torch.randn(512, 128) / 11).bfloat16(), torch.randn(512).bfloat16()
    residual = torch.randn(2, 81, 512).bfloat16()
    exact = F.linear(x.float(), weight.float(), bias.float())
    step = 2**-7 * exact.abs().max()  # two bf16 rounding steps of the output's scale
    for gelu in ("none", "tanh"):
        got = _layers.epilogue_linear(x, weight, bias, gelu=gelu)
        assert got.dtype == torch.bfloat16
        assert (got.float() - F.gelu(exact, approximate=gelu)).abs().max() <= step
    got = _layers.epilogue_linear(x, weight, bias, residual=residual)
    assert (got.float() - (exact + residual.float())).abs().max() <= step
    assert (_layers.epilogue_linear(x, weight, bias).float() - exact).abs().max() <= step
    with pytest.raises(ValueError, match="not both"):
        _layers.epilogue_linear(x, weight, bias, gelu="none", residual=residual)


def test_epilogue_linear_keeps_gradients():
    from minuet.models import _layers

    x = torch.randn(4, 16, dtype=torch.bfloat16, requires_grad=True)
    weight = torch.randn(8, 16, dtype=torch.bfloat16, requires_grad=True)
    _layers.epilogue_linear(x, weight, None, gelu="none").float().sum().backward()
    assert x.grad is not None
    assert weight.grad is not None


@pytest.mark.parametrize("adaln", [True, False])
def test_frozen_cross_attention_denoiser_computes_what_the_original_does(adaln):
    from minuet.models import Denoiser, DenoiserConfig, inference_copy

    torch.manual_seed(5)
    config = DenoiserConfig(image_size=24, width=32, depth=2, heads=2, cross_attention=True,
                            adaln=adaln)
    denoiser = Denoiser(config).eval()
    for p in denoiser.parameters():  # adaLN-Zero starts as the identity; make it not
        torch.nn.init.normal_(p, std=0.05)
    x, noise, latent = torch.randn(3, 3, 24, 24), torch.rand(3), torch.randn(3, 5)
    with torch.no_grad():
        exact = denoiser(x, noise, latent)
        torch.testing.assert_close(inference_copy(denoiser, torch.float32)(x, noise, latent),
                                   exact, rtol=1e-5, atol=1e-5)
        fast = inference_copy(denoiser)(x, noise, latent).float()
    assert (fast - exact).abs().max() < 4 * 2**-8 * exact.abs().max()


def test_encode_accepts_a_copy_of_its_encoder():
    from minuet.models import inference_copy

    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24)).eval()
    x = torch.rand(4, 3, 24, 24)
    with torch.no_grad():
        z = net.encode(x, encoder=inference_copy(net.encoder, torch.float32))
        torch.testing.assert_close(z, net.encode(x))
        z8 = net.encode(x, average_dihedral=True, encoder=inference_copy(net.encoder))
    assert z8.dtype == torch.float32
    assert z8.shape == (4, 5)



def test_decode_runs_a_bf16_copy_of_its_denoiser_close_to_autocast():
    from minuet.models import inference_copy

    torch.manual_seed(2)
    net = DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny", image_size=24)).eval()
    with torch.no_grad():  # untrained layers that start at zero would hide the arithmetic
        for param in net.denoiser.parameters():
            if not param.any():
                param.normal_(0, 0.05)
    z = torch.randn(6, 5)

    def draw(**options):
        return net.decode(z, steps=3, generator=torch.Generator().manual_seed(5), **options)

    with torch.no_grad():
        exact = draw()
        with autocast("bf16"):
            cast = draw()
        copy = draw(denoiser=inference_copy(net.denoiser))
    assert copy.dtype == torch.float32  # the sampler's arithmetic stays fp32
    assert not torch.equal(copy, exact)  # the copy did run in bf16
    # the same draw: the copy is as close to fp32 as autocast is, far below the image's spread
    error = (copy - exact).pow(2).mean().sqrt()
    assert error < 1.5 * (cast - exact).pow(2).mean().sqrt() + 1e-4
    assert error < 0.05 * exact.std()


def test_reconstruct_in_bf16_runs_the_cached_copy(monkeypatch, saved_tiny_model):
    import minuet.models as models

    made = []
    real = models.cached_inference_copy

    def spy(module, *args, **kwargs):
        made.append(module)
        return real(module, *args, **kwargs)

    monkeypatch.setattr(models, "cached_inference_copy", spy)
    z = np.zeros((2, saved_tiny_model.latent_dim), np.float32)
    saved_tiny_model.reconstruct(z, steps=2, seed=0, precision="fp32")
    assert made == []
    out = saved_tiny_model.reconstruct(z, steps=2, seed=0, precision="bf16")
    assert made == [saved_tiny_model.autoencoder.denoiser]
    assert out.meta["precision"] == "bf16"


def test_a_bf16_copy_runs_the_exact_gelu_that_the_tanh_form_approximates():
    from minuet.models import Encoder, EncoderConfig, inference_copy

    encoder = Encoder(EncoderConfig(image_size=24, width=32, depth=2, heads=2))
    gelus = [m for m in inference_copy(encoder).modules() if isinstance(m, torch.nn.GELU)]
    kept = [m for m in inference_copy(encoder, torch.float32).modules()
            if isinstance(m, torch.nn.GELU)]
    assert len(gelus) == len(kept) == 2
    assert {m.approximate for m in gelus} == {"none"}
    assert {m.approximate for m in kept} == {"tanh"}  # fp32 copies compute what training did
    assert {m.approximate for m in encoder.modules() if isinstance(m, torch.nn.GELU)} == {"tanh"}
    # the two forms differ by less than a tenth of bf16's rounding step at 1 (2**-7)
    x = torch.linspace(-10, 10, 200_001, dtype=torch.float64)
    gap = (torch.nn.functional.gelu(x, approximate="tanh") - torch.nn.functional.gelu(x)).abs()
    assert 4e-4 < gap.max() < 0.1 * 2**-7


def test_the_cached_copy_is_made_again_when_the_weights_change():
    from minuet.models import Encoder, EncoderConfig, cached_inference_copy

    torch.manual_seed(2)
    encoder = Encoder(EncoderConfig(image_size=24, width=32, depth=1, heads=2)).eval()
    x = torch.rand(4, 3, 24, 24)
    first = cached_inference_copy(encoder)
    assert cached_inference_copy(encoder) is first
    assert cached_inference_copy(encoder, torch.float32) is not first  # another dtype
    first = cached_inference_copy(encoder)
    # an edit through .data bypasses autograd's version counter; the values still differ
    encoder.head.weight.data[0, 0] += 1.0
    second = cached_inference_copy(encoder)
    assert second is not first
    with torch.no_grad():
        torch.testing.assert_close(second(x.bfloat16()).float(), encoder(x), atol=0.05, rtol=0.05)
    # loading other weights, as a checkpoint restore does
    other = Encoder(EncoderConfig(image_size=24, width=32, depth=1, heads=2))
    encoder.load_state_dict(other.state_dict())
    third = cached_inference_copy(encoder)
    assert third is not second
    assert torch.equal(third.head.weight, other.head.weight.bfloat16())
    assert cached_inference_copy(encoder) is third


def test_the_copy_cache_lets_its_module_go():
    import gc
    import weakref

    from minuet.models import Encoder, EncoderConfig, cached_inference_copy

    encoder = Encoder(EncoderConfig(image_size=24, width=32, depth=1, heads=2))
    copy = weakref.ref(cached_inference_copy(encoder))
    del encoder
    gc.collect()
    assert copy() is None
