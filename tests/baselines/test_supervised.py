import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import QTable

from minuet.baselines import SupervisedCNN, SupervisedCNNConfig

SIZE = 16  # side of the cutouts made by conftest.blobs
TINY = SupervisedCNNConfig(image_size=SIZE, widths=(8, 16))
FIT = {"steps": 40, "batch_size": 16, "learning_rate": 3e-3, "validate_every": 10}
PROPERTIES = ("redshift", "log_mstar", "log_sfr")
LABELS = ("merger", "spiral_arms", "edge_on", "round")


@pytest.fixture(scope="module")
def fitted(data):
    flux, _, _, truth = data
    return SupervisedCNN(TINY, seed=5).fit(flux, truth, **FIT)


def test_predict_table(fitted, data):
    table = fitted.predict(data[0][:6])
    assert isinstance(table, QTable)
    assert len(table) == 6
    for name in PROPERTIES:
        for suffix in ("mean", "std", "median", "lo68", "hi68", "lo95", "hi95"):
            assert f"{name}_{suffix}" in table.colnames
        assert np.all(table[f"{name}_std"].value > 0)
        assert np.all(table[f"{name}_lo95"].value < table[f"{name}_lo68"].value)
        assert np.all(table[f"{name}_hi68"].value < table[f"{name}_hi95"].value)
    assert table["redshift_mean"].unit == u.dimensionless_unscaled
    assert table["log_mstar_mean"].unit == u.dex(u.solMass)
    assert table["log_sfr_lo68"].unit == u.dex(u.solMass / u.yr)
    assert table["log_mstar_std"].unit == u.dex
    for name in LABELS:
        p = table[f"p_{name}"]
        assert p.dtype == np.float64
        assert np.all((p >= 0) & (p <= 1))


def test_loss_decreases(fitted):
    losses = [loss for _, loss in fitted.history["train_loss"]]
    assert np.mean(losses[-8:]) < np.mean(losses[:8]) - 0.2
    val = [loss for _, loss in fitted.history["val_loss"]]
    assert min(val) < val[0]


def test_learns_redshift(data):
    flux, _, _, truth = data
    cnn = SupervisedCNN(TINY, seed=5).fit(flux, truth, steps=120, batch_size=32, learning_rate=3e-3,
                                          validation_fraction=0, augmentation=False)
    predicted = cnn.predict(flux)["redshift_mean"].value
    assert np.corrcoef(predicted, truth["redshift"])[0, 1] > 0.8


def test_deterministic_under_seed(fitted, data):
    flux, _, _, truth = data
    again = SupervisedCNN(TINY, seed=5).fit(flux, truth, **FIT)
    for a, b in zip(fitted.network.state_dict().values(), again.network.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(SupervisedCNN(TINY, seed=6).network.stem.weight,
                           fitted.network.stem.weight)


def test_fit_from_file_reads_truth(h5file):
    cnn = SupervisedCNN(TINY).fit(h5file, steps=2, batch_size=8)
    assert cnn.history["steps"] == 2
    assert np.all(np.isfinite(cnn.target_mean))


def test_truth_units_are_kept(data):
    flux, _, _, truth = data
    truth = QTable(truth)
    truth["log_mstar"] = truth["log_mstar"] * u.dex(u.solMass)
    config = SupervisedCNNConfig(image_size=SIZE, widths=(8,), properties=("log_mstar",),
                                 units=("",), labels=())
    cnn = SupervisedCNN(config).fit(flux, truth, steps=1, batch_size=8)
    assert cnn.predict(flux[:2])["log_mstar_mean"].unit == u.dex(u.solMass)


def test_save_load_bit_identical(fitted, data, tmp_path):
    flux = data[0][:8]
    digest = fitted.save(tmp_path / "cnn")
    again = SupervisedCNN.load(tmp_path / "cnn.json")
    assert again.record["sha256"] == digest
    assert again.config == fitted.config
    np.testing.assert_array_equal(again.target_std, fitted.target_std)
    a, b = fitted.predict(flux), again.predict(flux)
    assert a.colnames == b.colnames
    for name in a.colnames:
        np.testing.assert_array_equal(a[name], b[name])


def test_bad_input(fitted, data):
    flux, _, _, truth = data
    with pytest.raises(ValueError, match=r"has no target column\(s\) \['log_sfr', 'round'\]"):
        SupervisedCNN(TINY).fit(flux, truth[[c for c in truth.colnames
                                             if c not in ("log_sfr", "round")]], steps=1)
    with pytest.raises(ValueError, match="truth is required"):
        SupervisedCNN(TINY).fit(flux, steps=1)
    with pytest.raises(ValueError, match="truth has 3 rows but there are 96 cutouts"):
        SupervisedCNN(TINY).fit(flux, truth[:3], steps=1)
    with pytest.raises(TypeError, match="astropy Table"):
        SupervisedCNN(TINY).fit(flux[:2], np.zeros((2, 7)), steps=1)
    bad = truth.copy()
    bad["redshift"][4] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row.*row 4"):
        SupervisedCNN(TINY).fit(flux, bad, steps=1)
    bad = truth.copy()
    bad["merger"] = bad["merger"] * 2.0
    with pytest.raises(ValueError, match="must be boolean"):
        SupervisedCNN(TINY).fit(flux, bad, steps=1)
    nan_flux = flux[:3].copy()
    nan_flux[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite pixels in 1 cutout"):
        fitted.predict(nan_flux)
    with pytest.raises(ValueError, match=r"shaped \(N, 3, 16, 16\)"):
        fitted.predict(flux[0])
    with pytest.raises(ValueError, match="one unit per property"):
        SupervisedCNNConfig(units=("",))
    with pytest.raises(ValueError, match="nothing to predict"):
        SupervisedCNNConfig(properties=(), units=(), labels=())
