"""`pruneplan report` on a hard-prune plan (kind HardPrunePlan): the same signature states as a
soft plan's report, the plan's source and policy, the totals in human units, and bounded tables
of what it deletes from the registry's storage.

The plan is built with pruneplan.hardplan's classes (so it passes the strict reader exactly as
`analyze --hard` output would), written, signed with a key made by `pruneplan keygen`, and
reported through the CLI.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from builders import as_dump, write_json
from clirunner import Result, run_cli
from pruneplan.hardplan import (
    HARD_PLAN_KIND,
    DumpSource,
    HardBlobDeletion,
    HardPolicy,
    HardPrunePlan,
    HardSource,
    HardSummary,
    InventorySource,
    LayerLinkDeletion,
    ManifestLinkDeletion,
    RepositoryDeletion,
    UploadDeletion,
)
from pruneplan.planformat import PLAN_API_VERSION
from pruneplan.planmodel import Cluster, Metadata, Tool

NOW = "2026-06-01T00:00:00Z"
CUTOFF = "2026-05-31T23:00:00Z"  # the dump's collection time less 60m (the inventory was read later)
BEFORE = "2026-05-30T12:00:00Z"  # well before the cutoff: old content
NOT_AFTER = "2026-06-08T00:00:00Z"
API_SERVER = "https://api.hard.example:6443"
KiB, MiB = 1024, 1024 * 1024
SUMMARY_TEXT = "deleted 2 repositories, <b>12</b> manifest links"  # markup in a plan value stays text

# Blob sizes, unsorted on purpose: the report ranks them, largest first.
BLOB_SIZES = [3 * MiB, 700 * MiB, 12 * KiB, 45 * MiB, 0, 512, 90 * MiB, 5 * MiB, 1 * MiB, 250 * MiB, 64 * KiB, 33 * MiB]
LARGEST = 700 * MiB
UPLOAD_SIZES = {"0f6a0c2e-upload-big": 2 * MiB, "9ab1-upload-small": 10 * KiB}


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def blob(n: int) -> str:
    return sha(f"hard-blob-{n}")


def build_plan(manifest_links: int = 12) -> HardPrunePlan:
    blobs = sorted((HardBlobDeletion(digest=blob(n), size=size, modified=BEFORE) for n, size in enumerate(BLOB_SIZES)),
                   key=lambda b: b.digest)
    links = sorted(
        (ManifestLinkDeletion(repository="shop/frontend", digest=sha(f"manifest-{n}"),
                              reason="not-an-image" if n % 3 == 0 else "not-in-stream-history")
         for n in range(manifest_links)),
        key=lambda link: (link.repository, link.digest),
    )
    layers = tuple(sorted(
        (LayerLinkDeletion(repository="shop/backend", digest=blob(n), reason="blob-deleted") for n in (1, 3)),
        key=lambda link: (link.repository, link.digest),
    ))
    uploads = tuple(UploadDeletion(repository="shop/frontend", uuid=uuid, started_at=BEFORE, size=size)
                    for uuid, size in sorted(UPLOAD_SIZES.items()))
    repositories = (RepositoryDeletion(repository="ci/gone", reason="no-image-stream"),
                    RepositoryDeletion(repository="stray", reason="invalid-name"))
    reclaimable = sum(BLOB_SIZES) + sum(UPLOAD_SIZES.values())
    plan = HardPrunePlan(
        api_version=PLAN_API_VERSION,
        kind=HARD_PLAN_KIND,
        metadata=Metadata(created_at=NOW, not_after=NOT_AFTER, tool=Tool(name="pruneplan", version="0.1.0")),
        source=HardSource(
            dump=DumpSource(sha256="a" * 64, collected_at=NOW),
            inventory=InventorySource(sha256="b" * 64, read_at="2026-06-01T00:05:00Z", root="/registry"),
            cluster=Cluster(api_server=API_SERVER, cluster_id="c0ffee00-1111-2222-3333-444455556666"),
        ),
        policy=HardPolicy(now=NOW, keep_younger_than="60m", cutoff=CUTOFF),
        summary=HardSummary(
            deleted_repositories=len(repositories), deleted_manifest_links=len(links), deleted_layer_links=len(layers),
            deleted_uploads=len(uploads), deleted_blobs=len(blobs), reclaimable_bytes=reclaimable, text=SUMMARY_TEXT,
        ),
        manifest_link_deletions=tuple(links),
        layer_link_deletions=layers,
        upload_deletions=uploads,
        repository_deletions=repositories,
        blob_deletions=tuple(blobs),
    )
    plan.check()
    return plan


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """hard-plan.json, signed with a key pair from `pruneplan keygen`, in the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hard-plan.json").write_bytes(build_plan().to_bytes())
    assert run_cli("keygen", "signer").code == 0
    assert run_cli("keygen", "other").code == 0
    from pruneplan.signing import write_signature

    write_signature("hard-plan.json", "signer")
    return tmp_path


def report(*args: str) -> Result:
    return run_cli("report", "hard-plan.json", "--now", "2026-06-02T00:00:00Z", *args)


def markdown(work: Path, *args: str) -> str:
    result = report("--key", "signer.pub", "-o", "review.md", *args)
    assert result.code == 0, result.err
    return (work / "review.md").read_text()


def test_a_signed_hard_plan_shows_as_verified_with_its_key(work: Path) -> None:
    result = report("--key", "signer.pub", "-o", "review.md")
    assert result.code == 0, result.err
    assert result.out == "" and result.err == ""
    text = (work / "review.md").read_text()
    assert text.startswith(f"# Hard prune plan review: `{API_SERVER}`\n")
    assert "> ✅ **Signature: verified.** signature verified with signer.pub (hard-plan.json.sig)" in text


def test_a_tampered_hard_plan_shows_not_verified_and_warns(work: Path) -> None:
    plan = work / "hard-plan.json"
    plan.write_bytes(plan.read_bytes().replace(b"not-an-image", b"not-in-stream-history", 1))
    result = report("--key", "signer.pub", "-o", "review.md")
    assert result.code == 0, result.err
    assert result.err_lines == ["warning: signature NOT verified: signature does not verify with any trusted key (tried 1)"]
    text = (work / "review.md").read_text()
    assert "> ❌ **Signature: NOT VERIFIED (0 of 1 trusted keys signed).**" in text


def test_a_hard_plan_signed_by_another_key_is_not_verified(work: Path) -> None:
    result = report("--key", "other.pub", "-o", "review.md")
    assert result.code == 0, result.err
    assert "**Signature: NOT VERIFIED (0 of 1 trusted keys signed).**" in (work / "review.md").read_text()


def test_a_valid_signature_on_an_expired_hard_plan_shows_as_expired(work: Path) -> None:
    result = run_cli("report", "hard-plan.json", "--key", "signer.pub", "--now", "2026-06-09T00:00:00Z", "-o", "review.md")
    assert result.code == 0, result.err
    assert result.err_lines == [f"warning: signature valid (verified with signer.pub) — plan EXPIRED on {NOT_AFTER}"]
    text = (work / "review.md").read_text()
    assert f"> ⌛ **Signature: valid (verified with `signer.pub`) — plan EXPIRED on `{NOT_AFTER}`.**" in text
    assert f"| not after (expiry) | `{NOT_AFTER}` — EXPIRED |" in text


def test_without_a_key_a_hard_plan_report_says_the_signature_was_not_checked(work: Path) -> None:
    text_md = report("-o", "-").out
    assert "**Signature: not checked.** hard-plan.json.sig exists but was not checked (pass --key PUB to verify it)" in text_md


def test_the_hard_report_shows_source_policy_and_reclaimable_bytes_in_human_units(work: Path) -> None:
    text = markdown(work)
    total = sum(BLOB_SIZES) + sum(UPLOAD_SIZES.values())
    assert f"**Will free: 1.1 GiB ({total:,} B)**" in text
    assert "| kind | HardPrunePlan (deletes from the registry's storage) |" in text
    for row in (
        f"| dump sha256 | `{'a' * 64}` |",
        f"| dump collected at | `{NOW}` |",
        f"| inventory sha256 | `{'b' * 64}` |",
        "| inventory read at | `2026-06-01T00:05:00Z` |",
        "| registry storage root | `/registry` |",
        f"| cluster API server | `{API_SERVER}` |",
        "| cluster ID | `c0ffee00-1111-2222-3333-444455556666` |",
        "| `--keep-younger-than` | `60m` |",
        f"less --keep-younger-than; content modified or started after it is kept | `{CUTOFF}` |",
        "| repositories (removed whole) | 2 |",
        "| manifest links | 12 |",
        "| layer links | 2 |",
        "| uploads | 2 |",
        f"| blobs | {len(BLOB_SIZES)} |",
        f"| reclaimable bytes (blobs and uploads) | 1.1 GiB ({total:,} B) |",
        f"| of which uploads | 2.0 MiB ({sum(UPLOAD_SIZES.values()):,} B) |",
    ):
        assert row in text, row


def test_blobs_are_listed_largest_first_with_their_sizes_and_bounded_by_top(work: Path) -> None:
    text = markdown(work, "--top", "3")
    assert f"## Will delete: largest blobs (top 3 by size, of {len(BLOB_SIZES)})" in text
    ranked = sorted(range(len(BLOB_SIZES)), key=lambda n: (-BLOB_SIZES[n], blob(n)))
    rows = [line for line in text.splitlines() if line.startswith(("| 1 | `sha256:", "| 2 | `sha256:", "| 3 | `sha256:"))]
    assert [row.split("`")[1] for row in rows] == [blob(n)[:19] for n in ranked[:3]]
    assert rows[0].startswith(f"| 1 | `{blob(ranked[0])[:19]}` | 700.0 MiB | {LARGEST:,} | `{BEFORE}` |")
    assert f"… and {len(BLOB_SIZES) - 3} more blobs." in text
    # the full digests of the short ones shown are in the appendix
    assert f"| `{blob(ranked[0])[:19]}` | `{blob(ranked[0])}` |" in text


def test_every_table_of_a_hard_plan_is_cut_at_top_and_says_how_many_more(work: Path) -> None:
    text = markdown(work, "--top", "1")
    for heading, more in (
        ("Will remove whole: repositories (first 1 by name, of 2)", "… and 1 more repositories."),
        ("Will delete: manifest links (first 1 by repository, of 12)", "… and 11 more manifest links."),
        ("Will delete: layer links (first 1 by repository, of 2)", "… and 1 more layer links."),
        ("Will delete: largest uploads (top 1 by size, of 2)", "… and 1 more uploads."),
    ):
        assert f"## {heading}" in text, heading
        assert more in text, more


def test_repositories_links_and_uploads_are_listed_with_their_reasons(work: Path) -> None:
    text = markdown(work)
    assert "| `ci/gone` | `no-image-stream` (no image stream of that name) |" in text
    assert "| `stray` | `invalid-name` (not a name an image stream can have) |" in text
    assert "By reason: `not-an-image` ×4, `not-in-stream-history` ×8" in text
    assert "| `shop/backend` | `sha256:" in text and "`blob-deleted` (its blob is deleted) |" in text
    upload_rows = [line for line in text.splitlines() if "`shop/frontend` | `" in line and "upload" in line]
    assert upload_rows[0].startswith("| 1 | `shop/frontend` | `0f6a0c2e-upload-big` | `2026-05-30T12:00:00Z` | 2.0 MiB |")
    assert upload_rows[1].startswith("| 2 | `shop/frontend` | `9ab1-upload-small` |")
    assert f"The plan's summary: `{SUMMARY_TEXT}`" in text


def test_the_html_report_of_a_hard_plan_is_self_contained_and_escapes_plan_values(work: Path) -> None:
    result = report("--key", "signer.pub", "-o", "review.html")
    assert result.code == 0, result.err
    page = (work / "review.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy\" content=\"default-src 'none'" in page
    assert '<div id="signature" class="status verified"><strong>Signature: verified.</strong>' in page
    assert "<b>12</b>" not in page and "&lt;b&gt;12&lt;/b&gt;" in page
    assert f'title="{blob(BLOB_SIZES.index(LARGEST))}"' in page  # the full digest as the tooltip
    assert "<script" not in page and "src=" not in page and "href=" not in page


def test_a_dump_that_is_not_the_hard_plans_source_is_warned_about(work: Path) -> None:
    write_json(work / "dump.json", as_dump([]))
    result = report("--dump", "dump.json", "-o", "review.md")
    assert result.code == 0, result.err
    (warning,) = [line for line in result.err_lines if "source dump" in line]
    assert warning.startswith("warning: the dump given (") and warning.endswith(f"is not the hard plan's source dump ({'a' * 64})")
    assert "| matches the plan's dump | no, see the warning above |" in (work / "review.md").read_text()


def test_a_hard_plan_with_a_broken_cross_check_is_refused_with_one_line(work: Path) -> None:
    plan = work / "hard-plan.json"
    plan.write_bytes(plan.read_bytes().replace(b'"deletedBlobs": 12', b'"deletedBlobs": 11'))
    result = report("-o", "review.md")
    assert result.code == 13
    assert result.err_lines == [
        "error: hard-plan.json: plan field summary.deletedBlobs must be 12 (what the action lists add up to), not 11"
    ]
    assert not (work / "review.md").exists()


def test_chromium_renders_the_hard_report_offline_with_its_tables(work: Path) -> None:
    from test_report_browser import run_chromium

    result = report("--key", "signer.pub", "-o", "review.html")
    assert result.code == 0, result.err
    dom = run_chromium(work, "--dump-dom", (work / "review.html").as_uri()).stdout
    for needle in ("Hard prune plan review: https://api.hard.example:6443", "Signature: verified.",
                   "Will delete: largest blobs (top 10 by size, of 12)", "700.0 MiB", "ci/gone", "0f6a0c2e-upload-big",
                   "&lt;b&gt;12&lt;/b&gt;"):
        assert needle in dom, needle
    assert "<script" not in dom


def test_counts_of_one_are_said_in_the_singular(work: Path) -> None:
    (work / "hard-plan.json").write_bytes(build_plan(manifest_links=1).to_bytes())
    result = report("-o", "review.md")
    assert result.code == 0, result.err
    text = (work / "review.md").read_text()
    assert "**Will delete:** 1 manifest link, 2 layer links, 2 uploads," in text, text[:600]
