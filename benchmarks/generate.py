"""Deterministic generator of large, realistic cluster dumps for benchmarking `pruneplan analyze`.

    python -m benchmarks.generate --images 20000 --seed 1 -o benchmarks/data/dump-20k.json.gz

The cluster is built from "groups": one team's namespaces (a single namespace, or dev/stage/prod
where stage and prod promote dev's images), plus the `openshift` namespace with imported builder
image streams. Each group has its own `random.Random` derived from the seed, so groups are
generated one at a time and memory stays bounded: images go straight into `DumpWriter`, every
other object is spooled to a temporary file and replayed through the writer afterwards (the
writer emits one resource at a time).

What makes the data interesting for the rules (docs/rules.md):
- tag histories of 1..15 revisions, newest first, over months, a few within the last hour;
- a few dozen base layer stacks shared by most images (global blob refcounts), per-stream
  dependency layers shared between revisions (layer links), unique app layers;
- schema2, OCI and some schema1 images; ~5% manifest lists whose children are images too;
- images in no stream (orphans, some young), unmanaged imported images, history items whose
  image is missing, images tagged in several tags and promoted across namespaces;
- pods (Running/Pending/Succeeded/Failed, some young), controllers that reference by tag and by
  digest (ReplicaSets, RCs, Builds pinning old digests), build configs using ImageStreamTag /
  ImageStreamImage / DockerImage, external references, LimitRanges with openshift.io/Image max.
"""

from __future__ import annotations

import argparse
import calendar
import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import orjson

from pruneplan.dumpwriter import DumpWriter
from pruneplan.kinds import KINDS

COLLECTED_AT = "2026-06-01T00:00:00Z"
NOW = calendar.timegm((2026, 6, 1, 0, 0, 0, 0, 0, 0))
CLUSTER = {"apiServer": "https://api.bench.example:6443", "clusterID": "bench"}
INTERNAL = "image-registry.openshift-image-registry.svc:5000"
PUBLIC = "default-route-openshift-image-registry.apps.bench.example"
MANAGED = "openshift.io/image.managed"

HOUR = 3600
DAY = 86400
MIB = 1 << 20

MT_S2 = "application/vnd.docker.distribution.manifest.v2+json"
MT_OCI = "application/vnd.oci.image.manifest.v1+json"
MT_S1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MT_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER_MT = {
    MT_S2: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    MT_OCI: "application/vnd.oci.image.layer.v1.tar+gzip",
    MT_S1: "application/vnd.docker.container.image.rootfs.diff+x-gtar",
}
# The well-known empty gzip layer that schema1 manifests repeat between real layers.
EMPTY_LAYER = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"

ARCHES: tuple[tuple[str, str | None], ...] = (("amd64", None), ("arm64", "v8"), ("ppc64le", None), ("s390x", None))
ROOTS = ("ubi8", "ubi9", "ubi9-minimal", "alpine-3", "debian-12", "fedora-40")
RUNTIMES = (
    "python-311", "python-39", "nodejs-20", "nodejs-18", "openjdk-17", "openjdk-21", "golang-121",
    "nginx-124", "httpd-24", "dotnet-80", "ruby-33", "php-82", "perl-536", "eap-8", "quarkus-3",
    "postgresql-15", "redis-7", "mariadb-1011", "tomcat-10", "rust-176", "python-312", "nodejs-22",
    "openjdk-11", "go-toolset", "s2i-base", "s2i-core", "nginx-122", "mysql-80", "valkey-8",
    "jenkins-agent",
)
BUILDERS = (
    ("python", "ubi9/python-311", ("3.11-ubi9", "3.9-ubi8", "3.12-ubi9")),
    ("nodejs", "ubi9/nodejs-20", ("20-ubi9", "18-ubi8", "22-ubi9")),
    ("ruby", "ubi9/ruby-33", ("3.3-ubi9", "3.1-ubi8")),
    ("golang", "ubi9/go-toolset", ("1.21", "1.20")),
    ("java", "ubi9/openjdk-17", ("openjdk-17-ubi9", "openjdk-21-ubi9", "openjdk-11-ubi8")),
    ("dotnet", "ubi8/dotnet-80", ("8.0-ubi8", "6.0-ubi8")),
    ("httpd", "ubi9/httpd-24", ("2.4-ubi9", "2.4-el8")),
    ("nginx", "ubi9/nginx-124", ("1.24-ubi9", "1.22-ubi8")),
    ("php", "ubi9/php-82", ("8.2-ubi9", "8.0-ubi8")),
    ("perl", "ubi9/perl-536", ("5.36-ubi9",)),
    ("postgresql", "rhel9/postgresql-15", ("15-el9", "13-el8")),
    ("mysql", "rhel9/mysql-80", ("8.0-el9",)),
    ("redis", "rhel9/redis-7", ("7-el9", "6-el8")),
    ("mariadb", "rhel9/mariadb-1011", ("10.11-el9",)),
    ("jenkins", "ocp-tools-4/jenkins-rhel8", ("2", "scheduled-upgrade")),
    ("jenkins-agent-base", "ocp-tools-4/jenkins-agent-base-rhel8", ("latest",)),
    ("cli", "openshift4/ose-cli", ("latest",)),
    ("tools", "openshift4/ose-tools-rhel8", ("latest",)),
    ("must-gather", "openshift4/ose-must-gather", ("latest",)),
    ("tests", "openshift4/ose-tests", ("latest",)),
)
TEAM_WORDS = (
    "payments", "orders", "search", "identity", "catalog", "shipping", "billing", "analytics", "media",
    "support", "inventory", "pricing", "mobile", "platform", "data", "risk", "ledger", "claims", "booking",
    "loyalty", "reports", "partner", "content", "fleet", "iot", "ml", "checkout", "crm", "hr", "portal",
)
APP_WORDS = (
    "api", "web", "frontend", "backend", "worker", "gateway", "auth", "notifier", "scheduler", "cache",
    "proxy", "admin", "ingest", "etl", "exporter", "importer", "renderer", "indexer", "consumer",
    "producer", "ui", "bff", "sync", "batch", "router", "mailer", "pdf", "thumbnailer", "audit", "jobs",
)
SIDECARS = (
    "quay.io/prometheus/node-exporter:v1.7.0",
    "docker.io/library/nginx:1.25",
    "docker.io/library/nginx",
    "quay.io/jetstack/cert-manager-controller:v1.14.4",
    "registry.access.redhat.com/ubi9/ubi-minimal:latest",
    "gcr.io/distroless/static:nonroot",
    "quay.io/openshift/origin-oauth-proxy:4.15",
    "busybox:1.36",
    "nginx",
)
IMPORT_REPOS = ("quay.io/bitnami/redis", "quay.io/keycloak/keycloak", "docker.io/library/postgres",
                "quay.io/strimzi/kafka", "docker.io/grafana/grafana", "quay.io/minio/minio")
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LOG_MIN = math.log(60)

# Item of a tag history: (age in seconds before NOW, image digest, dockerImageReference).
Item = tuple[int, str, str]


def ts(age: int) -> str:
    return time.strftime(TS_FORMAT, time.gmtime(NOW - age))


@dataclass(slots=True)
class Stack:
    """A base image's layers: shared by every image built on it (global blob refcounts)."""

    name: str
    layers: list[tuple[str, int]]
    _dicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def dicts(self, layer_media_type: str) -> list[dict[str, Any]]:
        # One dict list per media type, reused by every image (orjson serialises shared dicts fine).
        cached = self._dicts.get(layer_media_type)
        if cached is None:
            cached = [{"name": d, "size": s, "mediaType": layer_media_type} for d, s in self.layers]
            self._dicts[layer_media_type] = cached
        return cached


@dataclass(slots=True)
class Builder:
    stream: str
    tag: str
    digests: list[str]  # of the tag's history, newest first


class Catalog:
    """Cluster-wide shared things: base stacks per architecture, builder streams, fixed digests."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"pruneplan-bench/{seed}/catalog")
        self.stacks: dict[str, list[Stack]] = {}
        self.cum_weights: dict[str, list[float]] = {}
        for arch, _variant in ARCHES:
            roots = [
                Stack(f"{r}-{arch}", [(_digest(rng), rng.randint(20 * MIB, 90 * MIB)) for _ in range(rng.randint(1, 3))])
                for r in ROOTS
            ]
            runtimes = RUNTIMES if arch == "amd64" else RUNTIMES[:8]
            stacks = list(roots)
            for name in runtimes:
                parent = rng.choice(roots)
                own = [(_digest(rng), rng.randint(5 * MIB, 150 * MIB)) for _ in range(rng.randint(1, 4))]
                stacks.append(Stack(f"{name}-{arch}", parent.layers + own))
            rng.shuffle(stacks)
            self.stacks[arch] = stacks
            # Zipf-like popularity: a handful of bases carry most images.
            total = 0.0
            cum = []
            for i in range(len(stacks)):
                total += 1.0 / (i + 1)
                cum.append(total)
            self.cum_weights[arch] = cum
        self.builders: list[Builder] = []
        release = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"
        self.deployer_ref = f"{release}@{_digest(rng)}"
        self.build_pod_ref = f"{release}@{_digest(rng)}"
        self.sidecars = SIDECARS + (f"registry.redhat.io/rhel9/postgresql-15@{_digest(rng)}",)

    def stack(self, rng: random.Random, arch: str) -> Stack:
        return rng.choices(self.stacks[arch], cum_weights=self.cum_weights[arch])[0]


def _digest(rng: random.Random) -> str:
    return "sha256:%064x" % rng.getrandbits(256)


@dataclass(slots=True)
class Stream:
    ns: str
    name: str
    repo: str  # pull spec its items' dockerImageReference uses
    managed: bool  # pushed to the integrated registry (vs imported from outside)
    mt: str
    legacy: bool  # old revisions are schema1
    stack: Stack
    deps: list[tuple[str, int]]
    age: int = 0
    tags: list[tuple[str, list[Item]]] = field(default_factory=list)
    pool: list[tuple[str, int, str]] = field(default_factory=list)  # images it pushed: digest, age, ref


class GroupGen:
    """Generates one group's namespaces: images into `images`, other objects into `objects`."""

    def __init__(self, cat: Catalog, seed: int, gid: int, namespaces: list[str], budget: int) -> None:
        self.cat = cat
        self.rng = random.Random(f"pruneplan-bench/{seed}/group/{gid}")
        self.namespaces = namespaces
        self.remaining = budget
        # Images kept back for orphans (images in no stream).
        self.reserve = round(budget * 0.05) if budget >= 20 else 0
        self.images: list[dict[str, Any]] = []
        self.objects: dict[str, list[dict[str, Any]]] = {k.resource: [] for k in KINDS if k.resource != "images"}
        self.names: dict[str, set[str]] = {}

    # ---- small helpers -------------------------------------------------------------------
    def digest(self) -> str:
        return "sha256:%064x" % self.rng.getrandbits(256)

    def uid(self) -> str:
        h = "%032x" % self.rng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"

    def meta(self, ns: str | None, name: str, age: int) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if ns is not None:
            meta["namespace"] = ns
        meta["name"] = name
        meta["uid"] = self.uid()
        meta["resourceVersion"] = str(self.rng.randrange(100000, 999999999))
        meta["creationTimestamp"] = ts(age)
        return meta

    def log_uniform(self, lo: float, hi: float) -> int:
        return int(math.exp(self.rng.uniform(math.log(lo), math.log(hi))))

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choices("bcdfghjklmnpqrstvwxz2456789", k=n))

    def unique(self, ns: str, base: str) -> str:
        used = self.names.setdefault(ns, set())
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        return name

    def add(self, resource: str, obj: dict[str, Any]) -> None:
        self.objects[resource].append(obj)

    # ---- images --------------------------------------------------------------------------
    def annotations(self, managed: bool) -> dict[str, str] | None:
        if managed:
            # A rare "True" exercises --all=false's exact-string check.
            return {MANAGED: "True" if self.rng.random() < 0.002 else "true"}
        return {MANAGED: "false"} if self.rng.random() < 0.5 else None

    def image_obj(self, digest: str, age: int, ref: str, managed: bool) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": digest,
            "uid": self.uid(),
            "resourceVersion": str(self.rng.randrange(100000, 999999999)),
            "creationTimestamp": ts(age),
        }
        notes = self.annotations(managed)
        if notes is not None:
            meta["annotations"] = notes
        return {"metadata": meta, "dockerImageReference": ref}

    def make_image(self, st: Stream, age: int, arch: str = "amd64", mt: str | None = None) -> str:
        rng = self.rng
        digest = self.digest()
        if mt is None:
            mt = MT_S1 if st.legacy and age > 60 * DAY else st.mt
        lmt = LAYER_MT[mt]
        if arch == "amd64":
            layers = list(st.stack.dicts(lmt))
            if rng.random() < 0.25:  # dependencies change now and then; otherwise shared by revisions
                st.deps[rng.randrange(len(st.deps))] = (self.digest(), rng.randint(MIB, 80 * MIB))
            layers.extend({"name": d, "size": s, "mediaType": lmt} for d, s in st.deps)
        else:
            layers = list(self.cat.stack(rng, arch).dicts(lmt))
        for _ in range(rng.randint(1, 4)):
            layers.append({"name": self.digest(), "size": rng.randint(1024, 20 * MIB), "mediaType": lmt})
        if rng.random() < 0.02:  # the odd huge image (models, toolchains)
            layers.append({"name": self.digest(), "size": rng.randint(800 * MIB, 2500 * MIB), "mediaType": lmt})
        size = 0
        for layer in layers:
            size += layer["size"]
        obj = self.image_obj(digest, age, f"{st.repo}@{digest}", st.managed)
        obj["dockerImageManifestMediaType"] = mt
        if mt == MT_S1:
            # schema1 repeats the empty layer between real ones and has no config blob.
            padded = []
            for layer in layers:
                padded.append(layer)
                if rng.random() < 0.5:
                    padded.append({"name": EMPTY_LAYER, "size": 32, "mediaType": lmt})
                    size += 32
            layers = padded
            image_id = "%064x" % rng.getrandbits(256)
        else:
            config_size = rng.randint(1500, 15000)
            size += config_size
            image_id = self.digest()
        obj["dockerImageLayers"] = layers
        obj["dockerImageMetadata"] = {
            "kind": "DockerImage",
            "apiVersion": "image.openshift.io/1.0",
            "Id": image_id,
            "Size": size,
            "Created": ts(age + rng.randint(60, 2 * HOUR)),
        }
        self.images.append(obj)
        self.remaining -= 1
        return digest

    def make_index(self, st: Stream, age: int, children: int) -> str:
        rng = self.rng
        child_mt = MT_OCI if st.mt == MT_OCI else MT_S2
        manifests = []
        for arch, variant in ARCHES[:children]:
            child = self.make_image(st, age + rng.randint(0, 30), arch, child_mt)
            entry: dict[str, Any] = {
                "digest": child,
                "mediaType": child_mt,
                "manifestSize": rng.randint(400, 2500),
                "architecture": arch,
                "os": "linux",
            }
            if variant:
                entry["variant"] = variant
            manifests.append(entry)
        digest = self.digest()
        obj = self.image_obj(digest, age, f"{st.repo}@{digest}", st.managed)
        obj["dockerImageManifestMediaType"] = MT_INDEX if st.mt == MT_OCI else MT_LIST
        obj["dockerImageManifests"] = manifests
        obj["dockerImageLayers"] = []
        obj["dockerImageMetadata"] = {"kind": "DockerImage", "apiVersion": "image.openshift.io/1.0"}
        self.images.append(obj)
        self.remaining -= 1
        return digest

    def new_image(self, st: Stream, age: int, list_share: float) -> str | None:
        """A new image pushed at `age`, or None when the group's budget is spent."""
        free = self.remaining - self.reserve
        if free <= 0:
            return None
        if free >= 3 and self.rng.random() < list_share:
            return self.make_index(st, age, min(self.rng.choice((2, 2, 3, 4)), free - 1))
        return self.make_image(st, age)

    # ---- image streams -------------------------------------------------------------------
    def new_stream(self, ns: str, name: str, managed: bool, repo: str | None = None) -> Stream:
        rng = self.rng
        r = rng.random()
        mt = MT_OCI if r < 0.25 else MT_S2
        return Stream(
            ns=ns,
            name=name,
            repo=repo or f"{INTERNAL}/{ns}/{name}",
            managed=managed,
            mt=mt,
            legacy=rng.random() < 0.12,
            stack=self.cat.stack(rng, "amd64"),
            deps=[(self.digest(), rng.randint(MIB, 80 * MIB)) for _ in range(rng.randint(1, 3))],
        )

    def history_length(self) -> int:
        r = self.rng.random()
        if r < 0.2:
            return 1
        if r < 0.55:
            return self.rng.randint(2, 5)
        if r < 0.8:
            return self.rng.randint(6, 10)
        return self.rng.randint(11, 15)

    def timeline(self, length: int, young_stream: bool) -> list[int]:
        """Item ages, newest first."""
        rng = self.rng
        if young_stream:
            age = rng.randint(60, 1800)
            ages = [age]
            for _ in range(length - 1):
                age += rng.randint(10, 120)
                ages.append(age)
            return ages
        age = rng.randint(60, HOUR - 60) if rng.random() < 0.04 else self.log_uniform(HOUR, 180 * DAY)
        ages = [age]
        for _ in range(length - 1):
            age += self.log_uniform(600, 20 * DAY)
            ages.append(age)
        return ages

    def tag_names(self, count: int) -> list[str]:
        rng = self.rng
        names = ["latest"] if rng.random() < 0.7 else []
        major = rng.randint(0, 4)
        minor = rng.randint(0, 30)
        extra = ("stable", "dev", "test", "canary", "release", "nightly")
        while len(names) < count:
            r = rng.random()
            if r < 0.6:
                candidate = f"v{major}.{minor}.{rng.randint(0, 20)}"
            elif r < 0.8:
                candidate = rng.choice(extra)
            else:
                candidate = f"build-{rng.getrandbits(28):07x}"
            if candidate not in names:
                names.append(candidate)
        return names

    def fill_stream(self, st: Stream, list_share: float = 0.05, max_tags: int | None = None) -> None:
        rng = self.rng
        r = rng.random()
        count = 1 if r < 0.4 else 2 if r < 0.7 else rng.randint(3, 5) if r < 0.95 else rng.randint(6, 10)
        if max_tags is not None:
            count = min(count, max_tags)
        young = rng.random() < 0.01
        oldest = 0
        for tag in self.tag_names(count):
            items: list[Item] = []
            for age in self.timeline(self.history_length(), young):
                r = rng.random()
                if r < 0.01:
                    digest = self.digest()  # image deleted out of band: the "image-missing" rule
                    items.append((age, digest, f"{st.repo}@{digest}"))
                    continue
                if r < 0.10 and st.pool:
                    # The same image under several tags (or listed twice in one).
                    cand = rng.choice(st.pool)
                    if cand[1] >= age:
                        items.append((age, cand[0], cand[2]))
                        continue
                img_age = age + rng.randint(5, 900)
                digest = self.new_image(st, img_age, list_share)
                if digest is None:
                    break
                ref = f"{st.repo}@{digest}"
                st.pool.append((digest, img_age, ref))
                items.append((age, digest, ref))
            if items:
                st.tags.append((tag, items))
                oldest = max(oldest, items[-1][0])
        st.age = oldest + (rng.randint(10, 600) if young else rng.randint(60, 7 * DAY))

    def promote(self, src: Stream, ns: str, name: str, tag: str) -> Stream | None:
        """A stream in `ns` whose one tag lists some of src's images (oc tag / promotion)."""
        rng = self.rng
        if not src.pool:
            return None
        chosen = rng.sample(src.pool, rng.randint(1, min(15, len(src.pool))))
        items = sorted(((int(a * rng.uniform(0.3, 1.0)), d, ref) for d, a, ref in chosen), key=lambda i: (i[0], i[1]))
        st = Stream(ns, name, src.repo, src.managed, src.mt, False, src.stack, src.deps)
        st.tags.append((tag, items))
        st.age = items[-1][0] + rng.randint(60, DAY)
        return st

    def stream_obj(self, st: Stream) -> dict[str, Any]:
        tags = []
        for tag, items in st.tags:
            gen = len(items) + 1
            tags.append({
                "tag": tag,
                "items": [
                    {"created": ts(age), "image": digest, "dockerImageReference": ref, "generation": gen - i}
                    for i, (age, digest, ref) in enumerate(items)
                ],
            })
        return {
            "metadata": self.meta(st.ns, st.name, st.age),
            "status": {
                "dockerImageRepository": f"{INTERNAL}/{st.ns}/{st.name}",
                "publicDockerImageRepository": f"{PUBLIC}/{st.ns}/{st.name}",
                "tags": tags,
            },
        }

    # ---- workloads -----------------------------------------------------------------------
    def pod_spec(self, container: str, ref: str) -> dict[str, Any]:
        rng = self.rng
        containers = [{"name": container, "image": ref}]
        if rng.random() < 0.12:
            containers.append({"name": "sidecar", "image": rng.choice(self.cat.sidecars)})
        spec: dict[str, Any] = {"containers": containers}
        if rng.random() < 0.15:
            spec["initContainers"] = [{"name": "init", "image": ref if rng.random() < 0.5 else "busybox:1.36"}]
        return spec

    def pod(self, ns: str, name: str, spec: dict[str, Any], phase: str, age: int) -> None:
        self.add("pods", {"metadata": self.meta(ns, name, age), "spec": spec, "status": {"phase": phase}})

    def running_pods(self, ns: str, owner: str, spec: dict[str, Any], age: int, replicas: int) -> None:
        rng = self.rng
        for _ in range(replicas):
            phase = "Pending" if rng.random() < 0.02 else "Running"
            self.pod(ns, f"{owner}-{self.suffix()}", spec, phase, rng.randint(30, max(60, age)))

    def template(self, spec: dict[str, Any]) -> dict[str, Any]:
        return {"template": {"spec": spec}}

    def deploy(self, st: Stream) -> None:
        """Controllers and pods that run `st`, by tag or by (possibly old) digest."""
        rng = self.rng
        if not st.tags:
            return
        tag, items = st.tags[0]
        ns, base = st.ns, f"{INTERNAL}/{st.ns}/{st.name}"
        by_tag = f"{base}:{tag}"
        r = rng.random()
        name = self.unique(ns + "/w", st.name)
        if r < 0.40:  # Deployment + ReplicaSets (revisionHistoryLimit 10)
            by_digest = rng.random() < 0.5
            current = 0 if rng.random() < 0.95 else rng.randrange(len(items))
            revisions = rng.randint(1, min(10, len(items) - current))
            refs = [f"{base}@{items[current + i][1]}" if by_digest else by_tag for i in range(revisions)]
            spec = self.pod_spec(name, refs[0])
            self.add("deployments", {"metadata": self.meta(ns, name, items[-1][0]), "spec": self.template(spec)})
            for i, ref in enumerate(refs):
                rs = f"{name}-{self.suffix(9)}"
                rs_spec = spec if i == 0 else self.pod_spec(name, ref)
                self.add("replicasets", {"metadata": self.meta(ns, rs, items[current + i][0]), "spec": self.template(rs_spec)})
                if i == 0:
                    self.running_pods(ns, rs, spec, items[current][0], rng.randint(1, 3))
        elif r < 0.60:  # DeploymentConfig resolved to digests, one RC per rollout, deployer pods
            revisions = rng.randint(1, min(5, len(items)))
            spec = self.pod_spec(name, f"{base}@{items[0][1]}")
            self.add("deploymentconfigs", {"metadata": self.meta(ns, name, items[-1][0]), "spec": self.template(spec)})
            for i in range(revisions):
                rev = revisions - i
                age = items[i][0]
                rc_spec = spec if i == 0 else self.pod_spec(name, f"{base}@{items[i][1]}")
                self.add("replicationcontrollers", {"metadata": self.meta(ns, f"{name}-{rev}", age), "spec": self.template(rc_spec)})
                phase = "Failed" if rng.random() < 0.1 else "Succeeded"
                self.pod(ns, f"{name}-{rev}-deploy", {"containers": [{"name": "deployment", "image": self.cat.deployer_ref}]}, phase, max(30, age - 20))
                if i == 0:
                    self.running_pods(ns, f"{name}-{rev}", spec, age, rng.randint(1, 3))
        elif r < 0.68:
            spec = self.pod_spec(name, by_tag)
            self.add("statefulsets", {"metadata": self.meta(ns, name, items[-1][0]), "spec": self.template(spec)})
            for i in range(rng.randint(1, 3)):
                self.pod(ns, f"{name}-{i}", spec, "Running", rng.randint(60, max(120, items[0][0])))
        elif r < 0.71:
            spec = self.pod_spec(name, by_tag)
            self.add("daemonsets", {"metadata": self.meta(ns, name, items[-1][0]), "spec": self.template(spec)})
            self.running_pods(ns, name, spec, items[0][0], 3)
        elif r < 0.79:  # CronJob + recent Jobs + their pods (completed, some within the hour)
            spec = self.pod_spec(name, by_tag)
            self.add("cronjobs", {"metadata": self.meta(ns, name, items[-1][0]), "spec": {"jobTemplate": {"spec": self.template(spec)}}})
            age = rng.randint(60, 6 * HOUR)
            for _ in range(rng.randint(1, 3)):
                ref = by_tag if rng.random() < 0.7 else f"{base}@{rng.choice(items)[1]}"
                job = f"{name}-{rng.randint(28000000, 29999999)}"
                job_spec = self.pod_spec(name, ref)
                self.add("jobs", {"metadata": self.meta(ns, job, age), "spec": self.template(job_spec)})
                self.pod(ns, f"{job}-{self.suffix()}", job_spec, "Failed" if rng.random() < 0.15 else "Succeeded", age)
                age += rng.randint(HOUR, 2 * DAY)

    def build_config(self, st: Stream, siblings: list[Stream]) -> None:
        """A BuildConfig producing `st`, its Builds (resolved to pinned digests) and build pods."""
        rng = self.rng
        if not st.tags or not self.cat.builders:
            return
        ns, name = st.ns, self.unique(st.ns + "/bc", st.name)
        builder = rng.choice(self.cat.builders)
        resolved = lambda i: {"kind": "DockerImage", "name": f"{INTERNAL}/openshift/{builder.stream}@{builder.digests[min(i, len(builder.digests) - 1)]}"}  # noqa: E731
        r = rng.random()
        if r < 0.60:
            kind, key = "Source", "sourceStrategy"
            bc_from: dict[str, Any] | None = {"kind": "ImageStreamTag", "namespace": "openshift", "name": f"{builder.stream}:{builder.tag}"}
        elif r < 0.85:
            kind, key = "Docker", "dockerStrategy"
            rr = rng.random()
            others = [s for s in siblings if s is not st and s.tags]
            if rr < 0.4 and others:
                other = rng.choice(others)
                bc_from = {"kind": "ImageStreamTag", "name": f"{other.name}:{other.tags[0][0]}"}
            elif rr < 0.7:
                bc_from = {"kind": "DockerImage", "name": rng.choice(("registry.access.redhat.com/ubi9/ubi:latest", "docker.io/library/golang:1.22", f"{INTERNAL}/openshift/{builder.stream}:{builder.tag}"))}
            else:
                bc_from = None  # FROM comes from the Dockerfile
        elif r < 0.88:
            kind, key = "Custom", "customStrategy"
            bc_from = {"kind": "DockerImage", "name": "quay.io/bench/custom-builder:latest"}
        elif r < 0.94:
            kind, key = "Source", "sourceStrategy"
            bc_from = {"kind": "ImageStreamImage", "namespace": "openshift", "name": f"{builder.stream}@{builder.digests[-1]}"}
        else:
            kind, key, bc_from = "JenkinsPipeline", "jenkinsPipelineStrategy", None
        strategy: dict[str, Any] = {key: {"from": bc_from} if bc_from else {}, "type": kind}
        self.add("buildconfigs", {"metadata": self.meta(ns, name, st.age), "spec": {"strategy": strategy}})
        items = st.tags[0][1]
        for i in range(rng.randint(1, min(5, len(items)))):
            number = len(items) - i
            age = items[i][0] + rng.randint(30, 600)
            if bc_from is None:
                b_from = None
            elif bc_from["kind"] in ("ImageStreamTag", "ImageStreamImage") and bc_from.get("namespace") == "openshift":
                b_from = resolved(i)  # builds record the digest the tag pointed at then
            else:
                b_from = bc_from
            b_strategy = {key: {"from": b_from} if b_from else {}, "type": kind}
            build = f"{name}-{number}"
            self.add("builds", {"metadata": self.meta(ns, build, age), "spec": {"strategy": b_strategy}})
            if kind != "JenkinsPipeline":
                img = self.cat.build_pod_ref
                spec = {"initContainers": [{"name": "git-clone", "image": img}, {"name": "manage-dockerfile", "image": img}],
                        "containers": [{"name": f"{kind.lower()}-build", "image": img}]}
                self.pod(ns, f"{build}-build", spec, "Failed" if rng.random() < 0.1 else "Succeeded", age)

    def limit_range(self, ns: str) -> None:
        rng = self.rng
        limits: list[dict[str, Any]] = [{"type": "Container"}]
        storage = rng.choice(("200Mi", "500Mi", "800M", "1Gi", "1536Mi", "2G", "3Gi"))
        limits.append({"type": "openshift.io/Image", "max": {"storage": storage}})
        if rng.random() < 0.5:
            limits.append({"type": "openshift.io/ImageStream"})
        self.add("limitranges", {"metadata": self.meta(ns, "image-limits", 200 * DAY), "spec": {"limits": limits}})

    # ---- whole groups --------------------------------------------------------------------
    def orphans(self, ns: str) -> None:
        """Spend what is left on images no stream lists (pushed then untagged, deleted streams)."""
        rng = self.rng
        while self.remaining > 0:
            st = self.new_stream(ns, f"deleted-{self.suffix()}", managed=rng.random() < 0.85)
            age = rng.randint(60, HOUR - 60) if rng.random() < 0.15 else self.log_uniform(HOUR, 300 * DAY)
            if self.remaining >= 3 and rng.random() < 0.05:
                self.make_index(st, age, min(rng.choice((2, 3)), self.remaining - 1))
            else:
                self.make_image(st, age)

    def run_team(self) -> None:
        rng = self.rng
        primary = self.namespaces[0]
        streams: list[Stream] = []
        while self.remaining > self.reserve:
            r = rng.random()
            if r < 0.06 and streams:
                src = rng.choice(streams)
                st = self.promote(src, primary, self.unique(primary, f"{src.name}-release"), "release")
                if st is not None:
                    streams.append(st)
                continue
            if r < 0.14:
                repo = rng.choice(IMPORT_REPOS)
                name = self.unique(primary, repo.rsplit("/", 1)[1])
                st = self.new_stream(primary, name, managed=False, repo=repo)
            else:
                st = self.new_stream(primary, self.unique(primary, rng.choice(APP_WORDS)), managed=True)
            self.fill_stream(st)
            streams.append(st)
        promoted: list[Stream] = []
        for env_ns, tag in zip(self.namespaces[1:], ("stage", "prod")):
            for src in streams:
                if src.managed and rng.random() < 0.6:
                    st = self.promote(src, env_ns, src.name, tag)
                    if st is not None:
                        promoted.append(st)
        self.orphans(primary)
        for st in streams + promoted:
            self.add("imagestreams", self.stream_obj(st))
        for st in streams + promoted:
            self.deploy(st)
        for st in streams:
            if st.managed and rng.random() < 0.55:
                self.build_config(st, streams)
        for ns in self.namespaces:
            if rng.random() < 0.2:
                self.limit_range(ns)
            for _ in range(rng.randint(0, 2)):  # debug pods and the like, long finished
                spec = {"containers": [{"name": "debug", "image": rng.choice(self.cat.sidecars)}]}
                self.pod(ns, f"debug-{self.suffix()}", spec, rng.choice(("Failed", "Succeeded")), self.log_uniform(60, 90 * DAY))

    def run_openshift(self) -> None:
        """The `openshift` namespace: imported, unmanaged builder images (many manifest lists)."""
        streams: list[Stream] = []
        for name, upstream, versions in BUILDERS:
            if self.remaining <= self.reserve:
                break
            st = self.new_stream("openshift", name, managed=False, repo=f"registry.redhat.io/{upstream}")
            self.fill_stream(st, list_share=0.15, max_tags=1)
            if st.tags:
                # Scheduled imports: the same history under each version tag and `latest`.
                _, items = st.tags[0]
                st.tags = [(v, items) for v in versions] + ([("latest", items[:1])] if len(versions) > 1 else [])
                streams.append(st)
        self.orphans("openshift")
        for st in streams:
            self.add("imagestreams", self.stream_obj(st))
            for tag, items in st.tags:
                self.cat.builders.append(Builder(st.name, tag, [d for _, d, _ in items]))


def plan_groups(n_images: int, seed: int) -> Iterator[tuple[int, list[str], int]]:
    """(group id, namespaces, image budget); budgets add up to exactly n_images."""
    rng = random.Random(f"pruneplan-bench/{seed}/plan")
    builders = min(n_images, 4000, max(10, n_images // 50))
    yield 0, ["openshift"], builders
    rest = n_images - builders
    n_ns = max(1, round(n_images / 500))
    per_ns, extra = divmod(rest, n_ns)
    index, gid = 0, 1
    while index < n_ns:
        size = min(rng.choice((1, 1, 1, 2, 3)), n_ns - index)
        word = rng.choice(TEAM_WORDS)
        if size == 1:
            namespaces = [f"{word}-{gid:04d}"]
        else:
            namespaces = [f"{word}-{gid:04d}-{env}" for env in ("dev", "stage", "prod")[:size]]
        budget = sum(per_ns + (1 if index + i < extra else 0) for i in range(size))
        yield gid, namespaces, budget
        index += size
        gid += 1


def generate(n_images: int, seed: int, out: str, progress: bool = False) -> dict[str, int]:
    """Write a dump with exactly `n_images` images to `out`; return the per-resource counts."""
    cat = Catalog(seed)
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    others = [k.resource for k in KINDS if k.resource != "images"]
    writer = DumpWriter(out)
    started = time.monotonic()
    next_report = started + 10
    try:
        with tempfile.TemporaryDirectory(prefix=".bench-spool-", dir=directory) as spool_dir:
            spools = {r: open(os.path.join(spool_dir, r), "wb") for r in others}
            try:
                writer.begin("images")
                for gid, namespaces, budget in plan_groups(n_images, seed):
                    group = GroupGen(cat, seed, gid, namespaces, budget)
                    if gid == 0:
                        group.run_openshift()
                    else:
                        group.run_team()
                    for image in group.images:
                        writer.add(image)
                    for resource, objs in group.objects.items():
                        spool = spools[resource]
                        for obj in objs:
                            spool.write(orjson.dumps(obj) + b"\n")
                    if progress and time.monotonic() >= next_report:
                        next_report += 10
                        done = writer.counts["images"]
                        print(f"  {done}/{n_images} images, {time.monotonic() - started:.0f}s", file=sys.stderr)
            finally:
                for spool in spools.values():
                    spool.close()
            for resource in others:
                writer.begin(resource)
                with open(os.path.join(spool_dir, resource), "rb") as handle:
                    for line in handle:
                        writer.add(orjson.loads(line))
        writer.commit(COLLECTED_AT, CLUSTER, None)
    except BaseException:
        writer.abort()
        raise
    return dict(writer.counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, required=True, help="number of Image objects (exact)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("-o", "--output", required=True, help="dump path (.json or .json.gz)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.images < 1:
        parser.error("--images must be at least 1")
    started = time.monotonic()
    counts = generate(args.images, args.seed, args.output, progress=not args.quiet)
    if not args.quiet:
        total = sum(counts.values())
        size = os.path.getsize(args.output)
        print(
            f"wrote {args.output}: {total} objects ({counts['images']} images), "
            f"{size / 1e6:.1f} MB in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
