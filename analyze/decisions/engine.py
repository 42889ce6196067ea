"""Runs an analysis: model from the loaded inputs, references, graph, stage 1, stage 2."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import PrunePlanError
from pruneplan.kinds import KINDS
from pruneplan.policy import Policy

from pruneplan.analyze.decisions.graph import Graph, add_blob_uses, add_references, blob_users, children_of_used_lists, manifest_list_graph
from pruneplan.analyze.decisions.model import Image, MetadataError, Stream, load_limits
from pruneplan.analyze.decisions.referrers import REFERRER_RESOURCES, References, analyze_references
from pruneplan.analyze.decisions.rules import Stage2, StreamOutcome, prune_images, prune_stream, unreadable_images
from pruneplan.analyze.decisions.survival import surviving_images


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
    _graph: Graph  # the reference graph (analyze/decisions/graph.py): use `graph`
    stream_outcomes: list[StreamOutcome]
    stage2: Stage2 | None  # None for a namespaced run
    _references_added: bool = False

    @property
    def graph(self) -> Graph:
        """The reference graph, whole: the images, referrers, tags and history items are added
        to the manifest lists the decisions needed on the first call."""
        if not self._references_added:
            add_references(self._graph, self.streams, self.images, self.refs)
            self._references_added = True
        return self._graph

    def children_of_used_lists(self, used: set[str]) -> set[str]:
        """The images `used` manifest lists protect (graph.children_of_used_lists)."""
        return children_of_used_lists(self._graph, used)

    def blob_users(self, digest: str) -> list[str]:
        """Images that use `digest` as a layer, their config or their own manifest, by name,
        from the graph (which gets the blob and its uses on the first question about it)."""
        add_blob_uses(self.graph, self.images, (digest,))
        return blob_users(self.graph, digest)

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


_NAME = attrgetter("name")
# the namespace of an object of each namespaced resource, as analyze/decisions/inputs.py keeps it
_NAMESPACE_OF = {kind.resource: attrgetter("namespace" if kind.resource == "imagestreams" else "metadata.namespace") for kind in KINDS if kind.namespaced}


def scope_objects(objects: dict[str, list[Any]], namespace: str | None) -> dict[str, list[Any]]:
    """With --namespace every list but Images is limited to that namespace (docs/rules.md, "Namespaced runs")."""
    if namespace is None:
        return objects
    scoped: dict[str, list[Any]] = {}
    for kind in KINDS:
        items = objects.get(kind.resource, [])
        if kind.namespaced:
            namespace_of = _NAMESPACE_OF[kind.resource]
            items = [o for o in items if namespace_of(o) == namespace]
        scoped[kind.resource] = items
    return scoped


def analyze(loaded: LoadedInputs, policy: Policy, *, release_raw: bool = False) -> Analysis:
    """Decide. With release_raw the loaded raw objects are dropped as soon as the model and the
    references are built (the analyze command needs only their counts afterwards)."""
    if loaded.namespace is not None and policy.namespace != loaded.namespace:
        raise PrunePlanError(
            f"the dump was collected for namespace {loaded.namespace} only; analyze it with -n {loaded.namespace}"
        )
    objects = scope_objects(loaded.objects, policy.namespace)
    # analyze/decisions/inputs.py built the model while reading (one image of a name)
    images: dict[str, Image] = dict(zip(map(_NAME, objects["images"]), objects["images"]))
    streams: list[Stream] = sorted(objects["imagestreams"], key=lambda s: (s.namespace, s.name))
    # a refused LimitRange or workload is raised as the analysis reaches its kind
    loaded.raise_refused(("limitranges",), policy.namespace)
    limits = load_limits(objects["limitranges"])
    loaded.raise_refused(REFERRER_RESOURCES, policy.namespace)
    refs = analyze_references(objects, threshold=policy.threshold, ignore_invalid_refs=policy.ignore_invalid_refs)
    if refs.bad:
        raise BuildGraphError(refs.bad)
    del objects
    if release_raw:
        loaded.release()

    unreadable = unreadable_images(images)
    outcomes = [prune_stream(s, images, refs, policy, limits, unreadable) for s in streams]
    graph = manifest_list_graph(images)

    stage2: Stage2 | None = None
    if policy.namespace is None:
        used = surviving_images((outcome.stream, outcome.removals) for outcome in outcomes)
        children = children_of_used_lists(graph, used & images.keys())
        stage2 = prune_images(images, used, children, policy, unreadable)
    return Analysis(policy, images, streams, refs, graph, outcomes, stage2)

