"""execute against the stateful fake API through the real kubernetes client (API objects only:
plans made with --prune-registry=false; the registry side is in test_execute_registry.py)."""

from __future__ import annotations

import json
import signal
import threading

import pytest

from execute_env import load, make_env
from fakeapi import REGISTRY, FakeAPI, sample_cluster

NO_REGISTRY = "--prune-registry=false"


@pytest.fixture
def env(tmp_path):
    with FakeAPI() as api:
        api.add_all(sample_cluster())
        yield make_env(api, tmp_path)


def stream_items(api: FakeAPI, ns: str, name: str) -> set[tuple[str, str]]:
    stream = api.get("imagestreams", name, ns)
    return {(t["tag"], i["image"]) for t in stream["status"].get("tags") or [] for i in t["items"]}


def assert_plan_applied(env, plan: dict) -> None:
    assert plan["imageDeletions"], "the sample cluster must give a plan with image deletions"
    for update in plan["imageStreamUpdates"]:
        left = stream_items(env.api, update["namespace"], update["name"])
        removed = {(i["tag"], i["image"]) for i in update["removedItems"]}
        assert not left & removed
        stream = env.api.get("imagestreams", update["name"], update["namespace"])
        assert not {t["tag"] for t in stream["status"]["tags"]} & set(update["removedTags"])
    names = {i["metadata"]["name"] for i in env.api.objects("images")}
    assert not names & {d["name"] for d in plan["imageDeletions"]}


def test_dry_run_changes_nothing_and_prints_upstream_lines(env):
    plan = env.plan(NO_REGISTRY)
    before = len(env.api.requests)
    result = env.execute(plan)
    assert result.code == 0, result.err
    assert env.writes() == []
    assert "Dry run enabled - no modifications will be made. Add --confirm to remove images" in result.err
    doc = load(plan)
    first = doc["imageDeletions"][0]["name"]
    assert f"Deleting image {first}" in result.out
    assert "Only API objects will be removed.  No modifications to the image registry will be made." in result.out
    assert result.out.rstrip().splitlines()[-1] == f"Summary: {doc['summary']['text']}"
    assert len(env.api.requests) > before  # it did re-check the live cluster


def test_confirm_applies_exactly_the_plan(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    images_before = {i["metadata"]["name"] for i in env.api.objects("images")}
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert_plan_applied(env, doc)
    images_after = {i["metadata"]["name"] for i in env.api.objects("images")}
    assert images_before - images_after == {d["name"] for d in doc["imageDeletions"]}
    deletes = [p for m, p in env.writes() if m == "DELETE"]
    assert len(deletes) == len(doc["imageDeletions"])
    assert all(p.startswith("/apis/image.openshift.io/v1/images/sha256%3A") for p in deletes)
    puts = [p for m, p in env.writes() if m == "PUT"]
    assert sorted(puts) == sorted(
        f"/apis/image.openshift.io/v1/namespaces/{u['namespace']}/imagestreams/{u['name']}/status"
        for u in doc["imageStreamUpdates"]
    )
    assert result.out.rstrip().splitlines()[-1] == f"Summary: {doc['summary']['text']}"


def test_image_deletion_sends_grace_period_zero(env):
    plan = env.plan(NO_REGISTRY)
    assert env.execute(plan, "--confirm").code == 0
    body = next(r.body for r in env.api.requests if r.method == "DELETE")
    assert json.loads(body)["gracePeriodSeconds"] == 0


def test_rerun_with_the_journal_has_nothing_left_to_do(env):
    plan = env.plan(NO_REGISTRY)
    assert env.execute(plan, "--confirm").code == 0
    writes = len(env.writes())
    again = env.execute(plan, "--confirm")
    assert again.code == 0, again.err
    assert len(env.writes()) == writes
    assert again.out.rstrip().splitlines()[-1] == "Summary: deleted 0 objects"


def test_journal_of_another_plan_is_refused_before_any_write(env):
    plan_a = env.plan(NO_REGISTRY, "--keep-tag-revisions=1", name="a.json")
    plan_b = env.plan(NO_REGISTRY, name="b.json")
    journal = env.tmp / "shared.journal"
    journal.write_text(json.dumps({"journal": "pruneplan", "planSha256": "0" * 64}) + "\n")
    result = env.execute(plan_b, "--confirm", "--journal", str(journal))
    assert result.code == 3
    assert "belongs to plan" in result.err
    assert env.writes() == []
    del plan_a


def test_pod_created_after_the_dump_protects_the_image_it_uses(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    update = doc["imageStreamUpdates"][0]
    item = update["removedItems"][0]
    ns, name = update["namespace"], update["name"]
    env.api.add({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"namespace": ns, "name": "late-pod"},
        "spec": {"containers": [{"name": "app", "image": f"{REGISTRY}/{ns}/{name}@{item['image']}"}]},
        "status": {"phase": "Running"},
    })
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert (item["tag"], item["image"]) in stream_items(env.api, ns, name)
    assert env.api.get("images", item["image"]) is not None
    assert f"pod/late-pod namespace={ns}" in result.out
    assert "Skipped:" in result.out


def test_image_pushed_after_the_dump_into_a_planned_stream_survives(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    update = doc["imageStreamUpdates"][0]
    ns, name = update["namespace"], update["name"]
    new = "sha256:" + "f" * 64
    env.api.add({"kind": "Image", "apiVersion": "image.openshift.io/v1",
                 "metadata": {"name": new, "annotations": {"openshift.io/image.managed": "true"}},
                 "dockerImageReference": f"{REGISTRY}/{ns}/{name}@{new}",
                 "dockerImageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
                 "dockerImageMetadata": {"Id": "sha256:" + "e" * 64, "Size": 1}})
    stream = env.api.get("imagestreams", name, ns)
    stream["status"]["tags"][0]["items"].insert(0, {"image": new, "created": "2026-11-28T06:59:00Z"})
    env.api.add(stream)
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert env.api.get("images", new) is not None
    assert (stream["status"]["tags"][0]["tag"], new) in stream_items(env.api, ns, name)
    assert_plan_applied(env, doc)  # positions shifted by the push; the planned items still went


def test_conflicts_are_retried_with_a_fresh_copy(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    update = doc["imageStreamUpdates"][0]
    pattern = f"/namespaces/{update['namespace']}/imagestreams/{update['name']}/status$"
    env.api.fault(pattern, 409, times=3, method="PUT")
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert len(env.api.requests_to(pattern, "PUT")) == 4
    assert_plan_applied(env, doc)


def test_a_409_storm_fails_the_stream_and_keeps_its_images(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    update = doc["imageStreamUpdates"][0]
    ns, name = update["namespace"], update["name"]
    pattern = f"/namespaces/{ns}/imagestreams/{name}/status$"
    env.api.fault(pattern, 409, times=None, method="PUT")
    result = env.execute(plan, "--confirm")
    assert result.code == 1
    assert f"error updating image stream {ns}/{name} to remove image references" in result.err
    assert len(env.api.requests_to(pattern, "PUT")) == 5
    named = {i["image"] for t in env.api.get("imagestreams", name, ns)["status"]["tags"] for i in t["items"]}
    for image in named:
        assert env.api.get("images", image) is not None, "a stream whose update failed keeps its images"


def test_transient_api_failures_are_retried(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    env.api.fault("/apis/image.openshift.io/v1/images/", 503, times=2, method="DELETE")
    env.api.fault("/apis/image.openshift.io/v1/images/", 429, times=1, method="DELETE")
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert_plan_applied(env, doc)


def test_image_already_deleted_counts_as_done(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    gone = doc["imageDeletions"][0]["name"]
    env.api.remove("images", gone)
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert_plan_applied(env, doc)


@pytest.mark.parametrize("kill_at", range(1, 17))
def test_killed_at_any_write_then_resumed_completes_the_plan(env, kill_at):
    """SIGKILL the executing process while its Nth write is in flight, rerun, and the plan completes."""
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    total_writes = len(doc["imageStreamUpdates"]) + len(doc["imageDeletions"])
    assert total_writes >= 16, "a kill point for every write"
    seen = {"writes": 0, "pid": None}
    lock = threading.Lock()

    def kill_on_nth_write(request):
        if request.method in ("PUT", "DELETE"):
            with lock:
                seen["writes"] += 1
                if seen["writes"] == kill_at and seen["pid"]:
                    import os

                    os.kill(seen["pid"], signal.SIGKILL)

    env.api.hooks.append(kill_on_nth_write)
    import subprocess
    import sys

    from execute_env import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "pruneplan.cli", "execute", str(plan), "--key", env.pub, "--kubeconfig",
         env.kubeconfig, "--confirm"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    seen["pid"] = proc.pid
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    env.api.hooks.clear()
    finish = env.execute_subprocess(plan, "--confirm")
    assert finish.returncode == 0, finish.stderr
    assert_plan_applied(env, doc)
    images_left = {i["metadata"]["name"] for i in env.api.objects("images")}
    for stream in env.api.objects("imagestreams"):
        for tag in stream["status"].get("tags") or []:
            for item in tag["items"]:
                was_planned = any(
                    (tag["tag"], item["image"]) in {(r["tag"], r["image"]) for r in u["removedItems"]}
                    for u in doc["imageStreamUpdates"] if (u["namespace"], u["name"]) == (stream["metadata"]["namespace"], stream["metadata"]["name"])
                )
                assert not was_planned
                if item["image"] not in images_left:
                    assert item["image"] not in {d["name"] for d in doc["imageDeletions"]}


def test_restart_registry_rolls_out_the_registry_deployment(env):
    env.api.add({"kind": "Deployment", "apiVersion": "apps/v1",
                 "metadata": {"namespace": "openshift-image-registry", "name": "image-registry"},
                 "spec": {"template": {"metadata": {"labels": {"app": "registry"}},
                                       "spec": {"containers": [{"name": "registry", "image": "quay.io/openshift/registry"}]}}}})
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--confirm", "--restart-registry")
    assert result.code == 0, result.err
    deployment = env.api.get("deployments", "image-registry", "openshift-image-registry")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": "registry"}
    assert "Restarted deployment openshift-image-registry/image-registry" in result.out


def test_json_report_lists_performed_and_skipped_actions(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    result = env.execute(plan, "--confirm", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dryRun"] is False
    assert report["summary"]["deletedImages"] == len(doc["imageDeletions"])
    assert {p["key"] for p in report["performed"]} >= {f"image {d['name']}" for d in doc["imageDeletions"]}
    assert all(p["status"] in ("ok", "notfound") for p in report["performed"])
