"""Conformance suite: `pruneplan analyze` must reach upstream's decisions on upstream's test cases.

Each directory under fixtures/conformance/ holds one upstream case (see generate.py there):
`input.json` is the cluster state, `case.json` the flags and the expected plan in upstream's test
notation. Plans are converted into that notation (docs/plan-format.md) and compared set by set.
"""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from builders import write_line_dump
from pruneplan.cli import main

CONFORMANCE = Path(__file__).resolve().parent.parent / "fixtures" / "conformance"
CONFORMANCE_CLUSTER = {"apiServer": "https://api.conformance.example:6443", "clusterID": "conformance"}
GENERATOR = CONFORMANCE / "generate.py"
CASE_DIRS = sorted(p for p in CONFORMANCE.iterdir() if p.is_dir() and p.name[:3].isdigit())

# 74 TestImagePruning + 5 TestRegistryPruning + TestImageWithStrongAndWeakRefsIsNotPruned
# + TestImagePruneErrOnBadReference.
EXPECTED_CASES = 74 + 5 + 1 + 1

SET_KEYS = ("streamUpdates", "layerLinkDeletions", "manifestLinkDeletions", "blobDeletions", "imageDeletions")

BAD_REFERENCE_HEAD = ["Failed to build graph!", "", "The following objects have invalid references:", ""]
BAD_REFERENCE_TAIL = [
    "",
    "Either fix the references or delete the objects to make the pruner proceed.",
    "error: failed to build graph - no changes made",
]


def load_case(case_dir: Path) -> dict[str, Any]:
    return json.loads((case_dir / "case.json").read_text(encoding="utf-8"))


def plan_notation(plan: dict[str, Any]) -> dict[str, list[str]]:
    """The plan's actions in upstream's test notation, sorted; duplicates are kept so they show."""
    updates: list[str] = []
    for update in plan["imageStreamUpdates"]:
        repo = f"{update['namespace']}/{update['name']}"
        # upstream's fake stream deleter records a removed item as repo|tag|index|image and a tag
        # that lost all its items as repo:tag (in addition to each of its items)
        updates += [f"{repo}|{i['tag']}|{i['index']}|{i['image']}" for i in update.get("removedItems") or []]
        updates += [f"{repo}:{t}" for t in update.get("removedTags") or []]
    return {
        "streamUpdates": sorted(updates),
        "layerLinkDeletions": sorted(f"{d['repository']}|{d['digest']}" for d in plan["layerLinkDeletions"]),
        "manifestLinkDeletions": sorted(f"{d['repository']}|{d['digest']}" for d in plan["manifestLinkDeletions"]),
        "blobDeletions": sorted(d["digest"] for d in plan["blobDeletions"]),
        "imageDeletions": sorted(d["name"] for d in plan["imageDeletions"]),
    }


def run_analyze(case_dir: Path, case: dict[str, Any], out: Path, form: str = "list") -> int:
    """analyze the case's input as a `kind: List` (as `oc get -o json` prints it) or, with
    form="line-dump", as the same objects in the collector's line layout (the layout of the
    collector's dumps, read a line at a time)."""
    source = case_dir / "input.json"
    if form == "line-dump":
        items = json.loads(source.read_text(encoding="utf-8"))["items"]
        source = write_line_dump(out.parent / "dump.json.gz", items, case["now"], CONFORMANCE_CLUSTER)
    argv = ["analyze", str(source), "-o", str(out), "--now", case["now"], *case["args"]]
    return main(argv)


def expected_bad_reference_report(errors: list[str]) -> list[str]:
    return BAD_REFERENCE_HEAD + [f"  {e}" for e in errors] + BAD_REFERENCE_TAIL


@pytest.mark.parametrize("form", ["list", "line-dump"])
@pytest.mark.parametrize("case_dir", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_upstream_case(case_dir: Path, form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """analyze plans exactly what upstream's test expects for this case (name in case.json),
    from a List and from the collector's line layout alike."""
    case = load_case(case_dir)
    expect = case["expect"]
    out = tmp_path / "plan.json"

    code = run_analyze(case_dir, case, out, form)
    captured = capsys.readouterr()
    assert code == expect["exitCode"], f"{case['name']}: exit code {code}\nstderr:\n{captured.err}"

    if expect["badReferences"]:
        # The report is the last thing on stderr; klog-style warnings may come before it.
        lines = captured.err.splitlines()
        start = lines.index("Failed to build graph!") if "Failed to build graph!" in lines else 0
        assert lines[start:] == expected_bad_reference_report(expect["badReferences"]), case["name"]
        assert not out.exists(), "no plan may be written when references are invalid"
        return

    plan = json.loads(out.read_text(encoding="utf-8"))
    got = plan_notation(plan)
    for key in SET_KEYS:
        assert got[key] == expect[key], f"{case['name']}: {key}"
    assert list(plan.get("errors") or []) == expect["errors"], f"{case['name']}: errors"
    if expect["summary"] is not None:
        assert plan["summary"]["text"] == expect["summary"], f"{case['name']}: summary"


def test_every_case_directory_has_input_and_case() -> None:
    missing = [p.name for p in CASE_DIRS if not (p / "input.json").is_file() or not (p / "case.json").is_file()]
    assert missing == []


def test_case_count_covers_every_upstream_case() -> None:
    assert len(CASE_DIRS) == EXPECTED_CASES
    names = [load_case(p)["name"] for p in CASE_DIRS]
    assert len(set(names)) == len(names), "case names must be unique"


def test_cases_with_faults_record_upstreams_outcome() -> None:
    """Fault cases expect the fault-free plan (test_upstream_case checks analyze against it) and
    keep upstream's outcome with the faults injected, which tests/test_conformance_faults.py
    asserts execute reproduces: every call attempted, the errors and the summary."""
    with_faults = []
    for case_dir in CASE_DIRS:
        case = load_case(case_dir)
        assert (case["faults"] is None) == (case["upstreamExpectWithFaults"] is None), case_dir.name
        if case["faults"] is not None:
            with_faults.append(case_dir.name[:3])
            assert case["faults"], case_dir.name
            assert set(case["upstreamExpectWithFaults"]) == {*SET_KEYS, "errors", "summary"}, case_dir.name
    assert with_faults == ["032", "033", "034", "035", "053", "055"]


def test_generator_reproduces_committed_fixtures(tmp_path: Path) -> None:
    """generate.py writes the committed case files byte for byte."""
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    generated = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert generated == [p.name for p in CASE_DIRS]
    for name in generated:
        for filename in ("input.json", "case.json"):
            committed, fresh = CONFORMANCE / name / filename, tmp_path / name / filename
            assert filecmp.cmp(committed, fresh, shallow=False), f"{name}/{filename} differs from generate.py output"
