"""`pruneplan report --top N` on a generated plan of a few hundred entries: every table of the
report is cut at N rows and says how many it left out, in Markdown and in HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from builders import REGISTRY, as_dump, digest, image, pod, stream, write_json
from clirunner import run_cli

NAMESPACES = 12
STREAMS_PER_NAMESPACE = 2
HISTORY = 8  # items per tag; --keep-tag-revisions=3 keeps 0-2, a pod keeps item 4 by digest
TOP = 5


def generated_cluster() -> list[dict[str, Any]]:
    """24 streams in 12 namespaces; each loses 4 of its 8 items, so 96 images (each with a layer
    of its own size) are deleted, and each stream has one item kept by exactly one pod."""
    items: list[dict[str, Any]] = []
    for n in range(NAMESPACES):
        namespace = f"team-{n:02d}"
        for s in range(STREAMS_PER_NAMESPACE):
            name = f"app-{s}"
            history = [digest(f"{namespace}-{name}-{i}") for i in range(HISTORY)]
            for i, name_digest in enumerate(history):
                obj = image(name_digest, layers=[digest(f"layer-{namespace}-{name}-{i}")], config=digest(f"cfg-{n}-{s}-{i}"))
                obj["dockerImageReference"] = f"{REGISTRY}/{namespace}/{name}@{name_digest}"
                obj["dockerImageLayers"][0]["size"] = 1_000_000 * (n + 1) + 1000 * s + i
                items.append(obj)
            items.append(stream(namespace, name, {"latest": history}, created="2025-01-01T00:00:00Z"))
            items.append(pod(namespace, f"{name}-pinned", [f"{REGISTRY}/{namespace}/{name}@{history[4]}"]))
    return items


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("generated")
    write_json(work / "dump.json", as_dump(generated_cluster()))
    result = run_cli("analyze", str(work / "dump.json"), "-o", str(work / "plan.json"), "-q", "--keep-tag-revisions=3")
    assert result.code == 0, result.err
    return work


# (section title start, rows in the plan, what the "… and K more" line counts)
EXPECTED = [
    ("Will delete, per namespace", NAMESPACES, "namespaces"),
    ("Will delete, per repository", NAMESPACES * STREAMS_PER_NAMESPACE, "repositories"),
    ("Will delete: largest images", NAMESPACES * STREAMS_PER_NAMESPACE * 4, "images"),
    ("Will delete: largest blobs", NAMESPACES * STREAMS_PER_NAMESPACE * 4, "blobs"),
    ("Will delete from image streams", NAMESPACES * STREAMS_PER_NAMESPACE, "image streams"),
    ("Kept by a single referrer", NAMESPACES * STREAMS_PER_NAMESPACE, "items"),
]


def markdown_sections(text: str) -> dict[str, str]:
    return {part.split("\n", 1)[0]: part for part in text.split("\n## ")[1:]}


def test_every_markdown_table_is_cut_at_top_and_says_how_many_more(generated: Path) -> None:
    result = run_cli("report", str(generated / "plan.json"), "--dump", str(generated / "dump.json"), "--top", str(TOP))
    assert result.code == 0, result.err
    sections = markdown_sections(result.out)
    for start, total, what in EXPECTED:
        title, body = next((t, b) for t, b in sections.items() if t.startswith(start))
        assert f"{TOP}" in title and f"of {total}" in title, title
        rows = [line for line in body.splitlines() if line.startswith("| ")]
        assert len(rows) == 2 + TOP, (title, rows)  # header, delimiter row, TOP rows
        assert f"\n… and {total - TOP} more {what}.\n" in body, title
    # every other table is a fixed list (plan, source, policy, totals), the appendix the digests shown
    assert "… and" not in "".join(b for t, b in sections.items() if not any(t.startswith(s) for s, _, _ in EXPECTED))


class SectionRows(HTMLParser):
    """Per <section>: the number of body rows of its table and its "… and K more" text."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ""
        self.rows: dict[str, int] = {}
        self.more: dict[str, str] = {}
        self.in_body = self.in_more = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self.section = found.get("id") or ""
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows[self.section] = self.rows.get(self.section, 0) + 1
        elif tag == "p" and found.get("class") == "more":
            self.in_more = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body = False
        elif tag == "p":
            self.in_more = False

    def handle_data(self, data: str) -> None:
        if self.in_more:
            self.more[self.section] = self.more.get(self.section, "") + data


def test_every_html_table_is_cut_at_top_and_says_how_many_more(generated: Path) -> None:
    result = run_cli("report", str(generated / "plan.json"), "--dump", str(generated / "dump.json"), "--top", str(TOP),
                     "--format", "html")
    assert result.code == 0, result.err
    parser = SectionRows()
    parser.feed(result.out)
    anchors = ["per-namespace", "per-repository", "top-images", "top-blobs", "stream-updates", "single-referrer"]
    for anchor, (_, total, what) in zip(anchors, EXPECTED):
        assert parser.rows[anchor] == TOP, anchor
        assert parser.more[anchor] == f"… and {total - TOP} more {what}.", anchor
    # the chart draws the same TOP namespaces and one bar for the rest
    labels = re.findall(r'<text class="label"[^>]*>([^<]*)</text>', result.out)
    assert labels == [f"team-{n:02d}" for n in range(NAMESPACES - 1, NAMESPACES - 1 - TOP, -1)] + [f"{NAMESPACES - TOP} other namespaces"]


def test_the_default_top_keeps_every_table_at_ten_rows(generated: Path) -> None:
    result = run_cli("report", str(generated / "plan.json"), "--dump", str(generated / "dump.json"))
    assert result.code == 0, result.err
    sections = markdown_sections(result.out)
    for start, total, what in EXPECTED:
        body = next(b for t, b in sections.items() if t.startswith(start))
        assert len([line for line in body.splitlines() if line.startswith("| ")]) == 2 + 10, start
        assert f"… and {total - 10} more {what}." in body
