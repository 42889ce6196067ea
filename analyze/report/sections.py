"""The review report's sections, in order, as plain data that both renderers draw.

One list for Markdown and HTML, so the two reports cannot drift apart: a section is its anchor,
its title and blocks (facts, tables, paragraphs, "… and N more" lines). Text is a plain string
or a sequence of inline pieces (`Mono` for a hash inside a sentence, `Code` for a literal,
`Digest` for a digest shown short); renderers escape every piece. A plain string as a table cell
is data (Markdown shows it as a literal); the tool's own words in a cell are a sequence holding
a plain string (so "not set" never looks like a value). Two blocks belong to one format only: the
bar chart (HTML) and the reference to the attribution footnote (Markdown, where the note is a
footnote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence, Union

from pruneplan.analyze.report.review import (
    INVALID,
    AutomaticPrunerView,
    NOT_SET,
    UNCHECKED,
    UPDATED_STREAMS,
    GroupBytes,
    Limited,
    Position,
    Review,
    SignatureRow,
    SignatureStatus,
    exact_bytes,
    expired_text,
    human_bytes,
)

SHORT_HEX = 12  # hex digits of a digest shown in a table; the full one is a tooltip or in the appendix
MAX_POSITIONS = 3  # history items listed per image; the rest are counted
_DIGEST = re.compile(r"([A-Za-z0-9][A-Za-z0-9+._-]*):([0-9a-f]+)")


@dataclass(frozen=True, slots=True)
class Mono:
    """Text shown in a monospace font (hashes)."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    """A literal: a flag, a command's output line, a name."""

    text: str


@dataclass(frozen=True, slots=True)
class Digest:
    """A digest shown as `algorithm:` and its first `digits` hex digits; the renderers give the
    full one (HTML: a title attribute, Markdown: the appendix). Anything that is not an
    `algorithm:hex` digest longer than that is shown whole."""

    full: str
    digits: int = SHORT_HEX

    @property
    def short(self) -> str:
        return _shorten(self.full, self.digits)


def _shorten(full: str, digits: int) -> str:
    found = _DIGEST.fullmatch(full)
    if found is None or len(found.group(2)) <= digits:
        return full
    return f"{found.group(1)}:{found.group(2)[:digits]}"


def short_digits(digests: Iterable[str]) -> int:
    """The fewest hex digits (at least SHORT_HEX) that tell the given digests apart, so that
    one short form never stands for two digests in a report."""
    distinct = set(digests)
    digits = SHORT_HEX
    while len({_shorten(d, digits) for d in distinct}) < len(distinct):
        digits += 4
    return digits


Inline = Union[str, Mono, Code, Digest]
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
    """'… and N more WHAT.' under a table that was cut at --top."""

    count: int
    what: str


@dataclass(frozen=True, slots=True)
class Chart:
    """Reclaimable bytes per namespace as bars (HTML only): the first `top` groups, the rest summed."""

    groups: list[GroupBytes]
    top: int


@dataclass(frozen=True, slots=True)
class AttributionRef:
    """A pointer to the attribution note (Markdown only: in HTML the note is the page's footer)."""


Block = Union[Facts, Table, Paragraph, More, Chart, AttributionRef]


@dataclass(frozen=True, slots=True)
class Section:
    anchor: str
    title: str
    blocks: list[Block]


def words(text: str) -> tuple[str]:
    """The tool's own words as a table cell or fact value (not shown as data)."""
    return (text,)


def value(text: str | None) -> Text:
    """A value from the plan or dump; an absent one is said in words."""
    return words(NOT_SET) if text is None else text


def with_bytes(amount: int) -> str:
    """'7.0 GiB (7,475,523,173 B)', or the exact count below 1 KiB."""
    return f"{human_bytes(amount)} ({exact_bytes(amount)})" if amount >= 1024 else exact_bytes(amount)


def digests_in(sections: Sequence[Section]) -> Iterator[Digest]:
    """Every digest shown short in the tables, in reading order (repeats included)."""
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Table):
                for row in block.rows:
                    for cell in row:
                        if not isinstance(cell, str):
                            yield from (piece for piece in cell if isinstance(piece, Digest) and piece.short != piece.full)


# ---------------------------------------------------------------------------------------------
# Heading: signature banner and summary


def signature_headline(status: SignatureStatus) -> Text:
    """The banner's first words; a valid signature on an expired plan is told apart from a
    failed one: the plan is authentic, it is only too old to execute."""
    if status.state == "expired":
        return ["Signature: valid (verified with ", Code(status.key or NOT_SET), ") — plan EXPIRED on ",
                Code(status.not_after or NOT_SET), "."]
    if status.state == "verified" and status.threshold > 1:
        return f"Signature: verified ({_keys(status.signed or 0)} signed, threshold {status.threshold})."
    if status.state == "failed" and status.signed is not None and status.signed < status.threshold:
        return f"Signature: NOT VERIFIED ({status.signed} of {status.threshold} trusted keys signed)."
    return {
        "verified": "Signature: verified.",
        "failed": "Signature: NOT VERIFIED.",
        "unchecked": "Signature: not checked.",
        "unsigned": "Signature: none (unsigned plan).",
    }.get(status.state, f"Signature: {status.state}.")


def _keys(count: int) -> str:
    return f"{count} distinct trusted key" + ("" if count == 1 else "s")


def threshold_line(status: SignatureStatus) -> str:
    """Whether enough distinct trusted keys signed, in the words of the Approvals section."""
    if not status.checked:
        return f"threshold {status.threshold}: not checked (pass --key PUB to verify the signatures)"
    if status.signed is None:
        return f"threshold {status.threshold}: NOT met (no signature could be checked: see the signature status above)"
    if status.signed >= status.threshold:
        return f"threshold {status.threshold}: met ({_keys(status.signed)})"
    return f"threshold {status.threshold}: NOT met ({status.signed} of {status.threshold})"


def will_delete(review: Review) -> str:
    """'6 image objects, …, 20 blobs; will update 3 image streams' from the plan's counters."""
    deleted = [f"{count} {label}" for key, label, count in review.counters if key != UPDATED_STREAMS]
    updated = [count for key, _, count in review.counters if key == UPDATED_STREAMS]
    text = ", ".join(deleted) or "nothing"
    return text + (f"; will update {updated[0]} image streams" if updated else "")


def will_free(review: Review) -> str:
    """The sentence after the bold 'Will free:' (the bytes themselves are bold too)."""
    return (f"in {review.freed_blobs} blobs, {review.unknown_size_blobs} of them of unknown size "
            "(not counted)")


# ---------------------------------------------------------------------------------------------
# Sections


def _more(limited: Limited, what: str) -> list[Block]:
    return [More(limited.more, what)] if limited.more else []


def _ranked(what: str, top: int, by: str, total: int, extra: str = "") -> str:
    return f"{what} (top {top} by {by}, of {total}{extra})"


def _groups(groups: list[GroupBytes], what: str, plural: str, top: int, chart: bool) -> list[Block]:
    if not groups:
        return [Paragraph("This plan will delete no blob.")]
    table = Table(
        (Column(what), Column("reclaimable", NUM), Column("bytes", NUM), Column("blobs", NUM),
         Column("blobs of unknown size", NUM), Column("images", NUM)),
        [(g.name, human_bytes(g.bytes), f"{g.bytes:,}", str(g.blobs), str(g.unknown_size_blobs), str(g.images))
         for g in groups[:top]],
    )
    more: list[Block] = [More(len(groups) - top, plural)] if len(groups) > top else []
    return [*([Chart(groups, top)] if chart else []), table, *more, AttributionRef()]


def _source_facts(review: Review) -> Facts:
    rows: list[tuple[str, Text]] = [
        (label, [Mono(text)] if "sha256" in label and text is not None else value(text)) for label, text in review.source
    ]
    if review.dumps:
        for name, sha in review.dumps:
            rows.append(("dump given to this report", [Mono(name), " (sha256 ", Mono(sha), ")"]))
        rows.append(("matches the plan's dump", words("no, see the warning above" if review.warnings else "yes")))
    else:
        rows.append(("dump given to this report", words("none (--dump not given)")))
    return Facts(rows)


def _plan_facts(review: Review) -> Facts:
    status = review.signature
    expiry: Text = value(review.not_after)
    if status.state == "expired" and review.not_after is not None:
        expiry = [Code(review.not_after), " — EXPIRED"]
    return Facts([
        ("plan file", review.plan_name),
        ("plan sha256", [Mono(review.plan_sha256)]),
        ("created at (analysis time)", value(review.created_at)),
        ("not after (expiry)", expiry),
        ("tool", review.tool),
        ("signature", expired_text(status.key or NOT_SET, review.not_after or NOT_SET) if status.state == "expired"
         else status.message),
    ])


def _totals(review: Review) -> list[Block]:
    rows: list[tuple[Text, ...]] = [(label, count) for _, label, count in review.counters]
    rows.append(("reclaimable bytes (each freed blob once)", with_bytes(review.reclaimable_bytes)))
    rows.append(("blobs of unknown size (not counted in bytes)", str(review.unknown_size_blobs)))
    blocks: list[Block] = [
        Table((Column("will delete", LABEL), Column("count", NUM)), rows),
        Paragraph(["Upstream's summary line: ", Code(f"Summary: {review.summary_text}")]),
    ]
    if review.plan_reclaimable_bytes != review.reclaimable_bytes:
        blocks.append(Paragraph(
            f"Note: the plan's summary.reclaimableBytes is {review.plan_reclaimable_bytes}, "
            f"the blob deletions add up to {review.reclaimable_bytes:,}.",
            note=True,
        ))
    return blocks


def _positions(positions: tuple[Position, ...]) -> Text:
    """`ns/name:tag` #index for each history item naming an image, at most MAX_POSITIONS."""
    if not positions:
        return words("in no image stream")
    pieces: list[Inline] = []
    for n, position in enumerate(positions[:MAX_POSITIONS]):
        pieces += [", " if n else "", Code(f"{position.stream}:{position.tag}"), f" #{position.index}"]
    if len(positions) > MAX_POSITIONS:
        pieces.append(f" and {len(positions) - MAX_POSITIONS} more")
    return [piece for piece in pieces if piece != ""]


DigestCell = Callable[[str], Text]


def _top_images(review: Review, digest: DigestCell) -> list[Block]:
    if not review.top_images.total:
        return [Paragraph("This plan will delete no image object.")]
    columns = (Column("#", NUM), Column("image", MONO), Column("repository"), Column("tags (#position, 0 = newest)"),
               Column("freed", NUM), Column("bytes", NUM), Column("blobs freed", NUM), Column("of unknown size", NUM),
               Column("created", NOWRAP))
    rows: list[tuple[Text, ...]] = [
        (str(n), digest(r.name), ", ".join(r.repositories), _positions(r.positions), human_bytes(r.freed_bytes),
         f"{r.freed_bytes:,}", str(r.freed_blobs), str(r.unknown_size_blobs), value(r.created))
        for n, r in enumerate(review.top_images.rows, 1)
    ]
    return [Table(columns, rows), *_more(review.top_images, "images")]


def _top_blobs(review: Review, digest: DigestCell) -> list[Block]:
    blocks: list[Block] = []
    if review.unknown_size_blobs:
        blocks.append(Paragraph(f"{review.unknown_size_blobs} blob(s) of unknown size are not ranked.", note=True))
    if not review.top_blobs.total:
        return [*blocks, Paragraph("No blob this plan will delete has a known size.")]
    columns = (Column("#", NUM), Column("blob", MONO), Column("kind"), Column("size", NUM), Column("bytes", NUM),
               Column("freed with image", MONO))
    rows: list[tuple[Text, ...]] = [
        (str(n), digest(b.digest), b.kind, human_bytes(b.size or 0), f"{b.size or 0:,}", digest(b.image))
        for n, b in enumerate(review.top_blobs.rows, 1)
    ]
    return [*blocks, Table(columns, rows), *_more(review.top_blobs, "blobs")]


def _stream_updates(review: Review) -> list[Block]:
    if not review.stream_updates.total:
        return [Paragraph("This plan will update no image stream.")]
    columns = (Column("image stream"), Column("items removed", NUM), Column("tags removed"), Column("reasons"))
    rows: list[tuple[Text, ...]] = [
        (r.stream, str(r.items_removed), ", ".join(r.tags_removed) if r.tags_removed else words("none"),
         ", ".join(f"{reason} ×{count}" for reason, count in r.reasons))
        for r in review.stream_updates.rows
    ]
    return [Table(columns, rows), *_more(review.stream_updates, "image streams")]


def _single_referrer(review: Review, digest: DigestCell) -> list[Block]:
    fragile = review.single_referrer
    if fragile is None:
        return [Paragraph(["Not computed: pass the plan's dump with ", Code("--dump"),
                           " to list the history items that only one referrer keeps."])]
    if not fragile.total:
        return [Paragraph("No history item is kept by exactly one referrer.")]
    columns = (Column("image stream"), Column("tag"), Column("item", NUM), Column("image", MONO), Column("rule", NOWRAP),
               Column("referrer"), Column("via", NOWRAP), Column("reference", MONO))
    rows: list[tuple[Text, ...]] = [
        (r.stream, r.tag, str(r.index), digest(r.image), r.rule, r.referrer, r.via, r.reference) for r in fragile.rows
    ]
    return [
        Paragraph(f"{fragile.total} history item(s) are kept only because exactly one object uses them; "
                  "if that object goes or changes, the next prune removes them."),
        Table(columns, rows),
        *_more(fragile, "items"),
    ]


def _signature_key(row: SignatureRow, digest: DigestCell) -> Text:
    if row.key is not None:
        return row.key
    if row.state != UNCHECKED:
        return words("no trusted key")
    return ["not checked (keyid ", *digest(row.keyid), ")"] if row.keyid else words("not checked")


def _annotations(row: SignatureRow) -> Text:
    """Each annotation a literal: it is the approver's text, so it can hold anything."""
    if not row.annotations:
        return words("none")
    pieces: list[Inline] = []
    for n, (key, text) in enumerate(row.annotations):
        pieces += [", "] if n else []
        pieces.append(Code(f"{key}={text}"))
    return pieces


def _validity(row: SignatureRow) -> Text:
    if row.state == UNCHECKED:
        return words("not checked")
    if row.state == INVALID:  # the reason can quote the bundle (a keyid, a payload type): a literal
        return ["NOT valid: ", Code(row.problem)]
    return words("valid")


def _counted(row: SignatureRow) -> Text:
    if row.counted:
        return words("counted")
    if row.state == UNCHECKED:
        return words("not checked")
    return words(row.problem if row.state != INVALID and row.problem else "not counted")


def _approvals(review: Review, digest: DigestCell) -> list[Block]:
    return approvals_blocks(review.signature, review.top, digest)


def approvals_blocks(status: SignatureStatus, top: int, digest: DigestCell) -> list[Block]:
    """One row per signature (PLAN.sig, then each approval's), and whether the threshold is met;
    the same for every kind of plan."""
    rows = _limit_rows(status.rows, top)
    table = Table(
        (Column("signature"), Column("trusted key"), Column("annotations"), Column("valid", LABEL), Column("counted", LABEL)),
        [(row.source, _signature_key(row, digest), _annotations(row), _validity(row), _counted(row)) for row in rows.rows],
    )
    return [table, *_more(rows, "signatures"), Paragraph(threshold_line(status))]


def _limit_rows(rows: tuple[SignatureRow, ...], top: int) -> Limited:
    # a bundle may hold any number of approvals; the threshold line counts them all
    return Limited(rows[:top], len(rows))


def _automatic_pruner(view: AutomaticPrunerView) -> list[Block]:
    """The automatic pruner's CronJob, and the plan's policy beside its flags."""
    if view.state == "absent":
        return [Paragraph(["The cluster has no ImagePruner ", Code("cluster"), ": no automatic pruner runs."])]
    if view.state != "found":
        return [Paragraph(["The collector could not read the ImagePruner ", Code("cluster"),
                           f" ({view.state}): whether an automatic pruner runs, and with which flags, is not known."])]
    facts = Facts([
        ("schedule", value(view.schedule)),
        ("suspended", words("yes: it does not run" if view.suspended else "no: it runs on its schedule")),
        ("oc --loglevel", str(view.loglevel)),
        ("registry URL", value(view.registry_url)),
    ])
    rows: list[tuple[Text, ...]] = [
        ([Code(f"--{row.flag}")], value(row.plan), words(row.source or NOT_SET),
         words(row.pruner_words) if row.pruner_words else value(row.pruner),
         words("differs" if row.differs else "same"))
        for row in view.rows
    ]
    table = Table((Column("flag", LABEL), Column("plan"), Column("plan's value from", LABEL),
                   Column("automatic pruner"), Column("", LABEL)), rows)
    differences = view.differences
    summary = Paragraph("Differences: " + "; ".join(differences) + "." if differences
                        else "The plan's policy is the automatic pruner's.")
    return [facts, table, summary]


def report_sections(review: Review) -> list[Section]:
    """The report's sections after its heading (title, signature, warnings, errors, summary)."""
    top = review.top
    namespaces, repositories = len(review.per_namespace), len(review.per_repository)
    shown = [r.name for r in review.top_images.rows]
    shown += [d for b in review.top_blobs.rows for d in (b.digest, b.image)]
    shown += [r.image for r in review.single_referrer.rows] if review.single_referrer else []
    shown += [r.keyid for r in review.signature.rows if r.keyid]
    digits = short_digits(shown)

    def digest(full: str) -> Text:
        return [Digest(full, digits)]

    signed = review.signature.checked or review.signature.rows
    return [
        Section("plan", "Plan", [_plan_facts(review)]),
        *([Section("approvals", "Approvals", _approvals(review, digest))] if signed else []),
        Section("source", "Source", [_source_facts(review)]),
        Section("policy", "Policy", [
            Table((Column("flag"), Column("value")), [(label, value(text)) for _, label, text in review.policy]),
        ]),
        *([Section("automatic-pruner", "Automatic pruner (the cluster's own image-pruner CronJob)",
                   _automatic_pruner(review.automatic_pruner))] if review.automatic_pruner is not None else []),
        Section("totals", "Will delete: totals", _totals(review)),
        Section("per-namespace", _ranked("Will delete, per namespace", top, "bytes", namespaces),
                _groups(review.per_namespace, "namespace", "namespaces", top, chart=True)),
        Section("per-repository", _ranked("Will delete, per repository", top, "bytes", repositories),
                _groups(review.per_repository, "repository", "repositories", top, chart=False)),
        Section("top-images", _ranked("Will delete: largest images", top, "bytes freed", review.top_images.total),
                _top_images(review, digest)),
        Section("top-blobs", _ranked("Will delete: largest blobs", top, "size", review.top_blobs.total, " with a known size"),
                _top_blobs(review, digest)),
        Section("stream-updates", _ranked("Will delete from image streams", top, "items removed", review.stream_updates.total),
                _stream_updates(review)),
        Section("single-referrer", "Kept by a single referrer" + (
            "" if review.single_referrer is None else f" (first {top} by image stream, of {review.single_referrer.total})"),
            _single_referrer(review, digest)),
    ]
