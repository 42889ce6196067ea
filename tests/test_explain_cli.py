"""`pruneplan explain`'s command line: --plan, several targets, digest prefixes, help (docs/explain.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from builders import REGISTRY, as_list, digest, image, pod, stream, write_json
from clirunner import run_cli
from pruneplan.cli import build_app

NOW = "2026-06-01T00:00:00Z"
PLAN_NOW = "2026-06-02T00:00:00Z"


@pytest.fixture()
def dump(tmp_path: Path) -> Path:
    """ns/app:v1 with three old items; a pod uses the tag. Image 7 is in no stream."""
    objects = [image(digest(i), layers=[digest(f"l{i}")]) for i in (1, 2, 3, 7)]
    objects += [stream("ns", "app", {"v1": [digest(1), digest(2), digest(3)]}), pod("ns", "web", [f"{REGISTRY}/ns/app:v1"])]
    return write_json(tmp_path / "list.json", as_list(objects))


@pytest.fixture()
def plan(dump: Path) -> Path:
    """The plan of `dump` at PLAN_NOW, keeping one revision."""
    path = dump.parent / "plan.json"
    result = run_cli("analyze", str(dump), "-o", str(path), "-q", "--now", PLAN_NOW, "--keep-tag-revisions=1")
    assert result.code == 0, result.err
    return path


def answers_of(out: str) -> list[dict[str, Any]]:
    answers = json.loads(out)
    assert isinstance(answers, list)
    return answers


# ---------------------------------------------------------------- --plan


def test_plan_gives_the_policy_and_now(dump: Path, plan: Path) -> None:
    result = run_cli("explain", "--plan", str(plan), str(dump), "ns/app:v1", "--format", "json")
    assert result.code == 0, result.err
    (answer,) = answers_of(result.out)
    assert [(i["position"], i["verdict"], i["rule"]) for i in answer["items"]] == [
        (0, "kept", "tag-in-use"), (1, "pruned", "beyond-keep-tag-revisions"), (2, "pruned", "beyond-keep-tag-revisions"),
    ]
    assert "position 1 is beyond --keep-tag-revisions=1" in answer["items"][1]["facts"]
    assert f"(now {PLAN_NOW} - --keep-younger-than=1h0m0s)" in answer["items"][1]["facts"]

    planned = {item["index"] for update in json.loads(plan.read_text())["imageStreamUpdates"] for item in update["removedItems"]}
    assert planned == {i["position"] for i in answer["items"] if i["verdict"] == "pruned"}

    # the same dump without the plan: upstream's defaults keep three revisions
    result = run_cli("explain", str(dump), "ns/app:v1", "--now", NOW, "--format", "json")
    assert result.code == 0, result.err
    assert all(item["verdict"] == "kept" for item in answers_of(result.out)[0]["items"])


@pytest.mark.parametrize("flags", [
    ["--keep-tag-revisions=3"], ["--now", NOW], ["--all=false"], ["-n", "ns", "--prune-registry=true"],
], ids=["keep-tag-revisions", "now", "all", "namespace-and-prune-registry"])
def test_policy_flags_with_a_plan_are_refused(dump: Path, plan: Path, flags: list[str]) -> None:
    result = run_cli("explain", "--plan", str(plan), str(dump), "ns/app:v1", *flags)
    assert (result.code, result.out) == (2, "")
    (line,) = result.err_lines
    assert line.startswith("error: --") and "cannot be given with --plan" in line, line
    for flag in flags:
        if flag.startswith("-") and flag != "-n":
            assert flag.split("=", 1)[0] in line
    if "-n" in flags:
        assert "--namespace" in line


@pytest.mark.parametrize("content", [b"not json", b"{}", b'{"kind": "PrunePlan"}'], ids=["not-json", "empty-object", "partial"])
def test_a_plan_that_does_not_parse_is_one_error_line_with_status_13(dump: Path, content: bytes) -> None:
    bad = dump.parent / "bad-plan.json"
    bad.write_bytes(content)
    result = run_cli("explain", "--plan", str(bad), str(dump), "ns/app:v1")
    assert (result.code, result.out) == (13, "")
    (line,) = result.err_lines
    assert line.startswith(f"error: {bad}: "), line


def test_a_plan_of_another_dump_is_refused(dump: Path, plan: Path, tmp_path: Path) -> None:
    other = write_json(tmp_path / "other.json", as_list([image(digest(1)), stream("ns", "app", {"v1": [digest(1)]})]))
    result = run_cli("explain", "--plan", str(plan), str(other), "ns/app:v1")
    assert (result.code, result.out) == (3, "")
    (line,) = result.err_lines
    source = json.loads(plan.read_text())["source"]["dumpSha256"]
    assert line.startswith(f"error: {plan} was made from the dump with sha256 {source}, not from {other} (sha256 "), line


def test_a_missing_plan_is_one_error_line(dump: Path) -> None:
    result = run_cli("explain", "--plan", str(dump.parent / "nope.json"), str(dump), "ns/app:v1")
    assert result.code == 3 and result.out == ""
    assert result.err_lines == [f"error: cannot read plan {dump.parent / 'nope.json'}: No such file or directory"]


# ---------------------------------------------------------------- several targets


def test_several_targets_are_answered_in_turn(dump: Path) -> None:
    result = run_cli("explain", str(dump), digest(1), "ns/app:v1", digest(7), "--now", NOW)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    headers = [line for line in lines if line.startswith("== ")]
    assert headers == [f"== {digest(1)} (1 of 3) ==", "== ns/app:v1 (2 of 3) ==", f"== {digest(7)} (3 of 3) =="]
    second = lines.index(headers[1])
    assert lines[second - 1] == "" and lines[second + 1] == "imagestreamtag ns/app:v1: KEPT"
    assert lines[lines.index(headers[2]) + 1] == f"image {digest(7)}: PRUNED"

    result = run_cli("explain", str(dump), digest(1), "ns/app:v1", "--now", NOW, "--format", "json")
    assert result.code == 0, result.err
    assert [(a["query"], a["type"]) for a in answers_of(result.out)] == [(digest(1), "image"), ("ns/app:v1", "imagestreamtag")]


def test_an_unknown_target_does_not_hide_the_others(dump: Path) -> None:
    unknown = "sha256:" + "f" * 64
    result = run_cli("explain", str(dump), digest(1), unknown, "ns/app:v1", "--now", NOW, "--format", "json")
    assert result.code == 1
    assert [a["query"] for a in answers_of(result.out)] == [digest(1), "ns/app:v1"]
    assert result.err_lines == [f"error: {unknown} is not an image, a blob or an image stream tag (ns/name:tag) of the dump"]


def test_each_unknown_target_has_its_error_line(dump: Path) -> None:
    result = run_cli("explain", str(dump), "ns/nope:v1", digest(2), "ns/app:nope", "--now", NOW)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[:2] == [f"== {digest(2)} (2 of 3) ==", f"image {digest(2)}: KEPT"]
    assert not [line for line in lines if line.startswith("== ") and line != lines[0]]
    assert len(result.err_lines) == 2
    assert "ns/nope" in result.err_lines[0] and "has no tag nope" in result.err_lines[1]


def test_several_dumps_then_several_targets(tmp_path: Path) -> None:
    first = write_json(tmp_path / "a.json", as_list([image(digest(1))]))
    second = write_json(tmp_path / "b.json", as_list([stream("ns", "app", {"v1": [digest(1)]})]))
    result = run_cli("explain", str(first), str(second), "ns/app:v1", digest(1), "--now", NOW, "--format", "json")
    assert result.code == 0, result.err
    assert [a["type"] for a in answers_of(result.out)] == ["imagestreamtag", "image"]


# ---------------------------------------------------------------- digest prefixes


@pytest.fixture()
def distinct(tmp_path: Path) -> Path:
    a, b = "sha256:0a1b2c" + "1" * 58, "sha256:0a1b2d" + "2" * 58
    layer = "sha256:9f8e7d" + "3" * 58
    return write_json(tmp_path / "list.json", as_list([image(a, layers=[layer]), image(b, layers=[layer]), stream("ns", "app", {"v1": [a, b]})]))


@pytest.mark.parametrize(("prefix", "whole", "kind"), [
    ("sha256:0a1b2c", "sha256:0a1b2c" + "1" * 58, "image"),
    ("0a1b2d", "sha256:0a1b2d" + "2" * 58, "image"),
    ("9f8e7d33", "sha256:9f8e7d" + "3" * 58, "blob"),
], ids=["with-algorithm", "bare-hex", "blob"])
def test_a_unique_digest_prefix_is_enough(distinct: Path, prefix: str, whole: str, kind: str) -> None:
    result = run_cli("explain", str(distinct), prefix, "--now", NOW, "--format", "json")
    assert result.code == 0, result.err
    answer = answers_of(result.out)[0]
    assert (answer["type"], answer["target"], answer["query"]) == (kind, whole, prefix)


def test_an_ambiguous_prefix_is_one_error_line_with_the_count(dump: Path) -> None:
    result = run_cli("explain", str(dump), "sha256:000000", "--now", NOW)
    assert (result.code, result.out) == (1, "")
    (line,) = result.err_lines
    # images 1, 2, 3, 7: their names start with it (their layers do not)
    assert line == (f"error: sha256:000000 is ambiguous: 4 digests of the dump start with it: "
                    f"{digest(1)}, {digest(2)}, {digest(3)} and 1 more")


def test_a_prefix_shorter_than_six_hex_digits_is_refused(distinct: Path) -> None:
    result = run_cli("explain", str(distinct), "0a1b2", "--now", NOW)
    assert (result.code, result.out) == (1, "")
    assert result.err_lines == ["error: 0a1b2: a digest prefix needs at least 6 hex digits"]


# ---------------------------------------------------------------- help


def test_help_documents_every_option_with_upper_case_placeholders_and_examples() -> None:
    command = typer.main.get_command(build_app()).commands["explain"]  # type: ignore[attr-defined]
    for param in command.params:
        if param.param_type_name == "option":
            assert getattr(param, "help", None), f"{param.opts} has no help"
            if not getattr(param, "is_flag", False):
                assert param.metavar and re.fullmatch(r"[A-Z][A-Z.]*", param.metavar), (param.opts, param.metavar)
    result = run_cli("explain", "--help")
    assert result.code == 0
    examples = result.out.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples[0].lstrip().startswith("# ") and examples[1].lstrip().startswith("pruneplan explain ")
    assert any("pruneplan explain --plan plan.json " in line for line in examples)
    assert "--plan PLAN" in result.out and "--now TIME" in result.out and "--keep-tag-revisions N" in result.out
