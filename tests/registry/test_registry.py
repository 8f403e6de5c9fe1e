import gc
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from astropy.utils.data import conf as data_conf
from astropy.utils.data import is_url_in_cache

from minuet import Minuet
from minuet.cli import main
from minuet.registry import conf, download_model, list_models, pack_model, registered_models


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """minuet's astropy cache in a temporary folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg" / "minuet").mkdir(parents=True)
    return tmp_path / "xdg" / "minuet"


@pytest.fixture
def server():
    """A loopback file server: ``files`` maps paths to bytes; yields (base URL, state)."""
    state = {"files": {}, "requests": [], "delay": 0.0, "release": threading.Event()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["requests"].append(self.path)
            if state["delay"]:  # answer nothing until the test ends
                state["release"].wait(state["delay"])
                return
            body = state["files"].get(self.path)
            if body is None:
                self.send_error(404, "not here")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    state["release"].set()
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def packed(saved_tiny_model, tmp_path):
    """The saved tiny model as a zip archive: (bytes, entry without url)."""
    archive = tmp_path / "tiny.zip"
    entry = pack_model(saved_tiny_model.path, archive, url="", licence="CC-BY-4.0",
                       description="an untrained tiny model")
    return archive.read_bytes(), entry


def write_registry(tmp_path, models):
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"format": "minuet-registry-1", "models": models}))
    return path


@pytest.fixture
def registry(tmp_path):
    """Point conf.extra_registry at a registry file of the given entries."""
    stack = []

    def use(models):
        context = conf.set_temp("extra_registry", str(write_registry(tmp_path, models)))
        context.__enter__()
        stack.append(context)

    yield use
    for context in stack:
        context.__exit__(None, None, None)


def test_download_verify_cache(cache, server, packed, registry, saved_tiny_model, capsys):
    base, state = server
    body, entry = packed
    state["files"]["/models/tiny.zip"] = body
    registry({"tiny-remote": {**entry, "url": f"{base}/models/tiny.zip"}})

    row = list_models()[-1]
    assert (row["name"], row["source"], row["status"]) == ("tiny-remote", "registered",
                                                           "not downloaded")
    model = Minuet.pretrained("tiny-remote")
    assert model.sha256 == saved_tiny_model.sha256
    assert model.path.is_relative_to(cache)
    assert state["requests"] == ["/models/tiny.zip"]

    # downloaded once: the second load uses the cache, even with the server gone
    state["files"].clear()
    again = Minuet.pretrained("tiny-remote")
    assert again.sha256 == model.sha256
    assert state["requests"] == ["/models/tiny.zip"]
    assert list_models()[-1]["status"] == "cached"

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "minuet-sim" in out
    assert "tiny-remote" in out
    assert "CC-BY-4.0" in out


def test_corrupted_download_is_refused_and_removed(cache, server, packed, registry, tmp_path,
                                                   saved_tiny_model):
    from minuet.models import sha256

    base, state = server
    good, good_entry = packed
    # a second archive of the same model, stored uncompressed: another file, another SHA-256
    archive = tmp_path / "stored.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(saved_tiny_model.path.iterdir()):
            zipped.write(file, file.name)
    body = archive.read_bytes()
    entry = {**good_entry, "sha256": sha256(archive), "size": len(body)}
    good_url, bad_url = f"{base}/good.zip", f"{base}/bad.zip"
    damaged = bytearray(body)
    damaged[len(body) // 2] ^= 0xFF
    state["files"].update({"/good.zip": good, "/bad.zip": bytes(damaged)})
    registry({"good": {**good_entry, "url": good_url}, "bad": {**entry, "url": bad_url}})

    download_model("good")
    with pytest.raises(ValueError, match="does not match the registry") as info:
        Minuet.pretrained("bad")
    assert entry["sha256"] in str(info.value)
    assert "removed from the cache" in str(info.value)
    # only the damaged file left the cache
    assert not is_url_in_cache(bad_url, pkgname="minuet")
    assert is_url_in_cache(good_url, pkgname="minuet")

    # a truncated file (right prefix, wrong size) is refused in the same way
    state["files"]["/bad.zip"] = body[:-10]
    with pytest.raises(ValueError, match=f"{len(body) - 10} bytes"):
        download_model("bad")
    assert not is_url_in_cache(bad_url, pkgname="minuet")


def test_offline_is_a_clear_error(cache, server, packed, registry):
    base, _ = server
    _, entry = packed
    registry({"tiny-remote": {**entry, "url": f"{base}/models/tiny.zip"}})
    with data_conf.set_temp("allow_internet", False), \
            pytest.raises(ConnectionError, match="cannot download the registered model"):
        Minuet.pretrained("tiny-remote")
    with pytest.raises(ConnectionError, match="404"):  # the server does not have it
        download_model("tiny-remote")


# urllib leaves the socket of a timed-out request to the garbage collector
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_timeout(cache, server, packed, registry):
    base, state = server
    body, entry = packed
    state["files"]["/slow.zip"] = body
    state["delay"] = 10.0
    registry({"slow": {**entry, "url": f"{base}/slow.zip"}})
    with conf.set_temp("timeout", 0.2), pytest.raises(ConnectionError, match="timed out"):
        download_model("slow")
    gc.collect()  # collect that socket here, where its warning is ignored, not in a later test


def test_mirror_is_tried_first(cache, server, packed, registry):
    base, state = server
    body, entry = packed
    state["files"]["/mirror/tiny.zip"] = body
    url = f"{base}/original/tiny.zip"  # not served: only the mirror has it
    registry({"tiny-remote": {**entry, "url": url}})
    with conf.set_temp("mirror", f"{base}/mirror/"):
        path = download_model("tiny-remote")
    assert (path / "minuet.json").is_file()
    assert state["requests"] == ["/mirror/tiny.zip"]
    assert is_url_in_cache(url, pkgname="minuet")  # cached under its own address


def test_damaged_unpacked_copy_is_unpacked_again(cache, server, packed, registry):
    base, state = server
    body, entry = packed
    state["files"]["/tiny.zip"] = body
    registry({"tiny-remote": {**entry, "url": f"{base}/tiny.zip"}})
    path = download_model("tiny-remote")
    weights = path / "autoencoder.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    again = download_model("tiny-remote")
    assert again == path
    assert Minuet.load(again).sha256 == entry_sha(again)
    assert state["requests"] == ["/tiny.zip"]  # from the cached archive, no new download


def entry_sha(path):
    return json.loads((path / "autoencoder.json").read_text())["sha256"]


def test_unsafe_archive_is_refused(cache, server, registry, tmp_path):
    from minuet.models import sha256

    base, state = server
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("minuet.json", "{}")
        zipped.writestr("../outside.txt", "x")
    state["files"]["/evil.zip"] = archive.read_bytes()
    registry({"evil": {"url": f"{base}/evil.zip", "sha256": sha256(archive),
                       "size": archive.stat().st_size, "licence": "none"}})
    with pytest.raises(ValueError, match="not a flat model directory"):
        download_model("evil")
    assert not (cache / "outside.txt").exists()
    assert not list((cache / "models").glob("*/minuet.json"))


def test_unknown_name_lists_both_kinds(registry, packed):
    _, entry = packed
    registry({"tiny-remote": {**entry, "url": "http://127.0.0.1:9/x.zip"}})
    with pytest.raises(ValueError, match=r"bundled models are \['minuet-sim', 'minuet-sim-2'\] "
                                         r"and the registered ones \['tiny-remote'\]"):
        Minuet.pretrained("nope")


@pytest.mark.parametrize(("models", "match"), [
    ({"x": {"url": "u", "size": 1, "licence": "l"}}, r"lacks \['sha256'\]"),
    ({"x": {"url": "u", "size": 1, "licence": "l", "sha256": "abc"}}, "64 lower-case"),
    ({"x": {"url": "u", "size": 0, "licence": "l", "sha256": "0" * 64}}, "positive number"),
    ([], "must map names"),
])
def test_bad_registry_entries(registry, models, match):
    registry(models)
    with pytest.raises(ValueError, match=match):
        registered_models()


def test_bad_registry_files(tmp_path):
    path = tmp_path / "registry.json"
    path.write_text("{not json")
    with conf.set_temp("extra_registry", str(path)), pytest.raises(ValueError,
                                                                   match="not valid JSON"):
        registered_models()
    path.write_text(json.dumps({"format": "other"}))
    with conf.set_temp("extra_registry", str(path)), pytest.raises(ValueError,
                                                                   match="not a minuet model"):
        registered_models()
    with conf.set_temp("extra_registry", str(tmp_path / "missing.json")), \
            pytest.raises(FileNotFoundError, match="does not exist"):
        registered_models()


def test_shipped_registry_is_valid():
    for entry in registered_models().values():
        assert entry["url"].startswith("https://")


def test_pack_model_refuses(saved_tiny_model, tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="exists"):
        pack_model(saved_tiny_model.path, archive, url="u", licence="l")
    assert archive.read_bytes() == b"mine"
    with pytest.raises(FileNotFoundError, match=r"minuet\.json is missing"):
        pack_model(tmp_path, tmp_path / "b.zip", url="u", licence="l")


def test_cli_download(cache, server, packed, registry, capsys):
    base, state = server
    body, entry = packed
    state["files"]["/tiny.zip"] = body
    registry({"tiny-remote": {**entry, "url": f"{base}/tiny.zip"}})
    assert main(["models", "--download", "tiny-remote"]) == 0
    assert "tiny-remote: verified, in" in capsys.readouterr().out
    assert main(["models", "--download", "nope"]) == 2
    assert "no model named 'nope'" in capsys.readouterr().err


def test_the_superseded_model_loads_with_a_deprecation_warning():
    from astropy.utils.exceptions import AstropyDeprecationWarning

    from minuet._vocabulary import DEFAULT_MODEL, SUPERSEDED

    assert Minuet.pretrained().name == DEFAULT_MODEL
    for old, new in SUPERSEDED.items():
        with pytest.warns(AstropyDeprecationWarning, match=f"superseded by '{new}'"):
            model = Minuet.pretrained(old)
        assert model.name == old
        assert new in Minuet.available()
