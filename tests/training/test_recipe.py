import math

import numpy as np
import pytest
import torch

from minuet.models import load_model
from minuet.training import TrainingConfig, decorrelation_penalty, learning_rate, train
from minuet.training.engine import _batch_stream, _Batches, _Data

from .test_engine import config_for


def test_constant_schedule_is_the_linear_warm_up():
    config = TrainingConfig(learning_rate=1e-3, warmup_steps=4, steps=20)
    assert [learning_rate(config, s) for s in range(6)] == pytest.approx(
        [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]
    )


def test_cosine_schedule_falls_to_its_floor():
    config = TrainingConfig(
        learning_rate=1e-3, warmup_steps=4, steps=104, learning_rate_schedule="cosine",
        min_learning_rate_fraction=0.2
    )
    rates = np.array([learning_rate(config, s) for s in range(105)])
    assert rates[3] == pytest.approx(1e-3)
    assert np.all(np.diff(rates[3:]) <= 0)
    assert rates[54] == pytest.approx(1e-3 * (0.2 + 0.8 * 0.5))
    assert rates[104] == pytest.approx(2e-4)
    # past the planned end (a run extended with --steps) it stays at the floor
    assert learning_rate(config, 500) == pytest.approx(2e-4)


def test_recipe_options_are_checked():
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        TrainingConfig(learning_rate_schedule="step")
    with pytest.raises(ValueError, match="min_learning_rate_fraction"):
        TrainingConfig(min_learning_rate_fraction=1.5)
    with pytest.raises(ValueError, match="workers"):
        TrainingConfig(workers=-1)
    with pytest.raises(ValueError, match="decorrelation_weight"):
        TrainingConfig(decorrelation_weight=-0.1)
    with pytest.raises(ValueError, match="prefetch"):
        TrainingConfig(prefetch=0)
    config = TrainingConfig(learning_rate_schedule="cosine", decorrelation_weight=0.5, workers=2)
    assert TrainingConfig.from_json(config.to_json()) == config


def test_decorrelation_penalty():
    gen = torch.Generator().manual_seed(0)
    a, b, c = torch.randn(3, 512, 1, generator=gen)
    assert float(decorrelation_penalty(torch.cat([a, -3 * a], 1))) == pytest.approx(1, abs=1e-3)
    independent = float(decorrelation_penalty(torch.cat([a, b, c], 1)))
    assert independent < 0.01
    # one duplicated pair among three dimensions: 2 of the 6 ordered pairs correlate fully
    assert float(decorrelation_penalty(torch.cat([a, a, c], 1))) == pytest.approx(1 / 3, abs=0.01)
    z = torch.cat([a, a + 0.1 * b], 1).requires_grad_(True)
    decorrelation_penalty(z).backward()
    assert torch.isfinite(z.grad).all()
    assert z.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="batch >= 2"):
        decorrelation_penalty(torch.zeros(1, 5))
    with pytest.raises(ValueError, match="dimensions >= 2"):
        decorrelation_penalty(torch.zeros(8, 1))


def test_decorrelation_weight_enters_the_gradient(cutout_file, tmp_path):
    plain, h_plain = train(
        config_for(cutout_file, tmp_path / "a", steps=2, consistency_weight=0), progress=False
    )
    pen, h_pen = train(
        config_for(
            cutout_file, tmp_path / "b", steps=2, consistency_weight=0, decorrelation_weight=10.0
        ),
        progress=False,
    )
    # same batch, noise and initialisation: the logged diffusion loss of step 1 agrees ...
    assert h_plain[0]["loss"] == pytest.approx(h_pen[0]["loss"], rel=1e-6)
    # ... but the encoder was pushed differently
    a, b = plain.encoder.state_dict(), pen.encoder.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_cosine_run_logs_its_schedule(cutout_file, tmp_path):
    config = config_for(
        cutout_file, tmp_path / "run", warmup_steps=1, learning_rate_schedule="cosine",
        min_learning_rate_fraction=0.0
    )
    _, history = train(config, progress=False)
    # step 0 is the one warm-up step; the cosine then starts from the full rate
    expected = [config.learning_rate] + [
        config.learning_rate * 0.5 * (1 + math.cos(math.pi * (s - 1) / 5)) for s in range(1, 6)
    ]
    assert [row["learning_rate"] for row in history] == pytest.approx(expected)


def test_worker_batches_equal_direct_reads(cutout_file):
    config = config_for(cutout_file, "unused", in_memory=False, workers=2, batch_size=4)
    data = _Data(config)
    train_idx = np.arange(len(data))[5:]
    batches = _Batches(data, train_idx, config, rank=0, world=1, first=3, stop=20)
    streamed = list(_batch_stream(batches, config, torch.device("cpu")))
    direct = [batches[i] for i in range(len(batches))]
    assert [s for s, _, _ in streamed] == list(range(3, 20))
    for (_, x, w), (_, x2, w2) in zip(streamed, direct, strict=True):
        assert torch.equal(x, x2)
        assert torch.equal(w, w2)


def test_resume_with_workers_from_disk_is_exact(cutout_file, tmp_path):
    """Background readers, interrupted and resumed, give the synchronous run's weights."""
    reference, _ = train(
        config_for(cutout_file, tmp_path / "ref", in_memory=False), progress=False
    )
    config = config_for(cutout_file, tmp_path / "bg", in_memory=False, workers=2, prefetch=3)
    train(config, max_steps=4, progress=False)
    resumed, history = train(config, progress=False)
    assert [row["step"] for row in history] == [1, 2, 3, 4, 5, 6]
    for (k, a), b in zip(
        reference.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    assert (
        load_model(tmp_path / "ref" / "model").record["sha256"]
        == load_model(tmp_path / "bg" / "model").record["sha256"]
    )


def test_callback_rows_join_the_history(cutout_file, tmp_path):
    calls = []

    def callback(step, ema):
        calls.append(step)
        assert not any(p.requires_grad for p in ema.parameters())
        return {"probe": float(step) * 2} if step == 3 else None

    config = config_for(cutout_file, tmp_path / "run")
    _, history = train(config, max_steps=4, progress=False, callback=callback)
    # validations at step 3, and the last step of this call
    assert calls == [3, 4]
    assert history[2]["probe"] == 6.0
    assert "probe" not in history[3]
    rows = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert '"probe": 6.0' in rows[2]
