"""Render a Review as Markdown for a change ticket: deterministic bytes, GitHub-flavoured tables.

Every string that comes from the plan or the dump (names, tags, references, messages) is a code
span (`code()`): a name can neither break a table nor inject HTML or links into the ticket, and a
URL inside it does not become a link (GitHub links bare URLs in text, escaped or not). The tool's
own words go through `md()`, which backslash-escapes Markdown's active characters.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from pruneplan.analyze.report.review import Review, attribution_note
from pruneplan.analyze.report.sections import (
    LABEL,
    NUM,
    AttributionRef,
    Block,
    Code,
    Digest,
    Facts,
    Mono,
    More,
    Paragraph,
    Section,
    Table,
    Text,
    digests_in,
    report_sections,
    signature_headline,
    will_delete,
    will_free,
    with_bytes,
)

# CommonMark lets any ASCII punctuation be backslash-escaped; escape only what can start inline
# markup (emphasis, code, strike-through, links), end a table cell, or form an HTML tag or
# entity, so escaped names stay readable in a ticket that shows the raw text.
_ACTIVE = re.compile(r"([\\`*_\[\]<>|~&])")
_SPACE = re.compile(r"[\r\n\t]+")
_TICKS = re.compile(r"`+")


def md(text: object) -> str:
    """Escape text for use inside a Markdown paragraph or table cell."""
    return _ACTIVE.sub(r"\\\1", _SPACE.sub(" ", str(text)))


def code(text: object, in_table: bool = False) -> str:
    """`text` as a code span, shown literally: delimited by one more backtick than its longest
    run of backticks (padded with a space where it starts or ends with one); in a table, its
    pipes escaped (GFM splits cells at a pipe even inside a code span, and unescapes it)."""
    value = _SPACE.sub(" ", str(text))
    if not value:
        return ""
    if in_table:
        value = value.replace("|", "\\|")
    fence = "`" * (max(map(len, _TICKS.findall(value)), default=0) + 1)
    pad = " " if value[0] in "` " or value[-1] in "` " else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A GFM table. `align` has one letter per column: 'r' right-aligns, anything else left."""
    marks = ["---:" if align[i:i + 1] == "r" else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _text(text: Text, in_table: bool = False) -> str:
    """A sentence of the tool's words (escaped) with literals in it (code spans)."""
    if isinstance(text, str):
        return md(text)
    return "".join(
        code(piece.short, in_table) if isinstance(piece, Digest)
        else code(piece.text, in_table) if isinstance(piece, (Code, Mono)) else md(piece)
        for piece in text
    )


def _value(text: Text) -> str:
    """A table's value: a string (a name, a tag, a time, a rule) as a code span."""
    return code(text, in_table=True) if isinstance(text, str) else _text(text, in_table=True)


_SIGNATURE_ICONS = {"verified": "✅", "expired": "⌛", "failed": "❌", "unchecked": "⚠️", "unsigned": "⚠️"}


def _signature_lines(review: Review) -> list[str]:
    status = review.signature
    icon = _SIGNATURE_ICONS.get(status.state, "⚠️")
    return [f"> {icon} **{_text(signature_headline(status))}** {md(status.message)}"]


def _appendix(sections: list[Section]) -> list[str]:
    """The full digests of the short ones in the tables, once each, in reading order."""
    shown = list(dict.fromkeys(digests_in(sections)))
    if not shown:
        return []
    rows = [(code(digest.short, in_table=True), code(digest.full, in_table=True)) for digest in shown]
    return ["", "## Appendix: full digests", "", *_table(["digest", "full digest"], rows)]


def _block(block: Block) -> list[str]:
    """A block's lines; [] for a block Markdown does not draw."""
    if isinstance(block, Facts):
        return _table(["", ""], [(md(label), _value(value)) for label, value in block.rows])
    if isinstance(block, Table):
        align = "".join("r" if column.kind == NUM else "l" for column in block.columns)
        words = [column.kind in (NUM, LABEL) for column in block.columns]
        rows = [[_text(cell, in_table=True) if ours else _value(cell) for ours, cell in zip(words, row)] for row in block.rows]
        return _table([md(column.title) for column in block.columns], rows, align)
    if isinstance(block, Paragraph):
        return [_text(block.text)]
    if isinstance(block, More):
        return [f"… and {block.count} more {md(block.what)}."]
    if isinstance(block, AttributionRef):
        return ["Attribution rule: see note [^attribution]."]
    return []  # the chart: the tables say the same


def render_markdown(review: Review) -> str:
    out: list[str] = []
    add = out.append
    server = dict(review.source).get("cluster API server")
    add("# Image prune plan review" + (f": {code(server)}" if server else ""))
    add("")
    out += _signature_lines(review)
    for warning in review.warnings:
        add("")
        add(f"> ⚠️ **Warning:** {code(warning)}")
    if review.errors:
        add("")
        add(f"> ❌ **The plan records {len(review.errors)} error(s) upstream would report:** "
            + "; ".join(code(e) for e in review.errors))
    add("")
    add(f"**Will delete:** {md(will_delete(review))}. "
        f"**Will free: {with_bytes(review.reclaimable_bytes)}** {md(will_free(review))}.")

    sections = report_sections(review)
    for section in sections:
        add("")
        add(f"## {md(section.title)}")
        for lines in map(_block, section.blocks):
            if lines:
                add("")
                out += lines
    out += _appendix(sections)

    add("")
    add("---")
    add("")
    add(f"[^attribution]: {attribution_note(review)}")
    return "\n".join(out) + "\n"
