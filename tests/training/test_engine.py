import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minuet.cli import main
from minuet.models import DiffusionAutoencoderConfig, load_model
from minuet.training import TrainingConfig, augment, train

ROOT = Path(__file__).resolve().parents[2]


def config_for(data, output, **kwargs):
    options = {
        "data": (str(data),),
        "output": str(output),
        "model": DiffusionAutoencoderConfig.preset("tiny", image_size=24),
        "steps": 6,
        "batch_size": 8,
        "warmup_steps": 2,
        "validation_fraction": 0.2,
        "validation_size": 8,
        "validate_every": 3,
        "checkpoint_every": 3,
        "log_every": 1,
        "threads": 1,
    }
    return TrainingConfig(**(options | kwargs))


def test_config_json_round_trip(tmp_path):
    config = config_for("a.h5", tmp_path)
    again = TrainingConfig.from_json(config.to_json())
    assert again == config
    assert TrainingConfig(data="one.h5").data == ("one.h5",)
    with pytest.raises(ValueError, match="precision"):
        TrainingConfig(precision="fp8")
    with pytest.raises(ValueError, match="unknown TrainingConfig keys"):
        TrainingConfig.from_dict({"stpes": 3})


def test_augment_is_seeded_and_keeps_weights_aligned():
    x = torch.rand(16, 3, 8, 8)
    w = (x > 0.5).float()
    a = augment(x, w, generator=torch.Generator().manual_seed(0), rotation_probability=0.0)
    b = augment(x, w, generator=torch.Generator().manual_seed(0), rotation_probability=0.0)
    assert torch.equal(a[0], b[0])
    # lossless flips and turns move image and weight together
    assert torch.equal(a[1], (a[0] > 0.5).float())
    assert not torch.equal(a[0], x)
    c = augment(x, w, generator=torch.Generator().manual_seed(0), rotation_probability=1.0)
    assert not torch.equal(c[0], a[0])


def test_train_writes_model_and_history(cutout_file, tmp_path):
    config = config_for(cutout_file, tmp_path / "run")
    ema, history = train(config, progress=False)
    assert [row["step"] for row in history] == [1, 2, 3, 4, 5, 6]
    assert all(torch.isfinite(torch.tensor(row["loss"])) for row in history)
    assert history[2]["val_loss"] is not None
    assert history[0]["val_loss"] is None
    saved = load_model(tmp_path / "run" / "model")
    for a, b in zip(ema.state_dict().values(), saved.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert len(lines) == 6


def test_resume_is_bit_identical(cutout_file, tmp_path):
    full, _ = train(config_for(cutout_file, tmp_path / "full"), progress=False)
    part = config_for(cutout_file, tmp_path / "part")
    train(part, max_steps=4, progress=False)  # stops at 4 with a checkpoint
    resumed, history = train(part, progress=False)
    assert [row["step"] for row in history] == [1, 2, 3, 4, 5, 6]
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    a = load_model(tmp_path / "full" / "model")
    b = load_model(tmp_path / "part" / "model")
    assert a.record["sha256"] == b.record["sha256"]


def test_resume_after_sigkill(cutout_file, tmp_path):
    """A process killed mid-run continues, on restart, to the uninterrupted weights."""
    reference, _ = train(
        config_for(cutout_file, tmp_path / "ref", steps=8, checkpoint_every=2), progress=False
    )
    config = config_for(cutout_file, tmp_path / "killed", steps=8, checkpoint_every=2)
    cfg = tmp_path / "killed.json"
    cfg.write_text(config.to_json())
    # the child kills itself with SIGKILL right after the step-5 history line,
    # i.e. between the checkpoints of steps 4 and 6
    script = (
        "import os, signal, sys\n"
        "import minuet.training.engine as engine\n"
        "real = engine.save_checkpoint\n"
        "def save(path, **kw):\n"
        "    real(path, **kw)\n"
        "    if kw['step'] == 4:\n"
        "        engine.tqdm.update = lambda self, n=1: os.kill(os.getpid(), signal.SIGKILL)\n"
        "engine.save_checkpoint = save\n"
        "from minuet.cli import main\n"
        f"sys.exit(main(['train', {str(cfg)!r}, '--no-progress']))\n"
    )
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    assert not (tmp_path / "killed" / "model.safetensors").exists()
    assert main(["train", str(cfg), "--no-progress"]) == 0
    resumed = load_model(tmp_path / "killed" / "model")
    for a, b in zip(reference.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_damaged_checkpoint(cutout_file, tmp_path):
    config = config_for(cutout_file, tmp_path / "run")
    train(config, max_steps=3, progress=False)
    ckpt = tmp_path / "run" / "checkpoint.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(ValueError, match="damaged"):
        train(config, progress=False)


def test_bad_batch(cutout_file, tmp_path):
    with pytest.raises(ValueError, match="fewer than one batch"):
        train(config_for(cutout_file, tmp_path / "run", batch_size=64), progress=False)
    config = config_for(cutout_file, tmp_path / "run")
    config.data = ()
    with pytest.raises(ValueError, match="no data files"):
        train(config, progress=False)


def test_cli_train(cutout_file, tmp_path):
    config = config_for(cutout_file, tmp_path / "run").to_dict()
    config["model"] = DiffusionAutoencoderConfig.preset("tiny", image_size=24).to_dict()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert main(["train", str(path), "--steps", "2", "--no-progress"]) == 0
    assert (tmp_path / "run" / "model.safetensors").exists()
    path.write_text("{")
    assert main(["train", str(path)]) == 2


def test_ddp_two_gloo_processes(cutout_file, tmp_path):
    config = config_for(cutout_file, tmp_path / "ddp", steps=3)
    cfg = tmp_path / "ddp.json"
    cfg.write_text(config.to_json())
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node=2",
        "--standalone",
        "-m",
        "minuet.cli",
        "train",
        str(cfg),
        "--no-progress",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    rows = [
        json.loads(line) for line in (tmp_path / "ddp" / "history.jsonl").read_text().splitlines()
    ]
    assert [row["step"] for row in rows] == [1, 2, 3]
    assert load_model(tmp_path / "ddp" / "model").record["metadata"]["steps"] == 3


def test_max_minutes_stops_with_checkpoint(cutout_file, tmp_path):
    config = config_for(cutout_file, tmp_path / "run", checkpoint_every=100)
    _, history = train(config, max_minutes=0, progress=False)
    assert [row["step"] for row in history] == [1]
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_cli_preset_name_and_time_limit(cutout_file, tmp_path, capsys):
    config = config_for(cutout_file, tmp_path / "run").to_dict()
    config["model"] = "tiny"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    # the 'tiny' preset is for 72-pixel cutouts: the 24-pixel file is rejected clearly
    assert main(["train", str(path), "--max-minutes", "0", "--no-progress"]) == 2
    assert "S >= 72" in capsys.readouterr().err


def test_init_warm_start(cutout_file, tmp_path):
    first, _ = train(config_for(cutout_file, tmp_path / "a", steps=2), progress=False)
    model = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    model.denoiser.conv_head = True
    config = config_for(
        cutout_file, tmp_path / "b", model=model, init=str(tmp_path / "a" / "model.safetensors")
    )
    warm, _ = train(config, max_steps=0, progress=False)
    x = torch.randn(2, 3, 24, 24)
    z = torch.randn(2, 5)
    noise = torch.zeros(2)
    # the zero-initialised refinement head adds nothing at first
    assert torch.equal(first.denoiser(x, noise, z), warm.denoiser(x, noise, z))
    wide = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    wide.encoder.width = 32
    bad = config_for(
        cutout_file, tmp_path / "c", model=wide, init=str(tmp_path / "a" / "model.safetensors")
    )
    with pytest.raises(ValueError, match="do not fit"):
        train(bad, progress=False)


OLD_CHECKPOINT = ROOT / "tests" / "data" / "checkpoint-1" / "checkpoint.safetensors"


def test_checkpoint_of_the_first_format_resumes(cutout_file, tmp_path):
    """A checkpoint written by the first checkpoint format continues a run exactly.

    ``tests/data/checkpoint-1`` holds the step-3 checkpoint of
    ``config_for(write_cutouts(...), ...)`` with ``max_steps=3``, written
    before checkpoints carried a SHA-256. Resuming from it and resuming from
    the same state saved in the current format must end at the same weights.
    """
    from minuet.models import DiffusionAutoencoder
    from minuet.training._checkpoint import load_checkpoint, save_checkpoint

    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(OLD_CHECKPOINT, old / "checkpoint.safetensors")
    config = config_for(cutout_file, old)
    model = DiffusionAutoencoder(config.model)
    ema = DiffusionAutoencoder(config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    step, extra = load_checkpoint(old / "checkpoint.safetensors", model=model, ema=ema,
                                  optimizer=optimizer)
    assert step == 3
    assert extra["config"]["steps"] == 6
    save_checkpoint(tmp_path / "new" / "checkpoint.safetensors", model=model, ema=ema,
                    optimizer=optimizer, step=step, extra=extra)
    a, history = train(config, progress=False)
    assert [row["step"] for row in history] == [4, 5, 6]
    b, _ = train(config_for(cutout_file, tmp_path / "new"), progress=False)
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), k
    # the three steps after the checkpoint did train
    moved = [not torch.equal(x, y) for x, y in
             zip(a.state_dict().values(), ema.state_dict().values(), strict=True)]
    assert any(moved)


def test_checkpoint_records_and_checks_its_sha256(cutout_file, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    config = config_for(cutout_file, tmp_path / "run")
    train(config, max_steps=3, progress=False)
    path = tmp_path / "run" / "checkpoint.safetensors"
    with safe_open(path, framework="pt") as f:
        header = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    meta = json.loads(header["minuet"])
    assert meta["format"] == "minuet-checkpoint-2"
    assert len(meta["sha256"]) == 64
    # a well-formed file whose tensors no longer match the recorded digest
    name = next(k for k in tensors if k.startswith("ema."))
    tensors[name] = tensors[name] + 1
    save_file(tensors, path, metadata=header)
    with pytest.raises(ValueError, match="damaged or was altered"):
        train(config, progress=False)


def test_old_names_of_the_learning_rate_options_still_work(cutout_file, tmp_path):
    from astropy.utils.exceptions import AstropyDeprecationWarning

    with pytest.warns(AstropyDeprecationWarning, match="is now called") as caught:
        config = TrainingConfig(lr=1e-3, lr_schedule="cosine", min_lr_fraction=0.2)
    assert len(caught) == 3
    assert "'lr' is now called 'learning_rate'" in str(caught[0].message)
    assert (config.learning_rate, config.learning_rate_schedule) == (1e-3, "cosine")
    assert config.min_learning_rate_fraction == 0.2
    with pytest.warns(AstropyDeprecationWarning, match="'lr' is now called"):
        assert config.lr == 1e-3
    with pytest.raises(TypeError, match="both 'lr' and its new name"), pytest.warns(
        AstropyDeprecationWarning
    ):
        TrainingConfig(lr=1e-3, learning_rate=1e-4)
    # configurations written before the renaming (config.json, checkpoints) read silently
    old = {"lr": 2e-4, "lr_schedule": "cosine", "min_lr_fraction": 0.3, "steps": 7}
    again = TrainingConfig.from_dict(old)
    assert again == TrainingConfig(learning_rate=2e-4, learning_rate_schedule="cosine",
                                   min_learning_rate_fraction=0.3, steps=7)
    with pytest.raises(ValueError, match="both the old and the new names of"):
        TrainingConfig.from_dict({"lr": 1e-3, "learning_rate": 1e-3})


def test_time_limit_in_seconds_is_deprecated(cutout_file, tmp_path):
    from astropy.utils.exceptions import AstropyDeprecationWarning

    config = config_for(cutout_file, tmp_path / "run", checkpoint_every=100)
    with pytest.warns(AstropyDeprecationWarning, match="max_minutes"):
        _, history = train(config, max_seconds=0, progress=False)
    assert [row["step"] for row in history] == [1]
    with pytest.raises(TypeError, match="once"), pytest.warns(AstropyDeprecationWarning):
        train(config, max_seconds=0, max_minutes=0, progress=False)


def test_history_rows_of_the_old_name_are_read_under_the_new(cutout_file, tmp_path):
    config = config_for(cutout_file, tmp_path / "run")
    train(config, max_steps=3, progress=False)
    path = tmp_path / "run" / "history.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    old = [{("lr" if k == "learning_rate" else k): v for k, v in row.items()} for row in rows]
    path.write_text("".join(json.dumps(row) + "\n" for row in old))
    _, history = train(config, progress=False)
    assert [row["learning_rate"] for row in history[:3]] == [r["learning_rate"] for r in rows]
    assert all("lr" not in row for row in history)


@pytest.mark.parametrize(("native", "expected"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_precision_follows_the_hardware(monkeypatch, native, expected):
    # emulated bf16 is several times slower than fp32, so 'auto' trains in bf16
    # only where the CPU multiplies it natively
    from minuet.baselines._training import autocast as baseline_autocast
    from minuet.models import precision
    from minuet.training.engine import _autocast

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    layer = torch.nn.Linear(4, 2)
    for context in (_autocast(TrainingConfig(precision="auto"), torch.device("cpu")),
                    baseline_autocast("auto")):
        with context:
            assert layer(torch.zeros(1, 4)).dtype == expected
    with _autocast(TrainingConfig(precision="bf16"), torch.device("cpu")):
        assert layer(torch.zeros(1, 4)).dtype == torch.bfloat16
