"""Who uses which image stream tag or image (docs/rules.md: "Referrers and the fields read",
"Image references", "Bad-reference report").

Builds upstream's two reference sets from the cluster objects, in upstream's analysis order, and
collects every bad reference (the run then aborts unless --ignore-invalid-refs).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

from pruneplan.errors import InputError
from pruneplan.goduration import go_quote

from pruneplan.reference import InvalidReference, parse_image_stream_image_name, parse_image_stream_tag_name, parse_reference

from pruneplan.analyze.decisions.workloads import Build, Container, Controller, CronJob, Pod, PodSpec, template_spec

_intern = sys.intern

# (dump resource, upstream's word in messages, path to the pod spec); order is upstream's
# (docs/rules.md, "Referrers and the fields read").
POD_SPEC_REFERRERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("pods", "pod", ("spec",)),
    ("replicationcontrollers", "replicationcontroller", ("spec", "template", "spec")),
    ("deploymentconfigs", "deploymentconfig", ("spec", "template", "spec")),
    ("replicasets", "replicaset", ("spec", "template", "spec")),
    ("deployments", "deployment", ("spec", "template", "spec")),
    ("daemonsets", "daemonset", ("spec", "template", "spec")),
)
LATE_POD_SPEC_REFERRERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("statefulsets", "statefulset", ("spec", "template", "spec")),
    ("jobs", "job", ("spec", "template", "spec")),
    ("cronjobs", "cronjob", ("spec", "jobTemplate", "spec", "template", "spec")),
)
BUILD_REFERRERS = (("builds", "build"), ("buildconfigs", "buildconfig"))
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
        """A pod spec's containers; `spec` is a record's PodSpec, or what _pod_spec_of_dict made
        of an object given as a dict (None: not set)."""
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

    def pods(self, objs: Iterable[Pod | dict[str, Any]]) -> None:
        from pruneplan.timefmt import parse_time

        for obj in objs:
            if isinstance(obj, Pod):  # decoded against the schema: every field read is well typed
                meta = obj.metadata
                referrer = Referrer("pod", meta.namespace, meta.name)
                created = meta.creation_timestamp
                phase = obj.status.phase if obj.status is not None else None
                spec: Any = obj.spec
            else:
                meta = obj["metadata"]
                referrer = Referrer("pod", meta["namespace"], meta["name"])
                created = _optional(referrer, meta.get("creationTimestamp"), str, "metadata.creationTimestamp")
                status = _optional(referrer, obj.get("status"), dict, "status")
                phase = _optional(referrer, status.get("phase"), str, "status.phase") if status is not None else None
                # checked whether or not the pod counts: a wrong type is refused wherever it is
                spec = _pod_spec_of_dict(referrer, obj.get("spec"), "spec")
            if phase not in RUNNING_PHASES:
                try:
                    seconds = parse_time(created)
                except ValueError as err:
                    raise InputError(f"{_where(referrer)}: metadata.creationTimestamp: invalid timestamp: {err}") from None
                if seconds < self.threshold:  # Go's Before: strictly earlier
                    continue
            self.pod_spec(referrer, spec)

    def controllers(self, objs: Iterable[Controller | CronJob | dict[str, Any]], word: str, path: tuple[str, ...]) -> None:
        dotted = [".".join(path[: depth + 1]) for depth in range(len(path))]
        for obj in objs:
            if isinstance(obj, dict):
                meta = obj["metadata"]
                referrer = Referrer(word, meta["namespace"], meta["name"])
                node: Any = obj
                for key, field_path in zip(path, dotted):
                    node = _optional(referrer, node.get(key), dict, field_path)
                    if node is None:
                        break
                self.pod_spec(referrer, _pod_spec_of_dict(referrer, node, dotted[-1]))
            else:
                meta = obj.metadata
                self.pod_spec(Referrer(word, meta.namespace, meta.name), template_spec(obj))

    def builds(self, objs: Iterable[Build | dict[str, Any]], word: str) -> None:
        for obj in objs:
            if isinstance(obj, Build):
                meta = obj.metadata
                referrer = Referrer(word, meta.namespace, meta.name)
                source = _build_source_of_record(referrer, obj)
            else:
                meta = obj["metadata"]
                referrer = Referrer(word, meta["namespace"], meta["name"])
                spec = _optional(referrer, obj.get("spec"), dict, "spec")
                source = _build_source_of_dict(referrer, spec.get("strategy") if spec is not None else None)
            if source is not None:
                self.build_source(referrer, *source)


# The dict path refuses exactly the JSON types the records of analyze/decisions/workloads.py refuse, in
# every field the analysis reads, with one message: a dump line whose types the schema refuses
# is read here, so both input forms fail alike (docs/dump-format.md, "Errors"). null and absent
# are "not set", as Go decodes them.
_TYPE_WORDS: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}


def _where(referrer: Referrer) -> str:
    return f"{referrer.resource} {referrer.namespace}/{referrer.name}"


def _optional(referrer: Referrer, value: Any, expected: type, field_path: str) -> Any:
    """`value` when it is None or of the `expected` JSON type; InputError naming the field otherwise."""
    if value is None or isinstance(value, expected):
        return value
    raise InputError(f"{_where(referrer)}: {field_path} must be {_TYPE_WORDS[expected]}")


def _pod_spec_of_dict(referrer: Referrer, spec: Any, field_path: str) -> PodSpec | None:
    """A pod spec given as JSON (at `field_path`), as the record a well-formed line decodes to;
    None when it is not set, InputError when a field the analysis reads has the wrong type."""
    if _optional(referrer, spec, dict, field_path) is None:
        return None
    lists: list[list[Container] | None] = []
    for key in ("initContainers", "containers"):
        where = f"{field_path}.{key}"
        containers = _optional(referrer, spec.get(key), list, where)
        if containers is None:
            lists.append(None)
            continue
        checked: list[Container] = []
        for index, container in enumerate(containers):
            if not isinstance(container, dict):  # a null entry too, as the record's list refuses it
                raise InputError(f"{_where(referrer)}: {where}[{index}] must be an object")
            name = _optional(referrer, container.get("name"), str, f"{where}[{index}].name")
            image = _optional(referrer, container.get("image"), str, f"{where}[{index}].image")
            if image is not None:
                checked.append(Container(name, image))
        lists.append(checked)
    return PodSpec(lists[0], lists[1])


def _build_source_of_record(referrer: Referrer, build: Build) -> tuple[str, str, str] | None:
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


_STRATEGIES = ("sourceStrategy", "dockerStrategy", "customStrategy")
_FROM_FIELDS = ("kind", "name", "namespace")


def _build_source_of_dict(referrer: Referrer, strategy: Any) -> tuple[str, str, str] | None:
    """_build_source_of_record for a strategy given as JSON. Every strategy is type-checked, as
    the record's decoder checks them, though only the first one given is read."""
    if _optional(referrer, strategy, dict, "spec.strategy") is None:
        return None
    found: tuple[str, str, str] | None = None
    first = True
    for key in _STRATEGIES:
        where = f"spec.strategy.{key}"
        options = _optional(referrer, strategy.get(key), dict, where)
        if options is None:
            continue
        source = _optional(referrer, options.get("from"), dict, f"{where}.from")
        if source is not None:
            kind, name, namespace = (
                _optional(referrer, source.get(field), str, f"{where}.from.{field}") or "" for field in _FROM_FIELDS
            )
            answer: tuple[str, str, str] | None = (kind, name, namespace or referrer.namespace)
        elif key != "dockerStrategy":  # source and custom strategies always have a (possibly empty) from
            answer = ("", "", referrer.namespace)
        else:
            answer = None
        if first:
            found, first = answer, False
    return found


def analyze_references(
    objects: dict[str, list[dict[str, Any]]], *, threshold: float, ignore_invalid_refs: bool
) -> References:
    """Run upstream's referrer analysis over the (namespace-filtered) objects."""
    analyzer = _Analyzer(ignore_invalid_refs, threshold)
    analyzer.pods(objects.get("pods", ()))
    for resource, word, path in POD_SPEC_REFERRERS[1:]:
        analyzer.controllers(objects.get(resource, ()), word, path)
    for resource, word in BUILD_REFERRERS:
        analyzer.builds(objects.get(resource, ()), word)
    for resource, word, path in LATE_POD_SPEC_REFERRERS:
        analyzer.controllers(objects.get(resource, ()), word, path)
    return analyzer.refs
