"""The hard-prune plan of a set of decisions (docs/plan-format.md, "Hard-prune plans"): metadata,
expiry and sources as a soft plan records them, the lists in the plan's order."""

from __future__ import annotations

from typing import Optional

from pruneplan import TOOL_NAME, __version__
from pruneplan.dumpformat import LoadedInputs
from pruneplan.goduration import format_go_duration
from pruneplan.hardplan import (
    HARD_PLAN_KIND,
    DumpSource,
    HardBlobDeletion,
    HardPolicy,
    HardPrunePlan,
    HardSource,
    HardSummary,
    InventorySource,
    LayerLinkDeletion,
    ManifestLinkDeletion,
    RepositoryDeletion,
    UploadDeletion,
)
from pruneplan.inventoryformat import Inventory
from pruneplan.planformat import PLAN_API_VERSION
from pruneplan.planmodel import Metadata, Tool
from pruneplan.timefmt import format_time

from pruneplan.analyze.hard.rules import BLOB_DELETED, HardDecisions
from pruneplan.analyze.plan.entries import plan_cluster

# the summary's words: the non-zero parts in this order, or "deletes nothing"
_PARTS = (
    ("deletedRepositories", "repository", "repositories"),
    ("deletedManifestLinks", "manifest link", "manifest links"),
    ("deletedLayerLinks", "layer link", "layer links"),
    ("deletedUploads", "upload", "uploads"),
    ("deletedBlobs", "blob", "blobs"),
)


def summary_text(counts: dict[str, int], reclaimable: int) -> str:
    parts = [f"{counts[key]} {one if counts[key] == 1 else many}" for key, one, many in _PARTS if counts[key]]
    if not parts:
        return "deletes nothing"
    return f"deletes {', '.join(parts)}; {reclaimable} bytes reclaimable"


def _time(seconds: float) -> str:
    text = format_time(seconds)
    assert text is not None, "a real time, not Go's zero time"
    return text


def hard_plan_for(
    decisions: HardDecisions,
    loaded: LoadedInputs,
    inventory: Inventory,
    inventory_sha256: str,
    now: float,
    keep_younger_than_ns: int,
    valid_for_seconds: float,
) -> HardPrunePlan:
    """The typed plan of `decisions` (built from them: not put through the read-side checks)."""
    counts = {
        "deletedRepositories": len(decisions.removed_repositories),
        "deletedManifestLinks": len(decisions.manifest_link_deletions),
        "deletedLayerLinks": len(decisions.layer_link_deletions),
        "deletedUploads": len(decisions.upload_deletions),
        "deletedBlobs": len(decisions.blob_deletions),
    }
    reclaimable = decisions.reclaimable_bytes
    collected: Optional[str] = loaded.collected_at
    return HardPrunePlan(
        api_version=PLAN_API_VERSION,
        kind=HARD_PLAN_KIND,
        metadata=Metadata(created_at=_time(now), not_after=_time(now + valid_for_seconds), tool=Tool(TOOL_NAME, __version__)),
        source=HardSource(
            dump=DumpSource(sha256=loaded.dump_sha256, collected_at=collected),
            inventory=InventorySource(
                sha256=inventory_sha256, read_at=inventory.header.read_at, root=inventory.header.root,
            ),
            cluster=plan_cluster(loaded),
        ),
        policy=HardPolicy(now=_time(now), keep_younger_than=format_go_duration(keep_younger_than_ns), cutoff=_time(decisions.cutoff)),
        summary=HardSummary(
            deleted_repositories=counts["deletedRepositories"],
            deleted_manifest_links=counts["deletedManifestLinks"],
            deleted_layer_links=counts["deletedLayerLinks"],
            deleted_uploads=counts["deletedUploads"],
            deleted_blobs=counts["deletedBlobs"],
            reclaimable_bytes=reclaimable,
            text=summary_text(counts, reclaimable),
        ),
        manifest_link_deletions=tuple(
            ManifestLinkDeletion(repository, digest, reason) for repository, digest, reason in decisions.manifest_link_deletions
        ),
        layer_link_deletions=tuple(LayerLinkDeletion(repository, digest, BLOB_DELETED) for repository, digest in decisions.layer_link_deletions),
        upload_deletions=tuple(
            UploadDeletion(repository, upload.uuid, upload.started_at or "", upload.size) for repository, upload in decisions.upload_deletions
        ),
        repository_deletions=tuple(RepositoryDeletion(name, reason) for name, reason in sorted(decisions.removed_repositories.items())),
        blob_deletions=tuple(HardBlobDeletion(blob.digest, blob.size, blob.modified) for blob in decisions.blob_deletions),
    )


def dry_run_lines(plan: HardPrunePlan) -> list[str]:
    """Upstream's dry-run lines (`dockerregistry -prune=check`), one per deletion, in the order
    execute deletes: manifest links, layer links, uploads, repositories, blobs."""
    lines = [f"Would delete manifest link: {e.repository}@{e.digest}" for e in plan.manifest_link_deletions]
    lines += [f"Would delete layer link: {e.repository}@{e.digest}" for e in plan.layer_link_deletions]
    lines += [f"Would delete upload: {e.repository}/_uploads/{e.uuid}" for e in plan.upload_deletions]
    lines += [f"Would delete repository: {e.repository}" for e in plan.repository_deletions]
    lines += [f"Would delete blob: {e.digest}" for e in plan.blob_deletions]
    return lines
