"""Fixtures of the benchmark-script tests: the scripts in ``benchmarks/`` import as modules."""

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def benchmarks_dir():
    """The ``benchmarks/`` folder of this checkout."""
    return BENCHMARKS


@pytest.fixture
def bench(monkeypatch):
    """Import a benchmark script by name; ``'gpu/train_gpu'`` for one in a sub-folder."""

    def load(name):
        folder, _, stem = name.rpartition("/")
        monkeypatch.syspath_prepend(str(BENCHMARKS / folder))
        return importlib.import_module(stem)

    return load
