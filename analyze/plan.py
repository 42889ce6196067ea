"""Turns an Analysis into the plan document (docs/plan-format.md) and upstream's dry-run lines."""

from __future__ import annotations

from typing import Any

from pruneplan import TOOL_NAME, __version__
from pruneplan.dumpformat import LoadedInputs
from pruneplan.planformat import PLAN_API_VERSION, PLAN_KIND
from pruneplan.timefmt import format_time

from .engine import Analysis
from .rules import DELETE_UNREFERENCED, REMOVING_RULES

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


def _stream_actions(analysis: Analysis) -> tuple[list[dict], list[dict], list[dict], int]:
    updates: list[dict[str, Any]] = []
    layer_links: list[dict[str, str]] = []
    manifest_links: list[dict[str, str]] = []
    removed_total = 0
    for outcome in analysis.stream_outcomes:
        stream = outcome.stream
        repository = stream.key
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
        if not removed_items:
            continue
        removed_total += len(removed_items)
        removed_items.sort(key=lambda item: (item["tag"], item["index"]))
        updates.append(
            {
                "namespace": stream.namespace,
                "name": stream.name,
                "resourceVersion": stream.resource_version,
                "removedItems": removed_items,
                "removedTags": sorted(outcome.removed_tags()),
            }
        )
        layer_links += [{"repository": repository, "digest": d} for d in outcome.layer_links]
        manifest_links += [{"repository": repository, "digest": d} for d in outcome.manifest_links]
    link_order = lambda link: (link["repository"], link["digest"])  # noqa: E731
    return updates, sorted(layer_links, key=link_order), sorted(manifest_links, key=link_order), removed_total


def _image_actions(analysis: Analysis) -> tuple[list[dict], list[dict], int]:
    if analysis.stage2 is None:
        return [], [], 0
    deletions: list[dict[str, Any]] = []
    blobs: list[dict[str, Any]] = []
    reclaimable = 0
    for name, outcome in analysis.stage2.outcomes.items():
        if outcome.rule != DELETE_UNREFERENCED:
            continue
        image = analysis.images[name]
        deletions.append(
            {
                "name": name,
                "created": format_time(image.created),
                "managed": image.managed,
                "dockerImageReference": image.reference,
                "blobs": outcome.blobs,
                "reason": outcome.rule,
            }
        )
        for digest, kind in zip(outcome.blobs, outcome.blob_kinds):
            # a layer's size as the freeing image lists it (a digest names one content, one size)
            size = image.layer_size(digest) if kind == "layer" else None
            reclaimable += size or 0
            blobs.append({"digest": digest, "kind": kind, "size": size, "image": name})
    blobs.sort(key=lambda b: b["digest"])
    return deletions, blobs, reclaimable


def build_plan(analysis: Analysis, loaded: LoadedInputs, valid_for_seconds: float) -> dict[str, Any]:
    policy = analysis.policy
    updates, layer_links, manifest_links, removed_items = _stream_actions(analysis)
    image_deletions, blob_deletions, reclaimable = _image_actions(analysis)
    counts = {
        "deletedImages": len(image_deletions),
        "deletedImageStreamTagItems": removed_items,
        "updatedImageStreams": len(updates),
        "deletedLayerLinks": len(layer_links),
        "deletedManifestLinks": len(manifest_links),
        "deletedBlobs": len(blob_deletions),
    }
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
        "imageStreamUpdates": updates,
        "layerLinkDeletions": layer_links,
        "manifestLinkDeletions": manifest_links,
        "blobDeletions": blob_deletions,
        "imageDeletions": image_deletions,
        "errors": analysis.errors,
        "summary": {**counts, "reclaimableBytes": reclaimable, "text": summary_text(counts)},
    }


def dry_run_lines(analysis: Analysis, plan: dict[str, Any]) -> list[str]:
    """Upstream's stdout for a dry run (§6.7), in a deterministic order: streams by name (layer
    links, the update, manifest links), then images by name (blobs, then the image)."""
    lines: list[str] = []
    if not analysis.policy.prune_registry:
        lines.append("Only API objects will be removed.  No modifications to the image registry will be made.")
    for outcome in analysis.stream_outcomes:
        removed = outcome.removed
        if not removed:
            continue
        repository = outcome.stream.key
        lines += [f"Deleting layer link {d} in repository {repository}" for d in outcome.layer_links]
        lines.append(f"Deleting {removed} items from image stream {repository}")
        lines += [f"Deleting manifest link {d} in repository {repository}" for d in outcome.manifest_links]
    if analysis.stage2 is not None:
        for name, outcome in analysis.stage2.outcomes.items():
            if outcome.rule == DELETE_UNREFERENCED:
                lines += [f"Deleting blob {d}" for d in outcome.blobs]
                lines.append(f"Deleting image {name}")
    lines.append(f"Summary: {plan['summary']['text']}")
    return lines
