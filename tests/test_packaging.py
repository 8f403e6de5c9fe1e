"""The wheel carries every data file the package reads: the bundled models above all.

A wheel built with build isolation finds the data files through
setuptools_scm's file finder (every file git tracks); one built without it
(``pip wheel --no-build-isolation``, as distribution packagers build) has
only the ``package-data`` globs of ``pyproject.toml``. These tests hold the
globs to the files that are there.
"""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minuet"


def data_files():
    """Every file under ``minuet/`` that is not Python source or bytecode, relative to ROOT."""
    return sorted(path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*")
                  if path.is_file() and path.suffix not in (".py", ".pyc")
                  and "__pycache__" not in path.parts)


def globbed(pyproject):
    """The files that the ``package-data`` globs of ``pyproject`` select, relative to ROOT."""
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    selected = set()
    for package, globs in patterns.items():
        folder = ROOT.joinpath(*package.split("."))
        for pattern in globs:
            selected.update(path.relative_to(ROOT).as_posix() for path in folder.glob(pattern)
                            if path.is_file())
    return selected


@pytest.mark.skipif(not (ROOT / "pyproject.toml").exists(), reason="needs a source checkout")
def test_package_data_globs_select_every_data_file():
    files = data_files()
    assert any(name.endswith("minuet-sim-2/autoencoder.safetensors") for name in files)
    missing = sorted(set(files) - globbed(ROOT / "pyproject.toml"))
    assert not missing, f"add globs for these files to [tool.setuptools.package-data]: {missing}"


def test_globs_check_would_catch_a_missing_folder(tmp_path):
    # the check itself: globs without the model folders leave their files out
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.setuptools.package-data]\n"minuet.data" = ["*.json"]\n')
    missing = set(data_files()) - globbed(pyproject)
    assert any("minuet-sim-2/" in name for name in missing)


@pytest.mark.slow
def test_wheel_without_build_isolation_holds_the_bundles(tmp_path):
    pytest.importorskip("setuptools")
    # built from a copy, so that the build leaves nothing in the checkout
    source = tmp_path / "source"
    shutil.copytree(ROOT / "minuet", source / "minuet",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "licenses", source / "licenses")
    for name in ("pyproject.toml", "README.rst"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(tmp_path), str(source)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("minuet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in data_files():
        assert name in names, f"{name} is missing from the wheel"
