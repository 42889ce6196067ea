"""The review report's sections, in order, as plain data that both renderers draw.

One list for Markdown and HTML, so the two reports cannot drift apart: a section is its anchor,
its title and blocks (facts, tables, paragraphs, "… and N more" lines). Text is a plain string
or a sequence of inline pieces (`Mono` for a digest inside a sentence, `Code` for a literal);
renderers escape every piece. Two blocks belong to one format only: the bar chart (HTML) and
the reference to the attribution footnote (Markdown, where the note is a footnote).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from pruneplan.analyze.report.review import GroupBytes, Limited, Review, exact_bytes, human_bytes


@dataclass(frozen=True, slots=True)
class Mono:
    """Text shown in a monospace font (digests, hashes)."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    """A literal: a flag, a command's output line."""

    text: str


Inline = Union[str, Mono, Code]
Text = Union[str, Sequence[Inline]]

# Column and cell kinds: "" plain, "num" right-aligned figures, "mono" digests, "nw" not wrapped,
# "label" the tool's own words (every other cell holds data: Markdown shows it as a literal).
NUM, MONO, NOWRAP, LABEL = "num", "mono", "nw", "label"


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[Column, ...]
    rows: list[tuple[Text, ...]]  # a cell's kind is its column's


@dataclass(frozen=True, slots=True)
class Facts:
    """A two-column label → value table."""

    rows: list[tuple[str, Text]]


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: Text
    note: bool = False  # secondary text (a caveat under a table)


@dataclass(frozen=True, slots=True)
class More:
    """'… and N more WHAT.' under a ranked table that was cut at --top."""

    count: int
    what: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Reclaimable bytes per namespace as bars (HTML only)."""

    groups: list[GroupBytes]


@dataclass(frozen=True, slots=True)
class AttributionRef:
    """A pointer to the attribution note (Markdown only: in HTML the note is the page's footer)."""


Block = Union[Facts, Table, Paragraph, More, Chart, AttributionRef]


@dataclass(frozen=True, slots=True)
class Section:
    anchor: str
    title: str
    blocks: list[Block]


def with_bytes(value: int) -> str:
    """'7.0 GiB (7,475,523,173 B)', or the exact count below 1 KiB."""
    return f"{human_bytes(value)} ({exact_bytes(value)})" if value >= 1024 else exact_bytes(value)


def _more(limited: Limited, what: str) -> list[Block]:
    return [More(limited.more, what)] if limited.more else []


def _groups(groups: list[GroupBytes], what: str, chart: bool) -> list[Block]:
    if not groups:
        return [Paragraph("No blobs are deleted by this plan.")]
    table = Table(
        (Column(what), Column("reclaimable", NUM), Column("bytes", NUM), Column("blobs", NUM),
         Column("blobs of unknown size", NUM), Column("images deleted", NUM)),
        [(g.name, human_bytes(g.bytes), f"{g.bytes:,}", str(g.blobs), str(g.unknown_size_blobs), str(g.images)) for g in groups],
    )
    return [*([Chart(groups)] if chart else []), table, AttributionRef()]


def _source_facts(review: Review) -> Facts:
    rows: list[tuple[str, Text]] = [(label, [Mono(value)] if "sha256" in label else value) for label, value in review.source]
    if review.dumps:
        for name, sha in review.dumps:
            rows.append(("dump given to this report", [Mono(name), " (sha256 ", Mono(sha), ")"]))
        rows.append(("matches the plan's dump", "no, see the warning above" if review.warnings else "yes"))
    else:
        rows.append(("dump given to this report", "none (--dump not given)"))
    return Facts(rows)


def _counts(review: Review) -> list[Block]:
    rows: list[tuple[Text, ...]] = [(label, value) for _, label, value in review.counters]
    rows.append(("reclaimable bytes (each freed blob once)", with_bytes(review.reclaimable_bytes)))
    rows.append(("freed blobs of unknown size (not counted)", str(review.unknown_size_blobs)))
    blocks: list[Block] = [
        Table((Column("counter", LABEL), Column("value", NUM)), rows),
        Paragraph(["Upstream's summary line: ", Code(f"Summary: {review.summary_text}")]),
    ]
    if review.plan_reclaimable_bytes != review.reclaimable_bytes:
        blocks.append(Paragraph(
            f"Note: the plan's summary.reclaimableBytes is {review.plan_reclaimable_bytes}, "
            f"the blob deletions add up to {review.reclaimable_bytes:,}.",
            note=True,
        ))
    return blocks


def _top_images(review: Review) -> list[Block]:
    if not review.top_images.total:
        return [Paragraph("No image objects are deleted by this plan.")]
    columns = (Column("#", NUM), Column("image", MONO), Column("repository"), Column("freed", NUM), Column("bytes", NUM),
               Column("blobs freed", NUM), Column("of unknown size", NUM), Column("created", NOWRAP))
    rows: list[tuple[Text, ...]] = [
        (str(n), r.name, ", ".join(r.repositories), human_bytes(r.freed_bytes), f"{r.freed_bytes:,}", str(r.freed_blobs),
         str(r.unknown_size_blobs), r.created or "null")
        for n, r in enumerate(review.top_images.rows, 1)
    ]
    return [Table(columns, rows), *_more(review.top_images, "images")]


def _top_blobs(review: Review) -> list[Block]:
    blocks: list[Block] = []
    if review.unknown_size_blobs:
        blocks.append(Paragraph(f"{review.unknown_size_blobs} freed blob(s) of unknown size are not ranked.", note=True))
    if not review.top_blobs.total:
        return [*blocks, Paragraph("No freed blob has a known size.")]
    columns = (Column("#", NUM), Column("blob", MONO), Column("kind"), Column("size", NUM), Column("bytes", NUM),
               Column("freed with image", MONO))
    rows: list[tuple[Text, ...]] = [
        (str(n), b.digest, b.kind, human_bytes(b.size or 0), f"{b.size or 0:,}", b.image)
        for n, b in enumerate(review.top_blobs.rows, 1)
    ]
    return [*blocks, Table(columns, rows), *_more(review.top_blobs, "blobs")]


def _stream_updates(review: Review) -> list[Block]:
    if not review.stream_updates.total:
        return [Paragraph("No image stream is updated by this plan.")]
    columns = (Column("image stream"), Column("items removed", NUM), Column("tags removed"), Column("reasons"))
    rows: list[tuple[Text, ...]] = [
        (r.stream, str(r.items_removed), ", ".join(r.tags_removed) if r.tags_removed else "none",
         ", ".join(f"{reason} ×{count}" for reason, count in r.reasons))
        for r in review.stream_updates.rows
    ]
    return [Table(columns, rows), *_more(review.stream_updates, "image streams")]


def _single_referrer(review: Review) -> list[Block]:
    fragile = review.single_referrer
    if fragile is None:
        return [Paragraph(["Not computed: pass the plan's dump with ", Code("--dump"),
                           " to list the history items that only one referrer keeps."])]
    if not fragile.total:
        return [Paragraph("No history item is kept by exactly one referrer.")]
    columns = (Column("image stream"), Column("tag"), Column("item", NUM), Column("image", MONO), Column("rule", NOWRAP),
               Column("referrer"), Column("via", NOWRAP), Column("reference", MONO))
    rows: list[tuple[Text, ...]] = [
        (r.stream, r.tag, str(r.index), r.image, r.rule, r.referrer, r.via, r.reference) for r in fragile.rows
    ]
    return [
        Paragraph(f"{fragile.total} history item(s) are kept only because exactly one object uses them; "
                  "if that object goes or changes, the next prune removes them."),
        Table(columns, rows),
        *_more(fragile, "items"),
    ]


def report_sections(review: Review) -> list[Section]:
    """The report's sections after its heading (title, signature, warnings, errors, summary)."""
    top = review.top
    return [
        Section("plan", "Plan", [Facts([
            ("plan file", review.plan_name),
            ("plan sha256", [Mono(review.plan_sha256)]),
            ("created at (analysis time)", review.created_at or "null"),
            ("not after (expiry)", review.not_after or "null"),
            ("tool", review.tool),
            ("signature", review.signature.message),
        ])]),
        Section("source", "Source", [_source_facts(review)]),
        Section("policy", "Policy", [
            Table((Column("flag"), Column("value")), [(label, value) for _, label, value in review.policy]),
        ]),
        Section("counts", "Counts", _counts(review)),
        Section("per-namespace", "Reclaimable bytes per namespace", _groups(review.per_namespace, "namespace", chart=True)),
        Section("per-repository", "Reclaimable bytes per repository", _groups(review.per_repository, "repository", chart=False)),
        Section("top-images", f"Largest image deletions (top {top} by freed bytes, of {review.top_images.total})",
                _top_images(review)),
        Section("top-blobs", f"Largest blobs (top {top} by size, of {review.top_blobs.total} with a known size)",
                _top_blobs(review)),
        Section("stream-updates", f"Image stream updates (top {top} by items removed, of {review.stream_updates.total})",
                _stream_updates(review)),
        Section("single-referrer", "Kept by a single referrer", _single_referrer(review)),
    ]
