"""Render a Review as one self-contained HTML file.

Everything is inline: CSS in a <style> element, the chart of reclaimable bytes per namespace as
an inline SVG drawn here (no JavaScript, no fonts, no images, nothing fetched). A
Content-Security-Policy of `default-src 'none'` makes the browser refuse any load even if a
future change added one. Every string from the plan or the dump goes through `esc()`: names are
user-controlled, and the report is opened by reviewers in a browser.
"""

from __future__ import annotations

import html
import math
from typing import Iterable, Sequence

from pruneplan.analyze.report.review import GroupBytes, Limited, Review, attribution_note, exact_bytes, human_bytes

CHART_TOP = 20  # namespaces drawn; the rest are summed into one "other namespaces" bar
_LABEL_CHARS = 34
_ROW = 28
_BAR = 20
_LABEL_W = 270
_PLOT_W = 560
_VALUE_W = 140
_HEAD = 26

_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #1d2330;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 14px; }
h2 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d8dce3; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { border: 1px solid #d8dce3; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.nw { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { width: 220px; }
.mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 12px; word-break: break-all; }
.status { border-radius: 6px; padding: 10px 14px; margin: 10px 0; font-size: 15px; border: 2px solid; }
.status.verified { background: #e7f6ec; border-color: #2e8b57; }
.status.failed { background: #fdecea; border-color: #c62828; }
.status.unchecked, .status.unsigned { background: #fff6e0; border-color: #d08a00; }
.warning { background: #fff6e0; border-left: 5px solid #d08a00; padding: 8px 12px; margin: 10px 0; }
.error { background: #fdecea; border-left: 5px solid #c62828; padding: 8px 12px; margin: 10px 0; }
.summary { font-size: 15px; }
.more, .note { color: #4a5263; }
figure { margin: 8px 0 12px; }
svg.chart { max-width: 100%; height: auto; display: block; }
svg.chart text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: #1d2330; }
svg.chart .grid { stroke: #e1e5eb; stroke-width: 1; }
svg.chart .bar { fill: #3a72b8; }
svg.chart .bar.other { fill: #9aa7b8; }
svg.chart .axis { fill: #6b7382; font-size: 11px; }
footer { margin-top: 32px; font-size: 12px; color: #4a5263; border-top: 1px solid #d8dce3; padding-top: 10px; }
"""

_SIGNATURE_TITLES = {
    "verified": "Signature: verified.",
    "failed": "Signature: NOT VERIFIED.",
    "unchecked": "Signature: not checked.",
    "unsigned": "Signature: none (unsigned plan).",
}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cells(row: Sequence[tuple[str, str]]) -> str:
    """Cells given as (class, already-escaped html)."""
    return "".join(f'<td class="{cls}">{content}</td>' if cls else f"<td>{content}</td>" for cls, content in row)


def _table(headers: Sequence[tuple[str, str]], rows: Iterable[Sequence[tuple[str, str]]], cls: str = "") -> str:
    head = "".join(f'<th class="{c}">{esc(h)}</th>' if c else f"<th>{esc(h)}</th>" for c, h in headers)
    body = "".join(f"<tr>{_cells(row)}</tr>" for row in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _more(limited: Limited, what: str) -> str:
    return f'<p class="more">… and {limited.more} more {esc(what)}.</p>' if limited.more else ""


def _bytes(value: int) -> str:
    return f"{human_bytes(value)} ({exact_bytes(value)})" if value >= 1024 else exact_bytes(value)


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def axis_ticks(peak: int) -> tuple[int, list[tuple[int, str]]]:
    """Round grid lines for a bar chart whose largest value is `peak` bytes.

    Returns (axis maximum, [(bytes, label)]): steps of 1, 2, 2.5 or 5 times a power of ten of
    the largest binary unit not above the peak, so labels read "20 MiB", "40 MiB", ...
    """
    if peak <= 0:
        return 1, [(0, "0 B")]
    unit, name = 1, "B"
    for power, unit_name in enumerate(("KiB", "MiB", "GiB", "TiB", "PiB"), 1):
        if peak >= 1024**power:
            unit, name = 1024**power, unit_name
    value = peak / unit
    raw_step = value / 4
    magnitude = 10 ** math.floor(math.log10(raw_step)) if raw_step > 0 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    if name == "B":
        step = max(1, math.ceil(step))
    count = math.ceil(value / step - 1e-9)
    ticks = []
    for index in range(count + 1):
        amount = step * index
        text = f"{amount:g} {name}" if index else "0 B"
        ticks.append((round(amount * unit), text))
    return ticks[-1][0], ticks


def chart_svg(groups: list[GroupBytes], top: int = CHART_TOP) -> str:
    """A horizontal bar chart of reclaimable bytes per namespace, one bar per namespace.

    Labels longer than the label column are shortened with an ellipsis; the full name is in the
    bar's <title> (the browser's tooltip) and in the table below the chart.
    """
    shown = groups[:top]
    rest = groups[top:]
    bars: list[tuple[str, int, str]] = [(g.name, g.bytes, "bar") for g in shown]
    if rest:
        bars.append((f"{len(rest)} other namespaces", sum(g.bytes for g in rest), "bar other"))
    axis_max, ticks = axis_ticks(max((b for _, b, _ in bars), default=0))
    width = _LABEL_W + _PLOT_W + _VALUE_W
    height = _HEAD + _ROW * len(bars) + 8
    out = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Reclaimable bytes per namespace">'
    ]
    for tick, label in ticks:
        x = _LABEL_W + round(_PLOT_W * tick / axis_max)
        out.append(f'<line class="grid" x1="{x}" y1="{_HEAD - 6}" x2="{x}" y2="{height - 4}"/>')
        out.append(f'<text class="axis" x="{x}" y="{_HEAD - 10}" text-anchor="middle">{esc(label)}</text>')
    for index, (name, value, cls) in enumerate(bars):
        y = _HEAD + index * _ROW
        length = round(_PLOT_W * value / axis_max)
        middle = y + _BAR / 2 + 4
        out.append(
            f'<g class="row"><title>{esc(name)}: {esc(_bytes(value))}</title>'
            f'<text class="label" x="{_LABEL_W - 8}" y="{middle:.0f}" text-anchor="end">{esc(_short(name))}</text>'
            f'<rect class="{cls}" x="{_LABEL_W}" y="{y}" width="{length}" height="{_BAR}" rx="2"/>'
            f'<text class="value" x="{_LABEL_W + length + 6}" y="{middle:.0f}">{esc(human_bytes(value))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def _groups_table(groups: list[GroupBytes], what: str) -> str:
    rows = [
        (("", esc(g.name)), ("num", esc(human_bytes(g.bytes))), ("num", f"{g.bytes:,}"), ("num", str(g.blobs)),
         ("num", str(g.unknown_size_blobs)), ("num", str(g.images)))
        for g in groups
    ]
    headers = [("", what), ("num", "reclaimable"), ("num", "bytes"), ("num", "blobs"),
               ("num", "blobs of unknown size"), ("num", "images deleted")]
    return _table(headers, rows)


def render_html(review: Review) -> str:
    source = dict(review.source)
    title = f"Image prune plan review: {source.get('cluster API server', 'null')}"
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be loaded: the report must render offline and cannot phone home.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head><body><main>",
        f"<h1>{esc(title)}</h1>",
    ]
    add = parts.append
    status = review.signature
    add(f'<div id="signature" class="status {esc(status.state)}"><strong>'
        f"{esc(_SIGNATURE_TITLES.get(status.state, status.state))}</strong> {esc(status.message)}</div>")
    for warning in review.warnings:
        add(f'<div class="warning"><strong>Warning:</strong> {esc(warning)}</div>')
    if review.errors:
        items = "".join(f"<li>{esc(e)}</li>" for e in review.errors)
        add(f'<div class="error"><strong>The plan records {len(review.errors)} error(s) upstream would report:</strong>'
            f"<ul>{items}</ul></div>")
    add(f'<p class="summary"><strong>Summary:</strong> {esc(review.summary_text)}. Reclaimable: '
        f"<strong>{esc(_bytes(review.reclaimable_bytes))}</strong> in {review.freed_blobs} freed blob(s), "
        f"{review.unknown_size_blobs} of them of unknown size (not counted).</p>")

    add('<section id="plan"><h2>Plan</h2>')
    add(_kv([
        ("plan file", esc(review.plan_name)),
        ("plan sha256", f'<span class="mono">{esc(review.plan_sha256)}</span>'),
        ("created at (analysis time)", esc(review.created_at or "null")),
        ("not after (expiry)", esc(review.not_after or "null")),
        ("tool", esc(review.tool)),
        ("signature", esc(status.message)),
    ]))
    add("</section>")

    add('<section id="source"><h2>Source</h2>')
    facts = [(label, f'<span class="mono">{esc(value)}</span>' if "sha256" in label else esc(value))
             for label, value in review.source]
    if review.dumps:
        for name, sha in review.dumps:
            facts.append(("dump given to this report", f'{esc(name)} (sha256 <span class="mono">{esc(sha)}</span>)'))
        facts.append(("matches the plan's dump", "no, see the warning above" if review.warnings else "yes"))
    else:
        facts.append(("dump given to this report", "none (--dump not given)"))
    add(_kv(facts))
    add("</section>")

    add('<section id="policy"><h2>Policy</h2>')
    add(_table([("", "flag"), ("", "value")], [(("", esc(label)), ("", esc(value))) for _, label, value in review.policy]))
    add("</section>")

    add('<section id="counts"><h2>Counts</h2>')
    rows: list[Sequence[tuple[str, str]]] = [
        (("", esc(label)), ("num", esc(value))) for _, label, value in review.counters
    ]
    rows.append((("", "reclaimable bytes (each freed blob once)"), ("num", esc(_bytes(review.reclaimable_bytes)))))
    rows.append((("", "freed blobs of unknown size (not counted)"), ("num", str(review.unknown_size_blobs))))
    add(_table([("", "counter"), ("num", "value")], rows))
    add(f"<p>Upstream's summary line: <code>Summary: {esc(review.summary_text)}</code></p>")
    if review.plan_reclaimable_bytes != review.reclaimable_bytes:
        add(f'<p class="note">Note: the plan\'s summary.reclaimableBytes is {esc(review.plan_reclaimable_bytes)}, '
            f"the blob deletions add up to {review.reclaimable_bytes:,}.</p>")
    add("</section>")

    add('<section id="per-namespace"><h2>Reclaimable bytes per namespace</h2>')
    if review.per_namespace:
        add(f"<figure>{chart_svg(review.per_namespace)}<figcaption class=\"note\">Bytes of freed blobs of known "
            "size attributed to each namespace (see the attribution note at the end).</figcaption></figure>")
        add(_groups_table(review.per_namespace, "namespace"))
    else:
        add("<p>No blobs are deleted by this plan.</p>")
    add("</section>")
    add('<section id="per-repository"><h2>Reclaimable bytes per repository</h2>')
    add(_groups_table(review.per_repository, "repository") if review.per_repository
        else "<p>No blobs are deleted by this plan.</p>")
    add("</section>")

    add(f'<section id="top-images"><h2>Largest image deletions (top {review.top} by freed bytes, '
        f"of {review.top_images.total})</h2>")
    if review.top_images.total:
        rows = [
            (("num", str(n)), ("mono", esc(r.name)), ("", esc(", ".join(r.repositories))),
             ("num", esc(human_bytes(r.freed_bytes))), ("num", f"{r.freed_bytes:,}"), ("num", str(r.freed_blobs)),
             ("num", str(r.unknown_size_blobs)), ("nw", esc(r.created or "null")))
            for n, r in enumerate(review.top_images.rows, 1)
        ]
        add(_table([("num", "#"), ("", "image"), ("", "repository"), ("num", "freed"), ("num", "bytes"),
                    ("num", "blobs freed"), ("num", "of unknown size"), ("", "created")], rows))
        add(_more(review.top_images, "images"))
    else:
        add("<p>No image objects are deleted by this plan.</p>")
    add("</section>")

    add(f'<section id="top-blobs"><h2>Largest blobs (top {review.top} by size, of {review.top_blobs.total} '
        "with a known size)</h2>")
    if review.unknown_size_blobs:
        add(f'<p class="note">{review.unknown_size_blobs} freed blob(s) of unknown size are not ranked.</p>')
    if review.top_blobs.total:
        rows = [
            (("num", str(n)), ("mono", esc(b.digest)), ("", esc(b.kind)),
             ("num", esc(human_bytes(b.size or 0))), ("num", f"{b.size or 0:,}"), ("mono", esc(b.image)))
            for n, b in enumerate(review.top_blobs.rows, 1)
        ]
        add(_table([("num", "#"), ("", "blob"), ("", "kind"), ("num", "size"), ("num", "bytes"),
                    ("", "freed with image")], rows))
        add(_more(review.top_blobs, "blobs"))
    else:
        add("<p>No freed blob has a known size.</p>")
    add("</section>")

    add(f'<section id="stream-updates"><h2>Image stream updates (top {review.top} by items removed, '
        f"of {review.stream_updates.total})</h2>")
    if review.stream_updates.total:
        rows = [
            (("", esc(r.stream)), ("num", str(r.items_removed)),
             ("", esc(", ".join(r.tags_removed)) if r.tags_removed else "none"),
             ("", esc(", ".join(f"{reason} ×{count}" for reason, count in r.reasons))))
            for r in review.stream_updates.rows
        ]
        add(_table([("", "image stream"), ("num", "items removed"), ("", "tags removed"), ("", "reasons")], rows))
        add(_more(review.stream_updates, "image streams"))
    else:
        add("<p>No image stream is updated by this plan.</p>")
    add("</section>")

    add('<section id="single-referrer"><h2>Kept by a single referrer</h2>')
    fragile = review.single_referrer
    if fragile is None:
        add("<p>Not computed: pass the plan's dump with <code>--dump</code> to list the history items that only "
            "one referrer keeps.</p>")
    elif not fragile.total:
        add("<p>No history item is kept by exactly one referrer.</p>")
    else:
        add(f"<p>{fragile.total} history item(s) are kept only because exactly one object uses them; if that "
            "object goes or changes, the next prune removes them.</p>")
        rows = [
            (("", esc(r.stream)), ("", esc(r.tag)), ("num", str(r.index)), ("mono", esc(r.image)), ("nw", esc(r.rule)),
             ("", esc(r.referrer)), ("nw", esc(r.via)), ("mono", esc(r.reference)))
            for r in fragile.rows
        ]
        add(_table([("", "image stream"), ("", "tag"), ("num", "item"), ("", "image"), ("", "rule"),
                    ("", "referrer"), ("", "via"), ("", "reference")], rows))
        add(_more(fragile, "items"))
    add("</section>")

    add(f'<footer id="attribution"><p>{esc(attribution_note(review))}</p></footer>')
    add("</main></body></html>")
    return "\n".join(parts) + "\n"
