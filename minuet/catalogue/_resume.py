"""What makes a resumed catalogue run trustworthy: input stamps and checked part files.

A run may only reuse a finished part when four things hold: the inputs are
the files the part was made from (same size, modification time and first
mebibyte), the part was written by a run with the same plan, inputs, options
and model (it records that run's fingerprint), its columns match the SHA-256
it records (parts written before parts carried one are checked without it),
and it holds exactly the rows of its own unit. A part that fails any check is
redone, with a warning that says why; a changed input stops the run before
anything is mixed.
"""

import hashlib
import json
import warnings
import zipfile

import numpy as np
from astropy.utils.exceptions import AstropyUserWarning

from .._weights import tensors_sha256

__all__ = ["ResumeWarning"]

_HEAD_BYTES = 1 << 20
_PART_KEYS = ("source_index", "row", "latents", "valid", "flag", "masked_fraction")


class ResumeWarning(AstropyUserWarning):
    """A resumed run found a damaged part file or manifest and redid that work.

    Examples
    --------
    >>> from astropy.utils.exceptions import AstropyUserWarning
    >>> from minuet.catalogue import ResumeWarning
    >>> issubclass(ResumeWarning, AstropyUserWarning)
    True
    """


def input_stamps(sources):
    """Size, modification time and SHA-256 of the first MiB of each input file."""
    stamps = []
    for path in sources:
        stat = path.stat()
        with open(path, "rb") as handle:
            head = hashlib.sha256(handle.read(_HEAD_BYTES)).hexdigest()
        stamps.append({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head})
    return stamps


def fingerprint(manifest):
    """SHA-256 of a run's manifest: the identity its part files record."""
    text = json.dumps(manifest, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(path):
    """The manifest of an unfinished run, or None (with a warning) when it is damaged."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        manifest = exc
    if isinstance(manifest, dict):
        return manifest
    why = manifest if isinstance(manifest, Exception) else "not a JSON object"
    warnings.warn(
        f"the manifest {path} of an unfinished run is damaged ({why}); it is written anew "
        "and each finished part is checked against the current run before it is reused.",
        ResumeWarning,
        stacklevel=4,
    )
    return None


def why_different(previous, current):
    """Say in words why an unfinished run's manifest does not match this run."""
    if previous.get("sources") == current["sources"] and previous.get("inputs") != current[
        "inputs"
    ]:
        before = previous.get("inputs") or [{}] * len(current["sources"])
        changed = [
            path for path, old, new in zip(current["sources"], before, current["inputs"],
                                           strict=False)
            if old != new
        ]
        return (
            f"the input file(s) {changed} changed (size, modification time or content) since "
            "the unfinished run began, so its finished parts describe other cutouts"
        )
    before, now = previous.get("model"), current.get("model")
    if isinstance(before, dict) and isinstance(now, dict) and before != now:
        keys = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if keys and not {"name", "sha256"} & set(keys):
            return f"it used another model setting ({', '.join(keys)})"
    for key, words in (("sources", "other input files"), ("plan", "another chunk size"),
                       ("dataset", "another dataset"), ("model", "another model"),
                       ("options", "other cutout options")):
        if previous.get(key) != current.get(key):
            return f"it used {words}"
    return "its manifest differs from this run's"


def _expected_rows(unit):
    """(source index per row, row within source) of a unit of the plan."""
    if unit["kind"] == "hdf5":
        n = unit["stop"] - unit["start"]
        return np.full(n, unit["source"]), np.arange(unit["start"], unit["stop"])
    sources = np.asarray(unit["sources"])
    return sources, np.zeros(len(sources), dtype=int)


def part_problem(path, k, unit, run):
    """Return why the part file of unit ``k`` cannot be reused, or None when it can."""
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            columns = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        return f"it cannot be read ({type(exc).__name__}: {exc}); it is truncated or corrupt"
    missing = [key for key in (*_PART_KEYS, "run", "unit") if key not in columns]
    if missing:
        return f"it lacks the columns {missing}"
    recorded = columns.pop("sha256", None)
    if str(columns["run"]) != run:
        return "it was written by another run (other inputs, options or model)"
    if int(columns["unit"]) != k:
        return f"it holds unit {int(columns['unit'])}, not unit {k} (a copied part)"
    if recorded is not None and str(recorded) != tensors_sha256(columns):
        return "its columns do not match the SHA-256 it records; it was altered"
    source_index, row = _expected_rows(unit)
    if len(columns["row"]) != len(row) or not (
        np.array_equal(columns["row"], row) and np.array_equal(columns["source_index"],
                                                               source_index)
    ):
        return "its rows are not those of its unit"
    lengths = {len(columns[key]) for key in _PART_KEYS}
    if lengths != {len(row)}:
        return "its columns have different lengths"
    return None


def check_parts(parts_dir, plan, run, part_path):
    """Delete every finished part that cannot be reused, warning why; return the units to do."""
    todo = []
    for k, unit in enumerate(plan):
        path = part_path(parts_dir, k)
        if not path.exists():
            todo.append(k)
            continue
        problem = part_problem(path, k, unit, run)
        if problem is not None:
            warnings.warn(
                f"part file {path} is not reused: {problem}. Its unit is encoded again.",
                ResumeWarning,
                stacklevel=3,
            )
            path.unlink()
            todo.append(k)
    return todo
