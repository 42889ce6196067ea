"""Turns an Analysis into the plan document (docs/plan-format.md) and upstream's dry-run lines."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Iterator

from pruneplan import TOOL_NAME, __version__
from pruneplan.dumpformat import LoadedInputs
from pruneplan.planformat import PLAN_API_VERSION, PLAN_KIND
from pruneplan.timefmt import format_time
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


def _removed_items(outcome: StreamOutcome) -> list[dict[str, Any]]:
    stream = outcome.stream
    removed_items = [
        {
            "tag": tag.tag,
            "index": index,
            "image": tag.images[index],
            "created": format_time(tag.created[index]),
            "reason": rule,
        }
        for tag, rules in zip(stream.tags, outcome.rules)
        for index, rule in enumerate(rules)
        if rule in REMOVING_RULES
    ]
    removed_items.sort(key=itemgetter("tag", "index"))
    return removed_items


def _stream_updates(outcomes: list[StreamOutcome]) -> Iterator[dict[str, Any]]:
    for outcome in outcomes:
        stream = outcome.stream
        yield {
            "namespace": stream.namespace,
            "name": stream.name,
            "resourceVersion": stream.resource_version,
            "removedItems": _removed_items(outcome),
            "removedTags": sorted(outcome.removed_tags()),
        }


def _image_deletions(analysis: Analysis, deleted: list[str]) -> Iterator[dict[str, Any]]:
    outcomes = analysis.stage2.outcomes if analysis.stage2 else {}
    for name in deleted:
        image = analysis.images[name]
        yield {
            "name": name,
            "created": format_time(image.created),
            "managed": image.managed,
            "dockerImageReference": image.reference,
            # the outcome's list itself: a copy would touch every digest, a copied page after fork
            "blobs": outcomes[name].blobs or [],
            "reason": DELETE_UNREFERENCED,
        }


def _links(pairs: list[tuple[str, str]]) -> Iterator[dict[str, str]]:
    return ({"repository": repository, "digest": digest} for repository, digest in pairs)


def _blob_entries(blobs: list[tuple[str, str, int | None, str]]) -> Iterator[dict[str, Any]]:
    return ({"digest": digest, "kind": kind, "size": size, "image": image} for digest, kind, size, image in blobs)


@dataclass(slots=True)
class StreamSide:
    """Stage 1's actions, decided and sorted; the plan's dicts are made only as they are written."""

    updates: list[StreamOutcome]  # streams with removed items, in plan order
    layer_links: list[tuple[str, str]]  # (repository, digest), sorted
    manifest_links: list[tuple[str, str]]
    removed_items: int

    def counts(self) -> dict[str, int]:
        return {
            "deletedImageStreamTagItems": self.removed_items,
            "updatedImageStreams": len(self.updates),
            "deletedLayerLinks": len(self.layer_links),
            "deletedManifestLinks": len(self.manifest_links),
        }

    def entries(self) -> dict[str, Iterator[dict[str, Any]]]:
        return {
            "imageStreamUpdates": _stream_updates(self.updates),
            "layerLinkDeletions": _links(self.layer_links),
            "manifestLinkDeletions": _links(self.manifest_links),
        }


@dataclass(slots=True)
class BlobSide:
    """The blobs stage 2 frees, sorted (as small tuples; the plan's dicts are made when written)."""

    blobs: list[tuple[str, str, int | None, str]]  # (digest, kind, size, image), sorted by digest
    reclaimable: int

    def counts(self) -> dict[str, int]:
        return {"deletedBlobs": len(self.blobs)}

    def entries(self) -> dict[str, Iterator[dict[str, Any]]]:
        return {"blobDeletions": _blob_entries(self.blobs)}


@dataclass(slots=True)
class ImageSide:
    """The images stage 2 deletes, by name."""

    deleted: list[str]

    def counts(self) -> dict[str, int]:
        return {"deletedImages": len(self.deleted)}

    def entries(self, analysis: Analysis) -> dict[str, Iterator[dict[str, Any]]]:
        return {"imageDeletions": _image_deletions(analysis, self.deleted)}


def stream_side(analysis: Analysis) -> StreamSide:
    updates: list[StreamOutcome] = []
    layer_links: list[tuple[str, str]] = []
    manifest_links: list[tuple[str, str]] = []
    removed_total = 0
    for outcome in analysis.stream_outcomes:
        removed = outcome.removed
        if not removed:
            continue
        removed_total += removed
        updates.append(outcome)
    # sorted by (repository, digest): a repository is one stream's, so the streams in order of
    # their repository, each one's digests sorted (a sort of all pairs compared 3x more)
    for outcome in sorted(updates, key=_repository):
        repository = repeat(outcome.stream.key)
        layer_links += zip(repository, sorted(outcome.layer_links))
        manifest_links += zip(repository, sorted(outcome.manifest_links))
    return StreamSide(updates, layer_links, manifest_links, removed_total)


def _repository(outcome: StreamOutcome) -> str:
    return outcome.stream.key


def _deleting(analysis: Analysis) -> Iterator[tuple[str, ImageOutcome]]:
    if analysis.stage2 is not None:
        for name, outcome in analysis.stage2.outcomes.items():
            if outcome.rule == DELETE_UNREFERENCED:
                yield name, outcome


def image_side(analysis: Analysis) -> ImageSide:
    return ImageSide([name for name, _ in _deleting(analysis)])


def blob_side(analysis: Analysis) -> BlobSide:
    blobs: list[tuple[str, str, int | None, str]] = []
    reclaimable = 0
    images = analysis.images
    for name, outcome in _deleting(analysis):
        if not outcome.blobs:
            continue
        layer_size = images[name].layer_size
        for digest, kind in zip(outcome.blobs, outcome.blob_kinds):
            # a layer's size as the freeing image lists it (a digest names one content, one size)
            size = layer_size(digest) if kind == "layer" else None
            reclaimable += size or 0
            blobs.append((digest, kind, size, name))
    blobs.sort(key=itemgetter(0))  # a blob is freed once: digests are unique
    return BlobSide(blobs, reclaimable)


def plan_head(analysis: Analysis, loaded: LoadedInputs, valid_for_seconds: float) -> dict[str, Any]:
    """The plan's small keys: apiVersion, kind, metadata, source, policy, errors."""
    policy = analysis.policy
    return {
        "apiVersion": PLAN_API_VERSION,
        "kind": PLAN_KIND,
        "metadata": {
            "createdAt": format_time(policy.now),
            "notAfter": format_time(policy.now + valid_for_seconds),
            "tool": {"name": TOOL_NAME, "version": __version__},
        },
        "source": {
            "dumpSha256": loaded.dump_sha256,
            "inputs": [{"sha256": i.sha256, "size": i.size} for i in loaded.inputs],
            "collectedAt": loaded.collected_at,
            "cluster": loaded.cluster,
            "namespace": loaded.namespace,
            "counts": loaded.counts(),
        },
        "policy": policy.to_json(),
        "errors": analysis.errors,
    }


def plan_summary(counts: dict[str, int], reclaimable: int) -> dict[str, Any]:
    return {**counts, "reclaimableBytes": reclaimable, "text": summary_text(counts)}


def plan_document(analysis: Analysis, loaded: LoadedInputs, valid_for_seconds: float) -> dict[str, Any]:
    """The plan, its action lists as iterators (for pruneplan.planformat.dump_plan_chunks)."""
    streams, images, blobs = stream_side(analysis), image_side(analysis), blob_side(analysis)
    return {
        **plan_head(analysis, loaded, valid_for_seconds),
        **streams.entries(),
        **images.entries(analysis),
        **blobs.entries(),
        "summary": plan_summary({**streams.counts(), **images.counts(), **blobs.counts()}, blobs.reclaimable),
    }


def build_plan(analysis: Analysis, loaded: LoadedInputs, valid_for_seconds: float) -> dict[str, Any]:
    """The whole plan as one document (tests and small plans; the analyze command streams it)."""
    return {
        key: list(value) if isinstance(value, Iterator) else value
        for key, value in plan_document(analysis, loaded, valid_for_seconds).items()
    }


def dry_run_lines(analysis: Analysis, summary: dict[str, Any]) -> list[str]:
    """Upstream's stdout for a dry run (docs/rules.md, "Output and exit status"), in a
    deterministic order: streams by name (layer links, the update, manifest links), then images by
    name (blobs, then the image)."""
    made = "".join(chain(stream_dry_run_text(analysis), image_dry_run_text(analysis))).splitlines()
    return [*dry_run_prologue(analysis), *made, dry_run_epilogue(summary)]


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


def dry_run_epilogue(summary: dict[str, Any]) -> str:
    return f"Summary: {summary['text']}"
