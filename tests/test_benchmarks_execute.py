"""The execute latency benchmark, run at a tiny size: its tables are complete and the runs it
times did the whole job (no timing is asserted). The collect benchmark's test is
test_benchmarks_collect.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EXECUTE_COLUMNS = ["workers", "wall", "floor", "wall/floor", "peak RSS (wait4)", "journal fsync busy", "records per fsync",
                   "journal per record", "registry connections", "CPU: execute, fakes", "executed"]
PHASE_COLUMNS = ["workers", "phase", "requests", "floor", "longest chain", "wall"]


def bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
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


def test_execute_benchmark_tables_every_column_and_the_fakes_saw_every_planned_action() -> None:
    result = bench("benchmarks.execute_bench", "--actions", "40", "--api-latency", "0.001",
                   "--registry-latency", "0.001", "--workers", "2,7")
    assert result.returncode == 0, result.stderr
    runs, phases = markdown_tables(result.stdout)
    assert list(runs[0]) == EXECUTE_COLUMNS
    assert [row["workers"] for row in runs] == ["2", "7"]
    for row in runs:
        done, planned = (int(n.replace(",", "")) for n in row["executed"].split("/"))
        assert planned >= 20 and done == planned, row
        assert all(row[column] for column in EXECUTE_COLUMNS), row
    assert list(phases[0]) == PHASE_COLUMNS
    stages = [row for row in phases if row["phase"].startswith("stage")]
    assert len(stages) == 4 and all(int(row["requests"]) > 0 for row in stages)
    assert "error" not in result.stderr.lower() and "Traceback" not in result.stderr
