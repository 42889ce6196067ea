"""`pruneplan execute` of a hard-prune plan, against the tests' fake API and a copy of a real
registry's filesystem storage: every refusal deletes nothing, a dry run deletes nothing and
says what it would, --confirm deletes exactly the plan's entries, what became accounted for
after the plan is skipped, and a rerun with the same journal finishes an interrupted run."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from clirunner import Result, run_cli
from execute_env import Env, make_env
from fakeapi import FakeAPI, cluster_version, image_object, image_stream, registry_config
from pruneplan.collect.storage import read_storage
from pruneplan.timefmt import format_time
from registry_harness import MT_DOCKER_MANIFEST, Image, RegistryServer, build_image, random_layer

AGE = 2 * 3600  # the storage is made this old: older than the default --keep-younger-than 60m
LEAVE = "oc patch configs.imageregistry.operator.openshift.io/cluster --type=merge -p '{\"spec\":{\"readOnly\":false}}'"
SET = "oc patch configs.imageregistry.operator.openshift.io/cluster --type=merge -p '{\"spec\":{\"readOnly\":true}}'"


@dataclass
class Pushed:
    root: Path  # the registry's storage, as pushed (each test works on a copy)
    app: Image  # ns1/app:v1, in its stream's history
    stray: Image  # pushed to ns1/app by digest, no Image object: its link, blobs and layer links go
    gone: Image  # ns2/gone: no stream, so the whole repository goes
    loose: str  # a blob uploaded to ns1/app with no manifest
    upload: str  # an upload to ns1/app begun and never finished


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    registry = RegistryServer(tmp_path_factory.mktemp("registry")).start()
    try:
        rng = random.Random(7)
        shared = random_layer(1500, rng)
        app = build_image([shared, random_layer(2000, rng)], rng=rng)
        stray = build_image([shared, random_layer(2500, rng)], rng=rng)
        gone = build_image(2, rng=rng)
        loose = random_layer(700, rng).blob
        client = registry.api()
        client.push_image("ns1/app", app, tag="v1")
        client.push_image("ns1/app", stray)
        client.push_image("ns2/gone", gone, tag="latest")
        client.upload_blob("ns1/app", loose)
        upload = client.begin_upload("ns1/app", b"abandoned " * 40)
        client.close()
    finally:
        registry.stop()
    yield Pushed(registry.root, app, stray, gone, loose.digest, upload)


def layers_of(image: Image) -> list[tuple[str, int, str]]:
    return [(layer.digest, layer.blob.size, layer.blob.media_type) for layer in image.layers]


def image_of(repository: str, image: Image) -> dict:
    return image_object(repository, image.digest, MT_DOCKER_MANIFEST, layers_of(image), config=image.config.digest)


def old_storage(pushed: Pushed, tmp_path: Path) -> Path:
    """A copy of the pushed storage whose every file is AGE old, as a registry's storage is
    after a while (upload start times included)."""
    root = tmp_path / "storage"
    shutil.copytree(pushed.root, root)
    then = time.time() - AGE
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if name == "startedat":
                Path(path).write_text(format_time(then) or "")
            os.utime(path, (then, then))
    return root


@dataclass
class World:
    env: Env
    root: Path
    pushed: Pushed

    def inventory(self, name: str = "inventory.json.gz") -> Path:
        out = self.env.tmp / name
        result = run_cli("collect", "--registry-storage", str(self.root), "-o", str(out))
        assert result.code == 0, result.err
        return out

    def plan(self, *flags: str) -> Path:
        dump = self.env.collect()
        inventory = self.inventory()
        plan = self.env.tmp / "hard-plan.json"
        result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", str(plan), "--sign-key", self.env.key, "-q", *flags)
        assert result.code == 0, result.err
        return plan

    def execute(self, plan: Path, *flags: str) -> Result:
        return self.env.execute(plan, "--registry-storage", str(self.root), *flags)

    def files(self) -> set[str]:
        return {os.path.relpath(os.path.join(d, f), self.root) for d, _, fs in os.walk(self.root) for f in fs}


@pytest.fixture
def world(pushed: Pushed, tmp_path: Path) -> Iterator[World]:
    with FakeAPI() as api:
        api.add_all([
            cluster_version(), registry_config(read_only=True),
            image_of("ns1/app", pushed.app), image_stream("ns1", "app", {"v1": [pushed.app.digest]}),
        ])
        yield World(make_env(api, tmp_path), old_storage(pushed, tmp_path), pushed)


def load(path: Path) -> dict:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.name.endswith(".gz") else raw)


def stray_blobs(pushed: Pushed) -> set[str]:
    """What only the stray image holds: its manifest, config and own layer."""
    return {pushed.stray.digest, pushed.stray.config.digest, pushed.stray.layers[1].digest}


def gone_blobs(pushed: Pushed) -> set[str]:
    return {pushed.gone.digest} | {blob.digest for blob in pushed.gone.blobs}


# -- the plan these tests execute -----------------------------------------------------------------

def test_the_plan_deletes_the_orphans_and_nothing_the_api_accounts_for(world):
    plan = load(world.plan())
    p = world.pushed
    assert [(e["repository"], e["digest"]) for e in plan["manifestLinkDeletions"]] == [("ns1/app", p.stray.digest)]
    assert [e["repository"] for e in plan["repositoryDeletions"]] == ["ns2/gone"]
    assert [e["uuid"] for e in plan["uploadDeletions"]] == [p.upload]
    assert {e["digest"] for e in plan["blobDeletions"]} == stray_blobs(p) | gone_blobs(p) | {p.loose}
    assert {e["digest"] for e in plan["layerLinkDeletions"]} == {p.stray.config.digest, p.stray.layers[1].digest, p.loose}


# -- refusals: nothing is deleted -----------------------------------------------------------------

@pytest.mark.parametrize("config,why", [
    (registry_config(read_only=False), "configs.imageregistry.operator.openshift.io/cluster has spec.readOnly false"),
    (registry_config(read_only=None), "configs.imageregistry.operator.openshift.io/cluster has spec.readOnly unset"),
    (None, "there is no configs.imageregistry.operator.openshift.io/cluster (no image registry operator)"),
])
def test_a_registry_that_is_not_read_only_is_refused_with_the_command_that_sets_it(world, config, why):
    plan = world.plan()
    before = world.files()
    if config is None:
        world.env.api.remove("configs", "cluster")
    else:
        world.env.api.add(config)
    result = world.execute(plan, "--confirm")
    assert result.code == 1
    errors = [line for line in result.err_lines if line.startswith("error: ")]
    assert errors == [f"error: the registry must be read-only while a hard-prune plan runs, but {why}; set it with {SET}, "
                      "wait for the registry's pods to restart, then run again"]
    assert result.out == ""
    assert world.files() == before
    assert not Path(str(plan) + ".journal").exists()


def test_a_plan_for_another_cluster_is_refused_and_nothing_is_deleted(world):
    plan = world.plan()
    before = world.files()
    world.env.api.add(cluster_version("00000000-0000-4000-8000-000000000000"))
    result = world.execute(plan, "--confirm")
    assert result.code == 15
    assert result.err_lines[-1].startswith("error: the plan was made for cluster ID 9a5c1b7e-")
    assert world.files() == before


def test_a_tampered_plan_is_refused_and_nothing_is_deleted(world):
    plan = world.plan()
    before = world.files()
    document = json.loads(plan.read_text())
    document["repositoryDeletions"].append({"repository": "ns1/app", "reason": "no-image-stream"})
    plan.write_text(json.dumps(document))
    result = world.execute(plan, "--confirm")
    assert result.code == 10
    assert len(result.err_lines) == 1 and result.err.startswith("error: ")
    assert world.files() == before


def test_an_expired_plan_is_refused_and_nothing_is_deleted(world):
    plan = world.plan("--now", format_time(time.time() - 3 * 24 * 3600) or "", "--valid-for", "1h")
    before = world.files()
    result = world.execute(plan, "--confirm")
    assert result.code == 12
    assert result.err_lines[-1].startswith("error: signature valid, but the plan expired on ")
    assert world.files() == before


def test_a_hard_plan_without_registry_storage_is_refused(world):
    plan = world.plan()
    before = world.files()
    result = world.env.execute(plan, "--confirm")
    assert result.code == 2
    assert result.err_lines == ["error: a hard-prune plan deletes from the registry's storage: give its root with "
                                "--registry-storage DIR (the directory that holds docker/, /registry in the registry's pod)"]
    assert world.files() == before


def test_a_registry_storage_that_is_not_one_is_refused(world):
    plan = world.plan()
    before = world.files()
    elsewhere = world.env.tmp / "elsewhere"
    elsewhere.mkdir()
    result = world.env.execute(plan, "--registry-storage", str(elsewhere), "--confirm")
    assert result.code == 3
    assert len(result.err_lines) == 1
    assert result.err.startswith(f"error: {elsewhere}: not a registry's storage")
    assert world.files() == before


def test_registry_storage_is_refused_for_a_soft_plan(world):
    plan = world.env.plan()
    result = world.execute(plan)
    assert result.code == 2
    assert result.err_lines == [f"error: --registry-storage is for a hard-prune plan (written by `pruneplan analyze --hard`); "
                                f"{plan} is a plan of `pruneplan analyze`: run it without --registry-storage"]


# -- dry run and confirmed run --------------------------------------------------------------------

def planned_lines(plan: dict) -> list[str]:
    lines = [f"Deleting manifest link {e['digest']} in repository {e['repository']}" for e in plan["manifestLinkDeletions"]]
    lines += [f"Deleting layer link {e['digest']} in repository {e['repository']}" for e in plan["layerLinkDeletions"]]
    lines += [f"Deleting upload {e['uuid']} in repository {e['repository']}" for e in plan["uploadDeletions"]]
    lines += [f"Deleting repository {e['repository']}" for e in plan["repositoryDeletions"]]
    lines += [f"Deleting blob {e['digest']}" for e in plan["blobDeletions"]]
    return lines


def test_a_dry_run_deletes_nothing_and_prints_what_it_would_do(world):
    plan = world.plan()
    document = load(plan)
    before = world.files()
    result = world.execute(plan)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[:-2] == planned_lines(document)
    assert lines[-1] == f"Would reclaim {document['summary']['reclaimableBytes']} bytes"
    assert world.files() == before
    assert not Path(str(plan) + ".journal").exists()
    assert result.err_lines[-1] == f"The registry is still read-only: once you are done, leave read-only mode with {LEAVE}"


def test_confirm_deletes_exactly_the_plans_entries(world):
    plan = world.plan()
    document = load(plan)
    before = read_storage(str(world.root))
    result = world.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert result.out.splitlines()[:-2] == planned_lines(document)
    after = read_storage(str(world.root))
    removed = {e["repository"] for e in document["repositoryDeletions"]}
    assert [r.name for r in after.repositories] == [r.name for r in before.repositories if r.name not in removed]
    for repository in after.repositories:
        was = next(r for r in before.repositories if r.name == repository.name)
        assert set(was.manifests) - set(repository.manifests) == {
            e["digest"] for e in document["manifestLinkDeletions"] if e["repository"] == repository.name}
        assert set(was.layers) - set(repository.layers) == {
            e["digest"] for e in document["layerLinkDeletions"] if e["repository"] == repository.name}
        assert {u.uuid for u in was.uploads} - {u.uuid for u in repository.uploads} == {
            e["uuid"] for e in document["uploadDeletions"] if e["repository"] == repository.name}
    assert {b.digest for b in before.blobs} - {b.digest for b in after.blobs} == {e["digest"] for e in document["blobDeletions"]}
    gone = sum(b.size for b in before.blobs) - sum(b.size for b in after.blobs)
    assert gone == sum(e["size"] for e in document["blobDeletions"])
    assert result.out.splitlines()[-1] == f"Reclaimed {document['summary']['reclaimableBytes']} bytes"
    assert not (world.root / "docker/registry/v2/repositories/ns2").exists()  # its directories went with it


def test_what_became_accounted_for_after_the_plan_is_skipped_not_deleted(world):
    plan = world.plan()
    p = world.pushed
    api = world.env.api
    api.add(image_of("ns1/app", p.stray))  # the stray image got its Image object and a place in the history
    api.add(image_stream("ns1", "app", {"v1": [p.app.digest], "v2": [p.stray.digest]}))
    api.add(image_of("ns2/gone", p.gone))  # and ns2/gone its image stream, with its image
    api.add(image_stream("ns2", "gone", {"latest": [p.gone.digest]}))
    result = world.execute(plan, "--confirm")
    assert result.code == 0, result.err
    skipped = [line for line in result.out.splitlines() if line.startswith("Skipped: ")]
    assert f"Skipped: Deleting manifest link {p.stray.digest} in repository ns1/app: accounted for now" in skipped
    assert "Skipped: Deleting repository ns2/gone: accounted for now" in skipped
    for digest in stray_blobs(p) | gone_blobs(p):
        assert f"Skipped: Deleting blob {digest}: accounted for now" in skipped
    inventory = read_storage(str(world.root))
    kept = {b.digest for b in inventory.blobs}
    assert stray_blobs(p) | gone_blobs(p) <= kept
    assert p.loose not in kept  # still unaccounted: deleted as planned
    repositories = {r.name: r for r in inventory.repositories}
    assert p.stray.digest in repositories["ns1/app"].manifests
    assert "ns2/gone" in repositories


def test_a_rerun_with_the_same_journal_finishes_an_interrupted_run(world):
    plan = world.plan()
    document = load(plan)
    p = world.pushed
    # ns1/app's layer links reached through a symbolic link out of the storage: execute refuses
    # to delete through it, and the run ends with errors after doing everything else
    layers = world.root / "docker/registry/v2/repositories/ns1/app/_layers/sha256"
    outside = world.env.tmp / "outside"
    layers.rename(outside)
    layers.symlink_to(outside)
    first = world.execute(plan, "--confirm")
    assert first.code == 1
    links = [e["digest"] for e in document["layerLinkDeletions"]]
    assert set(links) == {p.stray.config.digest, p.stray.layers[1].digest, p.loose}
    errors = [line for line in first.err_lines if line.startswith("error deleting layer link ")]
    assert [line.split(" ")[4] for line in errors] == links
    assert "leads out of the storage through a symbolic link; not deleted" in errors[0]
    for digest in links:
        assert f"Skipped: Deleting blob {digest}: a link to it in repository ns1/app could not be deleted" in first.out
    # how to leave read-only mode is said however the run ends; the last line says how it ended
    assert f"The registry is still read-only: once you are done, leave read-only mode with {LEAVE}" in first.err_lines
    assert first.err_lines[-1] == "error: 3 errors in this run (listed above); a rerun with the same journal retries what failed"
    assert set(links) <= {b.digest for b in read_storage(str(world.root)).blobs}
    layers.unlink()
    outside.rename(layers)
    second = world.execute(plan, "--confirm")
    assert second.code == 0, second.err
    assert second.out.splitlines()[:-2] == (
        [f"Deleting layer link {digest} in repository ns1/app" for digest in links] + [f"Deleting blob {digest}" for digest in sorted(links)])
    total = len(planned_lines(document))
    assert second.out.splitlines()[-2].startswith("Summary: 6 done (")
    assert second.out.splitlines()[-2].endswith(f", 0 skipped, 0 failed, {total - 6} done by an earlier run (journal)")
    assert set(links) & {b.digest for b in read_storage(str(world.root)).blobs} == set()
    third = world.execute(plan, "--confirm")
    assert third.code == 0, third.err
    assert third.out.splitlines()[0] == f"Summary: 0 done (0 manifest link(s), 0 layer link(s), 0 upload(s), 0 repository(ies), " \
        f"0 blob(s); 0 already absent), 0 skipped, 0 failed, {total} done by an earlier run (journal)"


def test_a_live_image_whose_config_is_unknown_stops_the_run_before_any_deletion(world):
    plan = world.plan()
    before = world.files()
    digest = "sha256:" + "c" * 64
    world.env.api.add(image_object("ns1/app", digest, MT_DOCKER_MANIFEST, layers_of(world.pushed.app)))  # no dockerImageMetadata
    result = world.execute(plan, "--confirm")
    assert result.code == 3
    assert result.err_lines[-1] == (f"error: the live cluster: image {digest} has no dockerImageMetadata.Id: its config blob is "
                                    "unknown, so no blob can be judged unused")
    assert result.out == ""
    assert world.files() == before


def test_format_json_reports_the_run_on_stdout_and_the_lines_on_stderr(world):
    plan = world.plan()
    document = load(plan)
    result = world.execute(plan, "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dryRun"] is True
    assert [entry["action"] for entry in report["wouldPerform"]] == planned_lines(document)
    assert report["summary"]["reclaimedBytes"] == document["summary"]["reclaimableBytes"]
    assert report["skipped"] == [] and report["errors"] == []
    assert planned_lines(document)[0] in result.err_lines


def test_the_recheck_lists_only_images_and_image_streams(world):
    plan = world.plan()
    listed_before = len(world.env.api.requests)
    result = world.execute(plan)
    assert result.code == 0, result.err
    lists = {r.path for r in world.env.api.requests[listed_before:] if r.method == "GET" and "limit" in r.query}
    assert lists == {"/apis/image.openshift.io/v1/images", "/apis/image.openshift.io/v1/imagestreams"}
