"""Runs an analysis: model from the loaded inputs, references, graph, stage 1, stage 2."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import networkx as nx

from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import PrunePlanError
from pruneplan.kinds import KINDS
from pruneplan.policy import Policy

from pruneplan.analyze.decisions.graph import build_graph, children_of_used_lists, set_image_rules
from pruneplan.analyze.decisions.model import Image, MetadataError, Stream, load_image, load_limits, load_stream
from pruneplan.analyze.decisions.referrers import References, analyze_references
from pruneplan.analyze.decisions.rules import Stage2, StreamOutcome, prune_images, prune_stream, surviving_images, unreadable_images


class BuildGraphError(PrunePlanError):
    """Upstream could not build its pruner (unreadable image metadata, bad references): it
    prints a report and fails with `failed to build graph`. `bad` are the bad-reference errors,
    every one as upstream's aggregate holds them (duplicates too); `notes` the other errors."""

    def __init__(self, bad: list[str], notes: list[str] | None = None) -> None:
        super().__init__("failed to build graph - no changes made")
        self.bad = bad
        self.notes = notes or []

    @classmethod
    def of_metadata(cls, err: MetadataError) -> "BuildGraphError":
        return cls([], [err.message])

    def report(self) -> str:
        lines = ["Failed to build graph!", *self.notes]
        if self.bad:
            lines += ["", "The following objects have invalid references:", ""]
            lines += [f"  {message}" for message in self.bad]
            lines += ["", "Either fix the references or delete the objects to make the pruner proceed."]
        return "\n".join(lines)


@dataclass(slots=True)
class Analysis:
    policy: Policy
    images: dict[str, Image]
    streams: list[Stream]  # the streams in scope, sorted by namespace/name
    refs: References
    graph: nx.DiGraph
    stream_outcomes: list[StreamOutcome]
    stage2: Stage2 | None  # None for a namespaced run
    _blob_users: dict[str, list[str]] = field(default_factory=dict)

    def blob_users(self, digest: str) -> list[str]:
        """Images that use `digest` as a layer, their config or their own manifest, by name.

        A scan of the images per digest asked (explain asks about one or two): an index of every
        blob took over a second to build on a 100k-image dump."""
        users = self._blob_users.get(digest)
        if users is None:
            users = self._blob_users[digest] = sorted(
                name for name, image in self.images.items() if name == digest or image.config == digest or digest in image.layers
            )
        return users

    def log(self) -> list[str]:
        """What upstream logs on stderr at its default verbosity while it prunes, in its order:
        the referrers' warnings, then each stream's (analyze and execute print the same)."""
        lines = [f"warning: {warning}" for warning in self.refs.warnings]
        for outcome in self.stream_outcomes:
            lines += outcome.log
        return lines

    @property
    def errors(self) -> list[str]:
        return list(self.stage2.errors) if self.stage2 else []


MODEL_LOADERS = {"images": load_image, "imagestreams": load_stream}
_NAME = attrgetter("name")


def _namespace_of(obj: Any) -> str | None:
    if isinstance(obj, Stream):
        return obj.namespace
    if isinstance(obj, dict):
        return obj["metadata"].get("namespace")
    return obj.metadata.namespace  # a workload record (analyze.workloads)


def scope_objects(objects: dict[str, list[dict[str, Any]]], namespace: str | None) -> dict[str, list[dict[str, Any]]]:
    """With --namespace every list but Images is limited to that namespace (docs/rules.md, "Namespaced runs")."""
    if namespace is None:
        return objects
    scoped: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        items = objects.get(kind.resource, [])
        scoped[kind.resource] = [o for o in items if _namespace_of(o) == namespace] if kind.namespaced else items
    return scoped


def _images_by_name(objects: list[Any]) -> dict[str, Image]:
    """The images by name (the last of a name wins; load_inputs leaves one of each)."""
    if set(map(type, objects)) <= {Image}:  # the model already, as analyze loads it: built in C
        return dict(zip(map(_NAME, objects), objects))
    images: dict[str, Image] = {}
    for obj in objects:
        image = obj if isinstance(obj, Image) else load_image(obj)
        images[image.name] = image
    return images


def analyze(loaded: LoadedInputs, policy: Policy, *, release_raw: bool = False) -> Analysis:
    """Decide. With release_raw the loaded raw objects are dropped as soon as the model and the
    references are built (the analyze command needs only their counts afterwards)."""
    if loaded.namespace is not None and policy.namespace != loaded.namespace:
        raise PrunePlanError(
            f"the dump was collected for namespace {loaded.namespace} only; analyze it with -n {loaded.namespace}"
        )
    objects = scope_objects(loaded.objects, policy.namespace)
    # load_inputs(..., transforms=MODEL_LOADERS) already built the model while reading
    try:
        images = _images_by_name(objects["images"])
    except MetadataError as err:
        raise BuildGraphError.of_metadata(err) from None
    streams = sorted(
        (o if isinstance(o, Stream) else load_stream(o) for o in objects["imagestreams"]),
        key=lambda s: (s.namespace, s.name),
    )
    limits = load_limits(objects["limitranges"])

    refs = analyze_references(objects, threshold=policy.threshold, ignore_invalid_refs=policy.ignore_invalid_refs)
    if refs.bad:
        raise BuildGraphError(refs.bad)
    del objects
    if release_raw:
        loaded.release()

    unreadable = unreadable_images(images)
    outcomes = [prune_stream(s, images, refs, policy, limits, unreadable) for s in streams]
    graph = build_graph(streams, images, refs, (outcome.rules for outcome in outcomes))

    stage2: Stage2 | None = None
    if policy.namespace is None:
        used = surviving_images(outcomes)
        children = children_of_used_lists(graph, used & images.keys())
        stage2 = prune_images(images, used, children, policy, unreadable)
        set_image_rules(graph, stage2.outcomes)
    return Analysis(policy, images, streams, refs, graph, outcomes, stage2)

