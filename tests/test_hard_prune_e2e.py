"""A hard prune end to end on a real registry: Debian's distribution registry with filesystem
storage, images pushed and pulled with skopeo, the cluster served by the tests' fake API.

Orphans of every kind are made (an image whose Image object was deleted after the push, a
repository whose image stream was deleted, an abandoned upload, a blob pushed without a
manifest), then the whole window runs through the CLI: the registry made read-only, collect
(dump and inventory), analyze --hard, execute --confirm, read-only mode left. Every image the
API still accounts for pulls, every orphan is gone from the storage, the bytes reclaimed are the
plan's, and a second collect and analyze --hard plans nothing."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

import pytest

from clirunner import run_cli
from execute_env import Env, make_env
from fakeapi import FakeAPI, cluster_version, image_object, image_stream, registry_config
from pruneplan.collect.storage import read_storage
from pruneplan.timefmt import format_time
from registry_harness import (
    MT_OCI_INDEX,
    MT_OCI_LAYER,
    Blob,
    Image,
    Index,
    RegistryServer,
    build_image,
    build_index,
    random_layer,
)

AGE = 2 * 3600  # the storage is made this old: older than --keep-younger-than's default 60m
SKOPEO = "skopeo"


def require_skopeo() -> str:
    """skopeo's path; a failure (never a skip) when it is missing: a skip would hide a missing install step."""
    path = shutil.which(SKOPEO)
    if path is None:
        raise AssertionError("skopeo is missing: install the Debian package skopeo (.ci/install does)")
    return path


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_skopeo(), "--insecure-policy", *args], capture_output=True, text=True, timeout=120,
                          check=False)


# -- images as OCI layouts, which skopeo copies ---------------------------------------------------

def _write_blob(layout: Path, data: bytes, digest: str) -> None:
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def oci_layout(layout: Path, artifact: Union[Image, Index], tag: str) -> str:
    """Write `artifact` (an image, or an index and its children) as an OCI image layout with
    one tag; the `oci:` reference skopeo copies from."""
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    images = list(artifact.children) if isinstance(artifact, Index) else [artifact]
    for image in images:
        for blob in image.blobs:
            _write_blob(layout, blob.data, blob.digest)
        _write_blob(layout, image.manifest, image.digest)
    if isinstance(artifact, Index):
        _write_blob(layout, artifact.manifest, artifact.digest)
    entry = {"mediaType": artifact.media_type, "digest": artifact.digest, "size": len(artifact.manifest),
             "annotations": {"org.opencontainers.image.ref.name": tag}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return f"oci:{layout}:{tag}"


def push(registry: RegistryServer, work: Path, repository: str, artifact: Union[Image, Index], tag: str) -> None:
    source = oci_layout(work / f"{repository.replace('/', '-')}-{tag}", artifact, tag)
    result = skopeo("copy", "--all", "--dest-tls-verify=false", "--preserve-digests", source,
                    f"docker://{registry.host}/{repository}:{tag}")
    assert result.returncode == 0, result.stderr


def pull(registry: RegistryServer, work: Path, reference: str) -> subprocess.CompletedProcess[str]:
    """Copy `reference` (repository:tag or repository@digest) out of the registry, every platform."""
    target = work / f"pulled-{len(list(work.glob('pulled-*')))}"
    return skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{registry.host}/{reference}", f"dir:{target}")


def make_old(root: Path) -> None:
    """Every file of the storage AGE old, upload start times included (as after a while)."""
    then = time.time() - AGE
    for directory, _, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            if name == "startedat":
                Path(path).write_text(format_time(then) or "")
            os.utime(path, (then, then))


def image_of(repository: str, image: Image) -> dict:
    layers = [(layer.digest, layer.blob.size, layer.blob.media_type) for layer in image.layers]
    return image_object(repository, image.digest, image.media_type, layers, config=image.config.digest)


def index_of(repository: str, index: Index) -> dict:
    return image_object(repository, index.digest, MT_OCI_INDEX, [], manifests=tuple((c.digest, c.media_type) for c in index.children))


# -- the cluster and its registry -------------------------------------------------------------------

@dataclass
class Cluster:
    registry: RegistryServer
    env: Env
    work: Path
    app: Image  # ns1/app:v1, in its stream
    multi: Index  # ns1/multi:latest, an index whose children have Image objects but are in no history
    dropped: Image  # ns1/app:old, whose Image object was deleted after the push
    web: Image  # ns2/web:latest, whose image stream (and Image object) were deleted
    loose: Blob  # pushed to ns1/app without a manifest
    upload: str  # an upload to ns1/app never finished

    @property
    def root(self) -> Path:
        return self.registry.root

    def orphan_blobs(self) -> set[str]:
        """What no Image object accounts for any more (the layer web shares with app stays)."""
        dropped = {self.dropped.digest, self.dropped.config.digest, self.dropped.layers[1].digest}
        web = {self.web.digest, self.web.config.digest, self.web.layers[1].digest}
        return dropped | web | {self.loose.digest}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    require_skopeo()
    rng = random.Random(42)
    base = random_layer(1800, rng, media_type=MT_OCI_LAYER)
    app = build_image([base, random_layer(2200, rng, media_type=MT_OCI_LAYER)], fmt="oci", rng=rng)
    dropped = build_image([base, random_layer(3100, rng, media_type=MT_OCI_LAYER)], fmt="oci", rng=rng)
    web = build_image([base, random_layer(2700, rng, media_type=MT_OCI_LAYER)], fmt="oci", rng=rng)
    multi = build_index([build_image(1, fmt="oci", architecture=arch, rng=rng) for arch in ("amd64", "arm64")])
    loose = random_layer(900, rng).blob
    work = tmp_path / "work"
    work.mkdir()
    registry = RegistryServer(tmp_path / "registry").start()
    try:
        push(registry, work, "ns1/app", app, "v1")
        push(registry, work, "ns1/app", dropped, "old")
        push(registry, work, "ns1/multi", multi, "latest")
        push(registry, work, "ns2/web", web, "latest")
        client = registry.api()
        client.upload_blob("ns1/app", loose)
        upload = client.begin_upload("ns1/app", b"abandoned layer bytes " * 30)
        client.close()
        with FakeAPI() as api:
            api.add_all([
                cluster_version(), registry_config(read_only=False),
                image_of("ns1/app", app), image_of("ns1/app", dropped), image_of("ns2/web", web),
                index_of("ns1/multi", multi), *(image_of("ns1/multi", child) for child in multi.children),
                image_stream("ns1", "app", {"v1": [app.digest], "old": [dropped.digest]}),
                image_stream("ns1", "multi", {"latest": [multi.digest]}),
                image_stream("ns2", "web", {"latest": [web.digest]}),
            ])
            # what happened since: ns1/app:old pruned from the API, ns2/web deleted with its image
            api.remove("images", dropped.digest)
            api.add(image_stream("ns1", "app", {"v1": [app.digest]}))
            api.remove("imagestreams", "web", "ns2")
            api.remove("images", web.digest)
            yield Cluster(registry, make_env(api, tmp_path), work, app, multi, dropped, web, loose, upload)
    finally:
        registry.stop()


def load(path: Path) -> dict:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.name.endswith(".gz") else raw)


def collect_and_analyze(cluster: Cluster, name: str) -> Path:
    """collect (dump and inventory) and analyze --hard through the CLI; the signed plan."""
    env = cluster.env
    dump = env.collect(f"{name}-dump.json.gz")
    inventory = env.tmp / f"{name}-inventory.json.gz"
    result = run_cli("collect", "--registry-storage", str(cluster.root), "-o", str(inventory))
    assert result.code == 0, result.err
    plan = env.tmp / f"{name}-plan.json"
    result = run_cli("analyze", "--hard", str(dump), str(inventory), "-o", str(plan), "--sign-key", env.key, "-q")
    assert result.code == 0, result.err
    return plan


def set_read_only(cluster: Cluster, read_only: bool) -> None:
    """What `oc patch configs.imageregistry.operator.openshift.io/cluster` and the operator do:
    the Config says it, and the registry restarts in (or out of) read-only mode."""
    cluster.env.api.add(registry_config(read_only=read_only))
    cluster.registry.read_only = read_only
    cluster.registry.restart()


def test_a_hard_prune_deletes_every_orphan_and_every_image_still_accounted_for_pulls(cluster):
    make_old(cluster.root)
    for reference in ("ns1/app:v1", "ns1/app:old", "ns1/multi:latest", "ns2/web:latest"):
        assert pull(cluster.registry, cluster.work, reference).returncode == 0  # all there before
    before = read_storage(str(cluster.root))

    set_read_only(cluster, True)
    plan_path = collect_and_analyze(cluster, "first")
    plan = load(plan_path)
    assert {e["digest"] for e in plan["blobDeletions"]} == cluster.orphan_blobs()
    assert [e["repository"] for e in plan["repositoryDeletions"]] == ["ns2/web"]
    assert [(e["repository"], e["digest"]) for e in plan["manifestLinkDeletions"]] == [("ns1/app", cluster.dropped.digest)]
    assert [(e["repository"], e["uuid"]) for e in plan["uploadDeletions"]] == [("ns1/app", cluster.upload)]

    result = cluster.env.execute(plan_path, "--registry-storage", str(cluster.root), "--confirm")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == f"Reclaimed {plan['summary']['reclaimableBytes']} bytes"
    set_read_only(cluster, False)

    # every image the API still accounts for pulls, every platform of the index too
    for reference in ("ns1/app:v1", f"ns1/app@{cluster.app.digest}", "ns1/multi:latest", f"ns1/multi@{cluster.multi.digest}",
                      *(f"ns1/multi@{child.digest}" for child in cluster.multi.children)):
        pulled = pull(cluster.registry, cluster.work, reference)
        assert pulled.returncode == 0, f"{reference}: {pulled.stderr}"
    # every orphan is gone from the storage
    after = read_storage(str(cluster.root))
    repositories = {r.name: r for r in after.repositories}
    assert sorted(repositories) == ["ns1/app", "ns1/multi"]
    assert not (cluster.root / "docker/registry/v2/repositories/ns2").exists()
    assert cluster.dropped.digest not in repositories["ns1/app"].manifests
    assert repositories["ns1/app"].uploads == []
    assert cluster.loose.digest not in repositories["ns1/app"].layers
    assert {b.digest for b in after.blobs} == {b.digest for b in before.blobs} - cluster.orphan_blobs()
    for reference in ("ns1/app:old", f"ns1/app@{cluster.dropped.digest}", "ns2/web:latest"):
        assert pull(cluster.registry, cluster.work, reference).returncode != 0, reference
    # the bytes reclaimed are the plan's: the blobs' and the abandoned upload's
    upload_bytes = sum(u.size for r in before.repositories for u in r.uploads)
    blob_bytes = sum(b.size for b in before.blobs) - sum(b.size for b in after.blobs)
    assert blob_bytes + upload_bytes == plan["summary"]["reclaimableBytes"]

    # nothing is left to prune
    set_read_only(cluster, True)
    again = load(collect_and_analyze(cluster, "second"))
    for key in ("repositoryDeletions", "manifestLinkDeletions", "layerLinkDeletions", "uploadDeletions", "blobDeletions"):
        assert again[key] == [], key
    assert again["summary"]["reclaimableBytes"] == 0
