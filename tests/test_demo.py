import numpy as np
import pytest
from astropy.table import QTable

from minuet._demo import run_demo
from minuet.cli import main

pytest.importorskip("galsim")


@pytest.fixture(scope="module")
def model(saved_tiny_model):
    return saved_tiny_model


def test_run_demo_writes_table_and_figure(model, tmp_path):
    paths, summary = run_demo(tmp_path / "demo", model=model, n=3, steps=2)
    table = QTable.read(paths["table"])
    assert len(table) == 3
    assert {"latent_0", "redshift", "chi2_red", "dmag_r"} <= set(table.colnames)
    assert table.meta["model"] == "tiny"
    assert paths["figure"].stat().st_size > 10_000
    assert np.isfinite(summary["median_chi2_red"])


def test_demo_command(model, tmp_path, capsys):
    status = main(["demo", "--model", str(model.path), "--output", str(tmp_path), "--n", "2",
                   "--steps", "2"])
    assert status == 0
    out = capsys.readouterr().out
    assert "figure:" in out
    assert (tmp_path / "demo_reconstructions.png").exists()
