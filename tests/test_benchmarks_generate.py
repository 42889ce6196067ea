"""The benchmark dump generator: deterministic, loadable, and carrying the features it advertises."""

from __future__ import annotations

import gzip
import re
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

# benchmarks/ is not an installed package; make it importable under plain `pytest` too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.generate import CLUSTER, COLLECTED_AT, generate  # noqa: E402
from pruneplan.analyze.decisions.inputs import load_inputs  # noqa: E402

N_IMAGES = 300
LIST_TYPES = {
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
}
# docker/distribution reference grammar (docs/rules.md, "Image references"), anchored.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?"
)
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def dump_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "dump.json.gz"
    generate(N_IMAGES, 1, str(path))
    return path


@pytest.fixture(scope="module")
def doc(dump_path: Path) -> dict[str, Any]:
    return orjson.loads(gzip.decompress(dump_path.read_bytes()))


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _young(value: str) -> bool:
    return _time(value) > NOW - timedelta(hours=1)


def _pod_specs(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(resource, object, pod spec) for every object with containers."""
    for resource, objs in doc["objects"].items():
        for obj in objs:
            if resource == "pods":
                yield resource, obj, obj["spec"]
            elif resource == "cronjobs":
                yield resource, obj, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            elif "template" in obj.get("spec", {}):
                yield resource, obj, obj["spec"]["template"]["spec"]


def _container_images(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    for resource, obj, spec in _pod_specs(doc):
        for key in ("initContainers", "containers"):
            for container in spec.get(key, []):
                yield resource, obj, container["image"]


def test_same_seed_same_bytes(tmp_path: Path, dump_path: Path) -> None:
    again = tmp_path / "again.json.gz"
    generate(N_IMAGES, 1, str(again))
    assert again.read_bytes() == dump_path.read_bytes()
    other = tmp_path / "other.json.gz"
    generate(N_IMAGES, 2, str(other))
    assert other.read_bytes() != dump_path.read_bytes()


def test_loads_and_header(dump_path: Path, doc: dict[str, Any]) -> None:
    loaded = load_inputs([str(dump_path)])
    assert len(loaded.objects["images"]) == N_IMAGES
    assert loaded.duplicates == 0
    assert loaded.collected_at == COLLECTED_AT
    assert loaded.cluster == CLUSTER
    assert loaded.namespace is None
    assert doc["header"]["counts"] == loaded.counts()


def test_digests_and_sizes(doc: dict[str, Any]) -> None:
    for image in doc["objects"]["images"]:
        assert DIGEST.fullmatch(image["metadata"]["name"])
        if image["dockerImageManifestMediaType"] in LIST_TYPES:
            continue
        layers = image["dockerImageLayers"]
        assert layers and all(DIGEST.fullmatch(layer["name"]) and layer["size"] > 0 for layer in layers)
        meta = image["dockerImageMetadata"]
        assert meta["kind"] == "DockerImage"
        assert meta["Size"] >= sum(layer["size"] for layer in layers)
    for stream in doc["objects"]["imagestreams"]:
        for tag in stream["status"]["tags"]:
            assert 1 <= len(tag["items"]) <= 15
            created = [_time(i["created"]) for i in tag["items"]]
            assert created == sorted(created, reverse=True)  # newest first
            assert all(DIGEST.fullmatch(i["image"]) for i in tag["items"])


def test_manifest_lists_and_media_types(doc: dict[str, Any]) -> None:
    images = doc["objects"]["images"]
    names = {i["metadata"]["name"] for i in images}
    types = Counter(i["dockerImageManifestMediaType"] for i in images)
    lists = [i for i in images if i["dockerImageManifestMediaType"] in LIST_TYPES]
    assert lists
    for index in lists:
        children = [m["digest"] for m in index["dockerImageManifests"]]
        assert len(children) >= 2 and set(children) <= names
    assert types["application/vnd.docker.distribution.manifest.v2+json"] > 0
    assert types["application/vnd.oci.image.manifest.v1+json"] > 0
    configs = [i["dockerImageMetadata"]["Id"] for i in images if i["dockerImageManifestMediaType"] not in LIST_TYPES]
    assert all(configs)


def test_shared_layers_orphans_unmanaged(doc: dict[str, Any]) -> None:
    images = doc["objects"]["images"]
    layer_use = Counter(layer["name"] for i in images for layer in i.get("dockerImageLayers", []))
    assert sum(1 for n in layer_use.values() if n >= 10) >= 5  # base stacks shared widely
    assert sum(1 for n in layer_use.values() if n == 1) > N_IMAGES  # plus unique app layers
    listed = {i["image"] for s in doc["objects"]["imagestreams"] for t in s["status"]["tags"] for i in t["items"]}
    children = {m["digest"] for i in images for m in i.get("dockerImageManifests", [])}
    orphans = [i for i in images if i["metadata"]["name"] not in listed | children]
    assert orphans
    names = {i["metadata"]["name"] for i in images}
    assert listed - names  # some history items name missing images
    managed = Counter((i["metadata"].get("annotations") or {}).get("openshift.io/image.managed") for i in images)
    assert managed["true"] > 0 and (managed[None] + managed["false"]) > 0


def test_workloads_pin_old_digests(doc: dict[str, Any]) -> None:
    history: dict[str, list[str]] = {}
    for stream in doc["objects"]["imagestreams"]:
        meta = stream["metadata"]
        for tag in stream["status"]["tags"]:
            history.setdefault(f"{meta['namespace']}/{meta['name']}", []).extend(i["image"] for i in tag["items"])
    pinned_old = by_tag = 0
    for _resource, _obj, image in _container_images(doc):
        if image.startswith("image-registry.openshift-image-registry.svc:5000/"):
            repo = image.split("/", 1)[1]
            if "@" in repo:
                repo, digest = repo.split("@")
                if repo in history and digest in history[repo] and history[repo][0] != digest:
                    pinned_old += 1
            else:
                by_tag += 1
    assert pinned_old > 0 and by_tag > 0
    builds = doc["objects"]["builds"] + doc["objects"]["buildconfigs"]
    kinds = Counter(s.get("from", {}).get("kind") for b in builds for k, s in b["spec"]["strategy"].items() if k != "type")
    assert kinds["DockerImage"] > 0 and kinds["ImageStreamTag"] > 0
    externals = [img for _r, _o, img in _container_images(doc) if img.split("/")[0] in ("quay.io", "docker.io")]
    assert externals
    limits = [limit for lr in doc["objects"]["limitranges"] for limit in lr["spec"]["limits"] if limit["type"] == "openshift.io/Image"]
    assert all("storage" in limit["max"] for limit in limits)


def test_young_and_old_items(doc: dict[str, Any]) -> None:
    items = [i for s in doc["objects"]["imagestreams"] for t in s["status"]["tags"] for i in t["items"]]
    assert any(_young(i["created"]) for i in items)
    assert any(_time(i["created"]) < NOW - timedelta(days=60) for i in items)
    assert any(_young(i["metadata"]["creationTimestamp"]) for i in doc["objects"]["images"])
    phases = Counter(p["status"]["phase"] for p in doc["objects"]["pods"])
    assert phases["Running"] and phases["Succeeded"] and phases["Failed"]
    assert any(
        p["status"]["phase"] in ("Succeeded", "Failed") and _young(p["metadata"]["creationTimestamp"])
        for p in doc["objects"]["pods"]
    )


def test_every_reference_parses(doc: dict[str, Any]) -> None:
    refs = [image for _r, _o, image in _container_images(doc)]
    for b in doc["objects"]["builds"] + doc["objects"]["buildconfigs"]:
        for key, strategy in b["spec"]["strategy"].items():
            if key != "type" and strategy.get("from", {}).get("kind") == "DockerImage":
                refs.append(strategy["from"]["name"])
    refs += [i["dockerImageReference"] for i in doc["objects"]["images"]]
    refs += [i["dockerImageReference"] for s in doc["objects"]["imagestreams"] for t in s["status"]["tags"] for i in t["items"]]
    assert len(refs) > N_IMAGES
    bad = [r for r in refs if not REFERENCE.fullmatch(r)]
    assert bad == []
