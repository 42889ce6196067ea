"""Running a benchmark module at a tiny size from a test, and reading the Markdown tables it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python3 -m MODULE ARGS` from the checkout, its output captured (never raises on failure)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def markdown_tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table in `text`, as rows keyed by the header's cells."""
    tables: list[list[dict[str, str]]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            header = None
        elif header is None:
            header = cells
            tables.append([])
        elif not all(set(c) <= set("-:") for c in cells):
            assert len(cells) == len(header), line
            tables[-1].append(dict(zip(header, cells)))
    return tables


def markdown_rows(text: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in `text`."""
    tables = markdown_tables(text)
    assert tables, text
    return tables[0]
