"""Turns an Analysis into the typed plan (pruneplan.planmodel.Plan) and upstream's dry-run lines."""

from __future__ import annotations

from itertools import repeat
from operator import attrgetter
from typing import Iterator

import msgspec

from pruneplan import TOOL_NAME, __version__
from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import InputError
from pruneplan.planformat import PLAN_API_VERSION, PLAN_KIND
from pruneplan.planmodel import (
    AutomaticPrunerRecord,
    BlobDeletion,
    Cluster,
    ImageDeletion,
    ImageStreamUpdate,
    InputFile,
    LinkDeletion,
    Metadata,
    Plan,
    PlanFieldError,
    PlanPolicy,
    PrunerFlags,
    RemovedItem,
    Source,
    Summary,
    Tool,
)
from pruneplan.prunerpolicy import PrunerSpecError, automatic_pruner
from pruneplan.timefmt import format_time
from pruneplan.urls import without_userinfo
from pruneplan.wording import blob_block, deleting_image, deleting_items, layer_link_block, manifest_link_block

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.decisions.rules import DELETE_UNREFERENCED, REMOVING_RULES, ImageOutcome, StreamOutcome

SUMMARY_PARTS = (
    ("deletedImages", "deleted {} image object(s)"),
    ("deletedImageStreamTagItems", "deleted {} image stream tag item(s)"),
    ("updatedImageStreams", "updated {} image stream(s)"),
    ("deletedLayerLinks", "deleted {} layer link(s)"),
    ("deletedManifestLinks", "deleted {} manifest link(s)"),
    ("deletedBlobs", "deleted {} blob(s)"),
)


def summary_text(counts: dict[str, int]) -> str:
    """Upstream's `Summary:` stats: the non-zero parts in fixed order, or `deleted 0 objects`."""
    parts = [template.format(counts[key]) for key, template in SUMMARY_PARTS if counts[key]]
    return ", ".join(parts) if parts else "deleted 0 objects"


def plan_for(analysis: Analysis, loaded: LoadedInputs, valid_for_seconds: float) -> Plan:
    """The typed plan of an analysis (docs/plan-format.md). Built from analyze's own decisions,
    so its entries are not put through the read-side checks (pruneplan.planmodel explains)."""
    updates, layer_links, manifest_links = _stream_actions(analysis)
    deleting = list(_deleting(analysis))
    blobs, reclaimable = _blob_deletions(analysis, deleting)
    images = _image_deletions(analysis, deleting)
    counts = {
        "deletedImages": len(images),
        "deletedImageStreamTagItems": sum(len(update.removed_items) for update in updates),
        "updatedImageStreams": len(updates),
        "deletedLayerLinks": len(layer_links),
        "deletedManifestLinks": len(manifest_links),
        "deletedBlobs": len(blobs),
    }
    policy = analysis.policy
    return Plan(
        api_version=PLAN_API_VERSION,
        kind=PLAN_KIND,
        metadata=Metadata(
            created_at=_time(policy.now),
            not_after=_time(policy.now + valid_for_seconds),
            tool=Tool(TOOL_NAME, __version__),
        ),
        source=_source(loaded),
        policy=msgspec.convert(policy.to_json(), PlanPolicy),
        image_stream_updates=tuple(updates),
        layer_link_deletions=tuple(layer_links),
        manifest_link_deletions=tuple(manifest_links),
        blob_deletions=tuple(blobs),
        image_deletions=tuple(images),
        errors=tuple(analysis.errors),
        summary=msgspec.convert({**counts, "reclaimableBytes": reclaimable, "text": summary_text(counts)}, Summary),
    )


def _time(seconds: float) -> str:
    text = format_time(seconds)
    assert text is not None, "the analysis time is a real time, not Go's zero time"
    return text


def _source(loaded: LoadedInputs) -> Source:
    return Source(
        dump_sha256=loaded.dump_sha256,
        inputs=tuple(InputFile(i.sha256, i.size) for i in loaded.inputs),
        collected_at=loaded.collected_at,
        cluster=plan_cluster(loaded),
        namespace=loaded.namespace,
        counts=loaded.counts(),
        automatic_pruner=_automatic_pruner(loaded),
    )


def _automatic_pruner(loaded: LoadedInputs) -> AutomaticPrunerRecord | None:
    """The automatic pruner as the dump saw it, recorded whether or not the policy is its own,
    so a reviewer always sees what the cluster runs on its own; None for a dump without cluster
    settings."""
    settings = loaded.cluster_settings
    if settings is None:
        return None
    try:
        pruner = automatic_pruner(settings)
    except PrunerSpecError as err:
        path = next(i.path for i in loaded.inputs if i.settings is not None)
        raise InputError(f"{path}: {err}") from None
    if not pruner.found:
        return AutomaticPrunerRecord(state=pruner.state)
    assert pruner.keep_tag_revisions is not None and pruner.keep_younger_than is not None
    assert pruner.loglevel is not None
    return AutomaticPrunerRecord(
        state=pruner.state,
        schedule=pruner.schedule,
        suspended=pruner.suspended,
        flags=PrunerFlags(
            keep_tag_revisions=pruner.keep_tag_revisions,
            keep_younger_than=pruner.keep_younger_than,
            ignore_invalid_refs=bool(pruner.ignore_invalid_refs),
            loglevel=pruner.loglevel,
            prune_registry=pruner.prune_registry,
            registry_url=pruner.registry_url,
        ),
    )


def plan_cluster(loaded: LoadedInputs) -> Cluster | None:
    """The dumps' header.cluster as the plan records it: a plan must be readable by execute."""
    if loaded.cluster is None:
        return None
    cluster = dict(loaded.cluster)
    if isinstance(cluster.get("apiServer"), str):  # a dump from before collect dropped credentials
        cluster["apiServer"] = without_userinfo(cluster["apiServer"])
    try:
        return Cluster.from_dict(cluster, "header.cluster")
    except PlanFieldError as err:
        path = next(i.path for i in loaded.inputs if i.cluster)
        raise InputError(f"{path}: {err.where} {err.what}") from None


def _stream_actions(analysis: Analysis) -> tuple[list[ImageStreamUpdate], list[LinkDeletion], list[LinkDeletion]]:
    """Stage 1's actions: the updated streams in the analysis' order, their links sorted."""
    updated = [outcome for outcome in analysis.stream_outcomes if outcome.removed]
    updates = [
        ImageStreamUpdate(
            namespace=outcome.stream.namespace,
            name=outcome.stream.name,
            resource_version=outcome.stream.resource_version,
            removed_items=_removed_items(outcome),
            removed_tags=tuple(sorted(outcome.removed_tags())),
        )
        for outcome in updated
    ]
    layer_links: list[LinkDeletion] = []
    manifest_links: list[LinkDeletion] = []
    # sorted by (repository, digest): a repository is one stream's, so the streams in order of
    # their repository, each one's digests sorted (a sort of all pairs compares more)
    for outcome in sorted(updated, key=_repository):
        repository = repeat(outcome.stream.key)
        layer_links += map(LinkDeletion, repository, sorted(outcome.layer_links))
        manifest_links += map(LinkDeletion, repository, sorted(outcome.manifest_links))
    return updates, layer_links, manifest_links


def _removed_items(outcome: StreamOutcome) -> tuple[RemovedItem, ...]:
    stream = outcome.stream
    items = [
        RemovedItem(tag.tag, index, tag.images[index], format_time(tag.created[index]), rule)
        for tag, rules in zip(stream.tags, outcome.rules)
        for index, rule in enumerate(rules)
        if rule in REMOVING_RULES
    ]
    items.sort(key=attrgetter("tag", "index"))
    return tuple(items)


def _repository(outcome: StreamOutcome) -> str:
    return outcome.stream.key


def _deleting(analysis: Analysis) -> Iterator[tuple[str, ImageOutcome]]:
    if analysis.stage2 is not None:
        for name, outcome in analysis.stage2.outcomes.items():
            if outcome.rule == DELETE_UNREFERENCED:
                yield name, outcome


def _image_deletions(analysis: Analysis, deleting: list[tuple[str, ImageOutcome]]) -> list[ImageDeletion]:
    images = analysis.images
    deletions = []
    for name, outcome in deleting:
        image = images[name]
        deletions.append(ImageDeletion(
            name, format_time(image.created), image.managed, image.reference, tuple(outcome.blobs), DELETE_UNREFERENCED
        ))
    return deletions


def _blob_deletions(analysis: Analysis, deleting: list[tuple[str, ImageOutcome]]) -> tuple[list[BlobDeletion], int]:
    """The blobs stage 2 frees, sorted by digest, and the bytes their layers take."""
    blobs: list[BlobDeletion] = []
    reclaimable = 0
    images = analysis.images
    for name, outcome in deleting:
        if not outcome.blobs:
            continue
        layer_size = images[name].layer_size
        for digest, kind in zip(outcome.blobs, outcome.blob_kinds):
            # a layer's size as the freeing image lists it (a digest names one content, one size)
            size = layer_size(digest) if kind == "layer" else None
            reclaimable += size or 0
            blobs.append(BlobDeletion(digest, kind, size, name))
    blobs.sort(key=attrgetter("digest"))  # a blob is freed once: digests are unique
    return blobs, reclaimable


def dry_run_prologue(analysis: Analysis) -> list[str]:
    if analysis.policy.prune_registry:
        return []
    return ["Only API objects will be removed.  No modifications to the image registry will be made."]


def stream_dry_run_text(analysis: Analysis) -> Iterator[str]:
    """The streams' dry-run lines, a block of whole lines per updated stream."""
    for outcome in analysis.stream_outcomes:
        removed = outcome.removed
        if not removed:
            continue
        repository = outcome.stream.key
        yield (
            layer_link_block(outcome.layer_links, repository)
            + deleting_items(removed, repository)
            + "\n"
            + manifest_link_block(outcome.manifest_links, repository)
        )


def image_dry_run_text(analysis: Analysis) -> Iterator[str]:
    """The images' dry-run lines, a block of whole lines per deleted image: its blobs, then it."""
    for name, outcome in _deleting(analysis):
        yield blob_block(outcome.blobs) + deleting_image(name) + "\n"


def dry_run_epilogue(summary: Summary) -> str:
    return f"Summary: {summary.text}"
