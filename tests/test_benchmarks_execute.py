"""The execute latency benchmark, run at a tiny size: its tables are complete and the runs it
times did the whole job (no timing is asserted). The collect benchmark's test is
test_benchmarks_collect.py."""

from __future__ import annotations

import subprocess

from benchrun import markdown_tables, run_benchmark


EXECUTE_COLUMNS = ["workers", "wall", "floor", "wall/floor", "peak RSS (wait4)", "journal fsync busy", "records per fsync",
                   "journal per record", "registry connections", "CPU: execute, fakes", "executed"]
PHASE_COLUMNS = ["workers", "phase", "requests", "floor", "longest chain", "wall"]


def bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark(module, *args)


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
