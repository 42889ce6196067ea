"""Render a HardReview as Markdown or one self-contained HTML file.

The blocks are the soft report's (analyze/report/markdown.py and html.py draw them, escaping
every value the same way), so only the page around them is drawn here: the title, the signature
banner, warnings, the summary line and the closing note.
"""

from __future__ import annotations

from pruneplan.analyze.report import html as soft_html
from pruneplan.analyze.report import markdown as soft_md
from pruneplan.analyze.report.hard import HARD_NOTE, HardReview, hard_sections, hard_title, hard_will_delete, hard_will_free
from pruneplan.analyze.report.sections import signature_headline, with_bytes

_ICONS = {"verified": "✅", "expired": "⌛", "failed": "❌", "unchecked": "⚠️", "unsigned": "⚠️"}


def render_hard_markdown(review: HardReview) -> str:
    md, code = soft_md.md, soft_md.code
    status = review.signature
    out = ["# Hard prune plan review" + (f": {code(review.api_server)}" if review.api_server else ""), ""]
    out.append(f"> {_ICONS.get(status.state, '⚠️')} **{soft_md._text(signature_headline(status))}** {md(status.message)}")
    for warning in review.warnings:
        out += ["", f"> ⚠️ **Warning:** {code(warning)}"]
    out += ["", f"**Will delete:** {md(hard_will_delete(review))}. "
                f"**Will free: {with_bytes(review.reclaimable_bytes)}** {md(hard_will_free(review))}."]
    sections = hard_sections(review)
    for section in sections:
        out += ["", f"## {md(section.title)}"]
        for lines in map(soft_md._block, section.blocks):
            if lines:
                out += ["", *lines]
    out += soft_md._appendix(sections)
    out += ["", "---", "", md(HARD_NOTE)]
    return "\n".join(out) + "\n"


def render_hard_html(review: HardReview) -> str:
    esc = soft_html.esc
    title = hard_title(review)
    status = review.signature
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be loaded: the report must render offline and cannot phone home.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{soft_html._CSS}</style>",
        "</head><body><main>",
        f"<h1>{esc(title)}</h1>",
        f'<div id="signature" class="status {esc(status.state)}"><strong>'
        f"{soft_html._text(signature_headline(status))}</strong> {esc(status.message)}</div>",
    ]
    parts += [f'<div class="warning"><strong>Warning:</strong> {esc(warning)}</div>' for warning in review.warnings]
    parts.append(f'<p class="summary"><strong>Will delete:</strong> {esc(hard_will_delete(review))}. '
                 f"<strong>Will free: {esc(with_bytes(review.reclaimable_bytes))}</strong> {esc(hard_will_free(review))}.</p>")
    for section in hard_sections(review):
        parts.append(f'<section id="{esc(section.anchor)}"><h2>{esc(section.title)}</h2>')
        parts += filter(None, map(soft_html._block, section.blocks))
        parts.append("</section>")
    parts.append(f'<footer id="note"><p>{esc(HARD_NOTE)}</p></footer>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"
