"""execute end to end: the real registry server (Debian's docker-registry, with images pushed to
it), a front proxy playing OpenShift's /admin/blobs, and the stateful fake API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from execute_env import ROOT, load, make_env
from execute_world import build_world, image_object
from fakeapi import FakeAPI
from registry_harness import CertAuthority, FrontProxy, RegistryServer, build_image, random_layer

KEEP = ("--keep-tag-revisions=2", "--keep-younger-than=1h")
KEPT = ("A5", "A4", "A2", "W2", "W1", "M", "X")
PRUNED = ("A3", "A1", "M0")


class Stack:
    def __init__(self, tmp: Path, tls=None, *, references_through_proxy: bool = False) -> None:
        self.registry = RegistryServer(tmp / "registry", tls=tls).start()
        self.proxy = FrontProxy(self.registry)
        self.reg = self.registry.api()
        # the host the Image objects' pull specs name: where execute finds the registry without --registry-url
        host = self.proxy.host if references_through_proxy else self.registry.host
        self.world, objects = build_world(self.reg, host)
        self.api = FakeAPI().start()
        self.api.add_all(objects)
        self.env = make_env(self.api, tmp)

    def close(self) -> None:
        self.api.stop()
        self.proxy.stop()
        self.registry.stop()

    def registry_writes(self) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.proxy.requests if r.method == "DELETE"]

    def assert_kept_images_pull(self, names=KEPT) -> None:
        for name in names:
            self.reg.assert_pulls(self.world.repos[name], self.world.digest(name))

    def assert_pruned_manifests_gone(self, names=PRUNED) -> None:
        for name in names:
            self.reg.assert_manifest_gone(self.world.repos[name], self.world.digest(name))


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    yield s
    s.close()


def planned(stack: Stack, *flags: str) -> tuple[Path, dict]:
    plan = stack.env.plan(*KEEP, *flags)
    return plan, load(plan)


def test_plan_of_the_world_prunes_what_the_rules_say(stack):
    _, doc = planned(stack)
    deleted = {d["name"] for d in doc["imageDeletions"]}
    d = stack.world.digest
    assert {d("A3"), d("A1"), d("M0")} <= deleted
    assert not deleted & {d(n) for n in KEPT}
    children_m0 = {c.digest for c in stack.world.images["M0"].children}
    assert children_m0 <= deleted


def test_confirm_against_the_real_registry_keeps_every_kept_image_pullable(stack):
    plan, doc = planned(stack)
    result = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url)
    assert result.code == 0, result.err
    stack.assert_kept_images_pull()
    stack.assert_pruned_manifests_gone()
    # Image objects and streams match the plan
    names = {i["metadata"]["name"] for i in stack.api.objects("images")}
    assert not names & {x["name"] for x in doc["imageDeletions"]}
    app = stack.api.get("imagestreams", "app", "ns1")
    assert [i["image"] for i in app["status"]["tags"][0]["items"]] == [stack.world.digest(n) for n in ("A5", "A4", "A2")]
    # blobs deleted through /admin/blobs are gone from storage; every kept image's blobs stay
    for blob in doc["blobDeletions"]:
        assert not stack.registry.blob_exists_on_disk(blob["digest"]), blob
    for name in KEPT:
        for digest in stack.world.blobs_of(name):
            assert stack.registry.blob_exists_on_disk(digest), (name, digest)
    # A1's own layer is shared with W1 in another repository: it must survive
    a1_own = stack.world.images["A1"].layers[1].digest
    assert stack.registry.blob_exists_on_disk(a1_own)
    # after the registry's offline GC everything kept still pulls
    stack.registry.garbage_collect()
    stack.assert_kept_images_pull()
    assert result.out.rstrip().splitlines()[-1] == f"Summary: {doc['summary']['text']}"


REGISTRY_DEPLOYMENT = {
    "kind": "Deployment", "apiVersion": "apps/v1",
    "metadata": {"namespace": "openshift-image-registry", "name": "image-registry"},
    "spec": {"template": {"metadata": {"labels": {"app": "registry"}},
                          "spec": {"containers": [{"name": "registry", "image": "quay.io/openshift/registry"}]}}},
}


def test_restart_registry_rolls_out_the_registry_only_after_a_run_that_deleted_in_it(stack):
    stack.api.add(REGISTRY_DEPLOYMENT)
    plan, _ = planned(stack)
    result = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url, "--restart-registry")
    assert result.code == 0, result.err
    deployment = stack.api.get("deployments", "image-registry", "openshift-image-registry")
    template = deployment["spec"]["template"]["metadata"]
    restarted_at = template["annotations"]["kubectl.kubernetes.io/restartedAt"]
    assert template["labels"] == {"app": "registry"}
    assert "Restarted deployment openshift-image-registry/image-registry" in result.out
    # the rerun has nothing left to do: no registry deletion, so no restart
    again = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url, "--restart-registry")
    assert again.code == 0, again.err
    assert "Summary: deleted 0 objects" in again.out
    assert "Registry not restarted: this run deleted nothing in the registry" in again.out
    deployment = stack.api.get("deployments", "image-registry", "openshift-image-registry")
    assert deployment["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] == restarted_at


def test_without_registry_url_execute_finds_the_registry_in_the_live_images_pull_specs(tmp_path):
    stack = Stack(tmp_path, references_through_proxy=True)
    try:
        plan, doc = planned(stack)
        result = stack.env.execute(plan, "--confirm")
        assert result.code == 0, result.err
        assert stack.registry_writes(), "no registry write reached the registry the pull specs name"
        stack.assert_kept_images_pull()
        stack.assert_pruned_manifests_gone()
    finally:
        stack.close()


def test_distribution_flavor_leaves_blobs_to_garbage_collect(stack):
    plan, doc = planned(stack)
    result = stack.env.execute(plan, "--confirm", "--registry-url", stack.registry.url, "--registry-flavor", "distribution")
    assert result.code == 0, result.err
    assert "garbage" in result.out
    stack.assert_kept_images_pull()
    stack.assert_pruned_manifests_gone()
    freed = [b["digest"] for b in doc["blobDeletions"]]
    assert any(stack.registry.blob_exists_on_disk(d) for d in freed), "nothing is deleted from storage before GC"
    stack.registry.garbage_collect()
    stack.assert_kept_images_pull()
    unique_a3 = stack.world.images["A3"].layers[1].digest
    assert not stack.registry.blob_exists_on_disk(unique_a3)


def test_registry_500s_and_timeouts_are_retried(stack):
    plan, doc = planned(stack)
    stack.proxy.fail(r"^/admin/blobs/", 500, times=3)
    stack.proxy.fail(r"/manifests/", 503, times=2, method="DELETE")
    stack.proxy.delay(r"/blobs/sha256", 1.0, times=1, method="DELETE")
    result = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url)
    assert result.code == 0, result.err
    stack.assert_kept_images_pull()
    stack.assert_pruned_manifests_gone()


def test_blob_deletion_that_keeps_failing_keeps_the_image_object_when_all_failed(stack):
    plan, doc = planned(stack)
    stack.proxy.fail(r"^/admin/blobs/", 500, times=10_000)
    result = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url)
    assert result.code == 1
    assert "error deleting blob" in result.err
    for entry in doc["imageDeletions"]:
        if entry["blobs"]:
            assert stack.api.get("images", entry["name"]) is not None, "every blob deletion failed: the Image stays"
    stack.assert_kept_images_pull()


def test_pod_and_image_pushed_between_analyze_and_execute_are_protected(stack):
    plan, doc = planned(stack)
    d = stack.world.digest
    # a pod now pins A3 (planned for deletion)
    stack.api.add({"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": "ns1", "name": "late"},
                   "spec": {"containers": [{"name": "app", "image": f"{stack.registry.host}/ns1/app@{d('A3')}"}]},
                   "status": {"phase": "Running"}})
    # a new image N in ns1/app reuses A1's config-less layers: shares A1's own layer
    a1 = stack.world.images["A1"]
    new = build_image([a1.layers[0], a1.layers[1], random_layer(500)])
    stack.reg.push_image("ns1/app", new)
    stack.api.add(image_object(stack.registry.host, "ns1/app", new))
    stream = stack.api.get("imagestreams", "app", "ns1")
    stream["status"]["tags"][0]["items"].insert(0, {"image": new.digest, "created": "2026-11-28T07:00:00Z"})
    stack.api.add(stream)
    result = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url)
    assert result.code == 0, result.err
    assert "pod/late namespace=ns1" in result.out
    stack.reg.assert_pulls("ns1/app", d("A3"))
    stack.reg.assert_pulls("ns1/app", new.digest)
    assert stack.api.get("images", d("A3")) is not None
    stack.assert_pruned_manifests_gone(("A1", "M0"))
    for digest in {layer.digest for layer in new.layers}:
        assert stack.registry.blob_exists_on_disk(digest)


@pytest.mark.parametrize("how", ["tampered", "wrong-key", "expired", "wrong-cluster", "unsigned"])
def test_every_refusal_deletes_nothing(stack, how):
    plan, doc = planned(stack)
    flags = ["--confirm", "--registry-url", stack.proxy.url]
    key = stack.env.pub
    if how == "tampered":
        raw = plan.read_bytes()
        plan.write_bytes(raw.replace(b'"deletedImages": ', b'"deletedImages":  ', 1))
        expected = 10
    elif how == "wrong-key":
        from clirunner import run_cli

        other = str(stack.env.tmp / "other")
        assert run_cli("keygen", other).code == 0
        key = other + ".pub"
        expected = 10
    elif how == "expired":
        plan, _ = planned(stack, "--valid-for=1s", "--now", "2026-01-01T00:00:00Z")
        expected = 12
    elif how == "wrong-cluster":
        stack.api.add({"kind": "ClusterVersion", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "version"},
                       "spec": {"clusterID": "another-cluster"}})
        expected = 15
    else:
        os.unlink(str(plan) + ".sig")
        expected = 11
    from clirunner import run_cli

    result = run_cli("execute", str(plan), "--key", key, "--kubeconfig", stack.env.kubeconfig, *flags)
    assert result.code == expected, result.err
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: ")
    assert stack.env.writes() == []
    assert stack.registry_writes() == []
    stack.assert_kept_images_pull(KEPT + PRUNED)


def test_custom_ca_works_and_a_wrong_ca_is_refused_before_any_deletion(tmp_path):
    ca = CertAuthority(tmp_path / "ca")
    wrong = CertAuthority(tmp_path / "wrong", name="someone else")
    stack = Stack(tmp_path / "s", tls=ca.issue())
    try:
        plan, doc = planned(stack)
        url = f"https://{stack.registry.host}"
        bad = stack.env.execute(plan, "--confirm", "--registry-url", url, "--certificate-authority", str(wrong.ca_file))
        assert bad.code == 1
        assert "failed to ping registry" in bad.err and "certificate" in bad.err
        assert stack.env.writes() == []
        good = stack.env.execute(plan, "--confirm", "--registry-url", url, "--certificate-authority", str(ca.ca_file))
        assert good.code == 0, good.err
        stack.assert_kept_images_pull()
        stack.assert_pruned_manifests_gone()
    finally:
        stack.close()


def test_killed_at_every_write_then_resumed_never_breaks_a_kept_image(tmp_path):
    """SIGKILL while the Nth write (API or registry) is in flight, resume, check, for every N."""
    kill_at = 1
    while True:
        stack = Stack(tmp_path / f"k{kill_at}")
        try:
            plan, doc = planned(stack)
            seen = {"n": 0, "pid": None}
            lock = threading.Lock()

            def hook(request):
                if request.method in ("PUT", "DELETE", "PATCH"):
                    with lock:
                        seen["n"] += 1
                        if seen["n"] == kill_at:
                            os.kill(seen["pid"], signal.SIGKILL)

            stack.api.hooks.append(hook)
            stack.proxy.hooks.append(hook)
            args = [sys.executable, "-m", "pruneplan.cli", "execute", str(plan), "--key", stack.env.pub,
                    "--kubeconfig", stack.env.kubeconfig, "--confirm", "--registry-url", stack.proxy.url]
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            seen["pid"] = proc.pid
            proc.communicate(timeout=120)
            stack.api.hooks.clear()
            stack.proxy.hooks.clear()
            if proc.returncode == 0:
                assert kill_at > 10, "the run has more writes than that"
                break  # kill point beyond the last write: every point has been tried
            assert proc.returncode == -signal.SIGKILL
            stack.assert_kept_images_pull()  # nothing kept is broken, even mid-run
            finish = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
            assert finish.returncode == 0, finish.stderr
            stack.assert_kept_images_pull()
            stack.assert_pruned_manifests_gone()
            assert not {i["metadata"]["name"] for i in stack.api.objects("images")} & {x["name"] for x in doc["imageDeletions"]}
        finally:
            stack.close()
        kill_at += 1
