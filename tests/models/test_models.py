import json

import numpy as np
import pytest
import torch
from torch import nn

from minuet.models import (
    DDPM,
    EDM,
    Denoiser,
    DenoiserConfig,
    DiffusionAutoencoder,
    DiffusionAutoencoderConfig,
    DiffusionConfig,
    Encoder,
    EncoderConfig,
    dihedral,
    load_model,
    rotate,
    save_model,
)


def tiny(preset="tiny", size=24):
    torch.manual_seed(0)
    return DiffusionAutoencoder(DiffusionAutoencoderConfig.preset(preset, image_size=size))


@pytest.mark.parametrize("kind", ["vit", "perceiver"])
def test_encoder_shape_dtype(kind):
    enc = Encoder(
        EncoderConfig(kind=kind, image_size=24, patch=4, width=16, depth=1, heads=2, latent_dim=7)
    )
    z = enc(torch.randn(3, 3, 24, 24))
    assert z.shape == (3, 7)
    assert z.dtype == torch.float32


@pytest.mark.parametrize(
    ("adaln", "cross", "head", "overlap"),
    [(True, False, False, False), (False, True, True, False), (True, True, False, True)],
)
def test_denoiser_shape_and_conditioning(adaln, cross, head, overlap):
    torch.manual_seed(0)
    net = Denoiser(
        DenoiserConfig(
            image_size=24,
            patch=6,
            width=16,
            depth=1,
            heads=2,
            adaln=adaln,
            cross_attention=cross,
            conv_head=head,
            overlap=overlap,
        )
    )
    # zero-initialised output layers: perturb so the conditioning shows
    for p in net.parameters():
        p.data += 0.05 * torch.randn_like(p)
    x = torch.randn(2, 3, 24, 24)
    y1 = net(x, torch.zeros(2), torch.zeros(2, 5))
    y2 = net(x, torch.zeros(2), torch.ones(2, 5))
    y3 = net(x, torch.ones(2), torch.zeros(2, 5))
    assert y1.shape == x.shape
    assert not torch.allclose(y1, y2)
    assert not torch.allclose(y1, y3)


def test_overlapping_windows_cut_and_blend():
    from minuet.models._layers import patchify
    from minuet.models.denoiser import _Windows

    windows = _Windows(4, 24)
    x = torch.randn(2, 3, 24, 24)
    tokens = windows.cut(x)
    assert tokens.shape == (2, 36, 3 * 8 * 8)
    # the centre of each window is its patch, and blending the cut gives the image back
    centre = tokens.reshape(2, 36, 3, 8, 8)[..., 2:6, 2:6].reshape(2, 36, -1)
    assert torch.equal(centre, patchify(x, 4))
    torch.testing.assert_close(windows.blend(tokens), x)
    # constant tokens blend to a constant image: no seams at patch edges
    flat = windows.blend(torch.full((1, 36, 3 * 64), 0.7))
    torch.testing.assert_close(flat, torch.full_like(flat, 0.7))


def test_overlapping_output_is_continuous_at_patch_edges():
    torch.manual_seed(1)
    net = Denoiser(DenoiserConfig(image_size=24, patch=6, width=16, depth=1, heads=2,
                                  overlap=True))
    for p in net.parameters():
        p.data += 0.05 * torch.randn_like(p)
    # every token writes one constant per band: a patchwise network would make steps
    with torch.no_grad():
        net.out.weight.zero_()
        net.out.bias.zero_()
        net.out.weight[:, 0] = 1.0
        y = net(torch.randn(1, 3, 24, 24), torch.zeros(1), torch.zeros(1, 5))
    steps = (y[..., 1:] - y[..., :-1]).abs()[0, 0]
    assert steps[:, 5].max() < 0.25 * (y.max() - y.min())


def test_bad_configs():
    with pytest.raises(ValueError, match="must divide"):
        EncoderConfig(patch=7)
    with pytest.raises(ValueError, match="even patch"):
        DenoiserConfig(image_size=72, patch=3, overlap=True)
    with pytest.raises(ValueError, match="conditioning path"):
        DenoiserConfig(adaln=False, cross_attention=False)
    with pytest.raises(ValueError, match="does not belong"):
        DiffusionConfig(kind="ddpm", sampler="heun")
    with pytest.raises(ValueError, match="disagree"):
        DiffusionAutoencoderConfig(EncoderConfig(latent_dim=4), DenoiserConfig(latent_dim=5))
    with pytest.raises(ValueError, match="unknown preset"):
        DiffusionAutoencoderConfig.preset("huge")
    with pytest.raises(ValueError, match="unknown EncoderConfig keys"):
        EncoderConfig.from_dict({"widht": 3})


@pytest.mark.parametrize("name", ["default", "reference", "tiny"])
def test_config_json_round_trip(name):
    config = DiffusionAutoencoderConfig.preset(name, latent_dim=6)
    again = DiffusionAutoencoderConfig.from_json(json.dumps(json.loads(config.to_json())))
    assert again == config
    assert again.encoder.latent_dim == 6


def test_reference_preset_matches_paper():
    c = DiffusionAutoencoderConfig.preset("reference")
    assert (c.encoder.kind, c.encoder.patch, c.encoder.width, c.encoder.depth) == (
        "perceiver",
        3,
        256,
        4,
    )
    assert c.denoiser.cross_attention
    assert c.denoiser.conv_head
    assert not c.denoiser.adaln
    assert (c.diffusion.kind, c.diffusion.timesteps, c.diffusion.steps) == ("ddpm", 1000, 200)
    model = tiny("reference", size=12)
    assert model.encode(torch.zeros(1, 3, 12, 12)).shape == (1, 5)


def test_wrong_image_shape():
    with pytest.raises(ValueError, match="expected images shaped"):
        tiny().encode(torch.zeros(2, 3, 20, 20))


def test_reconstruct_seeded_and_fresh():
    model = tiny().eval()
    x = torch.randn(2, 3, 24, 24)
    for p in model.parameters():
        p.data += 0.05 * torch.randn_like(p)
    a = model.reconstruct(x, generator=torch.Generator().manual_seed(1))
    b = model.reconstruct(x, generator=torch.Generator().manual_seed(1))
    c = model.reconstruct(x)
    d = model.reconstruct(x)
    assert a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(c, d)


def test_loss_is_per_image_and_respects_mask():
    model = tiny()
    x = torch.randn(3, 3, 24, 24)
    w = torch.ones_like(x)
    loss = model.loss(x, weight=w, generator=torch.Generator().manual_seed(0))
    assert loss.shape == (3,)
    assert torch.isfinite(loss).all()


@pytest.mark.parametrize("kind", ["edm", "ddpm"])
def test_zero_weight_pixels_do_not_count(kind):
    sampler = "ddim" if kind == "ddpm" else "heun"
    diffusion = (EDM if kind == "edm" else DDPM)(DiffusionConfig(kind=kind, sampler=sampler))

    def net(x, noise, latent):
        return torch.zeros_like(x)

    x = torch.randn(2, 3, 8, 8)
    y = x.clone()
    y[:, :, 0, 0] = 1e3
    w = torch.ones_like(x)
    w[:, :, 0, 0] = 0
    z = torch.zeros(2, 5)

    def loss(img, weight):
        return diffusion.loss(
            net, img, z, weight=weight, generator=torch.Generator().manual_seed(0)
        )

    assert torch.equal(loss(x, w), loss(y, w))
    if kind == "edm":
        assert not torch.equal(loss(x, None), loss(y, None))


class _GaussianOracle(nn.Module):
    """Exact network output for data x0 ~ N(0, s^2) per pixel (EDM parametrisation)."""

    def __init__(self, edm, s):
        super().__init__()
        self.edm, self.s = edm, s

    def forward(self, x_in, c_noise, latent):
        sd = self.edm.config.sigma_data
        sigma = torch.exp(c_noise / 250).reshape(-1, 1, 1, 1)
        x = x_in * (sigma**2 + sd**2).sqrt()
        denoised = self.s**2 / (self.s**2 + sigma**2) * x
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
        return (denoised - c_skip * x) / c_out


class _EpsOracle(nn.Module):
    def __init__(self, ddpm, s):
        super().__init__()
        self.ab, self.s = ddpm.alpha_bar, s

    def forward(self, x, t, latent):
        ab = self.ab[t.long()].reshape(-1, 1, 1, 1)
        return (1 - ab).sqrt() * x / (ab * self.s**2 + 1 - ab)


@pytest.mark.parametrize(("sampler", "steps"), [("heun", 32), ("dpmpp2m", 32), ("euler", 128)])
def test_edm_samplers_recover_gaussian(sampler, steps):
    edm = EDM(DiffusionConfig())
    s = 0.3
    out = edm.sample(
        _GaussianOracle(edm, s),
        torch.zeros(64, 5),
        (3, 8, 8),
        steps=steps,
        sampler=sampler,
        generator=torch.Generator().manual_seed(0),
    )
    assert abs(out.std().item() - s) < 0.03
    assert abs(out.mean().item()) < 0.03


def test_ddim_recovers_gaussian():
    ddpm = DDPM(DiffusionConfig(kind="ddpm", sampler="ddim", steps=50))
    s = 0.3
    out = ddpm.sample(
        _EpsOracle(ddpm, s),
        torch.zeros(64, 5),
        (3, 8, 8),
        generator=torch.Generator().manual_seed(0),
    )
    assert abs(out.std().item() - s) < 0.03


def test_bad_sampler_arguments():
    edm = EDM(DiffusionConfig())
    with pytest.raises(ValueError, match="sampler must be"):
        edm.sample(None, torch.zeros(1, 5), (3, 8, 8), sampler="ddim")
    with pytest.raises(ValueError, match="positive integer"):
        edm.sigmas(0)


def test_dihedral_group_and_rotation():
    x = torch.randn(2, 3, 8, 8)
    images = [dihedral(x, k) for k in range(8)]
    for i in range(8):
        for j in range(i):
            assert not torch.equal(images[i], images[j])
    assert torch.allclose(
        rotate(x, torch.full((2,), np.pi / 2)), dihedral(x, 1), atol=1e-5
    ) or torch.allclose(rotate(x, torch.full((2,), -np.pi / 2)), dihedral(x, 1), atol=1e-5)
    with pytest.raises(ValueError, match="from 0 to 7"):
        dihedral(x, 8)


def test_dihedral_average_is_invariant():
    model = tiny()
    x = torch.randn(2, 3, 24, 24)
    a = model.encode(x, average_dihedral=True)
    b = model.encode(dihedral(x, 5), average_dihedral=True)
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(model.encode(x), model.encode(dihedral(x, 5)), atol=1e-5)


def test_save_load_bit_identical(tmp_path):
    model = tiny()
    digest = save_model(model, tmp_path / "m", metadata={"note": "test"})
    again = load_model(tmp_path / "m.json")
    assert again.record["sha256"] == digest
    assert again.config == model.config
    for (k1, v1), (k2, v2) in zip(
        model.state_dict().items(), again.state_dict().items(), strict=True
    ):
        assert k1 == k2
        assert torch.equal(v1, v2)


def test_load_detects_damage(tmp_path):
    save_model(tiny(), tmp_path / "m")
    weights = tmp_path / "m.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-10])
    with pytest.raises(ValueError, match="truncated or altered"):
        load_model(weights)
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ValueError, match="truncated or altered"):
        load_model(weights)
    (tmp_path / "m.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model(weights)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing")
