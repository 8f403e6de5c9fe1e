"""Bundling a long run: its EMA weights, its model card, and the whole command."""

import json

import pytest
import torch


@pytest.fixture
def state(tmp_path):
    """A long run's kept state for a tiny model: checkpoint, configuration, plan, sittings."""
    from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    from minuet.training._checkpoint import save_checkpoint

    config = DiffusionAutoencoderConfig.preset("tiny")
    torch.manual_seed(0)
    model, ema = DiffusionAutoencoder(config), DiffusionAutoencoder(config)
    with torch.no_grad():
        for param in ema.parameters():
            param.add_(0.5)  # the EMA differs from the live weights
    optimizer = torch.optim.Adam(model.parameters())
    folder = tmp_path / "tiny-run"
    save_checkpoint(folder / "checkpoint.safetensors", model=model, ema=ema,
                    optimizer=optimizer, step=30, extra={})
    (folder / "config.json").write_text(json.dumps({"model": config.to_dict(), "seed": 1}))
    (folder / "plan.json").write_text(json.dumps({"recipe": "warm_start", "batch_size": 8}))
    sittings = [
        {"until_step": 10, "minutes": 2.0, "date": "2026-12-01", "precision": "fp32",
         "data": [{"file": "a.h5", "seed": 0, "n": 100}], "code": {"commit": "abc"}},
        {"until_step": 30, "minutes": 3.5, "date": "2026-12-02", "precision": "bf16",
         "data": [{"file": "b.h5", "seed": 1, "n": 200}], "code": {"commit": "def"}},
    ]
    (folder / "sittings.json").write_text(json.dumps(sittings))
    return folder, ema


def test_the_bundle_takes_the_ema_weights(bench, state):
    bundle = bench("bundle_long_run")
    folder, ema = state
    net = bundle.ema_autoencoder(folder)
    assert not net.training
    assert net.record["metadata"]["steps"] == 30
    for ours, theirs in zip(net.state_dict().values(), ema.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs)


def test_the_card_adds_up_the_sittings(bench, state):
    bundle = bench("bundle_long_run")
    card = bundle.training_card(state[0], "tiny-run")
    assert card["training_steps"] == 30
    assert card["training_images"] == 30 * 8
    assert card["training_minutes"] == 5.5
    assert card["training_data"]["n_galaxies"] == 300
    assert [s["seed"] for s in card["training_data"]["shards"]] == [0, 1]
    assert [row["images"] for row in card["sittings"]] == [80, 160]
    assert [row["precision"] for row in card["sittings"]] == ["fp32", "bf16"]
    assert card["init"] == "minuet-sim (warm start)"
    assert "SIMULATIONS only" in card["summary"]


def test_a_folder_without_a_state_is_refused(bench, tmp_path):
    bundle = bench("bundle_long_run")
    with pytest.raises(SystemExit, match="no long-run state"):
        bundle.main([str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "o")])


@pytest.mark.slow
def test_bundle_end_to_end(bench, state, tmp_path):
    from minuet import Minuet

    bundle = bench("bundle_long_run")
    out = tmp_path / "bundle"
    bundle.main([str(state[0]), "--name", "tiny-2", "--data", str(tmp_path / "data"),
                 "--out", str(out), "--n-train", "240", "--n-calibration", "100",
                 "--processes", "1", "--max-epochs", "2"])
    model = Minuet.load(out)
    assert model.name == "tiny-2"
    assert model.info["training_steps"] == 30
    assert model.info["heads_data"]["n_train"] == 240
    assert model.posterior_estimator is not None
    assert model.typicality_scorer is not None
