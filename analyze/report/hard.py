"""The review of a hard-prune plan (kind HardPrunePlan): what it holds, as report sections.

A hard plan deletes from the registry's storage itself: repositories removed whole, manifest and
layer links, unfinished uploads and blobs. `build_hard_review` turns the parsed plan (already
validated by pruneplan.hardplan, so its counts and sums hold) and the signature status into a
`HardReview`; `hard_sections` lays it out with the soft report's blocks, so both renderers and
both kinds of plan share one look. Pure: no files, no clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pruneplan.hardplan import HardPrunePlan

from pruneplan.analyze.report.defaults import DEFAULT_TOP
from pruneplan.analyze.report.review import Limited, SignatureStatus, expired_text, human_bytes, show
from pruneplan.analyze.report.sections import (
    LABEL,
    MONO,
    NOWRAP,
    NUM,
    Block,
    Code,
    Column,
    Digest,
    DigestCell,
    Facts,
    Inline,
    Mono,
    More,
    Paragraph,
    Section,
    Table,
    Text,
    approvals_blocks,
    short_digits,
    value,
    with_bytes,
    words,
)

# What each reason of a hard plan means, in the reviewer's words.
REASON_WORDS = {
    "no-image-stream": "no image stream of that name",
    "invalid-name": "not a name an image stream can have",
    "not-an-image": "no Image object has this digest",
    "not-in-stream-history": "its image is in no history of the stream",
    "blob-deleted": "its blob is deleted",
}


@dataclass(frozen=True, slots=True)
class HardReview:
    plan_name: str
    plan_sha256: str
    created_at: str
    not_after: str
    tool: str
    api_server: str | None
    source: list[tuple[str, str | None]]  # (label, value); None: not set
    policy: list[tuple[Text, str]]  # (the tool's words for the setting, its value)
    counters: list[tuple[str, int]]  # (what, how many) in the order execute deletes them
    reclaimable_bytes: int
    blob_bytes: int
    upload_bytes: int
    summary_text: str
    repositories: Limited  # RepositoryDeletion, by name
    manifest_links: Limited  # ManifestLinkDeletion, by (repository, digest)
    manifest_reasons: tuple[tuple[str, int], ...]
    layer_links: Limited  # LayerLinkDeletion, by (repository, digest)
    uploads: Limited  # UploadDeletion, largest first
    blobs: Limited  # HardBlobDeletion, largest first
    signature: SignatureStatus
    dumps: list[tuple[str, str]]  # (file name, sha256) of the dumps given to the report
    warnings: list[str] = field(default_factory=list)
    top: int = DEFAULT_TOP


def _limit(rows: list[Any], top: int) -> Limited:
    return Limited(tuple(rows[:top]), len(rows))


def build_hard_review(
    plan: HardPrunePlan,
    raw: bytes,
    plan_name: str,
    signature: SignatureStatus,
    dumps: list[tuple[str, str]] | None = None,
    dump_sha256: str | None = None,
    top: int = DEFAULT_TOP,
) -> HardReview:
    """Compute the review; `dumps` are the dumps given with --dump and `dump_sha256` their
    combined sha256, compared with the plan's source dump."""
    source, policy = plan.source, plan.policy
    cluster = source.cluster
    reasons: dict[str, int] = {}
    for link in plan.manifest_link_deletions:
        reasons[link.reason] = reasons.get(link.reason, 0) + 1
    warnings = []
    if dump_sha256 is not None and dump_sha256 != source.dump.sha256:
        warnings.append(f"the dump given ({dump_sha256}) is not the hard plan's source dump ({source.dump.sha256})")
    blob_bytes = sum(blob.size for blob in plan.blob_deletions)
    upload_bytes = sum(upload.size for upload in plan.upload_deletions)
    return HardReview(
        plan_name=plan_name,
        plan_sha256=hashlib.sha256(raw).hexdigest(),
        created_at=plan.metadata.created_at,
        not_after=plan.metadata.not_after,
        tool=f"{plan.metadata.tool.name} {plan.metadata.tool.version}",
        api_server=cluster.api_server if cluster else None,
        source=[
            ("dump sha256", source.dump.sha256),
            ("dump collected at", source.dump.collected_at),
            ("inventory sha256", source.inventory.sha256),
            ("inventory read at", source.inventory.read_at),
            ("registry storage root", source.inventory.root),
            ("cluster API server", cluster.api_server if cluster else None),
            ("cluster ID", cluster.cluster_id if cluster else None),
        ],
        policy=[
            (words("analysis time (now)"), policy.now),
            ([Code("--keep-younger-than")], policy.keep_younger_than),
            (words("cutoff: the earliest of now, the dump's collection and the inventory's reading, "
                   "less --keep-younger-than; content modified or started after it is kept"), policy.cutoff),
        ],
        counters=[
            ("manifest links", len(plan.manifest_link_deletions)),
            ("layer links", len(plan.layer_link_deletions)),
            ("uploads", len(plan.upload_deletions)),
            ("repositories (removed whole)", len(plan.repository_deletions)),
            ("blobs", len(plan.blob_deletions)),
        ],
        reclaimable_bytes=blob_bytes + upload_bytes,
        blob_bytes=blob_bytes,
        upload_bytes=upload_bytes,
        summary_text=show(plan.summary.text),
        repositories=_limit(list(plan.repository_deletions), top),
        manifest_links=_limit(list(plan.manifest_link_deletions), top),
        manifest_reasons=tuple(sorted(reasons.items())),
        layer_links=_limit(list(plan.layer_link_deletions), top),
        uploads=_limit(sorted(plan.upload_deletions, key=lambda u: (-u.size, u.repository, u.uuid)), top),
        blobs=_limit(sorted(plan.blob_deletions, key=lambda b: (-b.size, b.digest)), top),
        signature=signature,
        dumps=list(dumps or []),
        warnings=warnings,
        top=top,
    )


# ---------------------------------------------------------------------------------------------
# Heading


def hard_title(review: HardReview) -> str:
    return "Hard prune plan review" + (f": {review.api_server}" if review.api_server else "")


# a counter's name for one of it
SINGULAR = {"manifest links": "manifest link", "layer links": "layer link", "uploads": "upload",
            "repositories (removed whole)": "repository (removed whole)", "blobs": "blob",
            "unfinished uploads": "unfinished upload"}


def counted(count: int, what: str) -> str:
    """'1 blob', '2 blobs': `what` is the counter's (plural) name."""
    return f"{count} {SINGULAR.get(what, what) if count == 1 else what}"


def hard_will_delete(review: HardReview) -> str:
    """'3 manifest links, 1 layer link, … , 5 blobs' from the plan's lists."""
    return ", ".join(counted(count, what) for what, count in review.counters)


def hard_will_free(review: HardReview) -> str:
    """The sentence after the bold 'Will free:'."""
    blobs = next(count for what, count in review.counters if what == "blobs")
    uploads = next(count for what, count in review.counters if what == "uploads")
    return (f"from the registry's storage: {counted(blobs, 'blobs')} ({human_bytes(review.blob_bytes)}) and "
            f"{counted(uploads, 'unfinished uploads')} ({human_bytes(review.upload_bytes)})")


# Said under every hard report: what the counts mean and what execute does with them.
HARD_NOTE = (
    "A hard plan deletes files of the registry's storage, not API objects. Reclaimable bytes are the "
    "sizes the storage inventory recorded: each deleted blob once, plus each deleted upload. A repository "
    "removed whole takes its links and uploads with it; they are not listed one by one and their sizes "
    "are not counted apart (the blobs they named are listed when nothing else keeps them). Content "
    "modified or started after the cutoff is young and never deleted. execute runs only while the "
    "registry is read-only, re-reads the storage and the API first, and deletes only the entries that "
    "a fresh decision still deletes."
)


# ---------------------------------------------------------------------------------------------
# Sections


def _more(limited: Limited, what: str) -> list[Block]:
    return [More(limited.more, what)] if limited.more else []


def _heading(what: str, top: int, order: str, total: int) -> str:
    """'Will delete: largest blobs (top 10 by size, of 2256)', as the soft report's headings."""
    return f"{what} ({order.format(top=top)}, of {total})"


def _plan_facts(review: HardReview) -> Facts:
    status = review.signature
    expiry: Text = review.not_after
    if status.state == "expired":
        expiry = [Code(review.not_after), " — EXPIRED"]
    return Facts([
        ("plan file", review.plan_name),
        ("kind", words("HardPrunePlan (deletes from the registry's storage)")),
        ("plan sha256", [Mono(review.plan_sha256)]),
        ("created at (analysis time)", review.created_at),
        ("not after (expiry)", expiry),
        ("tool", review.tool),
        ("signature", expired_text(status.key or "not set", review.not_after) if status.state == "expired"
         else status.message),
    ])


def _source_facts(review: HardReview) -> Facts:
    rows: list[tuple[str, Text]] = [
        (label, [Mono(text)] if "sha256" in label and text is not None else value(text)) for label, text in review.source
    ]
    for name, sha in review.dumps:
        rows.append(("dump given to this report", [Mono(name), " (sha256 ", Mono(sha), ")"]))
    if review.dumps:
        rows.append(("matches the plan's dump", words("no, see the warning above" if review.warnings else "yes")))
    return Facts(rows)


def _totals(review: HardReview) -> list[Block]:
    rows: list[tuple[Text, ...]] = [(what, str(count)) for what, count in review.counters]
    rows.append(("reclaimable bytes (blobs and uploads)", with_bytes(review.reclaimable_bytes)))
    rows.append(("of which blobs", with_bytes(review.blob_bytes)))
    rows.append(("of which uploads", with_bytes(review.upload_bytes)))
    return [
        Table((Column("will delete", LABEL), Column("count", NUM)), rows),
        Paragraph(["The plan's summary: ", Code(review.summary_text)]),
    ]


def _reason(reason: str) -> Text:
    return [Code(reason), f" ({REASON_WORDS[reason]})" if reason in REASON_WORDS else ""]


def _repositories(review: HardReview) -> list[Block]:
    if not review.repositories.total:
        return [Paragraph("This plan will remove no repository whole.")]
    rows: list[tuple[Text, ...]] = [(entry.repository, _reason(entry.reason)) for entry in review.repositories.rows]
    return [Table((Column("repository"), Column("reason", LABEL)), rows), *_more(review.repositories, "repositories")]


def _links(limited: Limited, what: str, digest: DigestCell, reasons: tuple[tuple[str, int], ...] = ()) -> list[Block]:
    if not limited.total:
        return [Paragraph(f"This plan will delete no {what}.")]
    blocks: list[Block] = []
    if reasons:
        pieces: list[Inline] = ["By reason: "]
        for n, (reason, count) in enumerate(reasons):
            pieces += [", " if n else "", Code(reason), f" ×{count}"]
        blocks.append(Paragraph([piece for piece in pieces if piece != ""]))
    rows: list[tuple[Text, ...]] = [(entry.repository, digest(entry.digest), _reason(entry.reason)) for entry in limited.rows]
    table = Table((Column("repository"), Column("digest", MONO), Column("reason", LABEL)), rows)
    return [*blocks, table, *_more(limited, what + "s")]


def _uploads(review: HardReview) -> list[Block]:
    if not review.uploads.total:
        return [Paragraph("This plan will delete no upload.")]
    rows: list[tuple[Text, ...]] = [
        (str(n), u.repository, u.uuid, u.started_at, human_bytes(u.size), f"{u.size:,}")
        for n, u in enumerate(review.uploads.rows, 1)
    ]
    columns = (Column("#", NUM), Column("repository"), Column("upload", MONO), Column("started at", NOWRAP),
               Column("size", NUM), Column("bytes", NUM))
    return [Table(columns, rows), *_more(review.uploads, "uploads")]


def _blobs(review: HardReview, digest: DigestCell) -> list[Block]:
    if not review.blobs.total:
        return [Paragraph("This plan will delete no blob.")]
    rows: list[tuple[Text, ...]] = [
        (str(n), digest(b.digest), human_bytes(b.size), f"{b.size:,}", b.modified)
        for n, b in enumerate(review.blobs.rows, 1)
    ]
    columns = (Column("#", NUM), Column("blob", MONO), Column("size", NUM), Column("bytes", NUM),
               Column("modified", NOWRAP))
    return [Table(columns, rows), *_more(review.blobs, "blobs")]


def hard_sections(review: HardReview) -> list[Section]:
    """The hard report's sections after its heading (title, signature, warnings, summary)."""
    top = review.top
    shown = [entry.digest for entry in review.manifest_links.rows]
    shown += [entry.digest for entry in review.layer_links.rows]
    shown += [entry.digest for entry in review.blobs.rows]
    shown += [row.keyid for row in review.signature.rows if row.keyid]
    digits = short_digits(shown)

    def digest(full: str) -> Text:
        return [Digest(full, digits)]

    signed = review.signature.checked or review.signature.rows
    return [
        Section("plan", "Plan", [_plan_facts(review)]),
        *([Section("approvals", "Approvals", approvals_blocks(review.signature, top, digest))] if signed else []),
        Section("source", "Source", [_source_facts(review)]),
        Section("policy", "Policy", [Table((Column("setting", LABEL), Column("value")), [(k, v) for k, v in review.policy])]),
        Section("totals", "Will delete: totals", _totals(review)),
        Section("repositories", _heading("Will remove whole: repositories", top, "first {top} by name", review.repositories.total),
                _repositories(review)),
        Section("manifest-links", _heading("Will delete: manifest links", top, "first {top} by repository", review.manifest_links.total),
                _links(review.manifest_links, "manifest link", digest, review.manifest_reasons)),
        Section("layer-links", _heading("Will delete: layer links", top, "first {top} by repository", review.layer_links.total),
                _links(review.layer_links, "layer link", digest)),
        Section("uploads", _heading("Will delete: largest uploads", top, "top {top} by size", review.uploads.total), _uploads(review)),
        Section("blobs", _heading("Will delete: largest blobs", top, "top {top} by size", review.blobs.total), _blobs(review, digest)),
    ]
