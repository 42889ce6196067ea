"""Upstream's fault cases drive execute: with the same calls failing, execute makes upstream's calls.

Six conformance cases (fixtures/conformance/, see test_conformance.py) inject faults into
upstream's fake deleters (`faults` in case.json) and record what upstream then does in
`upstreamExpectWithFaults`: the calls it attempts (failed ones included: upstream's fakes record a
call before failing it), its errors and its `Summary:`. Here the case is analyzed into a plan,
the same input is analyzed afresh (execute's re-check, with the case's "now"), and
`execute.runner.Executor` replays the plan in confirm mode against fakes of the API and the
registry (tests/fakeports.py) that record every call in upstream's notation and fail the calls
the case's `faults` name, with upstream's "err".
"""

from __future__ import annotations

import json
import contextlib
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pruneplan.analyze.decisions.engine import Analysis, analyze
from pruneplan.execute.journal import Journal
from pruneplan.execute.runner import Executor, Report
from pruneplan.analyze.decisions.inputs import load_inputs
from pruneplan.planmodel import Plan
from pruneplan.policy import Policy
from pruneplan.timefmt import parse_time
from fakeports import ERR, Calls, FakeApi, FakeRegistry
from test_conformance import CASE_DIRS, SET_KEYS, load_case, run_analyze

FAULT_CASES = [p for p in CASE_DIRS if load_case(p)["faults"] is not None]
FAULT_KEYS = {
    "blobDeleteErrors", "layerLinkDeleteErrors", "manifestLinkDeleteErrors",
    "imageStreamGetErrors", "imageStreamUpdateErrors", "imageDeleteErrors",
}


def fresh_analysis(input_path: Path, plan: dict[str, Any], now: str) -> Analysis:
    """What execute re-checks against (execute/command.py), with the case's "now": the fixtures'
    ages are relative to it, not to the wall clock."""
    return analyze(load_inputs([str(input_path)]), Policy.from_json(plan["policy"]).with_now(parse_time(now)))


def plan_of(case_dir: Path, tmp_path: Path) -> dict[str, Any]:
    case = load_case(case_dir)
    out = tmp_path / "plan.json"
    # analyze's own lines (its dry run, its closing block) are not what these tests check: execute's are
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert run_analyze(case_dir, case, out) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def replay(
    case_dir: Path, tmp_path: Path, faults: dict[str, list[str]], *, conflicts: int = 0, journal: Journal | None = None,
) -> tuple[Report, Calls, str]:
    """Analyze the case, then execute its plan in confirm mode against the fakes."""
    case = load_case(case_dir)
    plan = plan_of(case_dir, tmp_path)
    objects = json.loads((case_dir / "input.json").read_text(encoding="utf-8"))["items"]
    calls = Calls()
    stdout = io.StringIO()
    executor = Executor(
        FakeApi(objects, faults, calls, conflicts), FakeRegistry(faults, calls), journal, stdout,
        confirm=True, prune_registry=plan["policy"]["pruneRegistry"],
    )
    report = executor.run(Plan.from_dict(plan), fresh_analysis(case_dir / "input.json", plan, case["now"]))
    return report, calls, stdout.getvalue()


def upstream_stage_one_order(kinds: list[str]) -> bool:
    """GET first, then layer links, then the PUT(s), then manifest links (upstream's
    pruneImageStream; a 409 re-GETs and PUTs again in between)."""
    rank = {"get": 0, "layerLinkDeletions": 1, "put": 2, "manifestLinkDeletions": 3}
    if not kinds:
        return True
    if kinds[0] != "get":
        return False
    squashed = [k for i, k in enumerate(kinds) if not (k == "get" and i and kinds[i - 1] == "put")]  # 409 re-fetches
    return [rank[k] for k in squashed] == sorted(rank[k] for k in squashed)


def by_subject(errors: list[str]) -> dict[str, list[str]]:
    """Errors grouped by their stream or image: upstream's order is deterministic within one
    (a worker handles a stream or an image from start to end), not across them."""
    groups: dict[str, list[str]] = {}
    for error in errors:
        kind, subject = error.split(" ", 2)[:2]
        groups.setdefault(f"{kind} {subject.rstrip(':')}", []).append(error)
    return groups


def failed_call_lines(faults: dict[str, list[str]], attempted: dict[str, list[str]]) -> Counter[str]:
    """The stderr lines upstream's describing deleters (pkg/cli/admin/prune/images.go) print for
    the calls that failed. A failing stream GET prints nothing there: its error is only returned."""
    lines: Counter[str] = Counter()
    for invocation in attempted["blobDeletions"]:
        if invocation in faults.get("blobDeleteErrors", []):
            lines[f"error deleting blob {invocation} from the registry: {ERR}"] += 1
    for invocation in attempted["layerLinkDeletions"]:
        if invocation in faults.get("layerLinkDeleteErrors", []):
            repo, digest = invocation.split("|")
            lines[f"error deleting repository {repo} layer link {digest} from the registry: {ERR}"] += 1
    for invocation in attempted["manifestLinkDeletions"]:
        if invocation in faults.get("manifestLinkDeleteErrors", []):
            repo, digest = invocation.split("|")
            lines[f"error deleting manifest link {digest} from repository {repo}: {ERR}"] += 1
    for invocation in attempted["imageDeletions"]:
        if invocation in faults.get("imageDeleteErrors", []):
            lines[f"error deleting image {invocation} from server: {ERR}"] += 1
    updated = {u.split("|")[0].split(":")[0] for u in attempted["streamUpdates"]}
    for repo in updated & set(faults.get("imageStreamUpdateErrors", [])):
        lines[f"error updating image stream {repo} to remove image references: {ERR}"] += 1
    return lines


def test_the_six_fault_cases_are_there() -> None:
    assert [p.name[:3] for p in FAULT_CASES] == ["032", "033", "034", "035", "053", "055"]
    for case_dir in FAULT_CASES:
        assert set(load_case(case_dir)["faults"]) <= FAULT_KEYS, case_dir.name


@pytest.mark.parametrize("case_dir", FAULT_CASES, ids=[p.name for p in FAULT_CASES])
def test_execute_with_upstreams_faults_does_what_upstream_does(
    case_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = load_case(case_dir)
    faults, want = case["faults"], case["upstreamExpectWithFaults"]
    capsys.readouterr()
    report, calls, stdout = replay(case_dir, tmp_path, faults)
    stderr = capsys.readouterr().err

    for repo in {u.split("|")[0].split(":")[0] for u in case["expect"]["streamUpdates"]}:
        assert upstream_stage_one_order(calls.of_stream(repo)), f"{case['name']}: {calls.of_stream(repo)}"
        assert calls.of_stream(repo)[:1] == ["get"], "every planned stream is read before anything is deleted for it"
    for key in SET_KEYS:
        got = calls.by_kind[key]
        assert sorted(set(got)) == want[key], f"{case['name']}: {key}"
        assert len(got) == len(set(got)), f"{case['name']}: {key} called twice: {got}"
    assert sorted(report.errors) == sorted(want["errors"]), case["name"]
    assert by_subject(report.errors) == by_subject(want["errors"]), f"{case['name']}: order within a stream or image"
    assert report.summary_text() == want["summary"], case["name"]

    # stderr: upstream's line for each failed call, and nothing else
    assert Counter(stderr.splitlines()) == failed_call_lines(faults, want), case["name"]
    # stdout: upstream's line before each call attempted
    attempted = Counter(line for line in stdout.splitlines())
    expected = Counter(
        [f"Deleting layer link {d} in repository {r}" for r, d in (i.split("|") for i in want["layerLinkDeletions"])]
        + [f"Deleting manifest link {d} in repository {r}" for r, d in (i.split("|") for i in want["manifestLinkDeletions"])]
        + [f"Deleting blob {d}" for d in want["blobDeletions"]]
        + [f"Deleting image {n}" for n in want["imageDeletions"]]
    )
    updated = Counter(u.split("|")[0] for u in want["streamUpdates"] if "|" in u)
    expected.update(f"Deleting {n} items from image stream {repo}" for repo, n in updated.items())
    assert attempted == expected, case["name"]


# Beyond upstream's six cases: the same cluster as "continue on layer link error" (053), whose
# stream foo/bar has layer links to delete, with its stream's calls failing instead.
LAYER_LINK_CASE = next(p for p in FAULT_CASES if p.name.startswith("053-"))
D4 = "sha256:" + "4".rjust(64, "0")
LAYERS_5_TO_8 = [f"foo/bar|layer{i}" for i in (5, 6, 7, 8)]


def test_a_stream_whose_get_fails_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Upstream GETs the stream first; when that fails it deletes nothing for the stream (not
    even layer links), returns `imagestream NS/NAME: <err>` and prints no line of its own, and
    stage 2 sees the stream unchanged, so its images and their blobs stay."""
    capsys.readouterr()
    report, calls, stdout = replay(LAYER_LINK_CASE, tmp_path, {"imageStreamGetErrors": ["foo/bar"]})
    assert calls.sequence == [("get", "foo/bar")]
    assert report.errors == ["imagestream foo/bar: err"]
    assert report.summary_text() == "deleted 0 objects"
    assert capsys.readouterr().err == ""
    assert stdout == ""


def test_a_failing_status_update_keeps_the_streams_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Upstream: GET, layer links, the PUT fails: `imagestream foo/bar: err`, no manifest link.
    Then upstream's stage 2 works from the edited copy it failed to save, so it would delete
    image 4 and its blobs (layer5-8, its manifest) while foo/bar still lists it. pruneplan's
    documented deviation (docs/execute.md, "Deviations from upstream"; docs/rules.md): a stream whose update failed keeps
    every image it names, and their blobs."""
    capsys.readouterr()
    report, calls, stdout = replay(LAYER_LINK_CASE, tmp_path, {"imageStreamUpdateErrors": ["foo/bar"]})
    assert calls.of_stream("foo/bar") == ["get", *["layerLinkDeletions"] * 4, "put"]
    assert sorted(calls.by_kind["layerLinkDeletions"]) == LAYERS_5_TO_8
    assert calls.by_kind["streamUpdates"] == [f"foo/bar|latest|3|{D4}"]
    assert calls.by_kind["manifestLinkDeletions"] == []
    assert calls.by_kind["blobDeletions"] == [] and calls.by_kind["imageDeletions"] == []  # the deviation
    assert report.errors == ["imagestream foo/bar: err"]
    assert capsys.readouterr().err.splitlines() == ["error updating image stream foo/bar to remove image references: err"]
    assert report.summary_text() == "deleted 4 layer link(s)"


def test_conflicts_refetch_the_stream_and_never_delete_a_layer_link_twice(tmp_path: Path) -> None:
    """409 on the PUT: GET a fresh copy and PUT again (client-go's DefaultRetry); the layer links
    deleted before the first PUT are not deleted again. The outcome is the fault-free plan's."""
    case = load_case(LAYER_LINK_CASE)
    report, calls, _ = replay(LAYER_LINK_CASE, tmp_path, {}, conflicts=2)
    assert calls.of_stream("foo/bar") == ["get", *["layerLinkDeletions"] * 4, "put", "get", "put", "get", "put",
                                         "manifestLinkDeletions"]
    for key in SET_KEYS:  # sets, as upstream's fakes keep: each of the 3 PUTs removes the same item
        assert sorted(set(calls.by_kind[key])) == case["expect"][key], key
    assert len(calls.by_kind["layerLinkDeletions"]) == 4
    assert report.errors == []
    assert report.summary_text() == case["expect"]["summary"]


def test_a_rerun_after_a_failed_update_finishes_without_repeating_done_calls(tmp_path: Path) -> None:
    """The journal: the first run's layer links are done, its failed update is not; the rerun
    GETs and PUTs the stream, deletes no layer link again, then does the rest of the plan."""
    case = load_case(LAYER_LINK_CASE)
    path = str(tmp_path / "journal")
    first = Journal(path, "a" * 64)
    replay(LAYER_LINK_CASE, tmp_path, {"imageStreamUpdateErrors": ["foo/bar"]}, journal=first)
    first.close()
    again = Journal(path, "a" * 64)
    report, calls, _ = replay(LAYER_LINK_CASE, tmp_path, {}, journal=again)
    again.close()
    assert calls.of_stream("foo/bar") == ["get", "put", "manifestLinkDeletions"]
    assert calls.by_kind["layerLinkDeletions"] == []
    assert sorted(calls.by_kind["blobDeletions"]) == case["expect"]["blobDeletions"]
    assert calls.by_kind["imageDeletions"] == [D4]
    assert report.errors == []
    # this run's work only: the layer links were the first run's
    assert report.summary_text() == ("deleted 1 image object(s), deleted 1 image stream tag item(s), updated 1 image "
                                     "stream(s), deleted 1 manifest link(s), deleted 5 blob(s)")
