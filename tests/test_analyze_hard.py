"""`pruneplan analyze --hard DUMP INVENTORY`: every hard-prune rule and reason, each place where
pruneplan differs from the registry's own hard prune, the refusals, determinism, and a signed
hard plan that `pruneplan verify` accepts.

The world (`write_world`) is a cluster-wide dump and a storage inventory written as files, with
a clock: the dump is collected at COLLECTED, the storage read at READ_AT, so with the default
--keep-younger-than=60m the cutoff is an hour before COLLECTED: OLD content goes, YOUNG stays.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from builders import OCI_INDEX, as_dump, digest, image, stream, write_json
from clirunner import run_cli
from pruneplan.hardplan import HardPrunePlan
from pruneplan.inventoryformat import (
    INVENTORY_API_VERSION,
    INVENTORY_KIND,
    Blob,
    Inventory,
    Problem,
    Repository,
    Upload,
    count,
    make_header,
    repository_key,
)

COLLECTED = "2026-06-01T00:00:00Z"
READ_AT = "2026-06-01T00:10:00Z"
CUTOFF = "2026-05-31T23:00:00Z"
OLD = "2026-05-01T00:00:00Z"
YOUNG = "2026-05-31T23:30:00Z"
VALID_FOR = "438000h"  # fifty years
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

# the digests of the world, by role
IMG_A, A_L1, A_L2, A_CONFIG = digest("a0"), digest("a1"), digest("a2"), digest("ac")
IMG_OCI, OCI_L, OCI_CONFIG = digest("b0"), digest("b1"), digest("bc")
LIST, CHILD_IMAGE, CHILD_BARE = digest("c0"), digest("c1"), digest("c2")
IMG_OLD, OLD_L = digest("d0"), digest("d1")  # an Image object no stream history names
ORPHAN, ORPHAN_L = digest("e0"), digest("e1")  # a manifest no Image object is, and its layer
YOUNG_M = digest("f0")  # a young manifest no Image object is
MISSING = digest("f1")  # a manifest link whose blob the inventory does not list
GONE_M, GONE_L = digest("90"), digest("91")  # the content of repositories removed whole
FRESH_L, FRESH_M = digest("92"), digest("93")  # a streamless repository's young layer, old manifest
GARBAGE, YOUNG_GARBAGE = digest("98"), digest("99")
UP_OLD, UP_YOUNG, UP_UNKNOWN = "0a0a0a0a-0000-4000-8000-000000000001", "0a0a0a0a-0000-4000-8000-000000000002", "0a0a0a0a-0000-4000-8000-000000000003"


@dataclass
class World:
    """The cluster (Image objects, image streams) and its registry's storage."""

    images: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    repositories: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[str, tuple[int, str]] = field(default_factory=dict)  # digest -> (size, modified)
    problems: list[Problem] = field(default_factory=list)
    namespace: str | None = None

    def repo(self, name: str, manifests: tuple[str, ...] = (), layers: tuple[str, ...] = (),
             uploads: tuple[tuple[str, str | None, int], ...] = ()) -> None:
        self.repositories[name] = {"manifests": manifests, "layers": layers, "uploads": uploads}

    def blob(self, name: str, size: int = 100, modified: str = OLD) -> None:
        self.blobs[name] = (size, modified)

    def inventory(self) -> Inventory:
        repositories = [
            Repository(name, sorted(set(r["manifests"])), sorted(set(r["layers"])), {},
                       sorted((Upload(u, at, size) for u, at, size in r["uploads"]), key=lambda u: u.uuid))
            for name, r in sorted(self.repositories.items(), key=lambda pair: repository_key(pair[0]))
        ]
        blobs = [Blob(d, size, modified) for d, (size, modified) in sorted(self.blobs.items())]
        header = make_header(READ_AT, "/var/lib/registry", count(repositories, blobs, len(self.problems)))
        return Inventory(INVENTORY_API_VERSION, INVENTORY_KIND, repositories, blobs, self.problems, header)


def standard_world() -> World:
    """Every rule and reason once."""
    w = World()
    w.images = [
        image(IMG_A, layers=[A_L1, A_L2], config=A_CONFIG),
        image(IMG_OCI, layers=[OCI_L], config=OCI_CONFIG, media_type=OCI_MANIFEST),
        image(LIST, media_type=OCI_INDEX, manifests=[CHILD_IMAGE, CHILD_BARE], metadata=None),
        image(CHILD_IMAGE, layers=[A_L1], config=A_CONFIG),
        image(IMG_OLD, layers=[OLD_L], config=A_CONFIG),
    ]
    w.streams = [stream("ns1", "app", {"latest": [IMG_A, IMG_OCI], "multi": [LIST]})]
    w.repo("ns1/app",
           manifests=(IMG_A, IMG_OCI, LIST, CHILD_IMAGE, CHILD_BARE, IMG_OLD, ORPHAN, YOUNG_M, MISSING),
           layers=(A_L1, A_L2, OCI_L, OLD_L, ORPHAN_L),
           uploads=((UP_OLD, OLD, 700), (UP_YOUNG, YOUNG, 50), (UP_UNKNOWN, None, 30)))
    w.repo("ns2/gone", manifests=(GONE_M,), layers=(GONE_L,), uploads=((UP_OLD, OLD, 5),))
    w.repo("a/b/c", manifests=(GONE_M,))
    w.repo("my_ns/app", layers=(GONE_L,))
    w.repo("ns3/fresh", manifests=(FRESH_M,), layers=(FRESH_L,))
    for d in (IMG_A, A_L1, A_L2, A_CONFIG, IMG_OCI, OCI_L, OCI_CONFIG, LIST, CHILD_IMAGE, CHILD_BARE, IMG_OLD, OLD_L):
        w.blob(d)
    w.blob(ORPHAN, 1000)
    w.blob(ORPHAN_L, 2000)
    w.blob(YOUNG_M, modified=YOUNG)
    w.blob(GONE_M, 10)
    w.blob(GONE_L, 20)
    w.blob(FRESH_L, modified=YOUNG)
    w.blob(FRESH_M, 40)
    w.blob(GARBAGE, 3000)
    w.blob(YOUNG_GARBAGE, 4000, modified=YOUNG)
    return w


def write_world(tmp_path: Path, world: World, gz: bool = True) -> tuple[Path, Path]:
    dump = write_json(tmp_path / "dump.json", as_dump(world.images + world.streams, collected_at=COLLECTED,
                                                      namespace=world.namespace))
    inventory = tmp_path / ("inventory.json.gz" if gz else "inventory.json")
    data = world.inventory().to_bytes()
    inventory.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return dump, inventory


def analyze_hard(tmp_path: Path, world: World, *args: str) -> tuple[Any, HardPrunePlan]:
    dump, inventory = write_world(tmp_path, world)
    plan_path = tmp_path / "plan.json"
    # valid for long enough to still be valid when the test runs
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", str(plan_path), "--valid-for", VALID_FOR, *args)
    assert result.code == 0, result.err
    return result, HardPrunePlan.from_bytes(plan_path.read_bytes(), str(plan_path))


@pytest.fixture
def planned(tmp_path: Path) -> tuple[Any, HardPrunePlan]:
    return analyze_hard(tmp_path, standard_world())


# --- the rules ------------------------------------------------------------------------------------


def test_repositories_without_an_image_stream_or_with_an_impossible_name_are_removed_whole(planned) -> None:
    _, plan = planned
    assert [(e.repository, e.reason) for e in plan.repository_deletions] == [
        ("a/b/c", "invalid-name"), ("my_ns/app", "invalid-name"), ("ns2/gone", "no-image-stream"),
    ]
    # their links and uploads go with them, not listed one by one
    listed = {e.repository for e in (*plan.manifest_link_deletions, *plan.layer_link_deletions, *plan.upload_deletions)}
    assert not listed & {"a/b/c", "my_ns/app", "ns2/gone"}


def test_a_streamless_repository_with_young_content_is_kept_and_its_old_links_judged(planned) -> None:
    _, plan = planned
    assert "ns3/fresh" not in {e.repository for e in plan.repository_deletions}
    assert ("ns3/fresh", FRESH_M, "not-an-image") in {(e.repository, e.digest, e.reason) for e in plan.manifest_link_deletions}


def test_manifest_links_go_unless_an_image_in_stream_history_a_kept_lists_child_or_young(planned) -> None:
    _, plan = planned
    deleted = {(e.digest, e.reason) for e in plan.manifest_link_deletions if e.repository == "ns1/app"}
    assert deleted == {(IMG_OLD, "not-in-stream-history"), (ORPHAN, "not-an-image")}
    # kept: IMG_A and IMG_OCI and LIST (history), both children of LIST, YOUNG_M (young), MISSING (age unknown)


def test_layer_links_of_deleted_blobs_are_deleted(planned) -> None:
    _, plan = planned
    assert [(e.repository, e.digest, e.reason) for e in plan.layer_link_deletions] == [("ns1/app", ORPHAN_L, "blob-deleted")]


def test_old_uploads_are_deleted_young_and_unknown_age_uploads_kept(planned) -> None:
    _, plan = planned
    assert [(e.repository, e.uuid, e.started_at, e.size) for e in plan.upload_deletions] == [("ns1/app", UP_OLD, OLD, 700)]


def test_blobs_go_when_unaccounted_unlinked_and_old(planned) -> None:
    _, plan = planned
    assert [(e.digest, e.size) for e in plan.blob_deletions] == sorted(
        [(ORPHAN, 1000), (ORPHAN_L, 2000), (GONE_M, 10), (GONE_L, 20), (FRESH_M, 40), (GARBAGE, 3000)])
    # accounted for: an OCI image's config, a list's child without an Image object, an Image
    # object no history names; young: YOUNG_GARBAGE
    kept = {OCI_CONFIG, CHILD_BARE, IMG_OLD, OLD_L, YOUNG_GARBAGE, YOUNG_M}
    assert not kept & {e.digest for e in plan.blob_deletions}


def test_summary_counts_the_lists_and_reclaimable_bytes_add_blobs_and_uploads(planned) -> None:
    _, plan = planned
    s = plan.summary
    assert (s.deleted_repositories, s.deleted_manifest_links, s.deleted_layer_links, s.deleted_uploads, s.deleted_blobs) == (3, 3, 1, 1, 6)
    assert s.reclaimable_bytes == 1000 + 2000 + 10 + 20 + 40 + 3000 + 700
    assert plan.policy.cutoff == CUTOFF and plan.policy.keep_younger_than == "1h0m0s" and plan.policy.now == COLLECTED
    assert plan.source.dump.collected_at == COLLECTED and plan.source.inventory.read_at == READ_AT


def test_keep_younger_than_moves_the_cutoff(tmp_path: Path) -> None:
    _, plan = analyze_hard(tmp_path, standard_world(), "--keep-younger-than", "0s")
    assert plan.policy.cutoff == COLLECTED
    # nothing is young any more: the streamless repository goes, and the young blobs
    assert "ns3/fresh" in {e.repository for e in plan.repository_deletions}
    assert {YOUNG_GARBAGE, YOUNG_M} <= {e.digest for e in plan.blob_deletions}


def test_the_cutoff_is_taken_from_the_earlier_of_now_and_the_inventory(tmp_path: Path) -> None:
    _, plan = analyze_hard(tmp_path, standard_world(), "--now", "2026-07-01T00:00:00Z")
    assert plan.policy.now == "2026-07-01T00:00:00Z" and plan.policy.cutoff == CUTOFF


# --- output ---------------------------------------------------------------------------------------


def test_stdout_has_one_dry_run_line_per_deletion_and_stderr_the_closing_summary(planned) -> None:
    result, plan = planned
    lines = result.out.splitlines()
    assert f"Would delete manifest link: ns1/app@{ORPHAN}" in lines
    assert f"Would delete layer link: ns1/app@{ORPHAN_L}" in lines
    assert f"Would delete upload: ns1/app/_uploads/{UP_OLD}" in lines
    assert "Would delete repository: ns2/gone" in lines
    assert f"Would delete blob: {GARBAGE}" in lines
    assert len(lines) == 3 + 3 + 1 + 1 + 6
    assert "will delete:  3 repositories, 3 manifest links, 1 layer link, 1 upload, 6 blobs" in result.err
    assert "pruneplan execute" in result.err and "readOnly" in result.err


def test_quiet_prints_nothing_but_warnings(tmp_path: Path) -> None:
    world = standard_world()
    world.problems = [Problem("docker/registry/v2/repositories/x", "unreadable")]
    result, _ = analyze_hard(tmp_path, world, "-q")
    assert result.out == ""
    assert result.err_lines == [
        f"warning: {tmp_path / 'inventory.json.gz'}: the inventory records 1 problem(s) reading the storage; "
        "what it could not read is neither listed nor deleted"
    ]


def test_the_plan_is_byte_identical_for_the_same_inputs(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    _, first = analyze_hard(tmp_path / "1", standard_world())
    _, second = analyze_hard(tmp_path / "2", standard_world())
    raw = (tmp_path / "1" / "plan.json").read_bytes()
    assert raw == (tmp_path / "2" / "plan.json").read_bytes()
    assert first.to_bytes() == raw


def test_a_signed_hard_plan_verifies(tmp_path: Path) -> None:
    key = tmp_path / "key"
    assert run_cli("keygen", str(key)).code == 0
    _, plan = analyze_hard(tmp_path, standard_world(), "--sign-key", str(key))
    result = run_cli("verify", str(tmp_path / "plan.json"), "--key", f"{key}.pub", "--now", "2026-06-02T00:00:00Z")
    assert result.code == 0, result.err
    assert "kind:         HardPrunePlan" in result.out
    assert f"cutoff:       {CUTOFF}" in result.out


def test_a_tampered_hard_plan_does_not_verify(tmp_path: Path) -> None:
    key = tmp_path / "key"
    run_cli("keygen", str(key))
    analyze_hard(tmp_path, standard_world(), "--sign-key", str(key))
    path = tmp_path / "plan.json"
    path.write_bytes(path.read_bytes().replace(b'"reclaimableBytes": 6770', b'"reclaimableBytes": 6771'))
    result = run_cli("verify", str(path), "--key", f"{key}.pub", "--now", "2026-06-02T00:00:00Z")
    assert result.code == 10 and result.err_lines == ["error: signature does not verify with any trusted key (tried 1)"]


def test_an_expired_hard_plan_is_refused_by_verify(tmp_path: Path) -> None:
    key = tmp_path / "key"
    run_cli("keygen", str(key))
    analyze_hard(tmp_path, standard_world(), "--sign-key", str(key), "--valid-for", "1h")
    result = run_cli("verify", str(tmp_path / "plan.json"), "--key", f"{key}.pub", "--now", "2026-06-02T00:00:00Z")
    assert result.code == 12 and "expired on 2026-06-01T01:00:00Z" in result.err


# --- refusals -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", [
    ["--keep-tag-revisions", "3"], ["--prune-over-size-limit"], ["--all"], ["-n", "ns1"],
    ["--ignore-invalid-refs"], ["--prune-registry"], ["--policy-from-cluster"],
])
def test_soft_only_policy_flags_are_refused_with_hard(tmp_path: Path, flag: list[str]) -> None:
    dump, inventory = write_world(tmp_path, standard_world())
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", str(tmp_path / "p.json"), *flag)
    assert result.code == 2
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: ") and "cannot be given with --hard" in result.err
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("count", [1, 3])
def test_hard_takes_exactly_a_dump_and_an_inventory(tmp_path: Path, count: int) -> None:
    dump, inventory = write_world(tmp_path, standard_world())
    args = [str(dump), str(inventory), str(inventory)][:count]
    result = run_cli("analyze", "--hard", *args, "-o", str(tmp_path / "p.json"))
    assert result.code == 2 and result.err_lines == [f"error: analyze --hard takes exactly DUMP INVENTORY, not {count} argument(s)"]


def test_a_namespaced_dump_is_refused(tmp_path: Path) -> None:
    world = standard_world()
    world.namespace = "ns1"
    dump, inventory = write_world(tmp_path, world)
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", str(tmp_path / "p.json"))
    assert result.code == 3 and len(result.err_lines) == 1 and "collected with -n ns1" in result.err
    assert not (tmp_path / "p.json").exists()


def test_a_list_instead_of_a_dump_is_refused(tmp_path: Path) -> None:
    world = standard_world()
    _, inventory = write_world(tmp_path, world)
    listed = write_json(tmp_path / "list.json", {"apiVersion": "v1", "kind": "List", "items": world.images + world.streams})
    result = run_cli("analyze", "--hard", str(listed), str(inventory), "--now", COLLECTED, "-o", str(tmp_path / "p.json"))
    assert result.code == 3 and len(result.err_lines) == 1 and "a `kind: List`, not a dump" in result.err


def test_an_image_whose_config_is_unknown_is_refused(tmp_path: Path) -> None:
    world = standard_world()
    world.images.append(image(digest("77"), layers=[A_L1], metadata=None))
    dump, inventory = write_world(tmp_path, world)
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", str(tmp_path / "p.json"))
    assert result.code == 3 and len(result.err_lines) == 1 and "its config blob is unknown" in result.err


@pytest.mark.parametrize("damage", ["truncated", "corrupt-gzip", "bad-field"])
def test_a_damaged_inventory_is_one_error_line(tmp_path: Path, damage: str) -> None:
    dump, inventory = write_world(tmp_path, standard_world(), gz=damage != "bad-field")
    raw = inventory.read_bytes()
    if damage == "truncated":
        inventory.write_bytes(raw[: len(raw) // 2])
    elif damage == "corrupt-gzip":
        inventory.write_bytes(raw[:20] + bytes(b ^ 0xFF for b in raw[20:40]) + raw[40:])
    else:
        doc = json.loads(raw)
        doc["blobs"][0]["size"] = -1
        inventory.write_text(json.dumps(doc))
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", str(tmp_path / "p.json"))
    assert result.code == 3, result.err
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith(f"error: {inventory}: ")
    assert "Traceback" not in result.err and not (tmp_path / "p.json").exists()


def test_confirm_is_refused_with_hard(tmp_path: Path) -> None:
    dump, inventory = write_world(tmp_path, standard_world())
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "--confirm")
    assert result.code == 2 and "analyze never deletes anything" in result.err


def test_a_streamless_repository_with_an_upload_or_link_of_unknown_age_is_kept(tmp_path: Path) -> None:
    world = standard_world()
    world.repo("ns4/pushing", uploads=((UP_UNKNOWN, None, 1),))
    world.repo("ns5/racing", manifests=(digest("77"),))  # a link to a blob the inventory does not list
    _, plan = analyze_hard(tmp_path, world)
    removed = {e.repository for e in plan.repository_deletions}
    assert not removed & {"ns4/pushing", "ns5/racing"}
    assert not {e.repository for e in (*plan.manifest_link_deletions, *plan.upload_deletions)} & {"ns4/pushing", "ns5/racing"}


def test_dash_o_dash_writes_the_plan_to_stdout_without_the_dry_run_lines(tmp_path: Path) -> None:
    dump, inventory = write_world(tmp_path, standard_world())
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", "-", "--valid-for", VALID_FOR)
    assert result.code == 0, result.err
    plan = HardPrunePlan.from_bytes(result.out.encode())
    assert plan.to_bytes() == result.out.encode() and plan.summary.deleted_blobs == 6
    assert "Hard-prune plan written to stdout" in result.err


def test_fresh_decisions_confirm_the_plan_and_drop_what_is_accounted_for_now(tmp_path: Path) -> None:
    """What execute asks of the rules: decided again, every entry of the plan still goes, but a
    blob an Image object pushed since accounts for no longer does."""
    from pruneplan.analyze.hard.run import load_hard_inputs

    world = standard_world()
    _, plan = analyze_hard(tmp_path, world)
    again = load_hard_inputs(str(tmp_path / "dump.json"), str(tmp_path / "inventory.json.gz"), None, None).decide()
    assert all(again.deletes_repository(e.repository) for e in plan.repository_deletions)
    assert all(again.deletes_manifest_link(e.repository, e.digest) for e in plan.manifest_link_deletions)
    assert all(again.deletes_layer_link(e.repository, e.digest) for e in plan.layer_link_deletions)
    assert all(again.deletes_upload(e.repository, e.uuid) for e in plan.upload_deletions)
    assert all(again.deletes_blob(e.digest) for e in plan.blob_deletions)
    world.images.append(image(digest("55"), layers=[GARBAGE], config=A_CONFIG))
    (tmp_path / "later").mkdir()
    dump, inventory = write_world(tmp_path / "later", world)
    later = load_hard_inputs(str(dump), str(inventory), None, None).decide()
    assert not later.deletes_blob(GARBAGE) and later.deletes_blob(ORPHAN)
