"""execute tells the truth: 404s are "already absent", not deletions; a registry answering 404 to
nearly everything stops the run; skips and what an earlier run did are counted; a dry run reads
the journal and lists its would-be actions; --skipped-exit-code; --journal DIR."""

from __future__ import annotations

import hashlib
import json

import pytest

from execute_env import load
from fakeapi import REGISTRY
from registry_harness import FrontProxy, RegistryServer

NO_REGISTRY = "--prune-registry=false"



@pytest.fixture
def empty_registry(tmp_path):
    """A real registry with nothing in it, behind the proxy that plays OpenShift's /admin/blobs."""
    registry = RegistryServer(tmp_path / "registry").start()
    proxy = FrontProxy(registry)
    yield proxy
    proxy.stop()
    registry.stop()


def summary_line(text: str) -> str:
    [line] = [line for line in text.splitlines() if line.startswith("Summary: ")]
    return line


def journal_records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def add_late_pod(env, doc: dict) -> None:
    """A pod created after the dump that uses the first planned history item: the re-check skips it."""
    update = doc["imageStreamUpdates"][0]
    ns, name, image = update["namespace"], update["name"], update["removedItems"][0]["image"]
    env.api.add({
        "kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": ns, "name": "late-pod"},
        "spec": {"containers": [{"name": "app", "image": f"{REGISTRY}/{ns}/{name}@{image}"}]},
        "status": {"phase": "Running"},
    })


# --- 404 is "already absent" -------------------------------------------------------------------

def test_an_api_404_on_an_image_deletion_is_counted_as_already_absent_not_deleted(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    env.api.fault("/apis/image.openshift.io/v1/images/", 404, times=1, method="DELETE")
    result = env.execute(plan, "--confirm", "--format", "json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)["summary"]
    assert summary["deletedImages"] == len(doc["imageDeletions"]) - 1
    assert summary["alreadyAbsent"]["images"] == 1
    assert summary_line(result.err) == (
        f"Summary: deleted {len(doc['imageDeletions']) - 1} image object(s), "
        f"deleted {doc['summary']['deletedImageStreamTagItems']} image stream tag item(s), "
        f"updated {doc['summary']['updatedImageStreams']} image stream(s); already absent (404): 1 image object(s)"
    )


def test_registry_404s_are_counted_apart_from_deletions_and_match_the_journal(env, empty_registry):
    plan = env.plan()
    doc = load(plan)
    result = env.execute(plan, "--confirm", "--registry-url", empty_registry.url, "--allow-mostly-absent",
                         "--format", "json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)["summary"]
    assert (summary["deletedLayerLinks"], summary["deletedManifestLinks"], summary["deletedBlobs"]) == (0, 0, 0)
    absent = summary["alreadyAbsent"]
    assert (absent["layerLinks"], absent["manifestLinks"], absent["blobs"]) == (
        len(doc["layerLinkDeletions"]), len(doc["manifestLinkDeletions"]), len(doc["blobDeletions"]))
    registry_404s = [r for r in journal_records(plan.with_name(plan.name + ".journal"))
                     if r["status"] == "notfound" and r["key"].split()[0] in ("layerlink", "manifestlink", "blob")]
    assert len(registry_404s) == absent["layerLinks"] + absent["manifestLinks"] + absent["blobs"]
    line = summary_line(result.err)
    assert "layer link" not in line.split(";")[0]  # no deletion of a link or blob is claimed
    assert (f"already absent (404): {absent['layerLinks']} layer link(s), {absent['manifestLinks']} manifest link(s), "
            f"{absent['blobs']} blob(s)") in line


def test_a_registry_that_answers_404_to_nearly_everything_stops_the_run_and_names_itself(env, empty_registry):
    plan = env.plan()
    doc = load(plan)
    assert len(doc["layerLinkDeletions"]) + len(doc["manifestLinkDeletions"]) >= 20, "the check trips in stage 1"
    result = env.execute(plan, "--confirm", "--registry-url", empty_registry.url)
    assert result.code == 1
    assert [line for line in result.err_lines if line.startswith("error:")] == [result.err_lines[-1]]
    assert result.err_lines[-1].startswith(
        f"error: the registry at {empty_registry.url} answered 404 (not found) to 20 of the 20 deletions sent to it: "
        "is this the cluster's integrated registry?")
    assert not [path for method, path in env.writes() if method == "DELETE"], "no image object was deleted"
    assert not [r for r in empty_registry.requests if r.path.startswith("/admin/blobs/")]

    # the journal does not count those 404s as done: a dry run still lists every layer link
    again = env.execute(plan, "--format", "json")
    assert again.code == 0, again.err
    would = {a["key"] for a in json.loads(again.out)["wouldPerform"]}
    assert {f"layerlink {link['repository']} {link['digest']}" for link in doc["layerLinkDeletions"]} <= would


# --- skipped actions and their exit status ------------------------------------------------------

def test_skipped_actions_are_counted_in_the_summary_and_the_skipped_exit_code_is_opt_in(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    assert env.execute(plan, "--skipped-exit-code", "5").code == 0  # nothing skipped: 0 whatever the flag
    add_late_pod(env, doc)
    dry = env.execute(plan)
    assert dry.code == 0, dry.err  # scripts written for oc keep exit 0
    skipped = [line for line in dry.out.splitlines() if line.startswith("Skipped: ")]
    assert skipped
    assert summary_line(dry.out).endswith(f"; skipped by the re-check: {len(skipped)} action(s)")
    result = env.execute(plan, "--confirm", "--skipped-exit-code", "5")
    assert result.code == 5, result.err
    assert result.err_lines[-1] == (f"{len(skipped)} planned action(s) skipped by the re-check: exit status 5 "
                                    "(--skipped-exit-code)")
    assert not [line for line in result.err_lines if line.startswith("error:")]


def test_a_skipped_exit_code_that_means_something_else_is_a_usage_error(env):
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--skipped-exit-code", "15")
    assert result.code == 2
    assert len(result.err_lines) == 1 and result.err.startswith("error: --skipped-exit-code must be 0")


# --- the dry run reads the journal and lists its actions ----------------------------------------

def test_a_dry_run_after_a_complete_run_says_everything_is_done(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    assert env.execute(plan, "--confirm").code == 0
    writes = len(env.writes())
    dry = env.execute(plan)
    assert dry.code == 0, dry.err
    assert not [line for line in dry.out.splitlines() if line.startswith("Deleting")]
    actions = len(doc["imageStreamUpdates"]) + len(doc["imageDeletions"])
    assert summary_line(dry.out) == f"Summary: deleted 0 objects; done by an earlier run (journal): {actions} action(s)"
    assert f"Journal: {plan}.journal" in dry.err_lines
    assert len(env.writes()) == writes


def test_a_dry_run_after_a_partial_run_lists_only_what_is_left(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    env.api.fault("/apis/image.openshift.io/v1/images/", 403, times=None, method="DELETE")
    assert env.execute(plan, "--confirm").code == 1  # the stream updates went, the image deletions failed
    env.api.clear_faults()
    dry = env.execute(plan, "--format", "json")
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    assert {a["key"] for a in report["wouldPerform"]} == {f"image {d['name']}" for d in doc["imageDeletions"]}
    assert {a["key"] for a in report["doneEarlier"]} == {
        f"stream {u['namespace']}/{u['name']}" for u in doc["imageStreamUpdates"]}
    assert report["summary"]["doneEarlier"] == len(doc["imageStreamUpdates"])


def test_a_dry_run_in_json_lists_the_would_be_actions_in_upstreams_words(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    result = env.execute(plan, "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dryRun"] is True and "performed" not in report
    keys = [a["key"] for a in report["wouldPerform"]]
    assert sorted(keys) == sorted([f"stream {u['namespace']}/{u['name']}" for u in doc["imageStreamUpdates"]]
                                  + [f"image {d['name']}" for d in doc["imageDeletions"]])
    lines = [line for line in result.err_lines if line.startswith("Deleting")]
    assert sorted(a["action"] for a in report["wouldPerform"]) == sorted(lines)
    assert env.writes() == []


# --- --journal DIR -----------------------------------------------------------------------------

def test_a_journal_directory_names_the_journal_after_the_plan_so_a_new_plan_starts_afresh(env):
    state = env.tmp / "state"
    state.mkdir()
    first = env.plan(NO_REGISTRY, "--keep-tag-revisions=4")
    first_sha = hashlib.sha256(first.read_bytes()).hexdigest()
    result = env.execute(first, "--confirm", f"--journal={state}/")
    assert result.code == 0, result.err
    assert f"Journal: {state}/{first_sha}.journal (new)" in result.err_lines
    header = json.loads((state / f"{first_sha}.journal").read_text().splitlines()[0])
    assert header["planSha256"] == first_sha

    second = env.plan(NO_REGISTRY)  # a newly approved plan in the same place
    second_sha = hashlib.sha256(second.read_bytes()).hexdigest()
    assert second_sha != first_sha
    refused = env.execute(second, "--confirm", "--journal", str(state / f"{first_sha}.journal"))
    assert refused.code == 3  # a fixed journal file would hold the old plan
    result = env.execute(second, "--confirm", "--journal", str(state))
    assert result.code == 0, result.err
    assert sorted(p.name for p in state.iterdir()) == sorted([f"{first_sha}.journal", f"{second_sha}.journal"])
    assert summary_line(result.out).startswith("Summary: deleted ")


def test_a_journal_directory_that_does_not_exist_is_refused_before_any_write(env):
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--confirm", f"--journal={env.tmp}/missing/")
    assert result.code == 4
    assert result.err_lines == [f"error: journal directory {env.tmp}/missing/ does not exist"]
    assert env.writes() == []
