"""`pruneplan report` shows the plan's approvals: one row per signature (PLAN.sig and each approval
of PLAN.approvals) with its key, annotations, validity and whether it counts, the threshold line,
and a banner that says verified only when --threshold distinct trusted keys signed.

The plans are real (`analyze` of the report's golden dump, made now so that `approve` accepts
them), signed and approved through the CLI with real keys."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pruneplan.errors import EXIT_IO, EXIT_USAGE
from pruneplan.timefmt import format_time

from clirunner import Result, run_cli

GOLDEN_DUMP = Path(__file__).parent / "golden" / "report-dump.json"
NOW = format_time(int(time.time()) - 60)
LATER = format_time(int(time.time()) + 30 * 86400)  # past the plan's 7 days of validity


def report(*args: str) -> Result:
    return run_cli("report", *args)


def approve(*args: str) -> Result:
    result = run_cli("approve", *args)
    assert result.code == 0, result.err
    return result


def analyze(plan: str, *extra: str) -> None:
    result = run_cli("analyze", str(GOLDEN_DUMP), "-o", plan, "--now", NOW, "-q", *extra)
    assert result.code == 0, result.err


def section(text: str, title: str = "Approvals") -> str:
    """A Markdown section's body, up to the next heading."""
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("| ")][2:]


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """plan.json signed by `author` (plan.json.sig); keys author, approver and other; the
    directory is the current one, so the report names files as a user types them."""
    monkeypatch.chdir(tmp_path)
    for name in ("author", "approver", "other"):
        assert run_cli("keygen", name).code == 0
    analyze("plan.json", "--sign-key", "author")
    return tmp_path


@pytest.fixture
def approved(work: Path) -> Path:
    approve("plan.json", "--key", "approver", "--annotation", "ticket=CHG-1", "--annotation", "approver=bob",
            "--annotation", "time=2026-12-06T09:00:00Z")
    return work


def test_an_approved_plan_shows_each_signature_with_its_key_and_annotations_and_the_threshold_met(approved: Path) -> None:
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2", "-o", "review.md")
    assert (result.code, result.err) == (0, "")
    text = (approved / "review.md").read_text()
    assert text.splitlines()[2] == (
        "> ✅ **Signature: verified (2 distinct trusted keys signed, threshold 2).** signatures verified with "
        "author.pub (plan.json.sig), approver.pub (plan.json.approvals, approval 1)"
    )
    body = section(text)
    assert table_rows(body) == [
        "| `plan.json.sig` | `author.pub` | none | valid | counted |",
        "| `plan.json.approvals, approval 1` | `approver.pub` | `approver=bob`, `ticket=CHG-1`, `time=2026-12-06T09:00:00Z` "
        "| valid | counted |",
    ]
    assert "\nthreshold 2: met (2 distinct trusted keys)\n" in body
    # right after the plan's facts, before the source
    assert re.findall(r"^## (\w+)", text, flags=re.M)[:3] == ["Plan", "Approvals", "Source"]


class _Cells(HTMLParser):
    """The text of each <td> of the approvals section, row by row, and its paragraphs."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.rows: list[list[str]] = []
        self.paragraphs: list[str] = []
        self.where = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.inside = dict(attrs).get("id") == "approvals"
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "p"):
            self.where = tag
            (self.rows[-1] if tag == "td" else self.paragraphs).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "p"):
            self.where = ""
        elif tag == "section":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.where == "td":
            self.rows[-1][-1] += data
        elif self.inside and self.where == "p":
            self.paragraphs[-1] += data


def test_the_html_report_has_the_same_approvals_table_and_threshold_line(approved: Path) -> None:
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2", "-o", "review.html")
    assert (result.code, result.err) == (0, "")
    page = (approved / "review.html").read_text()
    assert ('<div id="signature" class="status verified"><strong>Signature: verified (2 distinct trusted keys signed, '
            "threshold 2).</strong>") in page
    cells = _Cells()
    cells.feed(page)
    assert [row for row in cells.rows if row] == [
        ["plan.json.sig", "author.pub", "none", "valid", "counted"],
        ["plan.json.approvals, approval 1", "approver.pub", "approver=bob, ticket=CHG-1, time=2026-12-06T09:00:00Z", "valid", "counted"],
    ]
    assert cells.paragraphs == ["threshold 2: met (2 distinct trusted keys)"]


def test_too_few_trusted_keys_is_not_verified_with_k_of_n_and_the_report_is_still_written(approved: Path) -> None:
    # approver's key is not trusted here: its approval does not count
    result = report("plan.json", "--key", "author.pub", "--key", "other.pub", "--threshold", "2", "-o", "review.md")
    assert result.code == 0
    assert result.err_lines == [
        "warning: signature NOT verified: 1 of the 2 required trusted keys signed this plan (signed by author.pub); "
        "an approver adds a signature with `pruneplan approve PLAN --key KEY`"
    ]
    text = (approved / "review.md").read_text()
    assert text.splitlines()[2].startswith("> ❌ **Signature: NOT VERIFIED (1 of 2 trusted keys signed).** 1 of the 2 required")
    body = section(text)
    rows = table_rows(body)
    assert rows[0] == "| `plan.json.sig` | `author.pub` | none | valid | counted |"
    assert rows[1].startswith("| `plan.json.approvals, approval 1` | no trusted key | `approver=bob`, `ticket=CHG-1`, ")
    assert rows[1].endswith(" | NOT valid: `does not verify with any trusted key (keyid sha256:"
                            + _key_hex(approved / "approver.pub") + ")` | not counted |")
    assert "\nthreshold 2: NOT met (1 of 2)\n" in body
    assert "## Will delete: totals" in text  # the whole report, not only the bad news


def _key_hex(public: Path) -> str:
    """The hex of a key's id: the sha256 of its DER public key, as `openssl pkey -pubin -outform DER | sha256sum`."""
    der = base64.b64decode("".join(public.read_text().splitlines()[1:-1]))
    return hashlib.sha256(der).hexdigest()


def test_without_a_key_the_approvals_are_listed_with_their_annotations_unchecked(approved: Path) -> None:
    result = report("plan.json", "-o", "review.md")
    assert (result.code, result.err) == (0, "")
    text = (approved / "review.md").read_text()
    assert text.splitlines()[2] == ("> ⚠️ **Signature: not checked.** plan.json.sig and plan.json.approvals exist but were not "
                                    "checked (pass --key PUB to verify them)")
    body = section(text)
    keyid = _key_hex(approved / "approver.pub")
    rows = table_rows(body)
    assert rows[0] == "| `plan.json.sig` | not checked | none | not checked | not checked |"
    # the key id the approval claims, short (as long as the report's other digests need), in full in the appendix
    short = re.fullmatch(r"\| `plan\.json\.approvals, approval 1` \| not checked \(keyid `sha256:([0-9a-f]{12,})`\) \| "
                         r"`approver=bob`, `ticket=CHG-1`, `time=2026-12-06T09:00:00Z` \| not checked \| not checked \|", rows[1])
    assert short and keyid.startswith(short[1])
    assert f"| `sha256:{short[1]}` | `sha256:{keyid}` |" in text
    assert "\nthreshold 1: not checked (pass --key PUB to verify the signatures)\n" in body


def test_an_unsigned_plan_without_a_key_has_no_approvals_section(work: Path) -> None:
    (work / "plan.json.sig").unlink()
    result = report("plan.json", "-o", "review.md")
    assert (result.code, result.err) == (0, "")
    assert "## Approvals" not in (work / "review.md").read_text()


@pytest.mark.parametrize("content", [b'{"approvals": 3}', b"not json", b""])
def test_a_malformed_bundle_is_a_not_valid_row_and_the_report_is_still_written(work: Path, content: bytes) -> None:
    (work / "plan.json.approvals").write_bytes(content)
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "-o", "review.md")
    assert result.code == 0
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("warning: signature NOT verified: approvals plan.json.approvals is not an approval bundle: ")
    text = (work / "review.md").read_text()
    assert text.splitlines()[2].startswith("> ❌ **Signature: NOT VERIFIED.** approvals plan.json.approvals is not an approval bundle")
    rows = table_rows(section(text))
    # the detached signature is still checked and shown: one broken file does not hide the other
    assert rows[0] == "| `plan.json.sig` | `author.pub` | none | valid | counted |"
    assert rows[1].startswith("| `plan.json.approvals` | no trusted key | none | NOT valid: ")
    assert "approvals plan.json.approvals is not an approval bundle" in rows[1] and rows[1].endswith(" | not counted |")
    # and without a key the bundle is still listed as not valid
    assert report("plan.json", "-o", "unchecked.md").code == 0
    rows = table_rows(section((work / "unchecked.md").read_text()))
    assert rows[1].startswith("| `plan.json.approvals` | no trusted key | none | NOT valid: ")


def test_an_approval_of_another_plan_is_not_valid(work: Path) -> None:
    analyze("other.json", "--keep-tag-revisions=1")
    approve("other.json", "--key", "approver", "--annotation", "ticket=CHG-9")
    shutil.copy(work / "other.json.approvals", work / "plan.json.approvals")
    other_sha256 = hashlib.sha256((work / "other.json").read_bytes()).hexdigest()
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2", "-o", "review.md")
    assert result.code == 0
    text = (work / "review.md").read_text()
    assert "**Signature: NOT VERIFIED (1 of 2 trusted keys signed).**" in text
    rows = table_rows(section(text))
    assert rows[1] == (f"| `plan.json.approvals, approval 1` | no trusted key | `ticket=CHG-9`, `time={_time_of(rows[1])}` "
                       f"| NOT valid: `approves another plan (sha256 {other_sha256})` | not counted |")


def _time_of(row: str) -> str:
    found = re.search(r"`time=([^`]+)`", row)
    assert found
    return found[1]


def test_two_approvals_by_one_key_count_once(approved: Path) -> None:
    approve("plan.json", "--key", "approver", "--annotation", "ticket=CHG-2")
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2", "-o", "review.md")
    assert (result.code, result.err) == (0, "")
    rows = table_rows(section((approved / "review.md").read_text()))
    assert [row.rsplit(" | ", 2)[1:] for row in rows] == [
        ["valid", "counted |"], ["valid", "counted |"], ["valid", "not counted: its key already signed |"],
    ]


def test_an_approval_alone_verifies_a_plan_without_a_detached_signature(approved: Path) -> None:
    (approved / "plan.json.sig").unlink()
    result = report("plan.json", "--key", "approver.pub", "-o", "review.md")
    assert (result.code, result.err) == (0, "")
    text = (approved / "review.md").read_text()
    assert "> ✅ **Signature: verified.** signature verified with approver.pub (plan.json.approvals, approval 1)" in text
    assert [row.split(" | ")[0] for row in table_rows(section(text))] == ["| `plan.json.approvals, approval 1`"]


def test_a_broken_signature_file_is_a_row_and_does_not_hide_the_approvals(approved: Path) -> None:
    (approved / "plan.json.sig").write_text("not a signature!\n")
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "-o", "review.md")
    assert result.code == 0
    assert result.err_lines == ["warning: signature NOT verified: signature file plan.json.sig is not base64"]
    rows = table_rows(section((approved / "review.md").read_text()))
    assert rows[0] == "| `plan.json.sig` | no trusted key | none | NOT valid: `signature file plan.json.sig is not base64` | not counted |"
    assert rows[1].startswith("| `plan.json.approvals, approval 1` | `approver.pub` | `approver=bob`")
    assert rows[1].endswith(" | valid | counted |")


def test_a_bad_key_file_lists_the_signatures_unchecked(approved: Path) -> None:
    result = report("plan.json", "--key", "author.pub", "--key", "missing.pub", "-o", "review.md")
    assert result.code == 0
    assert result.err_lines == ["warning: signature NOT verified: key file missing.pub not found"]
    body = section((approved / "review.md").read_text())
    assert [row.rsplit(" | ", 2)[1:] for row in table_rows(body)] == [["not checked", "not checked |"]] * 2
    assert "\nthreshold 1: NOT met (no signature could be checked: see the signature status above)\n" in body


def test_valid_approvals_on_an_expired_plan_show_as_expired(approved: Path) -> None:
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2", "--now", LATER,
                    "-o", "review.md")
    assert result.code == 0
    assert len(result.err_lines) == 1 and "plan EXPIRED on" in result.err
    text = (approved / "review.md").read_text()
    assert text.splitlines()[2].startswith("> ⌛ **Signature: valid (verified with `author.pub`) — plan EXPIRED on ")
    assert "the signatures of 2 distinct trusted keys verify, but the plan's notAfter has passed" in text
    assert "NOT VERIFIED" not in text
    assert "\nthreshold 2: met (2 distinct trusted keys)\n" in section(text)


def test_annotations_with_a_pipe_or_a_script_tag_stay_text_in_markdown_and_html(work: Path) -> None:
    hostile = "a | b <script>alert(1)</script> `x` **y**"
    approve("plan.json", "--key", "approver", "--annotation", f"comment={hostile}")
    assert report("plan.json", "--key", "author.pub", "--key", "approver.pub", "-o", "review.md").code == 0
    assert report("plan.json", "--key", "author.pub", "--key", "approver.pub", "-o", "review.html").code == 0
    rows = table_rows(section((work / "review.md").read_text()))
    # five cells: the pipe is escaped inside the code span, the backticks fenced by more of them
    assert len(re.split(r"(?<!\\)\|", rows[1])) == 5 + 2
    assert "``comment=a \\| b <script>alert(1)</script> `x` **y**``" in rows[1]
    page = (work / "review.html").read_text()
    assert "<script>" not in page
    assert "<code>comment=a | b &lt;script&gt;alert(1)&lt;/script&gt; `x` **y**</code>" in page
    cells = _Cells()
    cells.feed(page)
    assert cells.rows[-1][2].startswith(f"comment={hostile}, time=")


def test_the_approvals_table_is_cut_at_top_and_the_threshold_counts_them_all(work: Path) -> None:
    for number in range(6):
        approve("plan.json", "--key", "approver", "--annotation", f"ticket=CHG-{number}")
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2", "--top", "3",
                    "-o", "review.md")
    assert (result.code, result.err) == (0, "")
    body = section((work / "review.md").read_text())
    assert len(table_rows(body)) == 3
    assert "\n… and 4 more signatures.\n" in body
    assert "\nthreshold 2: met (2 distinct trusted keys)\n" in body


def test_approvals_option_names_a_bundle_elsewhere(approved: Path) -> None:
    (approved / "plan.json.approvals").rename(approved / "ticket.approvals")
    result = report("plan.json", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2",
                    "--approvals", "ticket.approvals", "-o", "review.md")
    assert (result.code, result.err) == (0, "")
    rows = table_rows(section((approved / "review.md").read_text()))
    assert rows[1].startswith("| `ticket.approvals, approval 1` | `approver.pub` |")


@pytest.mark.parametrize("args,message", [
    (["--threshold", "0"], "error: --threshold must be at least 1, not 0"),
    (["--key", "author.pub", "--threshold", "2"], "error: --threshold 2 needs at least 2 distinct trusted keys (--key), not 1"),
    (["--key", "author.pub", "--key", "author.pub", "--threshold", "2"],
     "error: --threshold 2 needs at least 2 distinct trusted keys (--key), not 1"),
])
def test_a_threshold_no_signatures_could_meet_is_a_usage_error_and_writes_nothing(
    approved: Path, args: list[str], message: str
) -> None:
    result = report("plan.json", *args, "-o", "review.md")
    assert (result.code, result.out, result.err_lines) == (EXIT_USAGE, "", [message])
    assert not (approved / "review.md").exists()


def test_the_report_never_writes_over_the_approval_bundle(approved: Path) -> None:
    before = (approved / "plan.json.approvals").read_bytes()
    result = report("plan.json", "-o", "plan.json.approvals", "--format", "md")
    assert result.code == EXIT_IO and len(result.err_lines) == 1 and result.err.startswith("error: ")
    assert (approved / "plan.json.approvals").read_bytes() == before
    assert json.loads(before)["kind"] == "ApprovalBundle"


def test_the_markdown_report_of_a_20000_image_plan_with_approvals_stays_under_300_lines(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent))  # benchmarks/ is not installed
    from benchmarks.generate import generate

    generate(20_000, 1, str(work / "big.json.gz"))
    result = run_cli("analyze", "big.json.gz", "-o", "big.json", "--now", NOW, "-q", "--sign-key", "author")
    assert result.code == 0, result.err
    approve("big.json", "--key", "approver", "--annotation", "ticket=CHG-1", "--annotation", "comment=weekly prune")
    result = report("big.json", "--dump", "big.json.gz", "--key", "author.pub", "--key", "approver.pub", "--threshold", "2",
                    "-o", "big.md")
    assert (result.code, result.err) == (0, "")
    text = (work / "big.md").read_text()
    assert len(text.splitlines()) < 300
    assert len(table_rows(section(text))) == 2
    assert "## Kept by a single referrer (first 10 by image stream, of " in text  # every section is there
