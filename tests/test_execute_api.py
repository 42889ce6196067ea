"""execute against the stateful fake API through the real kubernetes client (API objects only:
plans made with --prune-registry=false; the registry side is in test_execute_registry.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading

import pytest

from execute_env import load
from fakeapi import REGISTRY, FakeAPI

NO_REGISTRY = "--prune-registry=false"



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
    actions = len(load(plan)["imageStreamUpdates"]) + len(load(plan)["imageDeletions"])
    assert again.out.rstrip().splitlines()[-1] == f"Summary: deleted 0 objects; done by an earlier run (journal): {actions} action(s)"


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


# --- refusals before the first write: the journal, the cluster's identity -------------------------

def test_a_journal_in_a_missing_folder_is_refused_before_any_write(env):
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--confirm", "--journal", str(env.tmp / "missing" / "run.journal"))
    assert result.code == 4, result.err
    # the header says what was accepted; the journal is created after the live re-check, before any change
    assert result.err_lines[-1] == f"error: cannot write journal {env.tmp / 'missing' / 'run.journal'}: No such file or directory"
    assert [line for line in result.err_lines if line.startswith("error:")] == [result.err_lines[-1]]
    assert env.writes() == []


def test_a_journal_on_a_full_disk_is_refused_before_any_write(env):
    mount = env.tmp / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mount)], check=True)
    try:
        (mount / "filler").write_bytes(b"x" * 4096)
        plan = env.plan(NO_REGISTRY)
        result = env.execute(plan, "--confirm", "--journal", str(mount / "run.journal"))
        assert result.code == 4, result.err
        assert result.err_lines[-1].endswith("No space left on device"), result.err
        assert env.writes() == []
        assert not (mount / "run.journal").exists()
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_hand_made_journal_with_a_blank_first_line_cannot_mark_an_update_done(env):
    """A blank first line used to skip the plan check: the stream update was skipped and the
    images it still lists were deleted."""
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    update = doc["imageStreamUpdates"][0]
    journal = env.tmp / "hand.journal"
    journal.write_text("\n" + json.dumps({"key": f"stream {update['namespace']}/{update['name']}", "status": "ok"}) + "\n")
    result = env.execute(plan, "--confirm", "--journal", str(journal))
    assert result.code == 3
    assert "does not start with a pruneplan journal header" in result.err
    assert env.writes() == []


def test_restart_registry_is_skipped_when_the_run_deleted_nothing_in_the_registry(env):
    env.api.add({"kind": "Deployment", "apiVersion": "apps/v1",
                 "metadata": {"namespace": "openshift-image-registry", "name": "image-registry"},
                 "spec": {"template": {"spec": {"containers": [{"name": "registry", "image": "quay.io/openshift/registry"}]}}}})
    plan = env.plan(NO_REGISTRY)  # API objects only: nothing in the registry changes
    result = env.execute(plan, "--confirm", "--restart-registry")
    assert result.code == 0, result.err
    assert "Registry not restarted: this run deleted nothing in the registry" in result.out
    deployment = env.api.get("deployments", "image-registry", "openshift-image-registry")
    assert "annotations" not in (deployment["spec"]["template"].get("metadata") or {})
    assert not [w for w in env.writes() if "deployments" in w[1]]


def _without_cluster_id(api: FakeAPI) -> None:
    version = api.get("clusterversions", "version")
    api.remove("clusterversions", "version")
    api.add({**version, "spec": {}})


def test_a_live_cluster_without_a_cluster_id_is_refused_before_any_write(env):
    plan = env.plan(NO_REGISTRY)
    _without_cluster_id(env.api)
    result = env.execute(plan, "--confirm")
    assert result.code == 15
    assert "this cluster has no cluster ID" in result.err and "None" not in result.err
    assert env.writes() == []


def _add_empty_tag(api: FakeAPI, namespace: str, name: str, tag: str) -> None:
    stream = api.get("imagestreams", name, namespace)
    api.remove("imagestreams", name, namespace)
    stream["status"]["tags"].append({"tag": tag, "items": []})
    api.add(stream)


def test_execute_drops_the_empty_tags_the_plan_names_and_no_other(env):
    """Upstream drops every empty status tag in a stream's update; the plan lists the ones empty
    at analysis, and execute drops only those: a tag emptied after the dump stays."""
    first = load(env.plan(NO_REGISTRY, name="first.json"))["imageStreamUpdates"][0]
    ns, name = first["namespace"], first["name"]
    _add_empty_tag(env.api, ns, name, "planned-empty")
    plan = env.plan(NO_REGISTRY)
    [update] = [u for u in load(plan)["imageStreamUpdates"] if (u["namespace"], u["name"]) == (ns, name)]
    assert "planned-empty" in update["removedTags"]
    _add_empty_tag(env.api, ns, name, "emptied-after-the-dump")
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    tags = {t["tag"] for t in env.api.get("imagestreams", name, ns)["status"]["tags"]}
    assert "planned-empty" not in tags and "emptied-after-the-dump" in tags


def test_several_failed_actions_end_with_one_error_line_that_counts_them(env):
    plan = env.plan(NO_REGISTRY)
    deletions = load(plan)["imageDeletions"]
    assert len(deletions) >= 2
    env.api.fault("/apis/image.openshift.io/v1/images/", 403, times=None, method="DELETE")
    result = env.execute(plan, "--confirm")
    assert result.code == 1
    details = [line for line in result.err_lines if line.startswith("image sha256:")]
    assert len(details) == len(deletions)
    assert result.err_lines[-1] == (f"error: {len(deletions)} errors in this run (listed above); "
                                    "a rerun with the same journal retries what failed")
    assert [line for line in result.err_lines if line.startswith("error:")] == [result.err_lines[-1]]
