"""Fetch the wheels that the GPU machine lacks, small enough to travel with the code.

The GPU image has PyTorch, NumPy, SciPy, h5py, matplotlib, scikit-learn,
safetensors and tqdm, but not astropy, photutils, zuko or the simulator's
galsim and speclite. This downloads them for that machine's Python (CPython
3.12, x86-64 Linux) into ``.whl/`` and shrinks GalSim's wheel from about 56 MB
to a few: its compiled module carries debugging information (about 195 of its
199 MB), removed with ``strip --strip-debug``, and the data of other
telescopes (LSST sensors, Roman) is dropped. Run it once, where there is
network access::

    python benchmarks/gpu/pack_wheels.py          # writes .whl/, prints the sizes
"""

import argparse
import base64
import csv
import hashlib
import io
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Requirements with the versions seen to work together; astropy 8 needs Python >= 3.11.
WHEELS = (
    "astropy==8.0.2",
    "astropy-iers-data",
    "pyerfa",
    "photutils==3.1.1",
    "zuko==1.6.0",
    "galsim==2.8.5",
    "LSSTDESC.Coord",
    "speclite==1.0.0",
)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
#: Folders of GalSim's data that minuet never reads.
GALSIM_UNUSED = ("galsim/share/sensors/", "galsim/share/roman/", "galsim/include/")


def _record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def slim_galsim(wheel):
    """Rewrite GalSim's wheel without debugging symbols and unused data; return its path."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as source:
        files = {}
        for info in source.infolist():
            name = info.filename
            if name.startswith(GALSIM_UNUSED) or name.endswith("/RECORD"):
                continue
            data = source.read(name)
            if name.endswith(".so") and name.startswith("galsim/_galsim"):
                so = Path(tmp) / "module.so"
                so.write_bytes(data)
                subprocess.run(["strip", "--strip-debug", str(so)], check=True)
                data = so.read_bytes()
            files[name] = (info, data)
        record = next(n for n in source.namelist() if n.endswith(".dist-info/RECORD"))
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name, (_, data) in files.items():
        writer.writerow([name, _record_hash(data), len(data)])
    writer.writerow([record, "", ""])
    slim = wheel.with_suffix(".slim")
    with zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info, data in files.values():
            out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
        out.writestr(record, rows.getvalue())
    slim.replace(wheel)
    return wheel


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", type=Path, default=ROOT / ".whl")
    parser.add_argument("--python-version", default="3.12")
    args = parser.parse_args(argv)
    if shutil.which("strip") is None:
        msg = "pack_wheels needs the 'strip' tool of binutils to shrink GalSim's module."
        raise SystemExit(msg)
    args.dest.mkdir(parents=True, exist_ok=True)
    platforms = [flag for p in PLATFORMS for flag in ("--platform", p)]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:", "--python-version", args.python_version,
         "--implementation", "cp", *platforms, "--dest", str(args.dest), *WHEELS],
        check=True,
    )
    for wheel in args.dest.glob("galsim-*.whl"):
        slim_galsim(wheel)
    total = 0
    for wheel in sorted(args.dest.glob("*.whl")):
        size = wheel.stat().st_size
        total += size
        print(f"{size / 1e6:7.2f} MB  {wheel.name}")
    print(f"{total / 1e6:7.2f} MB  in all, in {args.dest}")


if __name__ == "__main__":
    main()
