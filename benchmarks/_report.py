"""Shared helpers of the benchmark scripts: provenance, reStructuredText tables, results files.

Every benchmark script takes ``--output-dir`` (:func:`add_output_dir`, default
``docs/validation/generated``, where the documentation includes them from)
and writes its results there, with :func:`write_results` for a record and its
page or :func:`output_folder` for other files.
"""

import json
import os
import platform
import resource
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where benchmark results are written for the documentation to include.
GENERATED = ROOT / "docs" / "validation" / "generated"
#: Where the benchmarks keep simulated sets and trained weights (ignored by git).
RUNS = ROOT / "runs"


def peak_rss_mib():
    """Peak resident memory of this process image, in MiB.

    Linux's ``VmHWM``: ``getrusage``'s ``ru_maxrss`` also counts the parent's
    memory at the time of the ``fork`` that made this process (it carries over
    ``exec``), so a child started by a big parent would report the parent's size.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def provenance():
    """Machine, core count and date of a measurement."""
    return {"machine": f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()})",
            "date": time.strftime("%Y-%m-%d")}


def simulator_fingerprint(config_json=None):
    """SHA-256 of simulator settings, so results drawn from different simulators are never
    compared as if they were one.

    ``config_json`` is a configuration's JSON (as a simulated file stores it);
    by default the default simulator's.
    """
    import hashlib

    if config_json is None:
        from minuet.simulate import SimulationConfig

        config_json = SimulationConfig().to_json()
    return hashlib.sha256(config_json.encode()).hexdigest()


def rst_table(header, body):
    """Lines of a simple reStructuredText table."""
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(row):
        return "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    return [rule, line(header), rule, *[line(row) for row in body], rule]


def command_line(script, argv=None):
    """The shell command that reproduces a run of ``benchmarks/<script>``.

    ``--output-dir`` is left out: where the files go does not change them.
    Absolute paths inside the checkout are written relative to its root, so
    that the command reads the same on every machine.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--output-dir":
            skip = True
        elif not arg.startswith("--output-dir="):
            kept.append(portable(arg))
    return shlex.join(["python", f"benchmarks/{script}", *kept])


def portable(arg):
    """``arg`` with an absolute path inside the checkout made relative to its root.

    ``arg`` is a command-line argument: a path, an ``--option=path`` or
    anything else, which is returned as it is.
    """
    option, equals, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
    if not equals and option:
        return arg
    path = Path(value)
    if path.is_absolute():
        path = path.resolve()
        if path.is_relative_to(ROOT):
            value = path.relative_to(ROOT).as_posix()
    return f"{option}{equals}{value}"


#: Set by ``run_all.py`` to the stage that ran just before this one.
PREVIOUS_STAGE_VARIABLE = "MINUET_BENCH_PREVIOUS_STAGE"


def new_record(script, argv=None):
    """Provenance of a run: command, machine, date and the load average at the start.

    Under ``run_all.py`` the record also names the stage that ended just
    before: the one-minute load average still counts that stage's work.
    """
    record = {"command": command_line(script, argv), **provenance(),
              "load_average": round(os.getloadavg()[0], 2)}
    previous = os.environ.get(PREVIOUS_STAGE_VARIABLE)
    if previous:
        record["after_stage"] = previous
    return record


def footer(record):
    """One sentence naming the command, machine and date of a results record.

    The load of the machine at the start (``load_average``, ``after_stage``)
    stays in the JSON record beside the page, not in the page.
    """
    return f"Command ``{record['command']}``; {record['machine']}, {record['date']}."


def add_output_dir(parser, *aliases):
    """Give a benchmark's argument parser the ``--output-dir`` option of every benchmark.

    ``aliases`` are older names of the option that still work.
    """
    parser.add_argument("--output-dir", *aliases, dest="output_dir", type=Path, default=GENERATED,
                        help="folder of the results files (default: docs/validation/generated, "
                             "which the documentation includes)")
    return parser


def output_folder(args):
    """The results folder of a run (``args.output_dir``), created if needed."""
    folder = Path(args.output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_results(stem, record, lines, *, directory):
    """Write ``<stem>.json`` (the record) and ``<stem>.rst`` (the lines) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    json_path, rst_path = directory / f"{stem}.json", directory / f"{stem}.rst"
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    rst_path.write_text("\n".join([f".. generated by {record['command']}; do not edit", "",
                                   *lines, "", footer(record), ""]))
    print("\n".join(lines))
    return json_path, rst_path


def figure(path, alt, caption=None):
    """Lines of a figure directive for a generated figure, from an included file.

    ``caption`` is written under the figure; without it the figure has none.
    """
    lines = ["", f".. figure:: /validation/generated/{Path(path).name}", f"   :alt: {alt}", ""]
    if caption:
        lines += [f"   {caption}", ""]
    return lines
