"""What the bundle builder records about its training files."""

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def build_pretrained(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("build_pretrained")


def test_a_bundle_names_its_files_without_this_machines_folders(build_pretrained):
    names = build_pretrained._file_names
    assert names(["/home/a/train_seed0_100k.h5", "runs/b/train_seed1_100k.h5"]) == [
        "train_seed0_100k.h5", "train_seed1_100k.h5"]
    assert names("/scratch/run/widened-init.safetensors") == "widened-init.safetensors"
    assert names(None) is None
