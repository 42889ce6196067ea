"""The hard-prune plan as typed, immutable objects, strictly validated on read
(docs/plan-format.md, "Hard-prune plans").

A hard plan says which repositories, manifest and layer links, uploads and blobs of a registry's
storage `pruneplan execute` may remove: what `analyze --hard` decided from a dump and a storage
inventory. It is built like pruneplan.planmodel's Plan: msgspec Structs (frozen, unknown fields
refused, camelCase), `from_bytes`/`from_dict` strict (no coercion), `to_dict`/`to_bytes`
exactly what was read, and `check()` the value checks and the cross-checks a tampered-but-signed
plan could violate dangerously: counts and sums, order and uniqueness, names that become storage
paths, and times that must lie before the plan's cutoff. Any failure is one PrunePlanError with
EXIT_UNKNOWN_PLAN: `<path>: plan field <where> <what>`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Optional

import msgspec

from .goduration import parse_go_duration
from .inventoryformat import DIGEST_RE
from .planformat import dump_plan
from .planmodel import (
    DocumentShape,
    convert_document,
    decode_document,
    REPOSITORY_RE,
    SHA256_HEX_RE,
    Cluster,
    Metadata,
    NonNegative,
    PlanFieldError,
    _match,
    _nonempty,
    _one_of,
    _Struct,
    _time,
)
from .strictstruct import BadField, join
from .timefmt import format_time, parse_time

HARD_PLAN_KIND = "HardPrunePlan"

REPOSITORY_REASONS = ("invalid-name", "no-image-stream")
MANIFEST_LINK_REASONS = ("not-an-image", "not-in-stream-history")
LAYER_LINK_REASONS = ("blob-deleted",)

# The top-level keys; the action lists in the order execute runs them.
ACTION_KEYS = ("manifestLinkDeletions", "layerLinkDeletions", "uploadDeletions", "repositoryDeletions", "blobDeletions")
SECTION_KEYS = ("metadata", "source", "policy", "summary")
REQUIRED_KEYS = ("apiVersion", "kind", *SECTION_KEYS, *ACTION_KEYS)
HARD_PLAN_SHAPE = DocumentShape(HARD_PLAN_KIND, "hard-prune plan", REQUIRED_KEYS, ACTION_KEYS, SECTION_KEYS)

# An upload's directory name becomes a path below the repository: one plain segment, never
# `.`/`..` nor anything with a separator (distribution names them by UUID).
UPLOAD_UUID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _digest(value: str, name: str) -> None:
    _match(value, name, DIGEST_RE, "a digest sha256:<64 lower-case hex>")


def _repository(value: str, name: str) -> None:
    _match(value, name, REPOSITORY_RE, "a repository name (lower-case path components)")


# --- sections -------------------------------------------------------------------------------------


class DumpSource(_Struct, frozen=True):
    sha256: str
    collected_at: Optional[str]  # null for a dump that does not say (an oc List)

    def _check_values(self) -> None:
        _match(self.sha256, "sha256", SHA256_HEX_RE, "a sha256 (64 lower-case hex digits)")
        _time(self.collected_at, "collectedAt", optional=True)


class InventorySource(_Struct, frozen=True):
    sha256: str
    read_at: str
    root: str

    def _check_values(self) -> None:
        _match(self.sha256, "sha256", SHA256_HEX_RE, "a sha256 (64 lower-case hex digits)")
        _time(self.read_at, "readAt", optional=False)
        _nonempty(self.root, "root")


class HardSource(_Struct, frozen=True):
    dump: DumpSource
    inventory: InventorySource
    cluster: Optional[Cluster]

    def check(self, where: str = "", path: str = "plan") -> None:
        self.dump.check(join(where, "dump"), path)
        self.inventory.check(join(where, "inventory"), path)


class HardPolicy(_Struct, frozen=True):
    now: str
    keep_younger_than: str
    cutoff: str

    def _check_values(self) -> None:
        _time(self.now, "now", optional=False)
        try:
            duration = parse_go_duration(self.keep_younger_than)
        except ValueError:
            duration = -1
        if duration < 0:
            raise BadField("keepYoungerThan", f"must be a non-negative Go duration, not {self.keep_younger_than!r}")
        _time(self.cutoff, "cutoff", optional=False)

    @property
    def cutoff_seconds(self) -> float:
        return parse_time(self.cutoff)


def hard_cutoff(now: float, collected_at: Optional[float], read_at: float, keep_younger_than_ns: int) -> float:
    """The time after which content is young: the earliest of `now`, the dump's collection and
    the inventory's reading, less keep-younger-than. Content newer than the older of the two
    reads may be unknown to the other one (an image pushed after the dump), so the earlier
    read bounds it."""
    times = [now, read_at] + ([collected_at] if collected_at is not None else [])
    return min(times) - keep_younger_than_ns / 1e9


class HardSummary(_Struct, frozen=True):
    deleted_repositories: NonNegative
    deleted_manifest_links: NonNegative
    deleted_layer_links: NonNegative
    deleted_uploads: NonNegative
    deleted_blobs: NonNegative
    reclaimable_bytes: NonNegative
    text: str


# --- entries --------------------------------------------------------------------------------------


class RepositoryDeletion(_Struct, frozen=True):
    repository: str
    reason: str

    def _check_values(self) -> None:
        _repository(self.repository, "repository")
        _one_of(self.reason, "reason", REPOSITORY_REASONS)


class _LinkDeletion(_Struct, frozen=True):
    """A link of a repository to remove, and why: one of its class's REASONS."""

    REASONS: ClassVar[tuple[str, ...]] = ()
    repository: str
    digest: str
    reason: str

    def _check_values(self) -> None:
        _repository(self.repository, "repository")
        _digest(self.digest, "digest")
        _one_of(self.reason, "reason", self.REASONS)


class ManifestLinkDeletion(_LinkDeletion, frozen=True):
    REASONS = MANIFEST_LINK_REASONS


class LayerLinkDeletion(_LinkDeletion, frozen=True):
    REASONS = LAYER_LINK_REASONS


class UploadDeletion(_Struct, frozen=True):
    repository: str
    uuid: str
    started_at: str
    size: NonNegative

    def _check_values(self) -> None:
        _repository(self.repository, "repository")
        _match(self.uuid, "uuid", UPLOAD_UUID_RE, "one directory name (letters, digits, '_.-')")
        _time(self.started_at, "startedAt", optional=False)


class HardBlobDeletion(_Struct, frozen=True):
    digest: str
    size: NonNegative
    modified: str

    def _check_values(self) -> None:
        _digest(self.digest, "digest")
        _time(self.modified, "modified", optional=False)


# --- the plan -------------------------------------------------------------------------------------


class HardPrunePlan(_Struct, frozen=True):
    api_version: str
    kind: str
    metadata: Metadata
    source: HardSource
    policy: HardPolicy
    summary: HardSummary
    manifest_link_deletions: tuple[ManifestLinkDeletion, ...]
    layer_link_deletions: tuple[LayerLinkDeletion, ...]
    upload_deletions: tuple[UploadDeletion, ...]
    repository_deletions: tuple[RepositoryDeletion, ...]
    blob_deletions: tuple[HardBlobDeletion, ...]

    @classmethod
    def from_bytes(cls, raw: bytes, path: str = "plan") -> "HardPrunePlan":
        """Parse and validate a whole hard plan; PrunePlanError(EXIT_UNKNOWN_PLAN) on any problem."""
        return decode_document(cls, raw, path, HARD_PLAN_SHAPE)

    @classmethod
    def from_dict(cls, data: Any, where: str = "", path: str = "plan") -> "HardPrunePlan":
        return convert_document(cls, data, where, path, HARD_PLAN_SHAPE)

    def to_bytes(self) -> bytes:
        """Sorted keys below the top level, two-space indentation, a final newline (as plan.json)."""
        return dump_plan(self)

    def check(self, where: str = "", path: str = "plan") -> None:
        """Every value check of every section and entry, then the cross-checks."""
        for key, section in (("metadata", self.metadata), ("source", self.source), ("policy", self.policy)):
            section.check(join(where, key), path)
        for key, entries in self._lists():
            prefix = join(where, key)
            for index, entry in enumerate(entries):
                entry.check(f"{prefix}[{index}]", path)
        self._check_policy(where, path)
        self._check_lists(where, path)
        self._check_summary(where, path)

    def _lists(self) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        return (
            ("manifestLinkDeletions", self.manifest_link_deletions),
            ("layerLinkDeletions", self.layer_link_deletions),
            ("uploadDeletions", self.upload_deletions),
            ("repositoryDeletions", self.repository_deletions),
            ("blobDeletions", self.blob_deletions),
        )

    def _check_policy(self, where: str, path: str) -> None:
        """The cutoff is the one the sources and keepYoungerThan give."""
        dump, inventory = self.source.dump, self.source.inventory
        expected = format_time(hard_cutoff(
            parse_time(self.policy.now),
            None if dump.collected_at is None else parse_time(dump.collected_at),
            parse_time(inventory.read_at),
            parse_go_duration(self.policy.keep_younger_than),
        ))
        if self.policy.cutoff != expected:
            raise PlanFieldError(
                join(where, "policy.cutoff"),
                f"must be the earliest of now, source.dump.collectedAt and source.inventory.readAt less keepYoungerThan "
                f"({expected}), not {self.policy.cutoff!r}",
                path,
            )

    def _check_lists(self, where: str, path: str) -> None:
        """Sorted and unique; nothing listed inside a repository that is removed whole; nothing
        deleted that is younger than the cutoff."""
        keys: dict[str, list[Any]] = {
            "manifestLinkDeletions": [(e.repository, e.digest) for e in self.manifest_link_deletions],
            "layerLinkDeletions": [(e.repository, e.digest) for e in self.layer_link_deletions],
            "uploadDeletions": [(e.repository, e.uuid) for e in self.upload_deletions],
            "repositoryDeletions": [e.repository for e in self.repository_deletions],
            "blobDeletions": [e.digest for e in self.blob_deletions],
        }
        for key, values in keys.items():
            for index in range(1, len(values)):
                if values[index - 1] == values[index]:
                    raise PlanFieldError(join(where, f"{key}[{index}]"), "repeats the entry before it", path)
                if values[index - 1] > values[index]:
                    raise PlanFieldError(join(where, f"{key}[{index}]"), "is out of order: the list is sorted", path)
        removed = set(keys["repositoryDeletions"])
        for key in ("manifestLinkDeletions", "layerLinkDeletions", "uploadDeletions"):
            for index, (repository, _) in enumerate(keys[key]):
                if repository in removed:
                    raise PlanFieldError(
                        join(where, f"{key}[{index}].repository"),
                        f"is {repository}, which repositoryDeletions removes whole: its content is not listed", path)
        cutoff = self.policy.cutoff_seconds
        for index, blob in enumerate(self.blob_deletions):
            if parse_time(blob.modified) > cutoff:
                raise PlanFieldError(join(where, f"blobDeletions[{index}].modified"),
                                     f"is after policy.cutoff {self.policy.cutoff}: a young blob is never deleted", path)
        for index, upload in enumerate(self.upload_deletions):
            if parse_time(upload.started_at) > cutoff:
                raise PlanFieldError(join(where, f"uploadDeletions[{index}].startedAt"),
                                     f"is after policy.cutoff {self.policy.cutoff}: a young upload is never deleted", path)

    def _check_summary(self, where: str, path: str) -> None:
        summary = self.summary
        for name, value, expected in (
            ("deletedRepositories", summary.deleted_repositories, len(self.repository_deletions)),
            ("deletedManifestLinks", summary.deleted_manifest_links, len(self.manifest_link_deletions)),
            ("deletedLayerLinks", summary.deleted_layer_links, len(self.layer_link_deletions)),
            ("deletedUploads", summary.deleted_uploads, len(self.upload_deletions)),
            ("deletedBlobs", summary.deleted_blobs, len(self.blob_deletions)),
            ("reclaimableBytes", summary.reclaimable_bytes, self.reclaimable_bytes()),
        ):
            if value != expected:
                raise PlanFieldError(join(where, f"summary.{name}"),
                                     f"must be {expected} (what the action lists add up to), not {value}", path)

    def reclaimable_bytes(self) -> int:
        return sum(blob.size for blob in self.blob_deletions) + sum(upload.size for upload in self.upload_deletions)


def plan_kind(raw: bytes) -> Optional[str]:
    """The `kind` of a plan's bytes when they are a JSON object with a string kind, else None
    (the caller's strict reader then says what is wrong)."""
    try:
        top = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
        kind = msgspec.json.decode(top["kind"]) if "kind" in top else None
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return kind if isinstance(kind, str) else None


def describe_lines(plan: HardPrunePlan) -> list[str]:
    """What `pruneplan verify` says of a hard plan after its signature lines' header: its
    identity, sources, policy and counts."""
    source, cluster = plan.source, plan.source.cluster
    summary = plan.summary.to_dict()
    counts = ", ".join(f"{key}={summary[key]}" for key in sorted(summary) if key != "text")
    return [
        f"kind:         {HARD_PLAN_KIND}",
        f"created:      {plan.metadata.created_at}",
        f"not after:    {plan.metadata.not_after}",
        f"cluster:      {cluster.api_server if cluster else 'not set'} "
        f"(clusterID {cluster.cluster_id if cluster and cluster.cluster_id is not None else 'not set'})",
        f"dump sha256:  {source.dump.sha256} (collected {source.dump.collected_at or 'not set'})",
        f"inventory:    sha256 {source.inventory.sha256} (read {source.inventory.read_at} from {source.inventory.root})",
        f"cutoff:       {plan.policy.cutoff} (now {plan.policy.now}, keepYoungerThan {plan.policy.keep_younger_than})",
        f"counts:       {counts}",
        f"summary:      {plan.summary.text}",
    ]
