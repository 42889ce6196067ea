"""The plan as typed, immutable objects, strictly validated on read (docs/plan-format.md).

`Plan.from_bytes(raw, path)` parses and checks the whole document: the envelope (kind,
apiVersion, top-level keys and their JSON types, with pruneplan.planformat's messages), then
every section and every entry of every action list, field by field: required fields, JSON types
and non-negative integers as it is decoded, then (`Plan.check`) enums, RFC 3339 times, Go
durations and the names that reach a registry or API URL (repository names and digests, by the
rules execute applies before it builds a URL). Unknown fields are refused. Last come the
cross-checks a tampered-but-signed plan could violate dangerously: every blob deletion is freed
by an image deletion and vice versa, and the summary counts are the list lengths. Any failure is
one PrunePlanError with EXIT_UNKNOWN_PLAN: `<path>: plan field <where> <what>`.

`to_dict()` gives back exactly what was read, and `to_bytes()` is pruneplan.planformat's one
serialiser, so `Plan.from_bytes(b).to_bytes() == b` for every plan analyze writes.

The classes are msgspec Structs (frozen, slotted, untracked by the cyclic GC: they hold JSON
data only; unknown fields forbidden); each has `from_dict` (strict: no coercion, a bool is not
an integer) and `to_dict`, as python-tuf's tuf/api/metadata.py does for its metadata. Building
one with its constructor checks nothing: analyze builds the plan it writes that way, from its
own decisions (checking a big plan's hundreds of thousands of entries again would take longer
than building them), and `check()` runs the read-side checks on demand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Optional, Protocol, TypeVar

import msgspec
from msgspec import Meta

from .errors import EXIT_UNKNOWN_PLAN, PrunePlanError
from .goduration import parse_go_duration
from .prunerpolicy import FROM_PRUNER, FROM_PRUNER_DEFAULT, LOGLEVELS, POLICY_FLAGS, PRUNER_FLAGS, SOURCES
from .jsonwords import describe_validation
from .strictstruct import BadField, StrictStruct, join
from .planformat import ACTION_KEYS, PLAN_API_VERSION, PLAN_KIND, REQUIRED_KEYS, SECTION_KEYS, dump_plan
from .timefmt import ZERO, format_time, parse_time

if TYPE_CHECKING:
    from .policy import Policy

# --- names that reach a URL ---------------------------------------------------------------------
# execute/registry.py checks these before it builds a registry URL (it imports them from here).
# A repository: distribution's path components (lower-case alphanumerics and separators).
PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
REPOSITORY_RE = re.compile(rf"{PATH_COMPONENT_RE.pattern}(?:/{PATH_COMPONENT_RE.pattern})*")
# A digest the registry accepts: algorithm:hex (execute refuses a blob call for anything else).
DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
# What a plan may name as a blob or an image: one URL path segment that cannot escape its place
# (no '/', '?', '#', '%', no '..'). Wider than DIGEST_RE because analyze legitimately plans the
# names upstream's test data uses (`layer1`, `tarsum.dev+sha256:...`); execute then reports such
# a blob call as an error for that blob, without a request.
OBJECT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+.:-]*")
SHA256_HEX_RE = re.compile(r"[0-9a-f]{64}")

# --- enums ----------------------------------------------------------------------------------------
# analyze/decisions/rules.py: REMOVING_RULES (stage 1) and DELETE_UNREFERENCED (stage 2); a test keeps these
# equal (pruneplan does not import analyze).
ITEM_REASONS = ("beyond-keep-tag-revisions", "image-missing", "over-size-limit")
IMAGE_REASONS = ("unreferenced",)
BLOB_KINDS = ("layer", "config", "manifest")
PRUNER_STATES = ("found", "absent", "forbidden")  # pruneplan.clustersettings.State

NonNegative = Annotated[int, Meta(ge=0)]


def _time(value: Optional[str], name: str, optional: bool) -> None:
    if value is None:
        if not optional:
            raise BadField(name, "must be an RFC 3339 time")
        return
    try:
        seconds = parse_time(value)
    except ValueError:
        seconds = ZERO
    if seconds == ZERO:
        raise BadField(name, f"must be an RFC 3339 time{' or null' if optional else ''}, not {value!r}")


def _one_of(value: str, name: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BadField(name, f"must be one of {', '.join(allowed)}, not {value!r}")


def _match(value: str, name: str, pattern: re.Pattern[str], what: str) -> None:
    if not pattern.fullmatch(value):
        raise BadField(name, f"must be {what}, not {value!r}")


def _object_name(value: str, name: str) -> None:
    _match(value, name, OBJECT_NAME_RE, "a digest or object name (letters, digits, '_+.:-')")


def _nonempty(value: str, name: str) -> None:
    if not value:
        raise BadField(name, "must not be empty")


T = TypeVar("T", bound="_Struct")


class _Struct(StrictStruct, frozen=True):
    @classmethod
    def from_dict(cls: type[T], data: Any, where: str = "") -> T:
        """Strictly convert decoded JSON and check it; PlanFieldError (a PrunePlanError) names the field."""
        try:
            struct = msgspec.convert(data, type=cls, strict=True)
        except msgspec.ValidationError as err:
            raise PlanFieldError(*describe_validation(str(err), where)) from None
        struct.check(where)
        return struct

    def check(self, where: str = "", path: str = "plan") -> None:
        """The value checks decoding does not make, of this struct and those it holds;
        PlanFieldError names the field below `where`."""
        try:
            self._check_values()
        except BadField as bad:
            raise PlanFieldError(join(where, bad.name), bad.what, path) from None

    def _check_values(self) -> None:
        """This struct's own fields' checks (none unless a class has some)."""



class PlanFieldError(PrunePlanError):
    """A malformed plan field: `where` (e.g. imageDeletions[3].blobs) and `what` is wrong with it."""

    def __init__(self, where: str, what: str, path: str = "plan") -> None:
        super().__init__(f"{path}: plan field {where} {what}", EXIT_UNKNOWN_PLAN)
        self.where = where
        self.what = what


# --- entries --------------------------------------------------------------------------------------


class RemovedItem(_Struct, frozen=True):
    tag: str
    index: NonNegative
    image: str
    created: Optional[str]
    reason: str

    def _check_values(self) -> None:
        _nonempty(self.tag, "tag")
        _nonempty(self.image, "image")
        _time(self.created, "created", optional=True)
        _one_of(self.reason, "reason", ITEM_REASONS)


class ImageStreamUpdate(_Struct, frozen=True):
    namespace: str
    name: str
    resource_version: str
    removed_items: tuple[RemovedItem, ...]
    removed_tags: tuple[str, ...]

    def _check_values(self) -> None:
        _match(self.namespace, "namespace", PATH_COMPONENT_RE, "a namespace name usable in a repository")
        _match(self.name, "name", PATH_COMPONENT_RE, "an image stream name usable in a repository")
        for index, tag in enumerate(self.removed_tags):
            _nonempty(tag, f"removedTags[{index}]")

    def check(self, where: str = "", path: str = "plan") -> None:
        for index, item in enumerate(self.removed_items):
            item.check(join(where, f"removedItems[{index}]"), path)
        super().check(where, path)

    @property
    def repository(self) -> str:
        return f"{self.namespace}/{self.name}"


class LinkDeletion(_Struct, frozen=True):
    repository: str
    digest: str

    def _check_values(self) -> None:
        _match(self.repository, "repository", REPOSITORY_RE, "a repository name (namespace/name)")
        _object_name(self.digest, "digest")


class BlobDeletion(_Struct, frozen=True):
    digest: str
    kind: str
    size: Optional[NonNegative]
    image: str

    def _check_values(self) -> None:
        _object_name(self.digest, "digest")
        _one_of(self.kind, "kind", BLOB_KINDS)
        _object_name(self.image, "image")


class ImageDeletion(_Struct, frozen=True):
    name: str
    created: Optional[str]
    managed: bool
    docker_image_reference: str
    blobs: tuple[str, ...]
    reason: str

    def _check_values(self) -> None:
        _object_name(self.name, "name")
        _time(self.created, "created", optional=True)
        for index, digest in enumerate(self.blobs):
            _object_name(digest, f"blobs[{index}]")
        _one_of(self.reason, "reason", IMAGE_REASONS)


# --- sections -------------------------------------------------------------------------------------


class Tool(_Struct, frozen=True):
    name: str
    version: str


class Metadata(_Struct, frozen=True):
    created_at: str
    not_after: str
    tool: Tool

    def _check_values(self) -> None:
        _time(self.created_at, "createdAt", optional=False)
        _time(self.not_after, "notAfter", optional=False)

    @property
    def not_after_seconds(self) -> float:
        return parse_time(self.not_after)


class Cluster(_Struct, frozen=True):
    api_server: str = msgspec.field(name="apiServer")
    cluster_id: Optional[str] = msgspec.field(name="clusterID")


class InputFile(_Struct, frozen=True):
    sha256: str
    size: NonNegative

    def _check_values(self) -> None:
        _match(self.sha256, "sha256", SHA256_HEX_RE, "a sha256 (64 lower-case hex digits)")


class PrunerFlags(_Struct, frozen=True, omit_defaults=True):
    """The automatic pruner's oc flags (pruneplan.prunerpolicy.AutomaticPruner)."""

    keep_tag_revisions: int
    keep_younger_than: str
    ignore_invalid_refs: bool
    loglevel: int
    prune_registry: Optional[bool]  # null: the cluster Image config was not read
    registry_url: Optional[str] = None

    def _check_values(self) -> None:
        try:
            parse_go_duration(self.keep_younger_than)
        except ValueError:
            raise BadField("keepYoungerThan", f"must be a Go duration, not {self.keep_younger_than!r}") from None
        levels = tuple(sorted(set(LOGLEVELS.values())))
        if self.loglevel not in levels:
            raise BadField("loglevel", f"must be one of {', '.join(map(str, levels))}, not {self.loglevel!r}")
        if (self.registry_url is not None) != bool(self.prune_registry):
            raise BadField("registryUrl", "must be given exactly when pruneRegistry is true")
        if self.registry_url is not None and not self.registry_url.startswith("https://"):
            raise BadField("registryUrl", f"must be an https:// URL, not {self.registry_url!r}")

    def flag_values(self) -> dict[str, Any]:
        """oc's flag names to the values the automatic pruner gives (pruneplan.prunerpolicy)."""
        return {
            "keep-tag-revisions": self.keep_tag_revisions,
            "keep-younger-than": self.keep_younger_than,
            "ignore-invalid-refs": self.ignore_invalid_refs,
            "prune-registry": self.prune_registry,
        }


class AutomaticPrunerRecord(_Struct, frozen=True, omit_defaults=True):
    """The cluster's automatic pruner as the dump saw it: the ImagePruner's state and, when
    found, the CronJob the operator makes of it."""

    state: str
    schedule: Optional[str] = None
    suspended: Optional[bool] = None
    flags: Optional[PrunerFlags] = None

    def _check_values(self) -> None:
        _one_of(self.state, "state", PRUNER_STATES)
        found = self.state == "found"
        for name, field in (("schedule", self.schedule), ("suspended", self.suspended), ("flags", self.flags)):
            if (field is None) == found:
                raise BadField(name, "must be given exactly when state is found")
        if self.schedule is not None:
            _nonempty(self.schedule, "schedule")

    def check(self, where: str = "", path: str = "plan") -> None:
        super().check(where, path)
        if self.flags is not None:
            self.flags.check(join(where, "flags"), path)


class Source(_Struct, frozen=True, omit_defaults=True):
    dump_sha256: str
    inputs: tuple[InputFile, ...]
    collected_at: Optional[str]
    cluster: Optional[Cluster]
    namespace: Optional[str]
    counts: dict[str, NonNegative]
    # absent in a plan of a dump without cluster settings (a List, an older dump)
    automatic_pruner: Optional[AutomaticPrunerRecord] = None

    def _check_values(self) -> None:
        _match(self.dump_sha256, "dumpSha256", SHA256_HEX_RE, "a sha256 (64 lower-case hex digits)")

    def check(self, where: str = "", path: str = "plan") -> None:
        for index, item in enumerate(self.inputs):
            item.check(join(where, f"inputs[{index}]"), path)
        super().check(where, path)
        if self.automatic_pruner is not None:
            self.automatic_pruner.check(join(where, "automaticPruner"), path)


class PlanPolicy(_Struct, frozen=True, omit_defaults=True):
    """The policy as the plan records it (pruneplan.policy.Policy.to_json); `to_policy()` is
    Policy.from_json of it."""

    all_images: bool = msgspec.field(name="all")
    ignore_invalid_refs: bool
    keep_tag_revisions: Optional[NonNegative]
    keep_younger_than: Optional[str]
    namespace: Optional[str]
    now: str
    prune_over_size_limit: Optional[bool]
    prune_registry: bool
    threshold: Optional[str]
    # flag name -> where its value comes from (pruneplan.prunerpolicy.SOURCES); absent in older plans
    sources: Optional[dict[str, str]] = None

    def _check_values(self) -> None:
        for flag, origin in sorted((self.sources or {}).items()):
            _one_of(flag, "sources", POLICY_FLAGS)
            _one_of(origin, f"sources.{flag}", SOURCES)
            if origin in (FROM_PRUNER, FROM_PRUNER_DEFAULT) and flag not in PRUNER_FLAGS:
                raise BadField(f"sources.{flag}", f"cannot be {origin}: the automatic pruner never gives --{flag}")
        if self.keep_younger_than is not None:
            try:
                duration = parse_go_duration(self.keep_younger_than)
            except ValueError:
                duration = -1
            if duration < 0:
                raise BadField("keepYoungerThan", f"must be a non-negative Go duration or null, not {self.keep_younger_than!r}")
        if self.namespace is not None:
            _nonempty(self.namespace, "namespace")
        _time(self.now, "now", optional=False)
        _time(self.threshold, "threshold", optional=True)
        derived = None if self.keep_younger_than is None else format_time(
            parse_time(self.now) - parse_go_duration(self.keep_younger_than) / 1e9
        )
        if self.threshold != derived:
            raise BadField("threshold", f"must be now - keepYoungerThan ({derived or 'null'}), not {self.threshold!r}")

    def flag_values(self) -> dict[str, Any]:
        """oc's flag names to the plan's values (None: not given)."""
        return {
            "keep-tag-revisions": self.keep_tag_revisions,
            "keep-younger-than": self.keep_younger_than,
            "prune-over-size-limit": self.prune_over_size_limit,
            "all": self.all_images,
            "namespace": self.namespace,
            "ignore-invalid-refs": self.ignore_invalid_refs,
            "prune-registry": self.prune_registry,
        }

    def to_policy(self) -> Policy:
        from .policy import Policy

        return Policy.from_json(self.to_dict())


class Summary(_Struct, frozen=True):
    deleted_images: NonNegative
    deleted_image_stream_tag_items: NonNegative
    updated_image_streams: NonNegative
    deleted_layer_links: NonNegative
    deleted_manifest_links: NonNegative
    deleted_blobs: NonNegative
    reclaimable_bytes: NonNegative
    text: str


class Plan(_Struct, frozen=True):
    api_version: str
    kind: str
    metadata: Metadata
    source: Source
    policy: PlanPolicy
    image_stream_updates: tuple[ImageStreamUpdate, ...]
    layer_link_deletions: tuple[LinkDeletion, ...]
    manifest_link_deletions: tuple[LinkDeletion, ...]
    blob_deletions: tuple[BlobDeletion, ...]
    image_deletions: tuple[ImageDeletion, ...]
    errors: tuple[str, ...]
    summary: Summary

    @classmethod
    def from_bytes(cls, raw: bytes, path: str = "plan") -> "Plan":
        """Parse and validate a whole plan; PrunePlanError(EXIT_UNKNOWN_PLAN) on any problem."""
        return decode_document(cls, raw, path, PLAN_SHAPE)

    @classmethod
    def from_dict(cls, data: Any, where: str = "", path: str = "plan") -> "Plan":
        return convert_document(cls, data, where, path, PLAN_SHAPE)

    def to_bytes(self) -> bytes:
        """The plan's bytes, as analyze writes them (pruneplan.planformat.plan_chunks)."""
        return dump_plan(self)

    def check(self, where: str = "", path: str = "plan") -> None:
        """Every value check of every section and entry, in the document's key order, then the
        cross-checks between sections."""
        for key, section in (("metadata", self.metadata), ("source", self.source), ("policy", self.policy)):
            section.check(join(where, key), path)
        for key, entries in (
            ("imageStreamUpdates", self.image_stream_updates),
            ("layerLinkDeletions", self.layer_link_deletions),
            ("manifestLinkDeletions", self.manifest_link_deletions),
            ("blobDeletions", self.blob_deletions),
            ("imageDeletions", self.image_deletions),
        ):
            prefix = join(where, key)
            for index, entry in enumerate(entries):
                entry.check(f"{prefix}[{index}]", path)
        self._check_references(path)

    def _check_references(self, path: str) -> None:
        """The cross-checks between sections: blobs and the images that free them, the summary."""

        def bad(where: str, what: str) -> PlanFieldError:
            return PlanFieldError(where, what, path)

        freed_by: dict[str, str] = {}  # blob digest -> the image deletion that frees it
        names: set[str] = set()
        for i, image in enumerate(self.image_deletions):
            if image.name in names:
                raise bad(f"imageDeletions[{i}].name", f"repeats image {image.name}")
            names.add(image.name)
            for k, digest in enumerate(image.blobs):
                if digest in freed_by:
                    raise bad(f"imageDeletions[{i}].blobs[{k}]", f"{digest} is already freed by image {freed_by[digest]}")
                freed_by[digest] = image.name
        planned: set[str] = set()
        for b, blob in enumerate(self.blob_deletions):
            if blob.digest in planned:
                raise bad(f"blobDeletions[{b}].digest", f"repeats blob {blob.digest}")
            planned.add(blob.digest)
            owner = freed_by.get(blob.digest)
            if owner is None:
                raise bad(f"blobDeletions[{b}].digest", f"{blob.digest} is in no imageDeletions[].blobs")
            if owner != blob.image:
                raise bad(f"blobDeletions[{b}].image", f"must be {owner}, the image deletion that frees {blob.digest}, not {blob.image}")
        for i, image in enumerate(self.image_deletions):
            for k, digest in enumerate(image.blobs):
                if digest not in planned:
                    raise bad(f"imageDeletions[{i}].blobs[{k}]", f"{digest} has no blobDeletions entry")
        self._check_pruner_sources(path)
        summary = self.summary
        for name, value, expected in (
            ("deletedImages", summary.deleted_images, len(self.image_deletions)),
            ("deletedImageStreamTagItems", summary.deleted_image_stream_tag_items,
             sum(len(update.removed_items) for update in self.image_stream_updates)),
            ("updatedImageStreams", summary.updated_image_streams, len(self.image_stream_updates)),
            ("deletedLayerLinks", summary.deleted_layer_links, len(self.layer_link_deletions)),
            ("deletedManifestLinks", summary.deleted_manifest_links, len(self.manifest_link_deletions)),
            ("deletedBlobs", summary.deleted_blobs, len(self.blob_deletions)),
            ("reclaimableBytes", summary.reclaimable_bytes, sum(blob.size or 0 for blob in self.blob_deletions)),
        ):
            if value != expected:
                raise bad(f"summary.{name}", f"must be {expected} (what the action lists add up to), not {value}")


    def _check_pruner_sources(self, path: str) -> None:
        """A policy value the plan says came from the automatic pruner is the pruner's."""
        pruner = self.source.automatic_pruner
        policy = self.policy
        for flag, origin in sorted((policy.sources or {}).items()):
            if origin not in (FROM_PRUNER, FROM_PRUNER_DEFAULT):
                continue
            where = f"policy.sources.{flag}"
            if pruner is None or pruner.flags is None:
                raise PlanFieldError(where, f"is {origin}, but source.automaticPruner records no automatic pruner", path)
            planned, theirs = {
                "keep-tag-revisions": (policy.keep_tag_revisions, pruner.flags.keep_tag_revisions),
                "keep-younger-than": (
                    None if policy.keep_younger_than is None else parse_go_duration(policy.keep_younger_than),
                    parse_go_duration(pruner.flags.keep_younger_than),
                ),
                "ignore-invalid-refs": (policy.ignore_invalid_refs, pruner.flags.ignore_invalid_refs),
                "prune-registry": (policy.prune_registry, pruner.flags.prune_registry),
            }[flag]
            if planned != theirs:
                raise PlanFieldError(where, f"is {origin}, but the policy's value is not the automatic pruner's", path)


# --- envelope ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentShape:
    """A plan document's envelope: its kind, what it is called in messages, its top-level keys
    (in the order a missing one is reported) and which of them hold lists and objects."""

    kind: str
    noun: str  # "plan", "hard-prune plan"
    required: tuple[str, ...]
    lists: tuple[str, ...]
    sections: tuple[str, ...]

    def not_this(self, path: str) -> PrunePlanError:
        return PrunePlanError(f"{path}: not a pruneplan {self.noun} (kind is not {self.kind})", EXIT_UNKNOWN_PLAN)


PLAN_SHAPE = DocumentShape(PLAN_KIND, "plan", REQUIRED_KEYS, (*ACTION_KEYS, "errors"), SECTION_KEYS)


class _Checked(Protocol):
    def check(self, where: str = "", path: str = "plan") -> None: ...


C = TypeVar("C", bound=_Checked)


def decode_document(cls: type[C], raw: bytes, path: str, shape: DocumentShape) -> C:
    """A whole plan document of `shape` from its bytes, every field checked; one PrunePlanError
    (EXIT_UNKNOWN_PLAN) on any problem."""
    try:
        top = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except msgspec.ValidationError:  # valid JSON, but not an object
        raise shape.not_this(path) from None
    except msgspec.DecodeError as err:
        raise PrunePlanError(f"{path}: not a plan: invalid JSON: {err}", EXIT_UNKNOWN_PLAN) from None
    _check_envelope(
        {key: msgspec.json.decode(value) for key, value in top.items() if key in ("kind", "apiVersion", "metadata")},
        {key: bytes(memoryview(value)[:1]) for key, value in top.items()},
        path,
        shape,
    )
    try:
        document = msgspec.json.decode(raw, type=cls, strict=True)
    except msgspec.ValidationError as err:
        raise PlanFieldError(*describe_validation(str(err), ""), path=path) from None
    document.check(path=path)
    return document


def convert_document(cls: type[C], data: Any, where: str, path: str, shape: DocumentShape) -> C:
    """decode_document for a document already parsed into JSON values."""
    if not isinstance(data, dict):
        raise shape.not_this(path)
    _check_envelope(data, {key: _json_start(value) for key, value in data.items()}, path, shape)
    try:
        document = msgspec.convert(data, type=cls, strict=True)
    except msgspec.ValidationError as err:
        raise PlanFieldError(*describe_validation(str(err), where), path=path) from None
    document.check(where, path)
    return document


def _json_start(value: Any) -> bytes:
    return b"{" if isinstance(value, dict) else b"[" if isinstance(value, list) else b""


def _check_envelope(values: dict[str, Any], starts: dict[str, bytes], path: str, shape: DocumentShape) -> None:
    """pruneplan.planformat's envelope checks and messages. `values` holds at least kind,
    apiVersion and metadata decoded; `starts` the first byte of every top-level value's JSON."""
    if values.get("kind") != shape.kind:
        raise shape.not_this(path)
    if values.get("apiVersion") != PLAN_API_VERSION:
        raise PrunePlanError(
            f"{path}: unknown plan version {values.get('apiVersion')!r} (this tool knows {PLAN_API_VERSION})",
            EXIT_UNKNOWN_PLAN,
        )
    missing = [key for key in shape.required if key not in starts]
    if missing:
        raise PrunePlanError(f"{path}: plan is missing {', '.join(missing)}", EXIT_UNKNOWN_PLAN)
    unknown = sorted(key for key in starts if key not in shape.required)
    if unknown:
        raise PlanFieldError(unknown[0], "is not a known field", path)
    for key in shape.lists:
        if starts[key] != b"[":
            raise PrunePlanError(f"{path}: plan field {key} must be a list", EXIT_UNKNOWN_PLAN)
    for key in shape.sections:
        if starts[key] != b"{":
            raise PrunePlanError(f"{path}: plan field {key} must be an object", EXIT_UNKNOWN_PLAN)
    metadata = values.get("metadata")
    not_after = metadata.get("notAfter") if isinstance(metadata, dict) else None
    try:
        seconds = parse_time(not_after) if isinstance(not_after, str) else ZERO
    except ValueError:
        seconds = ZERO
    if seconds == ZERO:  # signing.verify_plan's message, as before full validation existed
        raise PrunePlanError(f"{path}: metadata.notAfter is missing or not an RFC 3339 time", EXIT_UNKNOWN_PLAN)
