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
from pruneplan.analyze.report.review import GroupBytes, Review, attribution_note, human_bytes
from pruneplan.analyze.report.sections import (
    NUM,
    Block,
    Chart,
    Code,
    Digest,
    Facts,
    Mono,
    More,
    Paragraph,
    Table,
    Text,
    report_sections,
    signature_headline,
    will_delete,
    will_free,
    with_bytes,
)

CHART_TOP = 10  # namespaces drawn by default; the rest are summed into one "other namespaces" bar
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
.status.expired { background: #fff0e0; border-color: #e65100; border-width: 3px; }
.status.expired strong { color: #a63c00; }
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

def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _piece(piece: str | Mono | Code | Digest) -> str:
    if isinstance(piece, Digest):  # the full digest is the tooltip (and selectable in devtools)
        return f'<span class="mono" title="{esc(piece.full)}">{esc(piece.short)}</span>'
    if isinstance(piece, Mono):
        return f'<span class="mono">{esc(piece.text)}</span>'
    if isinstance(piece, Code):
        return f"<code>{esc(piece.text)}</code>"
    return esc(piece)


def _text(text: Text) -> str:
    return esc(text) if isinstance(text, str) else "".join(map(_piece, text))


def _class(kind: str) -> str:
    return f' class="{kind}"' if kind else ""


def _block(block: Block) -> str:
    if isinstance(block, Facts):
        body = "".join(f"<tr><th>{esc(label)}</th><td>{_text(value)}</td></tr>" for label, value in block.rows)
        return f'<table class="kv"><tbody>{body}</tbody></table>'
    if isinstance(block, Table):
        # a header cell is right-aligned with its figures; the other kinds style cells only
        head = "".join(f"<th{_class(NUM if c.kind == NUM else '')}>{esc(c.title)}</th>" for c in block.columns)
        kinds = [_class(c.kind) for c in block.columns]
        body = "".join(
            "<tr>" + "".join(f"<td{kind}>{_text(cell)}</td>" for kind, cell in zip(kinds, row)) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Paragraph):
        return f"<p{_class('note' if block.note else '')}>{_text(block.text)}</p>"
    if isinstance(block, More):
        return f'<p class="more">… and {block.count} more {esc(block.what)}.</p>'
    if isinstance(block, Chart):
        return (f"<figure>{chart_svg(block.groups, block.top)}<figcaption class=\"note\">Bytes of freed blobs of known "
                "size attributed to each namespace (see the attribution note at the end).</figcaption></figure>")
    return ""  # the attribution reference: the note is this page's footer


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
            f'<g class="row"><title>{esc(name)}: {esc(with_bytes(value))}</title>'
            f'<text class="label" x="{_LABEL_W - 8}" y="{middle:.0f}" text-anchor="end">{esc(_short(name))}</text>'
            f'<rect class="{cls}" x="{_LABEL_W}" y="{y}" width="{length}" height="{_BAR}" rx="2"/>'
            f'<text class="value" x="{_LABEL_W + length + 6}" y="{middle:.0f}">{esc(human_bytes(value))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def render_html(review: Review) -> str:
    server = dict(review.source).get("cluster API server")
    title = "Image prune plan review" + (f": {server}" if server else "")
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
        f"{_text(signature_headline(status))}</strong> {esc(status.message)}</div>")
    for warning in review.warnings:
        add(f'<div class="warning"><strong>Warning:</strong> {esc(warning)}</div>')
    if review.errors:
        items = "".join(f"<li>{esc(e)}</li>" for e in review.errors)
        add(f'<div class="error"><strong>The plan records {len(review.errors)} error(s) upstream would report:</strong>'
            f"<ul>{items}</ul></div>")
    add(f'<p class="summary"><strong>Will delete:</strong> {esc(will_delete(review))}. '
        f"<strong>Will free: {esc(with_bytes(review.reclaimable_bytes))}</strong> {esc(will_free(review))}.</p>")

    for section in report_sections(review):
        add(f'<section id="{esc(section.anchor)}"><h2>{esc(section.title)}</h2>')
        parts += filter(None, map(_block, section.blocks))
        add("</section>")

    add(f'<footer id="attribution"><p>{esc(attribution_note(review))}</p></footer>')
    add("</main></body></html>")
    return "\n".join(parts) + "\n"
