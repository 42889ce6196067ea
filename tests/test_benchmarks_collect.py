"""The collect latency benchmark, run at a tiny size: its table has every phase column, the runs
it times collected every object the paged fake served, page after page (no timing is asserted)."""

from __future__ import annotations

import gzip
import math
import subprocess
from pathlib import Path

import orjson
import pytest

from benchrun import markdown_rows, run_benchmark

from benchmarks.collect_bench import lists_floor


COLUMNS = ["page size", "parallel lists", "latency", "LIST requests", "other requests", "wall", "floor", "wall/floor",
           "start-up", "version, settings", "lists", "lists floor", "lists/floor", "pages × latency ÷ P", "finish",
           "peak RSS (wait4)", "CPU: collect, fake", "objects in the dump"]
PHASES = ["start-up", "version, settings", "lists", "finish"]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("benchmarks.collect_bench", *args)


def seconds(cell: str) -> float:
    assert cell.endswith(" s"), cell
    return float(cell[:-2])


def test_collect_benchmark_tables_each_phase_and_collects_every_served_object_page_by_page(tmp_path: Path) -> None:
    result = bench("--images", "50", "--page-size", "7", "--parallel-lists", "1,3", "--latency", "0.001",
                   "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error" not in result.stderr.lower()
    served = int(result.stdout.split("Objects served: ", 1)[1].split()[0].replace(",", ""))
    rows = markdown_rows(result.stdout)
    assert list(rows[0]) == COLUMNS
    assert [(r["page size"], r["parallel lists"], r["latency"]) for r in rows] == [
        ("7", "1", "1 ms"), ("7", "1", "0 ms"), ("7", "3", "1 ms"), ("7", "3", "0 ms")]
    # the generated dump says how many pages of 7 each kind takes (an empty list is one page)
    (dump,) = tmp_path.glob("dump-*.json.gz")
    kinds = orjson.loads(gzip.decompress(dump.read_bytes()))["objects"]
    assert sum(len(items) for items in kinds.values()) == served > 0
    pages = sum(max(1, math.ceil(len(items) / 7)) for items in kinds.values())
    for row in rows:
        assert int(row["objects in the dump"].replace(",", "")) == served, row
        assert int(row["LIST requests"]) == pages, row
        assert int(row["other requests"]) > 0, row
        # the phases cut the wall: they add up to it (to the table's rounding)
        assert sum(seconds(row[phase]) for phase in PHASES) == pytest.approx(seconds(row["wall"]), abs=0.03), row
    for row in rows[1::2]:  # without latency there is no floor to compare with
        assert (row["floor"], row["wall/floor"], row["lists floor"], row["lists/floor"]) == ("0.00 s", "-", "0.00 s", "-")


def test_lists_floor_runs_the_lists_in_order_in_free_slots_with_a_long_list_as_a_chain() -> None:
    # two slots: the short lists take 1 each, the long last one starts when a slot frees (at 1)
    assert lists_floor([1, 1, 1, 10], 2, 1.0) == 11.0
    assert lists_floor([1, 1, 1, 10], 1, 1.0) == 13.0
    # more slots than lists: the longest list alone
    assert lists_floor([3, 2, 5], 8, 0.5) == 2.5
    assert lists_floor([], 4, 0.02) == 0.0
