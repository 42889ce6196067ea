"""pruneplan.hardplan.HardPrunePlan: a hard plan reads back to the same bytes, and every field
and cross-check a tampered-but-signed plan could break is refused with one message naming the
field (exit 13 through the CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from clirunner import run_cli
from pruneplan.errors import EXIT_UNKNOWN_PLAN, PrunePlanError
from pruneplan.hardplan import HardPrunePlan
from pruneplan.planformat import dump_plan
from test_analyze_hard import CUTOFF, GARBAGE, OLD, YOUNG, analyze_hard, standard_world, World


@pytest.fixture(scope="module")
def plan_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    tmp_path = tmp_path_factory.mktemp("hardplan")
    analyze_hard(tmp_path, standard_world())
    return (tmp_path / "plan.json").read_bytes()


def test_a_hard_plan_reads_back_to_the_same_bytes(plan_bytes: bytes) -> None:
    plan = HardPrunePlan.from_bytes(plan_bytes)
    assert plan.to_bytes() == plan_bytes
    assert HardPrunePlan.from_dict(plan.to_dict()).to_bytes() == plan_bytes
    assert dump_plan(json.loads(plan_bytes)) == plan_bytes


def test_an_empty_hard_plan_reads_back_to_the_same_bytes(tmp_path: Path) -> None:
    _, plan = analyze_hard(tmp_path, World())
    raw = (tmp_path / "plan.json").read_bytes()
    assert HardPrunePlan.from_bytes(raw).to_bytes() == raw
    assert plan.summary.text == "deletes nothing" and plan.blob_deletions == ()


def _refused(raw: bytes) -> str:
    with pytest.raises(PrunePlanError) as caught:
        HardPrunePlan.from_bytes(raw, "plan.json")
    assert caught.value.exit_code == EXIT_UNKNOWN_PLAN
    assert "\n" not in caught.value.message
    return caught.value.message


def _edit(plan_bytes: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(plan_bytes)
    change(doc)
    return dump_plan(doc)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return change


def test_what_is_not_a_hard_plan_is_refused(plan_bytes: bytes) -> None:
    assert _refused(b"{not json").startswith("plan.json: not a plan: invalid JSON")
    assert _refused(b"[]") == "plan.json: not a pruneplan hard-prune plan (kind is not HardPrunePlan)"
    assert _refused(_edit(plan_bytes, _set("kind", "PrunePlan"))) == "plan.json: not a pruneplan hard-prune plan (kind is not HardPrunePlan)"
    assert _refused(_edit(plan_bytes, _set("apiVersion", "pruneplan.io/v2"))) == \
        "plan.json: unknown plan version 'pruneplan.io/v2' (this tool knows pruneplan.io/v1)"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.pop("uploadDeletions"), "plan.json: plan is missing uploadDeletions"),
    (_set("extra", 1), "plan.json: plan field extra is not a known field"),
    (_set("blobDeletions", {}), "plan.json: plan field blobDeletions must be a list"),
    (_set("policy", []), "plan.json: plan field policy must be an object"),
    (lambda d: d["metadata"].pop("notAfter"), "plan.json: metadata.notAfter is missing or not an RFC 3339 time"),
])
def test_the_envelope_is_checked(plan_bytes: bytes, change: Callable[[dict[str, Any]], None], message: str) -> None:
    assert _refused(_edit(plan_bytes, change)) == message


@pytest.mark.parametrize(("change", "where"), [
    # JSON types, strictly: no coercion, a bool is not a number
    (_set("blobDeletions.0.size", "100"), "blobDeletions[0].size"),
    (_set("uploadDeletions.0.size", True), "uploadDeletions[0].size"),
    (_set("blobDeletions.0.size", -1), "blobDeletions[0].size"),
    (lambda d: d["repositoryDeletions"][0].update(extra=1), "repositoryDeletions[0].extra"),
    (lambda d: d["source"]["dump"].pop("sha256"), "source.dump.sha256"),
    # enums
    (_set("repositoryDeletions.0.reason", "unused"), "repositoryDeletions[0].reason"),
    (_set("manifestLinkDeletions.0.reason", "blob-deleted"), "manifestLinkDeletions[0].reason"),
    (_set("layerLinkDeletions.0.reason", "not-an-image"), "layerLinkDeletions[0].reason"),
    # names that become storage paths
    (_set("blobDeletions.0.digest", "sha512:" + "0" * 128), "blobDeletions[0].digest"),
    (_set("manifestLinkDeletions.0.digest", "sha256:" + "A" * 64), "manifestLinkDeletions[0].digest"),
    (_set("layerLinkDeletions.0.repository", "ns/../../x"), "layerLinkDeletions[0].repository"),
    (_set("repositoryDeletions.0.repository", "NS/App"), "repositoryDeletions[0].repository"),
    (_set("uploadDeletions.0.uuid", ".."), "uploadDeletions[0].uuid"),
    (_set("uploadDeletions.0.uuid", "a/b"), "uploadDeletions[0].uuid"),
    # times, durations, digests of the sources
    (_set("uploadDeletions.0.startedAt", "yesterday"), "uploadDeletions[0].startedAt"),
    (_set("blobDeletions.0.modified", None), "blobDeletions[0].modified"),
    (_set("policy.now", "2026-06-01"), "policy.now"),
    (_set("policy.keepYoungerThan", "-1h"), "policy.keepYoungerThan"),
    (_set("source.inventory.sha256", "0" * 63), "source.inventory.sha256"),
    (_set("source.inventory.root", ""), "source.inventory.root"),
])
def test_each_field_is_checked(plan_bytes: bytes, change: Callable[[dict[str, Any]], None], where: str) -> None:
    assert _refused(_edit(plan_bytes, change)).startswith(f"plan.json: plan field {where} ")


def _swap_first_two(key: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc[key][0], doc[key][1] = doc[key][1], doc[key][0]
    return change


def _repeat_first(key: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc[key].insert(1, dict(doc[key][0]))
    return change


def _link_in_removed_repository(doc: dict[str, Any]) -> None:
    doc["layerLinkDeletions"][0]["repository"] = doc["repositoryDeletions"][0]["repository"]


def _young_blob(doc: dict[str, Any]) -> None:
    blob = next(b for b in doc["blobDeletions"] if b["digest"] == GARBAGE)
    blob["modified"] = YOUNG


@pytest.mark.parametrize(("change", "message"), [
    (_set("summary.deletedBlobs", 5), "plan field summary.deletedBlobs must be 6 (what the action lists add up to), not 5"),
    (_set("summary.deletedRepositories", 0), "plan field summary.deletedRepositories must be 3"),
    (_set("summary.reclaimableBytes", 1), "plan field summary.reclaimableBytes must be 6770"),
    (_set("uploadDeletions.0.size", 701), "plan field summary.reclaimableBytes must be 6771"),
    (_swap_first_two("blobDeletions"), "plan field blobDeletions[1] is out of order"),
    (_swap_first_two("repositoryDeletions"), "plan field repositoryDeletions[1] is out of order"),
    (_repeat_first("manifestLinkDeletions"), "plan field manifestLinkDeletions[1] repeats the entry before it"),
    (_link_in_removed_repository, "plan field layerLinkDeletions[0].repository is a/b/c, which repositoryDeletions removes whole"),
    (_young_blob, f"is after policy.cutoff {CUTOFF}: a young blob is never deleted"),
    (_set("uploadDeletions.0.startedAt", YOUNG), f"plan field uploadDeletions[0].startedAt is after policy.cutoff {CUTOFF}"),
    (_set("policy.cutoff", OLD), f"plan field policy.cutoff must be the earliest of now, source.dump.collectedAt and "
                                 f"source.inventory.readAt less keepYoungerThan ({CUTOFF})"),
])
def test_the_cross_checks_refuse_a_tampered_plan(plan_bytes: bytes, change: Callable[[dict[str, Any]], None], message: str) -> None:
    assert message in _refused(_edit(plan_bytes, change))


def test_verify_refuses_a_malformed_hard_plan_with_exit_13(tmp_path: Path, plan_bytes: bytes) -> None:
    key = tmp_path / "key"
    run_cli("keygen", str(key))
    path = tmp_path / "plan.json"
    path.write_bytes(_edit(plan_bytes, _set("summary.deletedBlobs", 5)))
    from pruneplan.signing import write_signature

    write_signature(str(path), str(key))  # signed as it is: the fields are what is wrong
    result = run_cli("verify", str(path), "--key", f"{key}.pub", "--now", "2026-06-02T00:00:00Z")
    assert result.code == 13
    assert result.err_lines == [f"error: {path}: plan field summary.deletedBlobs must be 6 (what the action lists add up to), not 5"]


def test_execute_and_other_soft_readers_still_refuse_a_hard_plan(tmp_path: Path, plan_bytes: bytes) -> None:
    """Without accept_hard, verify_plan reads every plan as a PrunePlan, as before."""
    from pruneplan.signing import verify_plan, write_signature

    key = tmp_path / "key"
    run_cli("keygen", str(key))
    path = tmp_path / "plan.json"
    path.write_bytes(plan_bytes)
    write_signature(str(path), str(key))
    with pytest.raises(PrunePlanError) as caught:
        verify_plan(str(path), [f"{key}.pub"], now=0.0)
    assert caught.value.message == f"{path}: not a pruneplan plan (kind is not PrunePlan)"
    verified = verify_plan(str(path), [f"{key}.pub"], now=0.0, accept_hard=True)
    assert isinstance(verified.plan, HardPrunePlan) and verified.raw == plan_bytes
