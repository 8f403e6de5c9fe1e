"""Shared helpers of the benchmark scripts: provenance and reStructuredText tables."""

import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where benchmark results are written for the documentation to include.
GENERATED = ROOT / "docs" / "validation" / "generated"


def provenance():
    """Machine, core count and date of a measurement."""
    return {"machine": f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()})",
            "date": time.strftime("%Y-%m-%d")}


def rst_table(header, body):
    """Lines of a simple reStructuredText table."""
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(row):
        return "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()

    return [rule, line(header), rule, *[line(row) for row in body], rule]
