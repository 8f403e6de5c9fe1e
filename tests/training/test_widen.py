import pytest
import torch

from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig, save_model
from minuet.models._layers import patchify
from minuet.training import TrainingConfig, train
from minuet.training._widen import initial_state, widen_patches


def _configs(patch=4):
    narrow = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    narrow.denoiser.patch = patch
    wide = DiffusionAutoencoderConfig.from_dict(narrow.to_dict())
    wide.denoiser.overlap = True
    return narrow, wide


def _trained_looking(model, seed=0):
    """Give every parameter (the zero-initialised output too) random values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return model


def test_widened_embedding_reads_only_the_window_centre():
    narrow, wide = _configs()
    old = _trained_looking(DiffusionAutoencoder(narrow))
    new = DiffusionAutoencoder(wide)
    new.load_state_dict(widen_patches(old.state_dict(), 4), strict=True)
    x = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    windows = new.denoiser.windows.cut(x)
    assert windows.shape[-1] == 3 * 8 * 8
    # every window's token is the old token of its central patch, whatever its margin holds
    torch.testing.assert_close(new.denoiser.embed(windows), old.denoiser.embed(patchify(x, 4)))
    # a window whose margin is zero, embedded exactly as the patch at its centre
    patch = torch.randn(1, 3, 4, 4, generator=torch.Generator().manual_seed(2))
    window = torch.zeros(1, 3, 8, 8)
    window[..., 2:6, 2:6] = patch
    torch.testing.assert_close(new.denoiser.embed(window.flatten(1)),
                               old.denoiser.embed(patch.flatten(1)))


def test_widened_output_repeats_the_patch_edges():
    narrow, _ = _configs()
    old = _trained_looking(DiffusionAutoencoder(narrow))
    state = widen_patches(old.state_dict(), 4)
    tokens = torch.randn(5, narrow.denoiser.width, generator=torch.Generator().manual_seed(3))
    old_out = torch.nn.functional.linear(
        tokens, old.state_dict()["denoiser.out.weight"], old.state_dict()["denoiser.out.bias"]
    ).reshape(5, 3, 4, 4)
    new_out = torch.nn.functional.linear(
        tokens, state["denoiser.out.weight"], state["denoiser.out.bias"]
    ).reshape(5, 3, 8, 8)
    torch.testing.assert_close(new_out[..., 2:6, 2:6], old_out)
    torch.testing.assert_close(new_out[..., 0, 2:6], old_out[..., 0, :])
    torch.testing.assert_close(new_out[..., 2:6, 7], old_out[..., :, 3])
    assert torch.equal(new_out[..., 0, 0], new_out[..., 2, 2])


def test_initial_state_widens_only_when_the_windows_are_missing():
    narrow, wide = _configs()
    old = _trained_looking(DiffusionAutoencoder(narrow))
    assert initial_state(old, narrow)["denoiser.embed.weight"].shape == (
        narrow.denoiser.width, 3 * 4 * 4)
    assert initial_state(old, wide)["denoiser.embed.weight"].shape == (
        narrow.denoiser.width, 3 * 8 * 8)
    windowed = DiffusionAutoencoder(wide)
    assert initial_state(windowed, wide)["denoiser.embed.weight"].shape == (
        narrow.denoiser.width, 3 * 8 * 8)


def test_train_starts_a_windowed_model_from_patch_weights(cutout_file, tmp_path):
    narrow, wide = _configs()
    old = _trained_looking(DiffusionAutoencoder(narrow))
    save_model(old, tmp_path / "narrow")
    config = TrainingConfig(
        data=(str(cutout_file),), output=str(tmp_path / "run"), model=wide, steps=2,
        batch_size=8, validation_fraction=0.2, threads=1,
        init=str(tmp_path / "narrow.safetensors"),
    )
    model, _ = train(config, max_steps=0, progress=False)
    expected = widen_patches(old.state_dict(), 4)
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name
    # another patch size cannot be carried over
    other = DiffusionAutoencoderConfig.from_dict(wide.to_dict())
    other.denoiser.patch = 6
    config.model, config.output = other, str(tmp_path / "other")
    with pytest.raises(ValueError, match="do not fit"):
        train(config, max_steps=0, progress=False)
