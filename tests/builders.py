"""Small builders of API objects in their JSON shape, for tests that need a cluster in a file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REGISTRY = "image-registry.openshift-image-registry.svc:5000"


def digest(n: int | str) -> str:
    text = str(n)
    return "sha256:" + text.rjust(64, "0") if text.isdigit() else "sha256:" + (text.encode().hex() * 64)[:64]


def image(
    name: str,
    *,
    layers: list[str] = (),
    config: str | None = None,
    created: str | None = "2026-01-01T00:00:00Z",
    managed: bool = True,
    size: int = 100,
    media_type: str = SCHEMA2,
    manifests: list[str] = (),
    metadata: Any = "default",
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "kind": "Image",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": name},
        "dockerImageReference": f"{REGISTRY}/ns/app@{name}",
        "dockerImageManifestMediaType": media_type,
        "dockerImageLayers": [{"name": layer, "size": 10, "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"} for layer in layers],
    }
    if created:
        obj["metadata"]["creationTimestamp"] = created
    if managed:
        obj["metadata"]["annotations"] = {"openshift.io/image.managed": "true"}
    if metadata == "default":
        obj["dockerImageMetadata"] = {"kind": "DockerImage", "apiVersion": "1.0", "Id": config or "", "Size": size}
    elif metadata is not None:
        obj["dockerImageMetadata"] = metadata
    if manifests:
        obj["dockerImageManifests"] = [{"digest": m, "mediaType": SCHEMA2} for m in manifests]
    return obj


def stream(namespace: str, name: str, tags: dict[str, list[str]], created: str | None = None,
           item_created: dict[tuple[str, int], str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": namespace, "name": name, "resourceVersion": "1"}
    if created:
        meta["creationTimestamp"] = created
    item_created = item_created or {}
    return {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": meta,
        "status": {
            "dockerImageRepository": f"{REGISTRY}/{namespace}/{name}",
            "tags": [
                {"tag": tag, "items": [
                    {"image": img, "dockerImageReference": f"{REGISTRY}/{namespace}/{name}@{img}",
                     **({"created": item_created[(tag, i)]} if (tag, i) in item_created else {})}
                    for i, img in enumerate(items)]}
                for tag, items in tags.items()
            ],
        },
    }


def pod(namespace: str, name: str, images: list[str], phase: str = "Running", created: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": namespace, "name": name}
    if created:
        meta["creationTimestamp"] = created
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": meta,
        "spec": {"containers": [{"name": f"c{i}", "image": ref} for i, ref in enumerate(images)]},
        "status": {"phase": phase},
    }


def deployment(namespace: str, name: str, images: list[str]) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"template": {"spec": {"containers": [{"name": f"c{i}", "image": ref} for i, ref in enumerate(images)]}}},
    }


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "items": items}


def as_dump(items: list[dict[str, Any]], collected_at: str = "2026-06-01T00:00:00Z", namespace: str | None = None,
            cluster: dict[str, Any] | None = None) -> dict[str, Any]:
    from pruneplan.kinds import BY_KIND, KINDS

    objects: dict[str, list] = {k.resource: [] for k in KINDS}
    for item in items:
        objects[BY_KIND[item["kind"]].resource].append(item)
    return {
        "apiVersion": "pruneplan.io/v1",
        "kind": "ClusterDump",
        "objects": objects,
        "header": {
            "formatVersion": 1,
            "collectedAt": collected_at,
            "cluster": cluster or {"apiServer": "https://api.test.example:6443", "clusterID": "test-cluster"},
            "namespace": namespace,
            "tool": {"name": "pruneplan", "version": "0.1.0"},
            "counts": {k: len(v) for k, v in objects.items()},
        },
    }


def write_line_dump(path: Path, items: list[dict[str, Any]], collected_at: str = "2026-06-01T00:00:00Z",
                    cluster: dict[str, Any] | None = None) -> Path:
    """The objects as `pruneplan collect` writes them: one object a line, grouped by resource
    (the form analyze reads real dumps in)."""
    from pruneplan.dumpwriter import DumpWriter
    from pruneplan.kinds import KINDS

    writer = DumpWriter(str(path))
    for kind in KINDS:
        objects = [item for item in items if item["kind"] == kind.kind]
        if objects:
            writer.begin(kind.resource)
            for obj in objects:
                writer.add(obj)
    writer.commit(collected_at, cluster or {"apiServer": "https://api.test.example:6443", "clusterID": "test"}, None)
    return path


def write_json(path: Path, doc: dict[str, Any], gz: bool = False) -> Path:
    data = json.dumps(doc, indent=1).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def limit_range(namespace: str, name: str, max_storage: str) -> dict[str, Any]:
    return {
        "kind": "LimitRange",
        "apiVersion": "v1",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"limits": [{"type": "openshift.io/Image", "max": {"storage": max_storage}}]},
    }
