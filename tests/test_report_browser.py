"""The HTML report as a browser shows it: headless Chromium renders it offline.

Needs the Debian package `chromium` (/usr/bin/chromium). A missing browser FAILS these tests on
purpose: the HTML report's promise (self-contained, readable, escaped) is only checked here.
Chromium runs with host resolution disabled, so a report that needed the network would show it.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from builders import as_dump, write_json
from clirunner import run_cli
from test_report import GOLDEN_DUMP, GOLDEN_PLAN, XSS, _image, stream

BROWSER_TIMEOUT = 120  # seconds per Chromium run; a first start on a cold CI machine can be slow
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: the page must not need any
)


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        pytest.fail("chromium is not installed (apt-get install chromium); the HTML report tests need it")
    return path


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "chromium-profile"
    profile.mkdir(exist_ok=True)
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=BROWSER_TIMEOUT, cwd=tmp,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done


class ChartText(HTMLParser):
    """Collects the texts of the chart's <text class="label|value|axis"> elements, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.in_chart = False
        self.current: str | None = None
        self.texts: dict[str, list[str]] = {"label": [], "value": [], "axis": []}
        self.script_elements = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "script":
            self.script_elements += 1
        if tag == "svg" and "chart" in classes:
            self.in_chart = True
        elif self.in_chart and tag == "text":
            self.current = next((c for c in classes if c in self.texts), None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.in_chart = False
        elif tag == "text":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current:
            self.texts[self.current].append(data)


def rendered_chart(dom: str) -> ChartText:
    parser = ChartText()
    parser.feed(dom)
    return parser


@pytest.fixture
def golden_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(GOLDEN_PLAN, tmp_path / "plan.json")
    shutil.copy(GOLDEN_DUMP, tmp_path / "dump.json")
    monkeypatch.chdir(tmp_path)
    result = run_cli("report", "plan.json", "--dump", "dump.json", "--format", "html", "-o", "report.html")
    assert result.code == 0, result.err
    return tmp_path / "report.html"


def test_chromium_shows_the_namespace_chart_with_labels_and_human_byte_values(golden_html: Path) -> None:
    dom = run_chromium(golden_html.parent, "--dump-dom", golden_html.as_uri()).stdout
    chart = rendered_chart(dom)
    assert chart.texts["label"] == ["shop", "data", "ci"]
    assert chart.texts["value"] == ["89.0 MiB", "58.0 MiB", "30.0 MiB"]
    assert chart.texts["axis"] == ["0 B", "25 MiB", "50 MiB", "75 MiB", "100 MiB"]
    # the rest of the page made it into the DOM too
    for needle in ("Reclaimable bytes per namespace", "shop/frontend", "Kept by a single referrer",
                   "Signature: none (unsigned plan).", "127.0 MiB (133,169,152 B)"):
        assert needle in dom, needle


def _png_size_and_pixels(png: bytes) -> tuple[int, int, bytes]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", png[16:24])
    idat, offset = b"", 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        if kind == b"IDAT":
            idat += png[offset + 8:offset + 8 + length]
        offset += 12 + length
    return width, height, zlib.decompress(idat)


def test_chromium_screenshot_of_the_report_is_a_real_page(golden_html: Path) -> None:
    shot = golden_html.parent / "report.png"
    run_chromium(golden_html.parent, f"--screenshot={shot}", "--window-size=1200,2000", golden_html.as_uri())
    png = shot.read_bytes()
    assert len(png) > 40_000, f"screenshot is only {len(png)} bytes: an empty or unstyled page?"
    width, height, pixels = _png_size_and_pixels(png)
    assert (width, height) == (1200, 2000)
    assert len(set(pixels)) > 50  # text, tables and bars, not a blank canvas


def test_a_script_tag_as_namespace_name_renders_as_text_in_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    imgs = [f"sha256:{str(i) * 64}" for i in range(1, 6)]
    items = [_image(d, "ns/app", ["f4" if i == 4 else "kept-base"]) for i, d in enumerate(imgs)]
    # A plan refuses a stream whose namespace cannot be part of a repository name, so the plan is
    # made from the stream as ns/app and the report is given the same cluster with the stream in
    # a namespace named like a script tag: the chart's names come from the dump given.
    write_json(tmp_path / "planned.json", as_dump([*items, stream("ns", "app", {"latest": imgs})]))
    write_json(tmp_path / "dump.json", as_dump([*items, stream(XSS, "app", {"latest": imgs})]))
    assert run_cli("analyze", "planned.json", "-o", "plan.json", "-q").code == 0
    assert run_cli("report", "plan.json", "--dump", "dump.json", "-o", "report.html").code == 0
    dom = run_chromium(tmp_path, "--dump-dom", (tmp_path / "report.html").as_uri()).stdout
    chart = rendered_chart(dom)
    assert chart.script_elements == 0  # the name never became an element
    assert chart.texts["label"] == [XSS]  # ...it is shown, as text
    assert "alert(1)" in dom and "<script>" not in dom


def test_the_html_references_nothing_on_the_network(golden_html: Path) -> None:
    text = golden_html.read_text()
    resources = re.findall(r"""\b(?:src|href|srcset|action|poster|data|xlink:href)\s*=\s*["']?([^"'\s>]*)""", text, re.I)
    assert resources == []  # nothing to load at all, local or remote
    assert not re.search(r"url\s*\(|@import", text, re.I)  # no CSS-loaded resources either
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", text, re.I)
    # http(s) occurs only as text (here: the cluster's API server URL), never inside a tag
    for match in re.finditer(r"https?://", text):
        before = text[: match.start()]
        assert before.rfind("<") < before.rfind(">"), text[match.start() - 80: match.end() + 20]
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">" in text


def _png_rgb_rows(png: bytes) -> list[list[tuple[int, int, int]]]:
    """The screenshot's pixels as rows of (r, g, b): 8-bit RGB or RGBA, filters undone."""
    width, height, data = _png_size_and_pixels(png)
    bit_depth, colour_type = png[24], png[25]
    assert bit_depth == 8 and colour_type in (2, 6), (bit_depth, colour_type)
    step = 3 if colour_type == 2 else 4
    stride = width * step
    rows: list[list[tuple[int, int, int]]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = data[start], bytearray(data[start + 1:start + 1 + stride])
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up = previous[x]
            corner = previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), 0), (abs(guess - up), 1), (abs(guess - corner), 2))[1]
                line[x] = (line[x] + (left, up, corner)[near]) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, step)])  # type: ignore[misc]
        previous = line
    return rows


EXPIRED_BACKGROUND = (0xFF, 0xF0, 0xE0)  # .status.expired in analyze/report/html.py
FAILED_BACKGROUND = (0xFD, 0xEC, 0xEA)  # .status.failed


def test_chromium_shows_a_valid_signature_on_an_expired_plan_as_expired_not_as_not_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(GOLDEN_PLAN, tmp_path / "plan.json")
    monkeypatch.chdir(tmp_path)
    assert run_cli("keygen", "signer").code == 0
    from pruneplan.signing import write_signature

    write_signature("plan.json", "signer")
    result = run_cli("report", "plan.json", "--key", "signer.pub", "--now", "2026-06-09T00:00:00Z", "-o", "report.html")
    assert result.code == 0, result.err
    page = (tmp_path / "report.html").as_uri()

    dom = run_chromium(tmp_path, "--dump-dom", page).stdout
    banner = re.search(r'<div id="signature" class="status expired">(.*?)</div>', dom, re.S)
    assert banner is not None, dom[:2000]
    text = re.sub(r"<[^>]+>", "", banner.group(1))
    assert text.startswith("Signature: valid (verified with signer.pub) — plan EXPIRED on 2026-06-08T00:00:00Z.")
    assert "NOT VERIFIED" not in dom

    shot = tmp_path / "report.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,600", page)
    rows = _png_rgb_rows(shot.read_bytes())
    # the banner is drawn in the expired colours near the top of the page, never in the failed ones
    top = [pixel for row in rows[:200] for pixel in row]
    assert top.count(EXPIRED_BACKGROUND) > 10_000, "no expired banner in the first 200 pixel rows"
    assert FAILED_BACKGROUND not in top
