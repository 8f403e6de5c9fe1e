"""The model registry: names, download, verification and unpacking."""

import json
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import zipfile
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from astropy import config as _config
from astropy.table import Table

__all__ = ["conf", "download_model", "list_models", "pack_model", "registered_models"]

_FORMAT = "minuet-registry-1"
_MANIFEST = "minuet.json"
_PKGNAME = "minuet"
_FIELDS = ("url", "sha256", "size", "licence")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MEMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Conf(_config.ConfigNamespace):
    """Configuration of `minuet.registry`."""

    mirror = _config.ConfigItem(
        "",
        "Base URL of a mirror of the registered archives; when set, each archive is "
        "requested from <mirror>/<file name> first and from its own URL after.",
    )
    timeout = _config.ConfigItem(120.0, "Seconds to wait for the server during a download.")
    extra_registry = _config.ConfigItem(
        "",
        "Path of a JSON registry file of further models, in the format of the one "
        "shipped with the package; its entries are read after the shipped ones.",
    )


conf = Conf()


def _shipped_registry():
    return resources.files("minuet.data") / "registry.json"


def _read_registry(source):
    """Return the ``models`` of one registry file, each entry checked."""
    try:
        content = json.loads(source.read_text())
    except FileNotFoundError:
        msg = f"the model registry {source} does not exist; check minuet.registry.conf."
        raise FileNotFoundError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"the model registry {source} is not valid JSON ({exc}); repair or replace it."
        raise ValueError(msg) from None
    if not isinstance(content, dict) or content.get("format") != _FORMAT:
        msg = f"{source} is not a minuet model registry (expected format {_FORMAT!r})."
        raise ValueError(msg)
    models = content.get("models", {})
    if not isinstance(models, dict):
        msg = f"the 'models' of the registry {source} must map names to entries."
        raise ValueError(msg)
    for name, entry in models.items():
        missing = [field for field in _FIELDS if field not in entry]
        if missing:
            msg = (
                f"registry {source}: model {name!r} lacks {missing}; every entry needs "
                f"{list(_FIELDS)}."
            )
            raise ValueError(msg)
        if not _SHA256.match(str(entry["sha256"])):
            msg = (
                f"registry {source}: the sha256 of model {name!r} must be 64 lower-case "
                f"hexadecimal digits; got {entry['sha256']!r}."
            )
            raise ValueError(msg)
        if not isinstance(entry["size"], int) or entry["size"] <= 0:
            msg = (
                f"registry {source}: the size of model {name!r} must be a positive number of "
                f"bytes; got {entry['size']!r}."
            )
            raise ValueError(msg)
    return models


def registered_models():
    """The models of the registry, by name.

    Returns
    -------
    models : dict
        Name to entry: ``url``, ``sha256``, ``size`` (bytes), ``licence`` and,
        where given, ``description``. Entries of ``conf.extra_registry``
        replace shipped entries of the same name.

    Examples
    --------
    >>> from minuet.registry import registered_models
    >>> isinstance(registered_models(), dict)
    True
    """
    models = dict(_read_registry(_shipped_registry()))
    if conf.extra_registry:
        models.update(_read_registry(Path(conf.extra_registry)))
    return models


def _cache_dir():
    from astropy.config.paths import get_cache_dir_path

    return Path(get_cache_dir_path(_PKGNAME)) / "models"


def _unpacked_dir(entry):
    return _cache_dir() / entry["sha256"]


def _is_cached(entry):
    from astropy.utils.data import is_url_in_cache

    return _unpacked_dir(entry).is_dir() or is_url_in_cache(
        entry["url"], pkgname=_PKGNAME, on_missing="ignore"
    )


def _sources(url):
    if not conf.mirror:
        return [url]
    name = Path(urlparse(url).path).name
    return [f"{conf.mirror.rstrip('/')}/{name}", url]


def _download(name, entry, progress):
    from astropy.utils.data import clear_download_cache, download_file

    from .._weights import sha256

    sources = _sources(entry["url"])
    reasons = []
    archive = None
    for source in sources:  # one at a time, so that every failed response is closed here
        try:
            archive = Path(
                download_file(entry["url"], cache=True, timeout=conf.timeout, sources=[source],
                              pkgname=_PKGNAME, show_progress=progress)
            )
            break
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reasons.append(f"{source}: {_reason(exc)}")
            _close(exc)
    if archive is None:
        msg = (
            f"cannot download the registered model {name!r} ({'; '.join(reasons)}). It is "
            "fetched once and then kept in the cache: connect to the network and try again, "
            "set minuet.registry.conf.mirror to a reachable copy, or unpack the archive "
            "yourself and use Minuet.load(directory)."
        )
        raise ConnectionError(msg)
    size = archive.stat().st_size
    digest = sha256(archive)
    if size != entry["size"] or digest != entry["sha256"]:
        clear_download_cache(entry["url"], pkgname=_PKGNAME, on_missing="ignore")
        msg = (
            f"the archive downloaded for model {name!r} ({size} bytes, SHA-256 {digest}) "
            f"does not match the registry ({entry['size']} bytes, SHA-256 "
            f"{entry['sha256']}); the damaged copy was removed from the cache. Try again; "
            "if the same happens, the server or mirror holds a different file."
        )
        raise ValueError(msg)
    return archive


def _reason(exc):
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    return str(getattr(exc, "reason", exc))


def _close(exc):
    """Close the response an HTTP error holds, and those of the errors it was raised from."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()
        exc = exc.__cause__ or exc.__context__


def _unpack(name, archive, target):
    """Unpack a verified archive into ``target``, atomically; only plain file names."""
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        bad = [m.filename for m in members if m.is_dir() or not _MEMBER.match(m.filename)]
        names = {m.filename for m in members}
        if bad or _MANIFEST not in names:
            msg = (
                f"the archive of model {name!r} is not a flat model directory "
                f"(unexpected entries {bad}, {_MANIFEST} present: {_MANIFEST in names}); "
                "it cannot be used."
            )
            raise ValueError(msg)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for member in members:
                with zipped.open(member) as src, open(tmp / member.filename, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (target / _MANIFEST).is_file():  # not another process's finished copy
                raise
    return target


def _intact(directory):
    """Whether an unpacked model directory still matches its manifest."""
    from .._bundle import verify_files

    try:
        manifest = json.loads((directory / _MANIFEST).read_text())
        verify_files(directory, manifest)
    except (OSError, ValueError):
        return False
    return True


def download_model(name, *, progress=None):
    """Return the directory of a registered model, downloading it the first time.

    The archive is fetched through `astropy.utils.data.download_file` into
    minuet's astropy cache (from ``conf.mirror`` first where one is set),
    checked against the size and SHA-256 of the registry before anything is
    read, and unpacked beside the cache. Later calls use the cached copy
    without the network, checking it again.

    Parameters
    ----------
    name : str
        A name of :func:`registered_models`.
    progress : bool, optional
        Show astropy's download progress bar; default only on a terminal.

    Returns
    -------
    path : `~pathlib.Path`
        A model directory for `~minuet.Minuet.load`.

    Raises
    ------
    ValueError
        If no model has that name, or the downloaded archive does not match
        the registry (the cached archive is then removed).
    ConnectionError
        If the archive is not cached and cannot be downloaded.

    Examples
    --------
    An unknown name says which names exist:

    >>> from minuet.registry import download_model
    >>> download_model("no-such-model")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: no model named 'no-such-model'; the bundled models are ['minuet-sim', ...] ...
    """
    models = registered_models()
    if name not in models:
        from .._bundle import bundled_models

        msg = (
            f"no model named {name!r}; the bundled models are {bundled_models()} and the "
            f"registered ones {sorted(models)}. Load your own with Minuet.load(directory)."
        )
        raise ValueError(msg)
    entry = models[name]
    target = _unpacked_dir(entry)
    if target.is_dir():
        if _intact(target):
            return target
        shutil.rmtree(target)  # our own unpacked copy, damaged: unpack it again
    progress = sys.stdout.isatty() if progress is None else bool(progress)
    archive = _download(name, entry, progress)
    return _unpack(name, archive, target)


def pack_model(directory, archive, *, url, licence, description=""):
    """Pack a saved model directory into a zip archive and return its registry entry.

    Parameters
    ----------
    directory : str or path-like
        A directory written by `~minuet.Minuet.save`.
    archive : str or path-like
        The zip file to write; it must not exist.
    url : str
        Where the archive will be served from.
    licence : str
        Licence of the weights, for example an SPDX identifier.
    description : str, optional
        One line for ``minuet models``.

    Returns
    -------
    entry : dict
        ``url``, ``sha256``, ``size``, ``licence`` and ``description``: the
        value to list under the model's name in a registry file.

    Examples
    --------
    >>> import tempfile
    >>> from minuet import Minuet
    >>> from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig
    >>> from minuet.registry import pack_model
    >>> config = DiffusionAutoencoderConfig.preset("tiny", image_size=24)
    >>> model = Minuet(DiffusionAutoencoder(config), name="untrained-tiny")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = model.save(f"{tmp}/tiny")
    ...     entry = pack_model(path, f"{tmp}/tiny.zip", url="https://example.org/tiny.zip",
    ...                        licence="CC-BY-4.0")
    >>> sorted(entry), entry["size"] > 0
    (['description', 'licence', 'sha256', 'size', 'url'], True)
    """
    from .._weights import sha256

    directory, archive = Path(directory), Path(archive)
    if not (directory / _MANIFEST).is_file():
        msg = f"{directory} is not a saved minuet model: {_MANIFEST} is missing."
        raise FileNotFoundError(msg)
    if archive.exists():
        msg = f"{archive} exists; choose another name or remove it first."
        raise FileExistsError(msg)
    files = sorted(entry for entry in directory.iterdir() if entry.is_file())
    with zipfile.ZipFile(archive, "x", compression=zipfile.ZIP_DEFLATED) as zipped:
        for file in files:
            zipped.write(file, file.name)
    return {
        "url": url,
        "sha256": sha256(archive),
        "size": archive.stat().st_size,
        "licence": licence,
        "description": description,
    }


def _directory_size(root):
    return sum(entry.stat().st_size for entry in Path(root).iterdir() if entry.is_file())


def list_models():
    """The bundled and registered models, one row each.

    Returns
    -------
    table : `~astropy.table.Table`
        Columns ``name``, ``source`` (``bundled`` or ``registered``),
        ``size_mb``, ``licence``, ``status`` (``installed``, ``cached`` or
        ``not downloaded``) and ``description``.

    Examples
    --------
    >>> from minuet.registry import list_models
    >>> table = list_models()
    >>> row = table[list(table["name"]).index("minuet-sim-2")]
    >>> str(row["source"]), str(row["status"])
    ('bundled', 'installed')
    """
    from .._bundle import bundled_models

    rows = []
    for name in bundled_models():
        with resources.as_file(resources.files("minuet.data") / name) as path:
            manifest = json.loads((path / _MANIFEST).read_text())
            size = _directory_size(path)
        info = manifest.get("info", {})
        rows.append((name, "bundled", size, info.get("licence", "BSD-3-Clause"), "installed",
                     info.get("summary", "")))
    for name, entry in sorted(registered_models().items()):
        status = "cached" if _is_cached(entry) else "not downloaded"
        rows.append((name, "registered", entry["size"], entry["licence"], status,
                     entry.get("description", "")))
    names = ("name", "source", "size_mb", "licence", "status", "description")
    table = Table(rows=rows or None, names=names,
                  dtype=(str, "U10", float, str, "U14", str))
    table["size_mb"] = (table["size_mb"] / 1e6).round(1)
    return table
