"""`pruneplan explain` on the conformance cases: the rule it names is the one the case is about.

Every case of fixtures/conformance that produces a plan carries an `explain` list in case.json
(written by generate.py): targets (an image, a blob, or an item of an `ns/name:tag`), the verdict,
the upstream rule that must decide it (analyze/explain/evidence.py RULES, plus the two blob rules) and
evidence strings that must appear in the answer. These tests run the real CLI in-process.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pruneplan.analyze.explain.evidence import RULES
from builders import OCI_INDEX, REGISTRY, as_list, digest, image, pod, stream, write_json
from pruneplan.cli import main

CONFORMANCE = Path(__file__).resolve().parent.parent / "fixtures" / "conformance"
CASE_DIRS = sorted(p for p in CONFORMANCE.iterdir() if p.is_dir() and p.name[:3].isdigit())
CASES = {p.name: json.loads((p / "case.json").read_text(encoding="utf-8")) for p in CASE_DIRS}
INPUTS = {p.name: json.loads((p / "input.json").read_text(encoding="utf-8")) for p in CASE_DIRS}
PLAN_CASES = [name for name, case in CASES.items() if not case["expect"]["badReferences"]]

BLOB_RULES = {"blob-still-referenced": "kept", "blob-unreferenced": "pruned"}
ALL_RULES = {code: verdict for code, (verdict, _) in RULES.items()} | BLOB_RULES
# Both need an image whose dockerImageMetadata cannot be read; no upstream case has one.
UNREACHABLE_FROM_UPSTREAM_CASES = {"stream-skipped-unreadable-metadata", "stage-2-halted"}

# Known explain problems (reported to the maintainers of analyze/). Strict: the test says so
# when the problem is fixed, and the mark must then go.


# ---------------------------------------------------------------- running explain


def explain(capsys: pytest.CaptureFixture[str], dump: Path, target: str, *args: str,
            fmt: str = "json") -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["explain", str(dump), target, *args, "--format", fmt])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def case_args(name: str) -> list[str]:
    case = CASES[name]
    return ["--now", case["now"], *case["args"]]


def answers(capsys: pytest.CaptureFixture[str], name: str, target: str) -> list[dict[str, Any]]:
    code, out, err = explain(capsys, CONFORMANCE / name / "input.json", target, *case_args(name))
    assert code == 0, f"{name}: explain {target} exited {code}: {err}"
    result = json.loads(out)
    assert isinstance(result, list) and result, out
    return result


def image_names(name: str) -> list[str]:
    return [o["metadata"]["name"] for o in INPUTS[name]["items"] if o["kind"] == "Image"]


def target_type(name: str, target: str) -> str:
    """What the target is in the case's input: an Image name, an `ns/name:tag`, else a blob."""
    if target in image_names(name):
        return "image"
    if re.fullmatch(r"[^/@]+/[^/:@]+:[^/:@]+", target):
        return "imagestreamtag"
    return "blob"


def pick(result: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The answer of that type; an image digest that is also a blob gets the image answer first."""
    matching = [a for a in result if a["type"] == kind]
    assert matching, f"no {kind} answer among {[a['type'] for a in result]}"
    if kind == "image":
        assert result[0]["type"] == "image", "the image answer comes first for an image digest"
    return matching[0]


def decided(answer: dict[str, Any], item: int | None) -> dict[str, Any]:
    """Where the verdict and rule live: the history item for a tag, else the answer itself."""
    if answer["type"] != "imagestreamtag":
        assert item is None, "`item` only applies to ns/name:tag targets"
        return answer
    assert item is not None, "a tag target needs `item`: the rule lives on its history items"
    assert 0 <= item < len(answer["items"]), f"item {item} of {len(answer['items'])}"
    entry = answer["items"][item]
    assert entry["position"] == item  # positions count from 0, as the plan's `index`
    return entry


def evidence_pool(answer: dict[str, Any], item: int | None) -> list[str]:
    """Strings an evidence entry may appear in: referrers (usedBy `shown`), items' places
    ("ns/name:tag at position i out of n"), a blob's surviving users."""
    def of_item(entry: dict[str, Any]) -> list[str]:
        return [entry["where"], *entry.get("usedBy", {}).get("shown", [])]

    if answer["type"] == "imagestreamtag":
        return [*of_item(answer["items"][item]), *answer["usedBy"]["shown"]]
    if answer["type"] == "image":
        pool = [s for entry in answer["historyItems"] for s in of_item(entry)]
        for parent in answer.get("manifestLists", []):
            pool += [parent["image"], *(s for entry in parent["historyItems"] for s in of_item(entry))]
        return pool
    return list(answer["survivingUsers"]["shown"])


# ---------------------------------------------------------------- (a) each case's explain list


def _entries() -> list[tuple[str, int, dict[str, Any]]]:
    return [(name, i, entry) for name in PLAN_CASES for i, entry in enumerate(CASES[name].get("explain", []))]


def _entry_id(name: str, i: int, entry: dict[str, Any]) -> str:
    item = f"[{entry['item']}]" if "item" in entry else ""
    target = entry["target"]
    short = target if len(target) < 30 else target[:14] + "…" + target[-6:]
    return f"{name}#{i}:{short}{item}"


ENTRIES = _entries()


@pytest.mark.parametrize(("name", "index", "entry"), ENTRIES, ids=[_entry_id(*e) for e in ENTRIES])
def test_explain_names_the_cases_rule(name: str, index: int, entry: dict[str, Any],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """explain gives the expected verdict and names the rule the case is about."""
    answer = pick(answers(capsys, name, entry["target"]), target_type(name, entry["target"]))
    got = decided(answer, entry.get("item"))
    assert (got["verdict"], got["rule"]) == (entry["verdict"], entry["rule"]), (
        f"{CASES[name]['name']}: {entry['target']} — reason: {CASES[name]['reason']}\n"
        f"got {got['verdict']} by {got['rule']}: {got.get('description')}"
    )
    assert got["description"], "every rule comes with its description"


def _evidence_params() -> list[Any]:
    params = []
    for name, i, entry in ENTRIES:
        if not entry["evidence"]:
            continue
        params.append(pytest.param(name, i, entry, id=_entry_id(name, i, entry)))
    return params


@pytest.mark.parametrize(("name", "index", "entry"), _evidence_params())
def test_explain_shows_the_cases_evidence(name: str, index: int, entry: dict[str, Any],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The referrers, item places and surviving users the case turns on appear in the answer."""
    answer = pick(answers(capsys, name, entry["target"]), target_type(name, entry["target"]))
    pool = evidence_pool(answer, entry.get("item"))
    missing = [e for e in entry["evidence"] if not any(e in s for s in pool)]
    assert not missing, f"{CASES[name]['name']}: {entry['target']}: {missing} not in {pool}"


def test_every_plan_case_has_an_explain_list() -> None:
    without = [name for name in PLAN_CASES if not CASES[name].get("explain")]
    assert without == []
    with_bad_refs = [name for name, case in CASES.items() if case["expect"]["badReferences"] and "explain" in case]
    assert with_bad_refs == []


def test_expectations_use_known_rules_with_their_verdicts() -> None:
    for name, _, entry in ENTRIES:
        assert entry["rule"] in ALL_RULES, f"{name}: unknown rule {entry['rule']}"
        assert ALL_RULES[entry["rule"]] == entry["verdict"], f"{name}: {entry['rule']} is a {ALL_RULES[entry['rule']]} rule"


def test_every_reachable_rule_is_exercised() -> None:
    exercised = {entry["rule"] for _, _, entry in ENTRIES}
    assert set(ALL_RULES) - UNREACHABLE_FROM_UPSTREAM_CASES - exercised == set()
    assert UNREACHABLE_FROM_UPSTREAM_CASES <= set(RULES), "the exempted rules must still exist"


# ---------------------------------------------------------------- (b) explain agrees with the plan


def _stream_tags(name: str) -> list[tuple[str, str, int]]:
    """(ns/name, tag, items) of every stream in the run's scope."""
    args = CASES[name]["args"]
    namespace = next((a.split("=", 1)[1] for a in args if a.startswith("--namespace=")), None)
    out = []
    for obj in INPUTS[name]["items"]:
        if obj["kind"] != "ImageStream" or namespace not in (None, obj["metadata"]["namespace"]):
            continue
        repo = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        out += [(repo, t["tag"], len(t["items"])) for t in obj["status"]["tags"]]
    return out


@pytest.mark.parametrize("name", PLAN_CASES)
def test_explain_agrees_with_the_expected_plan(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Images: pruned exactly when deleted. Blobs: every deleted blob is pruned, and a layer or
    config blob is pruned only when deleted. History items and tags: pruned exactly when removed."""
    expect = CASES[name]["expect"]
    images = image_names(name)
    for img in images:
        answer = pick(answers(capsys, name, img), "image")
        want = "pruned" if img in expect["imageDeletions"] else "kept"
        assert answer["verdict"] == want, f"image {img}: {answer['rule']}"
        assert ALL_RULES[answer["rule"]] == answer["verdict"]
        if answer["rule"] in ("referenced-by-stream", "child-of-used-manifest-list"):
            assert answer["path"][-1] == f"image {img}", answer["path"]
            assert " at position " in answer["path"][0] or " (" in answer["path"][0], answer["path"]  # an item or a referrer
        else:
            assert "path" not in answer, answer["path"]

    for blob in expect["blobDeletions"]:
        result = answers(capsys, name, blob)
        answer = next((a for a in result if a["type"] == "blob"), result[0])
        assert answer["verdict"] == "pruned", f"blob {blob}: {answer['rule']}: {answer['description']}"

    layers = {layer["name"] for o in INPUTS[name]["items"] if o["kind"] == "Image" for layer in o.get("dockerImageLayers", [])}
    configs = {o.get("dockerImageMetadata", {}).get("Id") for o in INPUTS[name]["items"] if o["kind"] == "Image"}
    for blob in sorted((layers | configs) - {None, ""} - set(images)):
        answer = pick(answers(capsys, name, blob), "blob")
        want = "pruned" if blob in expect["blobDeletions"] else "kept"
        assert answer["verdict"] == want, f"blob {blob}: {answer['rule']}: {answer['description']}"

    for repo, tag, count in _stream_tags(name):
        answer = pick(answers(capsys, name, f"{repo}:{tag}"), "imagestreamtag")
        assert len(answer["items"]) == count
        for index, item in enumerate(answer["items"]):
            removed = f"{repo}|{tag}|{index}|{item['image']}" in expect["streamUpdates"]
            assert item["verdict"] == ("pruned" if removed else "kept"), f"{repo}:{tag} item {index}: {item['rule']}"
            assert ALL_RULES[item["rule"]] == item["verdict"]
        assert answer["verdict"] == ("pruned" if f"{repo}:{tag}" in expect["streamUpdates"] else "kept")


# ---------------------------------------------------------------- (c) the text format

NOW = "2026-06-01T00:00:00Z"
PODS = [f"pod{i}" for i in range(1, 6)]


@pytest.fixture()
def five_pods_one_tag(tmp_path: Path) -> Path:
    """ns/app:v2 with five items (all old), used by five Running pods through the tag."""
    images = [image(digest(i), layers=[digest(f"l{i}")]) for i in range(1, 6)]
    objects = [*images, stream("ns", "app", {"v2": [digest(i) for i in range(1, 6)]})]
    objects += [pod("ns", name, [f"{REGISTRY}/ns/app:v2"]) for name in PODS]
    return write_json(tmp_path / "list.json", as_list(objects))


def test_text_names_positions_referrers_and_how_many_more(five_pods_one_tag: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = explain(capsys, five_pods_one_tag, "ns/app:v2", "--now", NOW, "--keep-tag-revisions=3",
                             fmt="text")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "imagestreamtag ns/app:v2: KEPT"
    assert "  2 of 5 history items are removed" in lines

    used = [line for line in lines if line.lstrip().startswith(("tag used by:", "used by:"))]
    assert len(used) == 2, out  # the tag's referrers, and item 1's (kept because the tag is used)
    for line in used:
        assert line.endswith(" and 2 more"), line
        shown = line.split(": ", 1)[1].removesuffix(" and 2 more").split(", ")
        assert len(shown) == 3, line
        assert [p for p in PODS if p in line] == PODS[:3], line

    head = next(i for i, line in enumerate(lines) if "at position 0 out of 5" in line)
    assert lines[head] == f"  ns/app:v2 at position 0 out of 5: kept (tag-in-use) image {digest(1)}"
    assert lines[head + 1].strip() == RULES["tag-in-use"][1]
    fourth = f"  ns/app:v2 at position 3 out of 5: pruned (beyond-keep-tag-revisions) image {digest(4)}"
    assert fourth in lines
    assert lines[lines.index(fourth) + 1].strip() == RULES["beyond-keep-tag-revisions"][1]
    assert "  ns/app:v2 at position 2 out of 5: kept (within-keep-tag-revisions) image " + digest(3) in lines

    code, out, err = explain(capsys, five_pods_one_tag, digest(4), "--now", NOW, "--keep-tag-revisions=3", fmt="text")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"image {digest(4)}: PRUNED"
    assert lines[1] == f"  rule: unreferenced: {RULES['unreferenced'][1]}"
    assert fourth in lines
    assert lines[-1] == f"  deleting it frees 2 blob(s): {digest('l4')}, {digest(4)}"


def test_json_counts_the_referrers_it_does_not_show(five_pods_one_tag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = explain(capsys, five_pods_one_tag, "ns/app:v2", "--now", NOW)
    assert code == 0, err
    (answer,) = json.loads(out)
    assert {k: answer["usedBy"][k] for k in ("more", "total")} == {"more": 2, "total": 5}
    assert len(answer["usedBy"]["shown"]) == 3
    assert answer["items"][0]["usedBy"] == answer["usedBy"]
    assert [i["where"] for i in answer["items"]] == [f"ns/app:v2 at position {n} out of 5" for n in range(5)]


# ---------------------------------------------------------------- (d) the path that keeps it


def text_path(out: str) -> str | None:
    return next((line.removeprefix("  path: ") for line in out.splitlines() if line.startswith("  path: ")), None)


def test_a_blobs_path_runs_from_the_referrer_to_the_blob(five_pods_one_tag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = explain(capsys, five_pods_one_tag, digest("l1"), "--now", NOW, "--keep-tag-revisions=3", fmt="text")
    assert code == 0, err
    assert out.splitlines()[0] == f"blob {digest('l1')}: KEPT"
    assert text_path(out) == (
        f"pod/pod1 namespace=ns (container c0) → istag ns/app:v2 → ns/app:v2 at position 0 → image {digest(1)}"
        f" → blob {digest('l1')} (layer)"
    )
    code, out, err = explain(capsys, five_pods_one_tag, digest(2), "--now", NOW, "--keep-tag-revisions=3", fmt="text")
    assert code == 0, err
    assert text_path(out) == f"ns/app:v2 at position 1 → image {digest(2)}"  # kept by its position: the item is the root


def test_pruned_images_and_blobs_have_no_path(five_pods_one_tag: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for target in (digest(4), digest("l4")):
        code, out, err = explain(capsys, five_pods_one_tag, target, "--now", NOW, "--keep-tag-revisions=3")
        assert code == 0, err
        (answer,) = json.loads(out)
        assert answer["verdict"] == "pruned" and "path" not in answer, answer


def test_a_pull_by_digest_path_goes_through_the_image_stream_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images = [image(digest(i), layers=[digest(f"l{i}")]) for i in range(1, 6)]
    objects = [*images, stream("ns", "app", {"v2": [digest(i) for i in range(1, 6)]}), pod("ns", "p", [f"{REGISTRY}/ns/app@{digest(5)}"])]
    dump = write_json(tmp_path / "list.json", as_list(objects))
    code, out, err = explain(capsys, dump, digest(5), "--now", NOW, "--keep-tag-revisions=3")
    assert code == 0, err
    (answer,) = json.loads(out)
    assert answer["path"] == [
        "pod/p namespace=ns (container c0)", f"isimage ns/app@{digest(5)}", "ns/app:v2 at position 4", f"image {digest(5)}",
    ]


def test_a_childs_path_goes_through_its_manifest_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    child, index = digest(1), digest(2)
    objects = [
        image(child, layers=[digest("l1")], managed=True),
        image(index, media_type=OCI_INDEX, manifests=[child], metadata=None),
        stream("ns", "multi", {"latest": [index]}),
    ]
    dump = write_json(tmp_path / "list.json", as_list(objects))
    code, out, err = explain(capsys, dump, digest("l1"), "--now", NOW, fmt="text")
    assert code == 0, err
    assert text_path(out) == (
        f"ns/multi:latest at position 0 → image {index} (manifest list) → image {child} → blob {digest('l1')} (layer)"
    )


# ---------------------------------------------------------------- (e) errors


@pytest.mark.parametrize(("target", "words"), [
    ("sha256:" + "f" * 64, "is not an image, a blob or an image stream tag"),
    ("foo/bar:nope", "has no tag nope"),
    ("foo/nope:latest", "image stream foo/nope is not in the dump"),
    ("nope/bar:latest", "image stream nope/bar is not in the dump"),
], ids=["unknown-digest", "tag-not-in-stream", "stream-not-in-dump", "namespace-not-in-dump"])
def test_unknown_targets_fail_with_one_error_line(target: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = PLAN_CASES[0]
    code, out, err = explain(capsys, CONFORMANCE / name / "input.json", target, *case_args(name))
    assert code != 0
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and words in lines[0], lines[0]


def test_a_stream_outside_the_namespace_is_not_in_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = next(n for n in PLAN_CASES if any(a.startswith("--namespace=") for a in CASES[n]["args"]))
    doc = INPUTS[name]
    other = json.loads(json.dumps(next(o for o in doc["items"] if o["kind"] == "ImageStream")))
    other["metadata"]["namespace"] = "elsewhere"
    dump = write_json(tmp_path / "list.json", {**doc, "items": [*doc["items"], other]})
    code, out, err = explain(capsys, dump, "elsewhere/bar:latest", *case_args(name))
    assert code != 0 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ")


# ---------------------------------------------------------------- explain edge cases


def test_blob_kept_by_prune_registry_false_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    name = next(n for n in PLAN_CASES if n.startswith("006-"))
    answer = pick(answers(capsys, name, "tarsum.dev+sha256:b194de3772ebbcdc8f244f663669799ac1cb141834b7cb8b69100285d357a2b0"), "blob")
    assert answer["verdict"] == "kept"
    assert "prune-registry" in answer["description"], answer["description"]


def test_blob_in_namespaced_run_names_the_namespace_rule(capsys: pytest.CaptureFixture[str]) -> None:
    name = next(n for n in PLAN_CASES if any(a.startswith("--namespace=") for a in CASES[n]["args"]))
    answer = pick(answers(capsys, name, "tarsum.dev+sha256:b194de3772ebbcdc8f244f663669799ac1cb141834b7cb8b69100285d357a2b0"), "blob")
    assert (answer["verdict"], answer["rule"]) == ("kept", "namespace-scoped-run")


def test_missing_image_digest_points_at_the_items_that_name_it(capsys: pytest.CaptureFixture[str]) -> None:
    name = next(n for n in PLAN_CASES if n.startswith("038-"))
    code, out, err = explain(capsys, CONFORMANCE / name / "input.json", "sha256:" + "0" * 64, *case_args(name))
    assert code == 0, err
    assert "image-missing" in out


def test_unnamed_container_is_not_shown_as_an_empty_name(capsys: pytest.CaptureFixture[str]) -> None:
    name = next(n for n in PLAN_CASES if n.startswith("015-"))
    code, out, err = explain(capsys, CONFORMANCE / name / "input.json", "foo/bar:latest", *case_args(name), fmt="text")
    assert code == 0, err
    assert "(container )" not in out, out
