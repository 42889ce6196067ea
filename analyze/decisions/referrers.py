"""Who uses which image stream tag or image (docs/rules.md: "Referrers and the fields read",
"Image references", "Bad-reference report").

Builds upstream's two reference sets from the cluster objects, in upstream's analysis order, and
collects every bad reference (the run then aborts unless --ignore-invalid-refs).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from pruneplan.errors import InputError
from pruneplan.goduration import go_quote
from pruneplan.timefmt import parse_time

from pruneplan.reference import InvalidReference, parse_image_stream_image_name, parse_image_stream_tag_name, parse_reference

from pruneplan.analyze.decisions.workloads import Build, Controller, CronJob, Pod, PodSpec, template_spec

_intern = sys.intern

# (dump resource, upstream's word in messages); order is upstream's (docs/rules.md, "Referrers
# and the fields read"): pods, the controllers, builds, then the controllers added later.
POD_SPEC_REFERRERS: tuple[tuple[str, str], ...] = (
    ("pods", "pod"),
    ("replicationcontrollers", "replicationcontroller"),
    ("deploymentconfigs", "deploymentconfig"),
    ("replicasets", "replicaset"),
    ("deployments", "deployment"),
    ("daemonsets", "daemonset"),
)
BUILD_REFERRERS = (("builds", "build"), ("buildconfigs", "buildconfig"))
LATE_POD_SPEC_REFERRERS: tuple[tuple[str, str], ...] = (
    ("statefulsets", "statefulset"),
    ("jobs", "job"),
    ("cronjobs", "cronjob"),
)
# the resources in the order the analysis reads them
REFERRER_RESOURCES = tuple(resource for resource, _ in (*POD_SPEC_REFERRERS, *BUILD_REFERRERS, *LATE_POD_SPEC_REFERRERS))
RUNNING_PHASES = frozenset({"Running", "Pending"})

TagKey = tuple[str, str, str]  # (namespace, stream name, tag)
ImageKey = tuple[str, str, str]  # (namespace, stream name, digest)


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, three
# times slower, and analyze makes one per cluster object and one per container. Nothing changes
# them once made; eq and hash are a frozen one's.
@dataclass(slots=True, unsafe_hash=True)
class Referrer:
    resource: str  # upstream's word: pod, deployment, buildconfig, ...
    namespace: str
    name: str

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.resource}/{self.name} namespace={self.namespace}"
        return f"{self.resource}/{self.name}"


@dataclass(slots=True, unsafe_hash=True)
class Use:
    """One reference from a referrer: which container (or build strategy) and the text it uses."""

    referrer: Referrer
    via: str  # "container app", "init container x", or "" for builds
    reference: str


@dataclass(slots=True)
class References:
    used_tags: dict[TagKey, list[Use]] = field(default_factory=dict)
    used_images: dict[ImageKey, list[Use]] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    ignored_bad: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _bad(referrer: Referrer, via: str, kind: str, ref: str, err: Exception) -> str:
    prefix = f"{referrer}: {via}" if via else str(referrer)
    return f"{prefix}: invalid {kind} reference {go_quote(ref)}: {err}"


class _Analyzer:
    def __init__(self, ignore_invalid: bool, threshold: float) -> None:
        self.refs = References()
        self.ignore_invalid = ignore_invalid
        self.threshold = threshold
        self._parsed: dict[str, tuple[bool, TagKey | ImageKey] | InvalidReference | None] = {}

    def _record_bad(self, message: str) -> None:
        (self.refs.ignored_bad if self.ignore_invalid else self.refs.bad).append(message)

    def _protects(self, text: str) -> tuple[bool, TagKey | ImageKey] | InvalidReference | None:
        """What a reference text protects: (is a tag?, key), None, or why it is invalid.

        Many containers name the same image, so each distinct text is parsed once."""
        try:
            return self._parsed[text]
        except KeyError:
            pass
        answer: tuple[bool, TagKey | ImageKey] | InvalidReference | None
        try:
            ref = parse_reference(text)
        except InvalidReference as err:
            answer = err
        else:
            if not ref.registry or not ref.namespace or "/" in ref.name:
                answer = None
            elif not ref.digest:
                answer = (True, (_intern(ref.namespace), _intern(ref.name), _intern(ref.tag or "latest")))
            else:
                answer = (False, (_intern(ref.namespace), _intern(ref.name), _intern(ref.digest)))
        self._parsed[text] = answer
        return answer

    def image_reference(self, referrer: Referrer, via: str, text: str) -> None:
        """Only HOST/NS/NAME references protect; the host is ignored (docs/rules.md: Image
        references, filter)."""
        answer = self._protects(text)
        if answer is None:
            return
        if isinstance(answer, InvalidReference):
            self._record_bad(_bad(referrer, via, "image", text, answer))
            return
        is_tag, key = answer
        used = self.refs.used_tags if is_tag else self.refs.used_images
        used.setdefault(key, []).append(Use(referrer, via, text))

    def pod_spec(self, referrer: Referrer, spec: PodSpec | None) -> None:
        """A pod spec's containers (None: not set)."""
        if spec is None:
            return
        for containers, label in ((spec.init_containers, "init container"), (spec.containers, "container")):
            if containers:
                for container in containers:
                    image = container.image
                    if image is not None and image.strip():
                        self.image_reference(referrer, f"{label} {container.name or ''}", image)

    def build_source(self, referrer: Referrer, kind: str, name: str, namespace: str) -> None:
        """The `from` kinds of a build strategy's input reference (docs/rules.md: Referrers and the
        fields read, build input)."""
        use = Use(referrer, "", name)
        if kind == "DockerImage":
            if name.strip():
                self.image_reference(referrer, "", name)
        elif kind == "ImageStreamImage":
            try:
                stream, image_id = parse_image_stream_image_name(name)
            except InvalidReference as err:
                self._record_bad(_bad(referrer, "", "ImageStreamImage", name, err))
                return
            key = (_intern(namespace), _intern(stream), _intern(image_id))
            self.refs.used_images.setdefault(key, []).append(use)
        elif kind == "ImageStreamTag":
            try:
                stream, tag = parse_image_stream_tag_name(name)
            except InvalidReference as err:
                self._record_bad(_bad(referrer, "", "ImageStreamTag", name, err))
                return
            key = (_intern(namespace), _intern(stream), _intern(tag))
            self.refs.used_tags.setdefault(key, []).append(use)
        else:
            self.refs.warnings.append(f"{referrer}: ignoring unrecognized source location {kind}/{name}")

    def pods(self, pods: Iterable[Pod]) -> None:
        for pod in pods:
            meta = pod.metadata
            referrer = Referrer("pod", meta.namespace, meta.name)
            phase = pod.status.phase if pod.status is not None else None
            if phase not in RUNNING_PHASES:
                try:
                    created = parse_time(meta.creation_timestamp)
                except ValueError as err:
                    raise InputError(f"{_where(referrer)}: metadata.creationTimestamp: invalid timestamp: {err}") from None
                if created < self.threshold:  # Go's Before: strictly earlier
                    continue
            self.pod_spec(referrer, pod.spec)

    def controllers(self, records: Iterable[Controller | CronJob], word: str) -> None:
        for record in records:
            meta = record.metadata
            self.pod_spec(Referrer(word, meta.namespace, meta.name), template_spec(record))

    def builds(self, builds: Iterable[Build], word: str) -> None:
        for build in builds:
            meta = build.metadata
            referrer = Referrer(word, meta.namespace, meta.name)
            source = _build_source(referrer, build)
            if source is not None:
                self.build_source(referrer, *source)


def _where(referrer: Referrer) -> str:
    return f"{referrer.resource} {referrer.namespace}/{referrer.name}"


def _build_source(referrer: Referrer, build: Build) -> tuple[str, str, str] | None:
    """buildutil.GetInputReference: the first strategy given, its `from` (kind, name, namespace)."""
    strategy = build.spec.strategy if build.spec is not None else None
    if strategy is None:
        return None
    for options, always_from in ((strategy.source, True), (strategy.docker, False), (strategy.custom, True)):
        if options is not None:
            break
    else:
        return None
    ref = options.from_
    if ref is None:  # source and custom strategies always have a (possibly empty) from
        return ("", "", referrer.namespace) if always_from else None
    return ref.kind or "", ref.name or "", ref.namespace or referrer.namespace


def analyze_references(objects: Mapping[str, Sequence[Any]], *, threshold: float, ignore_invalid_refs: bool) -> References:
    """Run upstream's referrer analysis over the (namespace-filtered) workload records
    (analyze/decisions/workloads.py), by resource."""
    analyzer = _Analyzer(ignore_invalid_refs, threshold)
    analyzer.pods(objects.get("pods", ()))
    for resource, word in POD_SPEC_REFERRERS[1:]:
        analyzer.controllers(objects.get(resource, ()), word)
    for resource, word in BUILD_REFERRERS:
        analyzer.builds(objects.get(resource, ()), word)
    for resource, word in LATE_POD_SPEC_REFERRERS:
        analyzer.controllers(objects.get(resource, ()), word)
    return analyzer.refs
