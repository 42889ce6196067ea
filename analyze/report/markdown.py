"""Render a Review as Markdown for a change ticket: deterministic bytes, GitHub-flavoured tables.

Every string that comes from the plan or the dump (names, tags, references, messages) goes
through `md()`, which backslash-escapes Markdown's active characters and the table separator, so a
user-controlled name can neither break a table nor inject HTML or links into the ticket.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from pruneplan.analyze.report.review import GroupBytes, Limited, Review, attribution_note, exact_bytes, human_bytes

# CommonMark lets any ASCII punctuation be backslash-escaped; escape only what can start inline
# markup (emphasis, code, strike-through, links), end a table cell, or form an HTML tag or
# entity, so escaped names stay readable in a ticket that shows the raw text.
_ACTIVE = re.compile(r"([\\`*_\[\]<>|~&])")
_SPACE = re.compile(r"[\r\n\t]+")


def md(text: object) -> str:
    """Escape plan/dump text for use inside a Markdown paragraph or table cell."""
    return _ACTIVE.sub(r"\\\1", _SPACE.sub(" ", str(text)))


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A GFM table. `align` has one letter per column: 'r' right-aligns, anything else left."""
    marks = ["---:" if align[i:i + 1] == "r" else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _more(limited: Limited, what: str) -> list[str]:
    return ["", f"… and {limited.more} more {what}."] if limited.more else []


def _bytes(value: int) -> str:
    return f"{human_bytes(value)} ({exact_bytes(value)})" if value >= 1024 else exact_bytes(value)


def _signature_lines(review: Review) -> list[str]:
    status = review.signature
    title = {
        "verified": "✅ **Signature: verified.**",
        "failed": "❌ **Signature: NOT VERIFIED.**",
        "unchecked": "⚠️ **Signature: not checked.**",
        "unsigned": "⚠️ **Signature: none (unsigned plan).**",
    }.get(status.state, f"**Signature: {md(status.state)}.**")
    return [f"> {title} {md(status.message)}"]


def _groups(groups: list[GroupBytes], what: str) -> list[str]:
    if not groups:
        return ["No blobs are deleted by this plan."]
    rows = [
        (md(g.name), human_bytes(g.bytes), f"{g.bytes:,}", str(g.blobs), str(g.unknown_size_blobs), str(g.images))
        for g in groups
    ]
    return _table(
        [what, "reclaimable", "bytes", "blobs", "blobs of unknown size", "images deleted"], rows, "lrrrrr"
    ) + ["", "Attribution rule: see note [^attribution]."]


def render_markdown(review: Review) -> str:
    out: list[str] = []
    add = out.append
    cluster = dict(review.source)
    add(f"# Image prune plan review: {md(cluster.get('cluster API server', 'null'))}")
    add("")
    out += _signature_lines(review)
    for warning in review.warnings:
        add("")
        add(f"> ⚠️ **Warning:** {md(warning)}")
    if review.errors:
        add("")
        add(f"> ❌ **The plan records {len(review.errors)} error(s) upstream would report:** "
            + "; ".join(md(e) for e in review.errors))
    add("")
    add(f"**Summary:** {md(review.summary_text)}. Reclaimable: **{_bytes(review.reclaimable_bytes)}** "
        f"in {review.freed_blobs} freed blob(s), {review.unknown_size_blobs} of them of unknown size (not counted).")

    add("")
    add("## Plan")
    add("")
    out += _table(["", ""], [
        ("plan file", md(review.plan_name)),
        ("plan sha256", md(review.plan_sha256)),
        ("created at (analysis time)", md(review.created_at or "null")),
        ("not after (expiry)", md(review.not_after or "null")),
        ("tool", md(review.tool)),
        ("signature", md(review.signature.message)),
    ])

    add("")
    add("## Source")
    add("")
    rows: list[Sequence[str]] = [(label, md(value)) for label, value in review.source]
    if review.dumps:
        for name, sha in review.dumps:
            rows.append(("dump given to this report", f"{md(name)} (sha256 {md(sha)})"))
        rows.append(("matches the plan's dump", "no, see the warning above" if review.warnings else "yes"))
    else:
        rows.append(("dump given to this report", "none (--dump not given)"))
    out += _table(["", ""], rows)

    add("")
    add("## Policy")
    add("")
    out += _table(["flag", "value"], [(md(label), md(value)) for _, label, value in review.policy])

    add("")
    add("## Counts")
    add("")
    rows = [(md(label), md(value)) for _, label, value in review.counters]
    rows.append(("reclaimable bytes (each freed blob once)", _bytes(review.reclaimable_bytes)))
    rows.append(("freed blobs of unknown size (not counted)", str(review.unknown_size_blobs)))
    out += _table(["counter", "value"], rows, "lr")
    add("")
    add(f"Upstream's summary line: Summary: {md(review.summary_text)}")
    if review.plan_reclaimable_bytes != review.reclaimable_bytes:
        add("")
        add(f"Note: the plan's summary.reclaimableBytes is {md(review.plan_reclaimable_bytes)}, "
            f"the blob deletions add up to {review.reclaimable_bytes:,}.")

    add("")
    add("## Reclaimable bytes per namespace")
    add("")
    out += _groups(review.per_namespace, "namespace")
    add("")
    add("## Reclaimable bytes per repository")
    add("")
    out += _groups(review.per_repository, "repository")

    add("")
    add(f"## Largest image deletions (top {review.top} by freed bytes, of {review.top_images.total})")
    add("")
    if review.top_images.total:
        rows = [
            (str(n), md(r.name), md(", ".join(r.repositories)), human_bytes(r.freed_bytes), f"{r.freed_bytes:,}",
             str(r.freed_blobs), str(r.unknown_size_blobs), md(r.created or "null"))
            for n, r in enumerate(review.top_images.rows, 1)
        ]
        out += _table(["#", "image", "repository", "freed", "bytes", "blobs freed", "of unknown size", "created"],
                      rows, "rllrrrrl")
        out += _more(review.top_images, "images")
    else:
        add("No image objects are deleted by this plan.")

    add("")
    add(f"## Largest blobs (top {review.top} by size, of {review.top_blobs.total} with a known size)")
    add("")
    if review.unknown_size_blobs:
        add(f"{review.unknown_size_blobs} freed blob(s) of unknown size are not ranked.")
        add("")
    if review.top_blobs.total:
        rows = [
            (str(n), md(b.digest), md(b.kind), human_bytes(b.size or 0), f"{b.size or 0:,}", md(b.image))
            for n, b in enumerate(review.top_blobs.rows, 1)
        ]
        out += _table(["#", "blob", "kind", "size", "bytes", "freed with image"], rows, "rllrrl")
        out += _more(review.top_blobs, "blobs")
    else:
        add("No freed blob has a known size.")

    add("")
    add(f"## Image stream updates (top {review.top} by items removed, of {review.stream_updates.total})")
    add("")
    if review.stream_updates.total:
        rows = [
            (md(r.stream), str(r.items_removed), md(", ".join(r.tags_removed)) if r.tags_removed else "none",
             md(", ".join(f"{reason} ×{count}" for reason, count in r.reasons)))
            for r in review.stream_updates.rows
        ]
        out += _table(["image stream", "items removed", "tags removed", "reasons"], rows, "lrll")
        out += _more(review.stream_updates, "image streams")
    else:
        add("No image stream is updated by this plan.")

    add("")
    add("## Kept by a single referrer")
    add("")
    fragile = review.single_referrer
    if fragile is None:
        add("Not computed: pass the plan's dump with `--dump` to list the history items that only one "
            "referrer keeps.")
    elif not fragile.total:
        add("No history item is kept by exactly one referrer.")
    else:
        add(f"{fragile.total} history item(s) are kept only because exactly one object uses them; "
            "if that object goes or changes, the next prune removes them.")
        add("")
        rows = [
            (md(r.stream), md(r.tag), str(r.index), md(r.image), md(r.rule), md(r.referrer), md(r.via), md(r.reference))
            for r in fragile.rows
        ]
        out += _table(["image stream", "tag", "item", "image", "rule", "referrer", "via", "reference"], rows, "llrlllll")
        out += _more(fragile, "items")

    add("")
    add("---")
    add("")
    add(f"[^attribution]: {attribution_note(review)}")
    return "\n".join(out) + "\n"
