"""A small real cluster for execute's end-to-end tests: images pushed to a real registry and the
matching Image / ImageStream / workload objects in the fake API.

ns1/app   latest: A5 A4 A3 A2 A1 (newest first); every image shares base layer B; A1's own layer
          is also used by W1 in ns1/web; a Deployment pins ns1/app@A2.
ns1/web   latest: W2 W1.
ns2/multi latest: M X M0; M and M0 are OCI indexes over two platform images each.
With --keep-tag-revisions=2: A3 and A1 leave ns1/app (A2 is in use), M0 leaves ns2/multi.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from registry_harness import MT_DOCKER_LAYER, Image, Index, RegistryAPI, build_image, build_index, random_layer

OLD = "2025-01-01T00:00:00Z"


@dataclass
class World:
    images: dict[str, Image | Index] = field(default_factory=dict)  # by name: A1.., W1.., M, M0, X
    repos: dict[str, str] = field(default_factory=dict)  # name -> repository it was pushed to
    registry_host: str = ""

    def digest(self, name: str) -> str:
        return self.images[name].digest

    def blobs_of(self, name: str) -> set[str]:
        image = self.images[name]
        if isinstance(image, Index):
            return {image.digest} | {b for child in image.children for b in self._image_blobs(child)}
        return self._image_blobs(image)

    @staticmethod
    def _image_blobs(image: Image) -> set[str]:
        return {image.digest, image.config.digest, *(layer.digest for layer in image.layers)}


def image_object(host: str, repo: str, image: Image | Index) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "kind": "Image",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": image.digest, "creationTimestamp": OLD, "annotations": {"openshift.io/image.managed": "true"}},
        "dockerImageReference": f"{host}/{repo}@{image.digest}",
        "dockerImageManifestMediaType": image.media_type,
    }
    if isinstance(image, Index):
        obj["dockerImageManifests"] = [
            {"digest": c.digest, "mediaType": c.media_type, "manifestSize": len(c.manifest),
             "architecture": c.platform.get("architecture", ""), "os": c.platform.get("os", "")}
            for c in image.children
        ]
    else:
        obj["dockerImageLayers"] = [
            {"name": layer.digest, "size": len(layer.blob.data), "mediaType": MT_DOCKER_LAYER} for layer in image.layers
        ]
        obj["dockerImageMetadata"] = {"kind": "DockerImage", "apiVersion": "1.0", "Id": image.config.digest,
                                      "Size": sum(len(b.data) for b in image.blobs)}
    return obj


def stream_object(host: str, ns: str, name: str, history: list[str]) -> dict[str, Any]:
    return {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {"namespace": ns, "name": name, "creationTimestamp": OLD},
        "status": {
            "dockerImageRepository": f"{host}/{ns}/{name}",
            "tags": [{"tag": "latest", "items": [
                {"image": digest, "created": OLD, "dockerImageReference": f"{host}/{ns}/{name}@{digest}"} for digest in history
            ]}],
        },
    }


def build_world(registry: RegistryAPI, host: str, seed: int = 7) -> tuple[World, list[dict[str, Any]]]:
    rng = random.Random(seed)
    world = World(registry_host=host)
    base = random_layer(4096, rng)
    a1_own = random_layer(2048, rng)
    for i in range(1, 6):
        own = a1_own if i == 1 else random_layer(1024 + i, rng)
        world.images[f"A{i}"] = build_image([base, own], rng=rng)
        world.repos[f"A{i}"] = "ns1/app"
    web_base = random_layer(3000, rng)
    world.images["W1"] = build_image([base, web_base, a1_own], rng=rng)
    world.images["W2"] = build_image([base, web_base, random_layer(900, rng)], rng=rng)
    world.repos.update(W1="ns1/web", W2="ns1/web")
    for name in ("M", "M0"):
        children = [build_image([base, random_layer(700, rng)], fmt="oci", architecture=arch, rng=rng) for arch in ("amd64", "arm64")]
        world.images[name] = build_index(children, fmt="oci")
        world.repos[name] = "ns2/multi"
    world.images["X"] = build_image([base, random_layer(800, rng)], fmt="oci", rng=rng)
    world.repos["X"] = "ns2/multi"

    for name, image in world.images.items():
        repo = world.repos[name]
        if isinstance(image, Index):
            registry.push_index(repo, image)
        else:
            registry.push_image(repo, image)

    objects: list[dict[str, Any]] = []
    for name, image in world.images.items():
        objects.append(image_object(host, world.repos[name], image))
        if isinstance(image, Index):
            objects += [image_object(host, world.repos[name], child) for child in image.children]
    d = world.digest
    objects += [
        stream_object(host, "ns1", "app", [d("A5"), d("A4"), d("A3"), d("A2"), d("A1")]),
        stream_object(host, "ns1", "web", [d("W2"), d("W1")]),
        stream_object(host, "ns2", "multi", [d("M"), d("X"), d("M0")]),
        {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"namespace": "ns1", "name": "pinned"},
         "spec": {"template": {"spec": {"containers": [{"name": "app", "image": f"{host}/ns1/app@{d('A2')}"}]}}}},
        {"kind": "ClusterVersion", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "version"},
         "spec": {"clusterID": "e2e-cluster"}},
    ]
    return world, objects
