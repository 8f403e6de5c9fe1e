"""Saving over things that are not models, and loading directories that lie."""

import json
import os

import numpy as np
import pytest
import torch

from minuet import Minuet
from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    return Minuet(DiffusionAutoencoder(config), name="tiny")


@pytest.fixture
def saved(model, tmp_path):
    return model.save(tmp_path / "model")


def _edit_manifest(path, change):
    manifest_path = path / "minuet.json"
    manifest = json.loads(manifest_path.read_text())
    change(manifest)
    manifest_path.write_text(json.dumps(manifest))


def test_save_dot_with_overwrite_keeps_the_working_directory(model, tmp_path, monkeypatch):
    (tmp_path / "thesis.tex").write_text("years of work")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileExistsError, match="is a directory but not a minuet model"):
        model.save(".", overwrite=True)
    assert (tmp_path / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_save_over_a_data_directory_refuses_and_keeps_it(model, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "catalogue.fits").write_bytes(b"precious")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="not a minuet model"):
            model.save(data, overwrite=overwrite)
    assert (data / "catalogue.fits").read_bytes() == b"precious"


def test_save_over_a_file_refuses(model, tmp_path):
    target = tmp_path / "model"
    target.write_text("a file")
    with pytest.raises(FileExistsError, match="is not a directory"):
        model.save(target, overwrite=True)
    assert target.read_text() == "a file"


def test_save_into_an_empty_directory_needs_no_overwrite(model, tmp_path):
    (tmp_path / "empty").mkdir()
    path = model.save(tmp_path / "empty")
    assert (path / "minuet.json").is_file()


def test_overwrite_replaces_a_model_directory_whole(model, saved):
    (saved / "stale.txt").write_text("left over")
    with pytest.raises(FileExistsError, match="holds a minuet model; pass overwrite=True"):
        model.save(saved)
    model.save(saved, overwrite=True)
    assert not (saved / "stale.txt").exists()
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(".")]
    assert Minuet.load(saved).sha256 == model.sha256


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "sub/../../outside.bin", ""],
    ids=["dotdot", "absolute", "nested-dotdot", "empty"],
)
def test_manifest_files_outside_the_directory_are_refused(saved, name):
    _edit_manifest(saved, lambda m: m["files"].update({name: "0" * 64}))
    with pytest.raises(ValueError, match="which lies outside the model directory"):
        Minuet.load(saved)


def test_a_symbolic_link_out_of_the_directory_is_refused(saved, tmp_path):
    outside = tmp_path / "outside.npz"
    outside.write_bytes(b"x")
    os.symlink(outside, saved / "anomaly.npz")
    _edit_manifest(saved, lambda m: m["files"].update({"anomaly.npz": "0" * 64}))
    with pytest.raises(ValueError, match="lies outside the model directory"):
        Minuet.load(saved)


def test_a_head_outside_the_directory_is_refused(saved):
    _edit_manifest(saved, lambda m: m["heads"].update({"anomaly": "../anomaly.npz"}))
    with pytest.raises(ValueError, match="lies outside the model directory"):
        Minuet.load(saved)


def test_a_head_without_a_hash_is_refused(saved):
    (saved / "anomaly.npz").write_bytes(b"not hashed")
    _edit_manifest(saved, lambda m: m["heads"].update({"anomaly": "anomaly.npz"}))
    with pytest.raises(ValueError, match=r"lists no SHA-256 for \['anomaly.npz'\]"):
        Minuet.load(saved)


@pytest.mark.parametrize("key", ["name", "stretch", "files"])
def test_missing_manifest_keys_say_what_is_missing(saved, key):
    _edit_manifest(saved, lambda m: m.pop(key))
    with pytest.raises(ValueError, match=f"has no valid '{key}' entry"):
        Minuet.load(saved)


def test_a_broken_stretch_entry_is_named(saved):
    _edit_manifest(saved, lambda m: m.update({"stretch": {"scale": 1.0}}))
    with pytest.raises(ValueError, match="has an invalid 'stretch' entry"):
        Minuet.load(saved)


def test_a_manifest_that_is_a_list_is_refused(saved):
    (saved / "minuet.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a minuet model manifest"):
        Minuet.load(saved)


def test_an_edited_stretch_changes_the_recorded_manifest_digest(model, saved):
    original = Minuet.load(saved)
    _edit_manifest(saved, lambda m: m["stretch"].update({"scale": 2 * m["stretch"]["scale"]}))
    edited = Minuet.load(saved)
    assert edited.sha256 == original.sha256  # the weights are untouched ...
    before = original.encode(np.full((1, 3, 24, 24), 0.5))
    after = edited.encode(np.full((1, 3, 24, 24), 0.5))
    # ... but the outputs' record shows the change
    assert before.meta["manifest_sha256"] != after.meta["manifest_sha256"]
    assert before.meta["manifest_sha256"] == model.manifest_sha256


def test_a_loaded_model_records_its_manifest_digest(saved):
    from minuet.models import sha256

    loaded = Minuet.load(saved)
    assert loaded.provenance()["manifest_sha256"] == sha256(saved / "minuet.json")
