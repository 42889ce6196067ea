"""The `analyze --hard` benchmark, run at a tiny size: its table has every column, the plan it
times deletes leftovers of every kind, and the inventory it derives from the dump is a valid one,
the same bytes for the same seed (no timing is asserted)."""

from __future__ import annotations

import gzip
import json
import subprocess
from collections import Counter
from pathlib import Path

from benchrun import markdown_rows, run_benchmark
from clirunner import run_cli
from pruneplan.inventoryformat import Inventory
from pruneplan.timefmt import parse_time


COLUMNS = ["images", "repositories", "manifest links", "layer links", "uploads", "blobs", "blob GB", "inventory MB",
           "analyze --hard median wall (min–max)", "peak RSS (wait4)", "deleted repositories", "deleted manifest links",
           "deleted layer links", "deleted uploads", "deleted blobs", "reclaimable GB"]
DELETED = ["deleted repositories", "deleted manifest links", "deleted layer links", "deleted uploads", "deleted blobs"]


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("benchmarks.hard_bench", *args)


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


def test_hard_benchmark_tables_the_inventory_the_timing_and_deletions_of_every_kind(tmp_path: Path) -> None:
    result = bench("--images", "40,60", "--repeat", "2", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error" not in result.stderr.lower()
    assert all(line.startswith("|") for line in result.stdout.splitlines()), result.stdout  # progress went to stderr
    rows = markdown_rows(result.stdout)
    assert list(rows[0]) == COLUMNS
    assert [row["images"] for row in rows] == ["40", "60"]
    for row in rows:
        assert row["analyze --hard median wall (min–max)"].endswith(")") and " s (" in row["analyze --hard median wall (min–max)"]
        assert row["peak RSS (wait4)"].endswith(" MB)"), row
        for column in DELETED:
            assert number(row[column]) > 0, (column, row)
        assert float(row["reclaimable GB"]) > 0, row
        # the inventory the row describes is the one derived for its dump, and the strict reader takes it
        size = "40" if row["images"] == "40" else "60"
        inventory = Inventory.from_bytes((tmp_path / f"inventory-{size}-v1.json.gz").read_bytes())
        counts = inventory.header.counts
        assert [counts.repositories, counts.manifests, counts.layers, counts.uploads, counts.blobs] == [
            number(row[c]) for c in ("repositories", "manifest links", "layer links", "uploads", "blobs")]


def test_derived_inventory_is_the_same_bytes_for_the_same_seed_and_differs_for_another(tmp_path: Path) -> None:
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        assert bench("--images", "30", "--repeat", "1", "--seed", seed, "--data-dir", str(tmp_path / name)).returncode == 0
    (a,), (b,), (c,) = ((tmp_path / name).glob("inventory-*.json.gz") for name in "abc")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    # what the writer wrote reads back and writes again as the same document
    assert Inventory.from_bytes(a.read_bytes()).to_bytes() == gzip.decompress(a.read_bytes())


def test_plan_for_a_derived_inventory_gives_every_reason_a_leftover_can_have(tmp_path: Path) -> None:
    assert bench("--images", "60", "--repeat", "1", "--data-dir", str(tmp_path)).returncode == 0
    plan = tmp_path / "plan.json"
    run = run_cli("analyze", "--hard", str(tmp_path / "dump-60.json.gz"), str(tmp_path / "inventory-60-v1.json.gz"),
                  "-o", str(plan), "-q")
    assert run.code == 0, run.err
    doc = json.loads(plan.read_text())
    assert Counter(e["reason"] for e in doc["repositoryDeletions"]).keys() == {"no-image-stream", "invalid-name"}
    assert Counter(e["reason"] for e in doc["manifestLinkDeletions"]).keys() == {"not-an-image", "not-in-stream-history"}
    assert {e["reason"] for e in doc["layerLinkDeletions"]} == {"blob-deleted"}
    assert doc["uploadDeletions"] and doc["blobDeletions"]
    # young leftovers stay: the cutoff is an hour before the read, and some blobs were made after it
    inventory = Inventory.from_bytes((tmp_path / "inventory-60-v1.json.gz").read_bytes())
    cutoff = parse_time(doc["policy"]["cutoff"])
    deleted = {blob["digest"] for blob in doc["blobDeletions"]}
    young = [blob.digest for blob in inventory.blobs if parse_time(blob.modified) > cutoff]
    assert young and not deleted & set(young)


def test_storage_walk_collects_from_a_sparse_tree_exactly_the_part_of_the_inventory_it_was_made_from(tmp_path: Path) -> None:
    result = bench("--images", "40", "--repeat", "1", "--storage-walk", "150", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    analysis, walk = result.stdout.strip().split("\n\n")
    (row,) = markdown_rows(walk)
    assert list(row) == ["images", "blobs on disk", "repositories", "files", "collect --registry-storage median wall (min–max)",
                         "peak RSS (wait4)", "problems", "same as derived"]
    assert (row["images"], row["blobs on disk"], row["same as derived"]) == ("40", "150", "yes")
    assert number(row["files"]) > 150 and number(row["repositories"]) > 0
    assert markdown_rows(analysis)[0]["images"] == "40"
    assert not list(tmp_path.glob("**/docker"))  # the tree is gone with the run
