"""`pruneplan explain --hard DUMP INVENTORY TARGET...`: for a blob, a repository or a link, whether
a hard prune deletes it and the evidence: the Image objects that account for a blob, the history
entry that keeps a manifest link, the list whose child it is, the cutoff and a blob's time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clirunner import run_cli
from test_analyze_hard import (
    A_L1,
    CHILD_BARE,
    CHILD_IMAGE,
    COLLECTED,
    CUTOFF,
    FRESH_L,
    GARBAGE,
    GONE_M,
    IMG_A,
    IMG_OCI,
    IMG_OLD,
    LIST,
    MISSING,
    OCI_CONFIG,
    OLD,
    ORPHAN,
    ORPHAN_L,
    VALID_FOR,
    YOUNG,
    YOUNG_GARBAGE,
    YOUNG_M,
    standard_world,
    write_world,
)


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    dump, inventory = write_world(tmp_path, standard_world())
    return str(dump), str(inventory)


def explain(files: tuple[str, str], *targets: str, extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    result = run_cli("explain", "--hard", *files, *targets, "--format", "json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_an_unused_old_blob_is_deleted_with_its_time_and_the_cutoff(files) -> None:
    [answer] = explain(files, GARBAGE)
    assert (answer["type"], answer["verdict"], answer["size"], answer["modified"], answer["cutoff"]) == ("blob", "deleted", 3000, OLD, CUTOFF)
    assert answer["accountedFor"] == [] and answer["keptManifestLinks"] == []
    assert answer["reasons"][0]["rule"] == "unused"


def test_a_blob_names_every_image_that_accounts_for_it(files) -> None:
    [layer] = explain(files, A_L1)
    assert layer["verdict"] == "kept"
    assert layer["accountedFor"] == [{"image": IMG_A, "as": "layer"}, {"image": CHILD_IMAGE, "as": "layer"}]
    [config] = explain(files, OCI_CONFIG)  # an OCI image's config counts (upstream once missed it)
    assert config["accountedFor"] == [{"image": IMG_OCI, "as": "config"}]
    [child] = explain(files, CHILD_BARE)  # a list's child without an Image object of its own
    assert child["accountedFor"] == [{"image": LIST, "as": "child"}]


def test_a_young_blob_is_kept_naming_its_time_and_the_cutoff(files) -> None:
    [answer] = explain(files, YOUNG_GARBAGE)
    assert answer["verdict"] == "kept"
    assert answer["reasons"] == [{"rule": "young", "text": f"modified {YOUNG}, after the cutoff {CUTOFF}"}]


def test_a_blob_kept_by_a_kept_manifest_link(files) -> None:
    [answer] = explain(files, YOUNG_M)
    assert answer["keptManifestLinks"] == [f"ns1/app@{YOUNG_M}"]
    assert {r["rule"] for r in answer["reasons"]} == {"kept-manifest-link", "young"}


def test_a_unique_digest_prefix_is_enough_an_ambiguous_one_is_an_error(files) -> None:
    with_algorithm, bare = explain(files, OCI_CONFIG[:13], OCI_CONFIG[7:19])
    assert with_algorithm["target"] == bare["target"] == OCI_CONFIG
    result = run_cli("explain", "--hard", *files, "sha256:000000")
    assert result.code == 1 and result.err_lines[0].startswith("error: sha256:000000 is ambiguous: 6 digests of the inventory start with it")


def test_repositories_say_why_they_go_or_stay(files) -> None:
    gone, invalid, stream, young = explain(files, "ns2/gone", "my_ns/app", "ns1/app", "ns3/fresh")
    assert (gone["verdict"], gone["reasons"][0]["rule"]) == ("deleted", "no-image-stream")
    assert (invalid["verdict"], invalid["reasons"][0]["rule"]) == ("deleted", "invalid-name")
    assert (stream["verdict"], stream["stream"], stream["reasons"][0]["rule"]) == ("kept", "ns1/app", "image-stream")
    assert stream["deleting"] == {"manifestLinks": 2, "layerLinks": 1, "uploads": 1}
    assert (young["verdict"], young["stream"], young["youngContent"]) == ("kept", None, [f"layer link {FRESH_L}"])
    assert young["reasons"][0]["rule"] == "young-content"


def test_manifest_links_name_the_history_entry_the_list_or_the_age_that_keeps_them(files) -> None:
    answers = explain(files, *(f"ns1/app@{d}" for d in (IMG_OCI, CHILD_IMAGE, YOUNG_M, MISSING)))
    rules = [(a["type"], a["verdict"], a["reasons"][0]["rule"]) for a in answers]
    assert rules == [
        ("manifest-link", "kept", "in-stream-history"), ("manifest-link", "kept", "child-of-kept-list"),
        ("manifest-link", "kept", "young"), ("manifest-link", "kept", "unknown-age"),
    ]
    assert "item 1 of tag latest in the history of the image stream ns1/app" in answers[0]["reasons"][0]["text"]
    assert f"a child of the manifest list {LIST}" in answers[1]["reasons"][0]["text"]


def test_deleted_links_say_why(files) -> None:
    old, orphan, layer, gone = explain(files, f"ns1/app@{IMG_OLD}", f"ns1/app@{ORPHAN}", f"ns1/app@{ORPHAN_L}", f"ns2/gone@{GONE_M}")
    assert (old["verdict"], old["reasons"][0]["rule"]) == ("deleted", "not-in-stream-history")
    assert (orphan["verdict"], orphan["reasons"][0]["rule"]) == ("deleted", "not-an-image")
    assert (layer["type"], layer["verdict"], layer["reasons"][0]["rule"]) == ("layer-link", "deleted", "blob-deleted")
    assert (gone["verdict"], gone["reasons"][0]["rule"]) == ("deleted", "no-image-stream")
    assert "removed whole" in gone["reasons"][0]["text"]


def test_text_output_names_the_verdict_and_the_evidence(files) -> None:
    result = run_cli("explain", "--hard", *files, f"ns1/app@{IMG_A}")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"manifest-link ns1/app@{IMG_A}: KEPT",
        "  kept because:",
        f"    - in-stream-history: Image {IMG_A} is item 0 of tag latest in the history of the image stream ns1/app",
    ]


def test_keep_younger_than_changes_the_answer(files) -> None:
    [answer] = explain(files, YOUNG_GARBAGE, extra=("--keep-younger-than", "0s"))
    assert answer["verdict"] == "deleted" and answer["cutoff"] == COLLECTED


def test_explain_takes_the_policy_of_a_hard_plan(tmp_path: Path, files) -> None:
    plan = tmp_path / "hard-plan.json"
    made = run_cli("analyze", "--hard", *files, "-o", str(plan), "--keep-younger-than", "0s", "--valid-for", VALID_FOR, "-q")
    assert made.code == 0, made.err
    [answer] = explain(files, YOUNG_GARBAGE, extra=("--plan", str(plan)))
    assert answer["verdict"] == "deleted"


def test_a_plan_of_other_inputs_is_refused(tmp_path: Path, files) -> None:
    plan = tmp_path / "hard-plan.json"
    run_cli("analyze", "--hard", *files, "-o", str(plan), "--valid-for", VALID_FOR, "-q")
    world = standard_world()
    world.blob(GARBAGE, 3001)
    (tmp_path / "other").mkdir()
    dump, inventory = write_world(tmp_path / "other", world)
    result = run_cli("explain", "--hard", str(dump), str(inventory), GARBAGE, "--plan", str(plan))
    assert result.code == 3 and len(result.err_lines) == 1 and "was made from the inventory with sha256" in result.err


def test_unknown_targets_are_one_error_line_each_and_the_others_answered(files) -> None:
    result = run_cli("explain", "--hard", *files, "ns9/none", GARBAGE, f"ns1/app@{GONE_M}", "zz")
    assert result.code == 1
    assert result.err_lines == [
        "error: ns9/none: the inventory holds no such repository",
        f"error: ns1/app@{GONE_M}: the repository ns1/app has no manifest or layer link to {GONE_M}",
        "error: zz: not a digest, a repository or REPOSITORY@DIGEST of the inventory",
    ]
    assert f"blob {GARBAGE}: DELETED" in result.out


@pytest.mark.parametrize("flag", [["--keep-tag-revisions", "3"], ["-n", "ns1"], ["--all"]])
def test_soft_only_flags_are_refused_with_hard(files, flag: list[str]) -> None:
    result = run_cli("explain", "--hard", *files, GARBAGE, *flag)
    assert result.code == 2 and len(result.err_lines) == 1 and "cannot be given with --hard" in result.err


def test_a_corrupt_inventory_is_one_error_line(tmp_path: Path, files) -> None:
    Path(files[1]).write_bytes(Path(files[1]).read_bytes()[:30])
    result = run_cli("explain", "--hard", *files, GARBAGE)
    assert result.code == 3 and len(result.err_lines) == 1 and result.err_lines[0].startswith(f"error: {files[1]}: ")
