"""`pruneplan explain` gives every reason an image or history item is kept, with its facts, and
counts positions from 0 (docs/explain.md)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from builders import REGISTRY, as_list, deployment, digest, image, limit_range, pod, stream, write_json
from clirunner import run_cli

NOW = "2026-06-01T00:00:00Z"
APP = f"{REGISTRY}/ns/app"


def workload(kind: str, api: str, name: str, ref: str, namespace: str = "ns") -> dict[str, Any]:
    """A controller whose pod template's container `c0` uses `ref` (a CronJob through its job template)."""
    template = {"spec": {"containers": [{"name": "c0", "image": ref}]}}
    spec: dict[str, Any] = {"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob" else {"template": template}
    return {"kind": kind, "apiVersion": api, "metadata": {"namespace": namespace, "name": name}, "spec": spec}


def build(kind: str, name: str, istag: str, namespace: str = "ns") -> dict[str, Any]:
    """A Build or BuildConfig whose source strategy builds from the ImageStreamTag `istag`."""
    spec = {"strategy": {"sourceStrategy": {"from": {"kind": "ImageStreamTag", "name": istag}}}}
    return {"kind": kind, "apiVersion": "build.openshift.io/v1", "metadata": {"namespace": namespace, "name": name}, "spec": spec}


CONTROLLERS = [
    ("ReplicationController", "v1", "replicationcontroller"),
    ("DeploymentConfig", "apps.openshift.io/v1", "deploymentconfig"),
    ("Deployment", "apps/v1", "deployment"),
    ("DaemonSet", "apps/v1", "daemonset"),
    ("ReplicaSet", "apps/v1", "replicaset"),
    ("StatefulSet", "apps/v1", "statefulset"),
    ("Job", "batch/v1", "job"),
    ("CronJob", "batch/v1", "cronjob"),
]


def explain_json(*args: str) -> list[dict[str, Any]]:
    result = run_cli("explain", *args, "--format", "json")
    assert result.code == 0, result.err
    answers = json.loads(result.out)
    assert isinstance(answers, list)
    return answers


@pytest.fixture()
def used_everywhere(tmp_path: Path) -> Path:
    """Image 1 is the newest item of ns/app:v2 and of ns/app:stable, second of ns/app:old; a pod,
    every kind of controller, a build and a build config use ns/app:v2, a deployment pulls image 1
    by digest. Images 2-5 are older items of v2."""
    objects = [image(digest(i), layers=[digest(f"l{i}")]) for i in range(1, 6)]
    objects.append(stream("ns", "app", {"v2": [digest(i) for i in range(1, 6)], "stable": [digest(1)], "old": [digest(9), digest(1)]}))
    objects.append(image(digest(9)))
    objects.append(pod("ns", "web", [f"{APP}:v2"]))
    objects += [workload(kind, api, f"{word}-x", f"{APP}:v2") for kind, api, word in CONTROLLERS]
    objects += [build("Build", "b-1", "app:v2"), build("BuildConfig", "bc", "app:v2")]
    objects.append(deployment("ns", "by-digest", [f"{APP}@{digest(1)}"]))
    return write_json(tmp_path / "list.json", as_list(objects))


def test_a_kept_image_lists_every_referrer_and_every_tag_that_keeps_it(used_everywhere: Path) -> None:
    (answer,) = explain_json(str(used_everywhere), digest(1), "--now", NOW)
    assert (answer["verdict"], answer["rule"]) == ("kept", "referenced-by-stream")
    reasons = answer["reasons"]
    users = {(r["referrer"]["kind"], r["referrer"]["name"]) for r in reasons if r["rule"] == "tag-in-use"}
    assert users == {("pod", "web"), ("build", "b-1"), ("buildconfig", "bc")} | {(word, f"{word}-x") for _, _, word in CONTROLLERS}
    pod_reason = next(r for r in reasons if r["rule"] == "tag-in-use" and r["referrer"]["kind"] == "pod")
    assert pod_reason["referrer"] == {"kind": "pod", "namespace": "ns", "name": "web", "field": "container c0", "reference": f"{APP}:v2"}
    assert pod_reason["where"] == "ns/app:v2 at position 0 out of 5"
    build_reason = next(r for r in reasons if r["rule"] == "tag-in-use" and r["referrer"]["kind"] == "buildconfig")
    assert build_reason["referrer"]["field"] == "build strategy" and build_reason["referrer"]["reference"] == "app:v2"

    within = sorted((r["where"], r["keepTagRevisions"]) for r in reasons if r["rule"] == "within-keep-tag-revisions")
    assert within == [
        ("ns/app:old at position 1 out of 2", 3), ("ns/app:stable at position 0 out of 1", 3), ("ns/app:v2 at position 0 out of 5", 3),
    ]
    by_digest = [r["referrer"] for r in reasons if r["rule"] == "image-in-use"]
    # the pull by digest keeps every item of the stream naming the image: one reason per item
    assert {(r["kind"], r["name"], r["field"]) for r in by_digest} == {("deployment", "by-digest", "container c0")}
    assert len(by_digest) == 3


def test_text_lists_the_reasons_with_their_facts(used_everywhere: Path) -> None:
    result = run_cli("explain", str(used_everywhere), digest(1), "--now", NOW)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    head = lines.index("  kept because (17 reasons):")
    reasons = lines[head + 1:head + 18]
    assert all(line.startswith("    - ") for line in reasons), reasons
    assert (f"    - tag-in-use: pod/web namespace=ns (container c0) uses ns/app:v2 (as {APP}:v2), "
            "whose newest item is ns/app:v2 at position 0 out of 5") in reasons
    assert ("    - within-keep-tag-revisions: ns/app:old at position 1 out of 2 is within --keep-tag-revisions=3 "
            "(positions 0 to 2 are kept)") in reasons
    assert any(line.startswith("    - tag-in-use: cronjob/cronjob-x namespace=ns (container c0) uses ns/app:v2") for line in reasons)
    assert f"  age: created at or before the threshold 2026-05-31T23:00:00Z (now {NOW} - --keep-younger-than=1h0m0s): its age does not keep it" in lines


def test_a_pruned_item_says_which_facts_fail(used_everywhere: Path) -> None:
    result = run_cli("explain", str(used_everywhere), "ns/app:v2", "--now", NOW)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    item = lines.index(f"  ns/app:v2 at position 4 out of 5: pruned (beyond-keep-tag-revisions) image {digest(5)}")
    assert lines[item + 2] == (  # the item has no `created`: the zero time
        "    created 0001-01-01T00:00:00Z (not set), at or before the threshold 2026-05-31T23:00:00Z"
        f" (now {NOW} - --keep-younger-than=1h0m0s); position 4 is beyond --keep-tag-revisions=3;"
        f" the tag is used, which keeps its newest item (position 0) only; none pulls ns/app@{digest(5)} by digest"
    )


def test_positions_count_from_zero_with_the_total(tmp_path: Path) -> None:
    dump = write_json(tmp_path / "list.json", as_list([image(digest(1)), stream("ns", "myapp", {"v2.1-may-2016": [digest(1)]})]))
    result = run_cli("explain", str(dump), "ns/myapp:v2.1-may-2016", "--now", NOW)
    assert result.code == 0, result.err
    assert f"  ns/myapp:v2.1-may-2016 at position 0 out of 1: kept (within-keep-tag-revisions) image {digest(1)}" in result.out.splitlines()
    (answer,) = explain_json(str(dump), digest(1), "--now", NOW)
    (item,) = answer["historyItems"]
    assert (item["position"], item["of"], item["where"]) == (0, 1, "ns/myapp:v2.1-may-2016 at position 0 out of 1")
    assert answer["path"][0] == "ns/myapp:v2.1-may-2016 at position 0"


def test_young_items_and_images_give_their_creation_and_the_threshold(tmp_path: Path) -> None:
    young_item = "2026-05-31T23:30:00Z"
    objects = [
        image(digest(1)), image(digest(2), created="2026-05-31T23:45:00Z"),
        stream("ns", "app", {"v1": [digest(1)]}, created="2026-01-01T00:00:00Z", item_created={("v1", 0): young_item}),
    ]
    dump = write_json(tmp_path / "list.json", as_list(objects))
    item_answer, image_answer = explain_json(str(dump), digest(1), digest(2), "--now", NOW, "--keep-tag-revisions=0")
    (reason,) = item_answer["reasons"]
    assert (reason["rule"], reason["created"], reason["threshold"]) == ("item-young", young_item, "2026-05-31T23:00:00Z")
    assert reason["text"] == (
        f"ns/app:v1 at position 0 out of 1 was created {young_item}, after the threshold 2026-05-31T23:00:00Z"
        f" (now {NOW} - --keep-younger-than=1h0m0s)"
    )
    assert (image_answer["verdict"], image_answer["rule"]) == ("kept", "image-young")
    (reason,) = image_answer["reasons"]
    assert (reason["rule"], reason["created"], reason["threshold"]) == ("image-young", "2026-05-31T23:45:00Z", "2026-05-31T23:00:00Z")
    assert image_answer["age"]["young"] is True and image_answer["age"]["keepYoungerThan"] == "1h0m0s"


def test_the_size_limit_names_the_limitrange_and_the_image_size(tmp_path: Path) -> None:
    objects = [
        image(digest(1), size=100), image(digest(2), size=5000),
        stream("ns", "app", {"v1": [digest(1), digest(2)]}), limit_range("ns", "images", "1Ki"),
    ]
    dump = write_json(tmp_path / "list.json", as_list(objects))
    (answer,) = explain_json(str(dump), "ns/app:v1", "--now", NOW, "--prune-over-size-limit")
    small, big = answer["items"]
    (reason,) = small["reasons"]
    assert reason["rule"] == "under-size-limit"
    assert reason["size"]["size"] == 100
    assert reason["size"]["limits"] == [{"limitRange": "ns/images", "maxStorage": "1Ki", "bytes": 1024}]
    assert "size 100 bytes does not exceed limitrange ns/images max.storage 1Ki (1024 bytes)" in reason["text"]
    assert (big["verdict"], big["rule"], big["reasons"]) == ("pruned", "over-size-limit", [])
    assert big["facts"].startswith("size 5000 bytes exceeds limitrange ns/images max.storage 1Ki (1024 bytes)")

    (image_answer,) = explain_json(str(dump), digest(2), "--now", NOW, "--prune-over-size-limit")
    assert [s["text"] for s in image_answer["sizeLimits"]] == ["size 5000 bytes exceeds limitrange ns/images max.storage 1Ki (1024 bytes)"]
    assert image_answer["age"]["text"] == "not considered with --prune-over-size-limit"


def test_the_first_reason_of_a_kept_item_is_its_rule(used_everywhere: Path) -> None:
    for tag in ("ns/app:v2", "ns/app:stable", "ns/app:old"):
        (answer,) = explain_json(str(used_everywhere), tag, "--now", NOW, "--keep-tag-revisions=1")
        for item in answer["items"]:
            if item["verdict"] == "kept":
                assert item["reasons"][0]["rule"] == item["rule"], item
            else:
                assert item["reasons"] == [] and item["facts"], item


EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"


@pytest.mark.parametrize("flags", [
    [], ["--prune-over-size-limit"], ["--all=false", "--keep-younger-than=10000h"], ["--keep-tag-revisions=0", "--keep-younger-than=0s"],
], ids=["defaults", "over-size", "unmanaged-and-young", "nothing-by-position-or-age"])
def test_every_kept_item_and_image_of_the_example_dump_has_reasons_led_by_its_rule(flags: list[str]) -> None:
    """The reasons re-evaluate the rules' conditions; on the bundled dump they must agree with
    the rule that decided each item and image."""
    doc = json.loads(gzip.decompress(EXAMPLE.read_bytes()))
    names = [o["metadata"]["name"] for o in doc["objects"]["images"]]
    tags = [f"{o['metadata']['namespace']}/{o['metadata']['name']}:{t['tag']}"
            for o in doc["objects"]["imagestreams"] for t in (o.get("status") or {}).get("tags") or []]
    answers = explain_json(str(EXAMPLE), *names, *tags, *flags)
    assert len([a for a in answers if a["type"] in ("image", "imagestreamtag")]) == len(names) + len(tags)
    for answer in answers:
        for item in answer.get("items", []) + answer.get("historyItems", []):
            if item["verdict"] == "kept":
                assert item["reasons"] and item["reasons"][0]["rule"] == item["rule"], item
            else:
                assert not item["reasons"] and item["facts"], item
        if answer["type"] == "image" and answer["verdict"] == "kept":
            rules = [reason["rule"] for reason in answer["reasons"]]
            assert rules and (answer["rule"] == "referenced-by-stream" or answer["rule"] in rules), (answer["rule"], rules)
        elif answer["type"] == "image":
            assert answer["reasons"] == []


def test_a_namespaced_run_gives_the_namespace_rule_after_the_items_reasons(used_everywhere: Path) -> None:
    (answer,) = explain_json(str(used_everywhere), digest(5), "--now", NOW, "-n", "ns")
    assert (answer["verdict"], answer["rule"]) == ("kept", "namespace-scoped-run")
    assert [r["rule"] for r in answer["reasons"]] == ["namespace-scoped-run"]  # item 4 of v2 is pruned: no reason of its own
    assert answer["reasons"][0]["text"] == "--namespace=ns: a namespaced run deletes no image"
