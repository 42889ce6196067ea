"""What a reviewer needs to judge a plan, computed from the plan (and optionally its dump).

`build_review` turns a parsed plan, the plan's bytes, an optional re-run `Analysis` of the dump
and a signature status into a `Review`: plain data that analyze/report/sections.py lays out for
the Markdown and HTML renderers. It is pure: no files, no clock, no network, so the same inputs
always give the same review.

The plan is a pruneplan.planmodel.Plan: every field was validated when it was read
(Plan.from_bytes), so a malformed entry is a one-line error (exit 13) before anything is computed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from pruneplan.analyze.report.defaults import DEFAULT_TOP

if TYPE_CHECKING:  # the engine (networkx) is only needed when a dump is given
    from pruneplan.planmodel import Plan

    from pruneplan.analyze.decisions.engine import Analysis

UNKNOWN = "(unknown)"
NOT_SET = "not set"  # an absent value (JSON null), as a reviewer reads it
# A repository is (namespace, name): kept apart because a user-controlled namespace may itself
# contain a "/", and joining then splitting would attribute bytes to the wrong namespace.
Repository = tuple[str, str]
UNKNOWN_REPOSITORY: Repository = (UNKNOWN, "")
# Stage-1 rules that mean "a referrer kept this item" (analyze/decisions/rules.py).
KEPT_BY_REFERRER_RULES = ("tag-in-use", "image-in-use")

# Plan policy keys in the order a reviewer reads them, with upstream's flag names.
POLICY_LABELS: tuple[tuple[str, str], ...] = (
    ("keepTagRevisions", "--keep-tag-revisions"),
    ("keepYoungerThan", "--keep-younger-than"),
    ("pruneOverSizeLimit", "--prune-over-size-limit"),
    ("all", "--all"),
    ("namespace", "--namespace"),
    ("ignoreInvalidRefs", "--ignore-invalid-refs"),
    ("pruneRegistry", "--prune-registry"),
    ("now", "analysis time (now)"),
    ("threshold", "age threshold (now - keep-younger-than)"),
)
# What the plan will do, counted (a plan deletes nothing yet: the report says "will").
UPDATED_STREAMS = "updatedImageStreams"
COUNTER_LABELS: tuple[tuple[str, str], ...] = (
    ("deletedImages", "image objects"),
    ("deletedImageStreamTagItems", "image stream tag items"),
    (UPDATED_STREAMS, "image streams updated (not deleted)"),
    ("deletedLayerLinks", "layer links"),
    ("deletedManifestLinks", "manifest links"),
    ("deletedBlobs", "blobs"),
)


# ---------------------------------------------------------------------------------------------
# The review


# A signature row's state: it verifies with a trusted key, it does not, or no --key was given.
VALID, INVALID, UNCHECKED = "valid", "invalid", "unchecked"


@dataclass(frozen=True, slots=True)
class SignatureRow:
    """One signature over the plan (PLAN.sig, or one signature of an approval), as checked."""

    source: str  # PLAN.sig, or "PLAN.approvals, approval N"
    state: str  # VALID | INVALID | UNCHECKED
    key: str | None = None  # the trusted key file that verified it
    keyid: str | None = None  # the key id an unchecked approval names (its claim, not checked)
    annotations: tuple[tuple[str, str], ...] = ()
    counted: bool = False  # toward the threshold: the first valid signature of its key
    problem: str = ""  # why it is not valid, or not counted


@dataclass(frozen=True, slots=True)
class SignatureStatus:
    """state: verified | expired (the signatures verify but notAfter has passed) | failed |
    unchecked (a .sig or approvals exist, no --key) | unsigned (neither). `message` is the
    detail. `rows` are the signatures found; `signed` the distinct trusted keys that signed
    (None when nothing could be checked); `checked` whether --key was given."""

    state: str
    message: str
    key: str | None = None
    not_after: str | None = None
    threshold: int = 1
    signed: int | None = None
    checked: bool = False
    rows: tuple[SignatureRow, ...] = ()


def expired_text(key: str, not_after: str) -> str:
    """The one wording of a valid signature on an expired plan (report banner and stderr)."""
    return f"valid (verified with {key}) — plan EXPIRED on {not_after}"


@dataclass(slots=True)
class GroupBytes:
    """Reclaimable bytes of one namespace or repository; each blob counted once per group."""

    name: str
    bytes: int = 0
    blobs: int = 0
    unknown_size_blobs: int = 0
    images: int = 0


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """One history item naming an image: stream `ns/name`, tag, index (0 = newest, as the plan's
    removedItems[].index)."""

    stream: str
    tag: str
    index: int


@dataclass(frozen=True, slots=True)
class ImageRow:
    name: str
    reference: str
    repositories: tuple[str, ...]
    freed_bytes: int
    freed_blobs: int
    unknown_size_blobs: int
    created: str | None
    positions: tuple[Position, ...] = ()


@dataclass(frozen=True, slots=True)
class BlobRow:
    digest: str
    kind: str
    size: int | None
    image: str


@dataclass(frozen=True, slots=True)
class StreamUpdateRow:
    stream: str
    items_removed: int
    tags_removed: tuple[str, ...]
    reasons: tuple[tuple[str, int], ...]  # (reason, count), by reason


@dataclass(frozen=True, slots=True)
class SingleReferrerRow:
    stream: str
    tag: str
    index: int
    image: str
    rule: str
    referrer: str
    via: str
    reference: str


@dataclass(frozen=True, slots=True)
class Limited:
    """The first `top` rows of a ranking and how many were left out."""

    rows: tuple[Any, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True, slots=True)
class PrunerRow:
    """One policy flag: the plan's value, where it came from, and the automatic pruner's."""

    flag: str
    plan: str | None  # None: not set
    source: str | None  # None: the plan does not say (a plan made before sources were recorded)
    pruner: str | None
    differs: bool
    pruner_words: str | None = None  # the tool's words in place of a value the pruner does not give


@dataclass(frozen=True, slots=True)
class AutomaticPrunerView:
    """The cluster's automatic pruner as the plan's dump saw it, next to the plan's policy."""

    state: str  # found, absent, forbidden
    schedule: str | None = None
    suspended: bool | None = None
    loglevel: int | None = None
    registry_url: str | None = None
    rows: tuple[PrunerRow, ...] = ()

    @property
    def differences(self) -> list[str]:
        """'keep-tag-revisions: plan 5, automatic pruner 3' for each flag where they differ."""
        return [f"{row.flag}: plan {row.plan or NOT_SET}, automatic pruner {row.pruner or row.pruner_words or NOT_SET}"
                for row in self.rows if row.differs]


@dataclass(slots=True)
class Review:
    plan_name: str
    plan_sha256: str
    created_at: str | None
    not_after: str | None
    tool: str
    source: list[tuple[str, str | None]]  # None: not set
    dump_sha256: str | None
    policy: list[tuple[str, str, str | None]]  # (key, label, value); None: not set
    counters: list[tuple[str, str, str]]  # (key, label, value)
    summary_text: str
    errors: list[str]
    reclaimable_bytes: int
    plan_reclaimable_bytes: Any  # summary.reclaimableBytes as written in the plan
    freed_blobs: int
    unknown_size_blobs: int
    attribution: str  # "dump" or "reference"
    per_namespace: list[GroupBytes]
    per_repository: list[GroupBytes]
    top_images: Limited
    top_blobs: Limited
    stream_updates: Limited
    single_referrer: Limited | None  # None: no dump given
    signature: SignatureStatus
    dumps: list[tuple[str, str]]  # (file name, sha256) of the dumps given
    warnings: list[str] = field(default_factory=list)
    top: int = DEFAULT_TOP
    automatic_pruner: AutomaticPrunerView | None = None  # None: the dump recorded no cluster settings


# ---------------------------------------------------------------------------------------------
# Values as the reviewer reads them


def show(value: Any) -> str:
    """A plan value as the reviewer reads it: JSON spelling for booleans, "not set" for null."""
    if value is None:
        return NOT_SET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, sort_keys=True)
    return str(value)


def optional(value: Any) -> str | None:
    """`show(value)`, but None stays None: the renderers draw an absent value as words, not data."""
    return None if value is None else show(value)


# ---------------------------------------------------------------------------------------------
# Attribution of freed blobs to repositories


def repository_of_reference(reference: str) -> Repository | None:
    """`host/ns/name@digest` (or `:tag`) → (ns, name); None when it has no namespace part.

    Deliberately lenient (a split, not the strict reference grammar): the report must place
    every image somewhere, even one whose recorded reference upstream would refuse.
    """
    text = reference.split("@", 1)[0]
    parts = text.split("/")
    last = parts[-1]
    if ":" in last:  # a tag, not a port: ports only occur in the first component
        parts[-1] = last.split(":", 1)[0]
    if len(parts) >= 3:
        return parts[1], "/".join(parts[2:])
    if len(parts) == 2 and not ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        return parts[0], parts[1]
    return None


def repository_text(repository: Repository) -> str:
    return UNKNOWN if repository == UNKNOWN_REPOSITORY else f"{repository[0]}/{repository[1]}"


def namespace_text(repository: Repository) -> str:
    return repository[0]


@dataclass(frozen=True, slots=True)
class _Deletion:
    name: str
    reference: str
    created: str | None
    freed: tuple[str, ...]  # plan imageDeletions[].blobs: freed with this image


def _repositories_by_image(analysis: Analysis | None) -> dict[str, set[Repository]]:
    """From the dump: every repository (ns/name) whose image stream history names the image."""
    held: dict[str, set[Repository]] = {}
    if analysis is None:
        return held
    for stream in analysis.streams:
        repository = (stream.namespace, stream.name)
        for tag in stream.tags:
            for digest in tag.images:
                held.setdefault(digest, set()).add(repository)
    return held


def _attribute(
    deletions: list[_Deletion], blobs: dict[str, BlobRow], analysis: Analysis | None
) -> tuple[dict[str, set[str]], dict[str, set[Repository]]]:
    """Return (blob → images using it, image → repositories), both over deleted images only.

    With the dump, an image uses the blobs its Image object lists (layers, config, manifest) and
    belongs to every repository whose history held it (its reference when none did). Without it,
    the plan only records the image whose deletion frees each blob.
    """
    held = _repositories_by_image(analysis)
    image_repos: dict[str, set[Repository]] = {}
    for deletion in deletions:
        repos = set(held.get(deletion.name, ()))
        if not repos:
            repos = {repository_of_reference(deletion.reference) or UNKNOWN_REPOSITORY}
        image_repos[deletion.name] = repos

    users: dict[str, set[str]] = {digest: {row.image} if row.image else set() for digest, row in blobs.items()}
    for deletion in deletions:
        for digest in deletion.freed:
            users.setdefault(digest, set()).add(deletion.name)
    if analysis is not None:
        for deletion in deletions:
            image = analysis.images.get(deletion.name)
            if image is None:
                continue
            for digest in (*image.blobs, image.name):
                if digest in users:
                    users[digest].add(deletion.name)
    for digest in users:
        # Stray names (a blob's `image` that is not among imageDeletions) still need a group.
        for name in users[digest]:
            image_repos.setdefault(name, {UNKNOWN_REPOSITORY})
    return users, image_repos


def _group_bytes(
    blobs: dict[str, BlobRow],
    users: dict[str, set[str]],
    image_repos: dict[str, set[Repository]],
    deletions: list[_Deletion],
    key: Any,
) -> list[GroupBytes]:
    groups: dict[str, GroupBytes] = {}
    for digest, row in blobs.items():
        names = {key(repo) for image in users.get(digest, ()) for repo in image_repos[image]}
        names = names or {key(UNKNOWN_REPOSITORY)}  # a blob no deleted image claims still counts
        for name in names:  # a set: the blob counts once per group
            group = groups.setdefault(name, GroupBytes(name))
            group.blobs += 1
            if row.size is None:
                group.unknown_size_blobs += 1
            else:
                group.bytes += row.size
    for deletion in deletions:
        for name in {key(repo) for repo in image_repos[deletion.name]}:
            groups.setdefault(name, GroupBytes(name)).images += 1
    return sorted(groups.values(), key=lambda g: (-g.bytes, -g.blobs, g.name))


# ---------------------------------------------------------------------------------------------
# Sections


def _limit(rows: Iterable[Any], top: int) -> Limited:
    rows = list(rows)
    return Limited(tuple(rows[:top]), len(rows))


def _stream_updates(plan: Plan, top: int) -> Limited:
    rows = []
    for update in plan.image_stream_updates:
        reasons: dict[str, int] = {}
        for item in update.removed_items:
            reasons[item.reason] = reasons.get(item.reason, 0) + 1
        rows.append(
            StreamUpdateRow(
                stream=f"{update.namespace}/{update.name}",
                items_removed=len(update.removed_items),
                tags_removed=tuple(sorted(update.removed_tags)),
                reasons=tuple(sorted(reasons.items())),
            )
        )
    rows.sort(key=lambda r: (-r.items_removed, -len(r.tags_removed), r.stream))
    return _limit(rows, top)


def single_referrer_rows(analysis: Analysis) -> list[SingleReferrerRow]:
    """History items a referrer kept (tag-in-use / image-in-use) with exactly one distinct referrer.

    These are the fragile ones: delete or retag that one object and the next prune removes them.
    """
    rows: list[SingleReferrerRow] = []
    used_tags, used_images = analysis.refs.used_tags, analysis.refs.used_images
    for outcome in analysis.stream_outcomes:
        stream = outcome.stream
        ns, name = stream.namespace, stream.name
        for tag, rules in zip(stream.tags, outcome.rules):
            for index, rule in enumerate(rules):
                if rule not in KEPT_BY_REFERRER_RULES:
                    continue
                digest = tag.images[index]
                uses = used_tags.get((ns, name, tag.tag), []) if rule == "tag-in-use" else used_images.get((ns, name, digest), [])
                referrers = {use.referrer for use in uses}
                if len(referrers) != 1:
                    continue
                use = uses[0]  # every use has the one referrer; the first in analysis order
                rows.append(
                    SingleReferrerRow(
                        stream=f"{ns}/{name}",
                        tag=tag.tag,
                        index=index,
                        image=digest,
                        rule=rule,
                        referrer=_describe_referrer(use.referrer),
                        via=use.via or "build strategy",
                        reference=use.reference,
                    )
                )
    rows.sort(key=lambda r: (r.stream, r.tag, r.index))
    return rows


def _positions(plan: Plan, analysis: Analysis | None, deleted: set[str]) -> dict[str, tuple[Position, ...]]:
    """Where each deleted image sits in image stream history: with the dump, every history item
    that names it; without, the items the plan removes (the plan records only those)."""
    found: dict[str, list[Position]] = {}
    if analysis is not None:
        for stream in analysis.streams:
            name = f"{stream.namespace}/{stream.name}"
            for tag in stream.tags:
                for index, digest in enumerate(tag.images):
                    if digest in deleted:
                        found.setdefault(digest, []).append(Position(name, tag.tag, index))
    else:
        for update in plan.image_stream_updates:
            for item in update.removed_items:
                if item.image in deleted:
                    found.setdefault(item.image, []).append(Position(update.repository, item.tag, item.index))
    return {digest: tuple(sorted(positions)) for digest, positions in found.items()}


def _describe_referrer(referrer: Any) -> str:
    if referrer.namespace:
        return f"{referrer.resource} {referrer.namespace}/{referrer.name}"
    return f"{referrer.resource} {referrer.name}"


def _source_rows(plan: Plan) -> list[tuple[str, str | None]]:
    source = plan.source
    cluster = source.cluster
    return [
        ("dump sha256", show(source.dump_sha256)),
        ("collected at", optional(source.collected_at)),
        ("cluster API server", optional(cluster and cluster.api_server)),
        ("cluster ID", optional(cluster and cluster.cluster_id)),
        ("dump scope", "cluster-wide" if source.namespace is None else f"namespace {show(source.namespace)}"),
        ("input files", str(len(source.inputs))),
    ]


def _automatic_pruner(plan: Plan) -> AutomaticPrunerView | None:
    from pruneplan.prunerpolicy import POLICY_FLAGS, policy_differences

    pruner = plan.source.automatic_pruner
    if pruner is None:
        return None
    if pruner.flags is None:
        return AutomaticPrunerView(state=pruner.state)
    ours, theirs = plan.policy.flag_values(), pruner.flags.flag_values()
    differing = {flag for flag, _, _ in policy_differences(ours, theirs)}
    sources = plan.policy.sources or {}

    def said(flag: str) -> str | None:
        if flag not in theirs:
            return "not given (oc's default)"
        return "unknown (the Image config was not read)" if theirs[flag] is None else None

    rows = tuple(
        PrunerRow(flag, optional(ours[flag]), sources.get(flag), optional(theirs.get(flag)), flag in differing, said(flag))
        for flag in POLICY_FLAGS
    )
    return AutomaticPrunerView(pruner.state, pruner.schedule, pruner.suspended, pruner.flags.loglevel,
                               pruner.flags.registry_url, rows)


def build_review(
    plan: Plan,
    raw: bytes,
    plan_name: str,
    signature: SignatureStatus,
    analysis: Analysis | None = None,
    dumps: list[tuple[str, str]] | None = None,
    dump_sha256: str | None = None,
    top: int = DEFAULT_TOP,
) -> Review:
    """Compute the review. `analysis` is the re-run analysis of the dump(s) (None without
    --dump); `dumps` their (file name, sha256); `dump_sha256` their combined sha256."""
    metadata, source = plan.metadata, plan.source
    policy, summary = plan.policy.to_dict(), plan.summary.to_dict()

    blobs: dict[str, BlobRow] = {
        entry.digest: BlobRow(entry.digest, entry.kind, entry.size, entry.image) for entry in plan.blob_deletions
    }
    deletions = [
        _Deletion(name=entry.name, reference=entry.docker_image_reference, created=entry.created, freed=entry.blobs)
        for entry in plan.image_deletions
    ]
    users, image_repos = _attribute(deletions, blobs, analysis)
    positions = _positions(plan, analysis, {d.name for d in deletions})

    image_rows = []
    for deletion in deletions:
        freed = [blobs[d] for d in dict.fromkeys(deletion.freed) if d in blobs]
        image_rows.append(
            ImageRow(
                name=deletion.name,
                reference=deletion.reference,
                repositories=tuple(repository_text(r) for r in sorted(image_repos[deletion.name])),
                freed_bytes=sum(b.size or 0 for b in freed),
                freed_blobs=len(freed),
                unknown_size_blobs=sum(b.size is None for b in freed),
                created=deletion.created,
                positions=positions.get(deletion.name, ()),
            )
        )
    image_rows.sort(key=lambda r: (-r.freed_bytes, -r.freed_blobs, r.name))
    # Only known sizes can be ranked; the unknown ones are counted in unknown_size_blobs.
    blob_rows = sorted((b for b in blobs.values() if b.size is not None), key=lambda b: (-(b.size or 0), b.digest))

    warnings: list[str] = []
    if dump_sha256 is not None and dump_sha256 != source.dump_sha256:
        warnings.append(
            f"the dump given ({dump_sha256}) is not the plan's source dump ({show(source.dump_sha256)}); "
            "the single-referrer list and the attribution describe the dump given, not the plan's input"
        )

    return Review(
        plan_name=plan_name,
        plan_sha256=hashlib.sha256(raw).hexdigest(),
        created_at=metadata.created_at,
        not_after=metadata.not_after,
        tool=f"{show(metadata.tool.name)} {show(metadata.tool.version)}",
        source=_source_rows(plan),
        dump_sha256=source.dump_sha256,
        policy=[(key, label, optional(policy.get(key))) for key, label in POLICY_LABELS if key in policy]
        + [(key, key, optional(policy[key])) for key in sorted(policy)
           if key not in dict(POLICY_LABELS) and key != "sources"],  # sources: with the automatic pruner
        counters=[(key, label, show(summary.get(key))) for key, label in COUNTER_LABELS if key in summary],
        summary_text=show(summary.get("text")),
        errors=[show(e) for e in plan.errors],
        reclaimable_bytes=sum(b.size or 0 for b in blobs.values()),
        plan_reclaimable_bytes=plan.summary.reclaimable_bytes,
        freed_blobs=len(blobs),
        unknown_size_blobs=sum(b.size is None for b in blobs.values()),
        attribution="dump" if analysis is not None else "reference",
        per_namespace=_group_bytes(blobs, users, image_repos, deletions, namespace_text),
        per_repository=_group_bytes(blobs, users, image_repos, deletions, repository_text),
        top_images=_limit(image_rows, top),
        top_blobs=_limit(blob_rows, top),
        stream_updates=_stream_updates(plan, top),
        single_referrer=None if analysis is None else _limit(single_referrer_rows(analysis), top),
        signature=signature,
        dumps=list(dumps or []),
        warnings=warnings,
        top=top,
        automatic_pruner=_automatic_pruner(plan),
    )


# ---------------------------------------------------------------------------------------------
# Units


_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_bytes(value: int) -> str:
    """1536 → '1.5 KiB'; below 1 KiB the exact count ('512 B'). Binary units, one decimal."""
    if value < 1024:
        return f"{value} B"
    amount = float(value)
    for unit in _UNITS:
        amount /= 1024
        if round(amount, 1) < 1024 or unit == _UNITS[-1]:  # never print "1024.0 KiB"
            return f"{amount:.1f} {unit}"
    raise AssertionError("unreachable")


def exact_bytes(value: int) -> str:
    return f"{value:,} B"


def attribution_note(review: Review) -> str:
    """The rule behind the per-namespace and per-repository tables, stated in the report."""
    if review.attribution == "dump":
        who = (
            "each freed blob is attributed to every deleted image whose Image object (in the dump) "
            "lists it as a layer, config or manifest, and each such image to every repository whose "
            "image stream history in the dump names it (to the repository of its "
            "dockerImageReference, host/ns/name@digest, when no history does)"
        )
    else:
        who = (
            "without --dump the plan alone is read: each freed blob is attributed to the deleted "
            "images whose plan entry lists it (upstream frees a blob shared by several deleted images "
            "with the last of them only, so a shared blob lands in that image's group), and each image "
            "to the repository of its dockerImageReference (host/ns/name@digest)"
        )
    return (
        f"Attribution: {who}; the namespace is the image stream's namespace (the path component after the host). A blob counts "
        "once per group and once in the total, so groups can add up to more than the total. Only "
        "known sizes are added: the plan gives sizes for layers when the image metadata has them; "
        "configs and manifest blobs have no recorded size and are counted as blobs of unknown size. "
        "An image's freed bytes are the known sizes of the blobs the plan frees together with it "
        "(a blob shared by several deleted images is freed with the last of them in name order)."
    )
