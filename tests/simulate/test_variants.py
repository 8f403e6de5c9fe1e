import h5py
import numpy as np
import pytest

from minuet.cli import main
from minuet.simulate import (
    AXES,
    HELD_OUT_VARIANTS,
    LABELS,
    TRAINING_VARIANTS,
    VARIANTS,
    SimulationConfig,
    read_dataset,
    simulate,
    variant_choices,
    write_dataset,
)


def test_variant_tables():
    assert set(VARIANTS) == set(TRAINING_VARIANTS) | set(HELD_OUT_VARIANTS)
    assert HELD_OUT_VARIANTS
    assert not set(HELD_OUT_VARIANTS) & set(TRAINING_VARIANTS)
    assert all(isinstance(v, str) and v for v in VARIANTS.values())
    assert SimulationConfig().variants == TRAINING_VARIANTS
    reference = variant_choices("reference")
    assert set(reference) == set(AXES)
    # every held-out variant changes several axes, each to a choice no training variant uses
    for name in HELD_OUT_VARIANTS:
        changed = {a for a in AXES if variant_choices(name)[a] != reference[a]}
        assert len(changed) >= 3
        for axis in changed:
            used = {variant_choices(t)[axis] for t in TRAINING_VARIANTS}
            assert variant_choices(name)[axis] not in used, axis
    # every training variant but the reference changes exactly one axis
    for name in TRAINING_VARIANTS:
        changed = [a for a in AXES if variant_choices(name)[a] != reference[a]]
        assert len(changed) == (0 if name == "reference" else 1), name


def test_from_variant_and_mixtures():
    config = SimulationConfig.from_variant("mw_dust", mag_limit=20.5)
    assert config.variants == ("mw_dust",)
    assert config.mag_limit == 20.5
    assert SimulationConfig.from_dict(config.to_dict()) == config
    mixture = SimulationConfig(variants=[v for v in TRAINING_VARIANTS if v != "mw_dust"])
    assert "mw_dust" not in mixture.variants
    with pytest.raises(ValueError, match="unknown simulator variant"):
        SimulationConfig.from_variant("no_such_variant")
    with pytest.raises(ValueError, match="variants must be a non-empty tuple"):
        SimulationConfig(variants=("reference", "no_such_variant"))
    with pytest.raises(ValueError, match="must not repeat"):
        SimulationConfig(variants=("reference", "reference"))
    with pytest.raises(TypeError, match="sets variants itself"):
        SimulationConfig.from_variant("reference", variants=("mw_dust",))
    with pytest.raises(ValueError, match="unknown simulator variant"):
        variant_choices("nope")


def test_truth_columns_and_variant_column():
    _, _, _, truth = simulate(24, seed=5)
    for name in ("redshift", "log_mstar", "log_sfr", "mag_g", "mag_r", "mag_z", *LABELS):
        assert name in truth.colnames
    for name in (
        "variant",
        "dust_av",
        "template_coeffs",
        "young_mass_fraction",
        "cww_index",
        "ebv_galactic",
        "psf_family",
        "psf_beta",
        "survey",
    ):
        assert name in truth.colnames
    assert set(truth["variant"]) <= set(TRAINING_VARIANTS)
    assert len(set(truth["variant"])) >= 3  # a mixture, not one variant
    assert truth["template_coeffs"].shape == (24, 6)
    kc = truth["variant"] != "cww_templates"
    # kcorrect galaxies: the catalogue's mass is the template mixture's surviving mass
    from minuet.simulate import _seds

    mass = truth["template_coeffs"][kc] @ _seds.templates()["mremain"]
    assert np.allclose(np.log10(mass), truth["log_mstar"][kc], atol=1e-6)
    sfr = truth["template_coeffs"][kc] @ _seds.templates()["sfr"]
    assert np.allclose(np.log10(sfr), truth["log_sfr"][kc], atol=1e-6)
    assert np.all(truth["dust_av"][~kc].value == 0)
    assert np.all(np.isfinite(truth["cww_index"][~kc]))


@pytest.mark.parametrize("name", HELD_OUT_VARIANTS)
def test_held_out_variant_simulates(name):
    images, _, _, truth = simulate(6, seed=2, config=SimulationConfig.from_variant(name))
    assert np.all(truth["variant"] == name)
    assert np.all(truth["psf_family"] == variant_choices(name)["psf"])
    assert np.all(np.isfinite(images))


def _contents(path):
    with h5py.File(path, "r") as f:
        return {key: f[key][:].tobytes() for key in ("images", "invvar", "footprint", "truth")}


def test_cli_variant_and_processes(tmp_path, capsys):
    one = tmp_path / "one.h5"
    two = tmp_path / "two.h5"
    args = ["simulate", "5", "--seed", "3", "--variant", "slab_dust", "--variant", "reference"]
    assert (
        main([*args[:2], str(one), *args[2:], "--processes", "1", "--chunk-size", "2", "--quiet"])
        == 0
    )
    assert (
        main([*args[:2], str(two), *args[2:], "--processes", "2", "--chunk-size", "3", "--quiet"])
        == 0
    )
    assert "slab_dust, reference" in capsys.readouterr().out
    assert _contents(one) == _contents(two)
    truth = read_dataset(one)[3]
    assert set(truth["variant"]) <= {"slab_dust", "reference"}
    ref = simulate(5, seed=3, config=SimulationConfig(variants=("slab_dust", "reference")))
    assert np.array_equal(read_dataset(one)[0], ref[0])


def test_cli_rejects_unknown_variant(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "2", str(tmp_path / "x.h5"), "--variant", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def test_cli_help_says_all_cores(capsys):
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "all available cores" in capsys.readouterr().out


def test_default_mixture_identical_across_processes(tmp_path):
    one = write_dataset(tmp_path / "a.h5", 4, seed=8, processes=1, chunk_size=4)
    two = write_dataset(tmp_path / "b.h5", 4, seed=8, processes=2, chunk_size=1)
    assert _contents(one) == _contents(two)


def test_settings_of_an_earlier_version_are_read_with_a_warning():
    from astropy.utils.exceptions import AstropyUserWarning

    old = {"mag_limit": 21.5, "moffat_beta": 3.5}
    with pytest.warns(AstropyUserWarning, match="earlier version"):
        config = SimulationConfig.from_dict(old)
    assert config.moffat_beta_range == (3.5, 3.5)
    assert config.variants == TRAINING_VARIANTS


def test_cli_processes_default_uses_every_core(tmp_path, monkeypatch):
    from minuet.cli import build_parser
    from minuet.simulate import _cli

    args = build_parser().parse_args(["simulate", "2", str(tmp_path / "x.h5")])
    assert args.processes is None  # resolved when the command runs, not when the help is built
    seen = {}

    def fake_write(path, n, *, processes, **kwargs):
        seen["processes"] = processes
        return path

    monkeypatch.setattr(_cli, "_default_processes", lambda: 3)
    monkeypatch.setattr("minuet.simulate.dataset.write_dataset", fake_write)
    assert main(["simulate", "2", str(tmp_path / "x.h5"), "--quiet"]) == 0
    assert seen["processes"] == 3
