"""The GPU measurement script's CPU fallback, on the tiny preset."""

import json

import pytest


@pytest.fixture
def gpu_inference(bench):
    return bench("gpu_inference")


def test_cpu_fallback_writes_its_results(gpu_inference, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_inference.torch.cuda, "is_available", lambda: False)
    record = gpu_inference.main(["--output-dir", str(tmp_path / "out"), "--quick",
                                 "--seconds", "0.1"])
    written = json.loads((tmp_path / "out" / "gpu_inference.json").read_text())
    assert written["device_type"] == "cpu"
    assert "No CUDA GPU was found" in " ".join(written["notes"])
    stages = {(row["stage"], row["precision"]) for row in written["rows"]}
    assert stages == {("encode", "fp32"), ("encode", "bf16"),
                      ("reconstruct (3 steps)", "fp32"), ("reconstruct (3 steps)", "bf16")}
    for row in written["rows"]:
        assert row["galaxies_per_s"] > 0
        assert row["gpu_hours_for_1e10"] == pytest.approx(1e10 / row["galaxies_per_s"] / 3600)
        assert row["node_hours_for_1e10"] == pytest.approx(row["gpu_hours_for_1e10"] / 8)
    assert written["host_check_and_stretch_per_s"] > 0
    assert record["rows"] == written["rows"]
    assert "galaxies/s" in (tmp_path / "out" / "gpu_inference.rst").read_text()


def test_compile_failure_falls_back_to_eager(gpu_inference, tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_inference.torch.cuda, "is_available", lambda: False)

    def broken(module):
        msg = "no compiler here"
        raise RuntimeError(msg)

    monkeypatch.setattr(gpu_inference.torch, "compile", broken)
    record = gpu_inference.main(["--output-dir", str(tmp_path), "--quick", "--seconds", "0.1",
                                 "--compile"])
    assert any("no compiler here" in note for note in record["notes"])
    assert {row["precision"] for row in record["rows"]} == {"fp32", "bf16"}
