import json

import h5py
import numpy as np
import pytest

from minuet.cli import main
from minuet.simulate import SimulationConfig, iter_batches, read_dataset, simulate, write_dataset


def _contents(path):
    with h5py.File(path, "r") as f:
        return {key: f[key][:].tobytes() for key in ("images", "invvar", "footprint", "truth")}


def test_layout_and_round_trip(tmp_path):
    path = write_dataset(tmp_path / "sim.h5", 5, seed=3, chunk_size=2)
    with h5py.File(path, "r") as f:
        assert f["images"].shape == (5, 3, 72, 72)
        assert f["invvar"].dtype == np.float32
        assert f["footprint"].dtype == bool
        assert [b.decode() for b in f.attrs["bands"]] == ["g", "r", "z"]
        assert f.attrs["pixscale"] == pytest.approx(0.262)
        assert f.attrs["seed"] == 3
        assert "minuet_version" in f.attrs
        stored = json.loads(f.attrs["simulator_config"])
        assert SimulationConfig.from_dict(stored) == SimulationConfig()
    images, invvar, footprint, truth = read_dataset(path)
    ref = simulate(5, seed=3)
    assert np.array_equal(images, ref[0])
    assert np.array_equal(invvar, ref[1])
    assert np.array_equal(footprint, ref[2])
    assert truth["mag_r"].unit == ref[3]["mag_r"].unit
    assert np.array_equal(truth["redshift"], ref[3]["redshift"])


def test_identical_for_any_process_count(tmp_path):
    one = write_dataset(tmp_path / "one.h5", 6, seed=9, processes=1, chunk_size=4)
    two = write_dataset(tmp_path / "two.h5", 6, seed=9, processes=2, chunk_size=2)
    assert _contents(one) == _contents(two)


def test_iter_batches(tmp_path):
    path = write_dataset(tmp_path / "sim.h5", 5, seed=1)
    batches = list(iter_batches(path, batch_size=2))
    assert [len(t) for *_, t in batches] == [2, 2, 1]
    images = np.concatenate([b[0] for b in batches])
    assert np.array_equal(images, read_dataset(path)[0])


def test_refuses_to_overwrite_and_rejects_other_files(tmp_path):
    path = write_dataset(tmp_path / "sim.h5", 1, seed=1)
    with pytest.raises(OSError, match="already exists"):
        write_dataset(path, 1)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a minuet simulated dataset"):
        read_dataset(other)


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli.h5"
    assert main(["simulate", "3", str(out), "--seed", "2", "--quiet"]) == 0
    assert "wrote 3 galaxies" in capsys.readouterr().out
    assert np.array_equal(read_dataset(out)[0], simulate(3, seed=2)[0])
    assert main(["simulate", "3", str(out), "--seed", "2", "--quiet"]) == 2
