"""`pruneplan report`: the review a reviewer attaches to a change ticket.

The golden inputs (tests/golden/report-dump.json and report-plan.json) are a small cluster built
by `golden_cluster()` and analysed by `pruneplan analyze`; the expected Markdown is
tests/golden/report.md. Regenerate all three with `UPDATE_GOLDEN=1 python -m pytest tests/test_report.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from builders import REGISTRY, as_dump, deployment, digest, image, pod, stream, write_json
from clirunner import Result, run_cli

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_DUMP = GOLDEN / "report-dump.json"
GOLDEN_PLAN = GOLDEN / "report-plan.json"
GOLDEN_MD = GOLDEN / "report.md"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
MiB = 1024 * 1024
XSS = "<script>alert(1)</script>"

# Images of the golden cluster (names are digests).
F = {i: digest(f"f{i}") for i in range(1, 7)}  # shop/frontend:latest, newest first
B = {i: digest(f"b{i}") for i in range(1, 5)}  # shop/backend:main
E = {i: digest(f"e{i}") for i in range(1, 5)}  # data/etl:v1
N = {i: digest(f"n{i}") for i in range(1, 6)}  # data/etl:nightly
ORPHAN = digest("o1")  # in no image stream; its reference says ci/tools
YOUNG = digest("y1")  # in no image stream but too young to prune
MISSING = digest(999)  # named by data/etl:gone, not an Image
# Layers with their sizes (None: the image metadata does not know it).
LAYERS: dict[str, int | None] = {
    "kept-base": 100 * MiB,  # used by kept and deleted images: never freed
    "shared": 50 * MiB,  # used by f4 (shop/frontend) and e4 (data/etl), both deleted
    "f4": 20 * MiB, "f5": 8 * MiB, "f6": 12 * MiB, "f6-nosize": None,
    "e4": 5 * MiB, "n5": 3 * MiB, "b4": 7 * MiB, "o1": 30 * MiB,
}


def layer(name: str) -> str:
    return digest(f"layer-{name}")


def _image(name: str, repo: str, layers: list[str], created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    obj = image(name, layers=[layer(n) for n in layers], config=digest(f"cfg-{name[-8:]}"), created=created)
    obj["dockerImageReference"] = f"{REGISTRY}/{repo}@{name}"
    for entry in obj["dockerImageLayers"]:
        size = LAYERS[next(n for n in layers if layer(n) == entry["name"])]
        if size is None:
            del entry["size"]
        else:
            entry["size"] = size
    return obj


def golden_cluster() -> list[dict[str, Any]]:
    """A cluster where every section of the report has something to show.

    - shop/frontend:latest has six items; f4 and f6 are beyond --keep-tag-revisions=3 and deleted,
      f5 is kept only by deployment shop/web (by digest), item 0 only by pod shop/web-1 (by tag);
    - f4 and e4 (data/etl) share the 50 MiB layer `shared`: one blob, freed once, in both groups;
    - data/etl:nightly n4 is kept by two pods (so it is not fragile), n5 is deleted;
    - data/etl:gone names a missing image, so that tag is removed;
    - the orphan image has no stream: only its dockerImageReference (ci/tools) attributes it.
    """
    items = [_image(F[i], "shop/frontend", ["kept-base"]) for i in (1, 2, 3)]
    items += [
        _image(F[4], "shop/frontend", ["kept-base", "shared", "f4"]),
        _image(F[5], "shop/frontend", ["f5"]),
        _image(F[6], "shop/frontend", ["f6", "f6-nosize"]),
    ]
    items += [_image(B[i], "shop/backend", ["kept-base"]) for i in (1, 2, 3)] + [_image(B[4], "shop/backend", ["b4"])]
    items += [_image(E[i], "data/etl", ["kept-base"]) for i in (1, 2, 3)] + [_image(E[4], "data/etl", ["shared", "e4"])]
    items += [_image(N[i], "data/etl", ["kept-base"]) for i in (1, 2, 3, 4)] + [_image(N[5], "data/etl", ["n5"])]
    items += [_image(ORPHAN, "ci/tools", ["o1"]), _image(YOUNG, "ci/tools", ["kept-base"], created="2026-05-31T23:30:00Z")]
    items += [
        stream("shop", "frontend", {"latest": [F[i] for i in range(1, 7)]}, created="2025-01-01T00:00:00Z"),
        stream("shop", "backend", {"main": [B[i] for i in range(1, 5)]}, created="2025-01-01T00:00:00Z"),
        stream("data", "etl", {"v1": [E[i] for i in range(1, 5)], "nightly": [N[i] for i in range(1, 6)],
                               "gone": [MISSING]}, created="2025-01-01T00:00:00Z"),
        pod("shop", "web-1", [f"{REGISTRY}/shop/frontend:latest"]),
        deployment("shop", "web", [f"{REGISTRY}/shop/frontend@{F[5]}"]),
        pod("shop", "api-1", [f"{REGISTRY}/shop/backend:main"]),
        pod("shop", "api-2", [f"{REGISTRY}/shop/backend:main"]),
        pod("data", "etl-a", [f"{REGISTRY}/data/etl@{N[4]}"]),
        pod("data", "etl-b", [f"{REGISTRY}/data/etl@{N[4]}"]),
    ]
    return items


def analyze_to(dump: Path, plan: Path, *extra: str) -> None:
    result = run_cli("analyze", str(dump), "-o", str(plan), "-q", *extra)
    assert result.code == 0, result.err


@pytest.fixture(scope="session", autouse=True)
def golden_inputs() -> None:
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        write_json(GOLDEN_DUMP, as_dump(golden_cluster()))
        analyze_to(GOLDEN_DUMP, GOLDEN_PLAN)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory holding plan.json and dump.json, made the current directory so that the
    report names them exactly as a user would type them."""
    shutil.copy(GOLDEN_PLAN, tmp_path / "plan.json")
    shutil.copy(GOLDEN_DUMP, tmp_path / "dump.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def report(*args: str) -> Result:
    return run_cli("report", *args)


def load_plan() -> dict[str, Any]:
    return json.loads(GOLDEN_PLAN.read_text())


def review_of(*dumps: str, plan: str = "plan.json", top: int = 20):
    from pruneplan.analyze.report.run import ReportRequest, make_review

    return make_review(ReportRequest(plan=plan, output="unused", dumps=list(dumps), top=top))


# ---------------------------------------------------------------------------------------------
# Golden file


def test_markdown_report_matches_the_golden_file(work: Path) -> None:
    result = report("plan.json", "--dump", "dump.json", "--format", "md", "-o", "report.md")
    assert result.code == 0, result.err
    assert result.err == ""
    # The plan's sha256 follows its byte layout, which the golden file must not depend on.
    plan_sha256 = hashlib.sha256((work / "plan.json").read_bytes()).hexdigest()
    text = (work / "report.md").read_text(encoding="utf-8").replace(plan_sha256, "PLAN-SHA256")
    if UPDATE:
        GOLDEN_MD.write_text(text, encoding="utf-8")
    assert text == GOLDEN_MD.read_text(encoding="utf-8")


def test_golden_plan_is_what_analyze_makes_of_the_golden_dump(tmp_path: Path) -> None:
    # Keeps the committed inputs honest: the plan is the real output for the dump.
    write_json(tmp_path / "dump.json", as_dump(golden_cluster()))
    assert (tmp_path / "dump.json").read_bytes() == GOLDEN_DUMP.read_bytes()
    analyze_to(tmp_path / "dump.json", tmp_path / "plan.json")
    # parsed content, not bytes: the plan's key order is the plan writer's business
    assert json.loads((tmp_path / "plan.json").read_bytes()) == json.loads(GOLDEN_PLAN.read_bytes())


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_same_plan_and_dump_give_the_same_bytes(work: Path, fmt: str) -> None:
    assert report("plan.json", "--dump", "dump.json", "--format", fmt, "-o", "one").code == 0
    assert report("plan.json", "--dump", "dump.json", "--format", fmt, "-o", "two").code == 0
    assert (work / "one").read_bytes() == (work / "two").read_bytes()


def test_report_shows_policy_source_cluster_dates_and_tool(work: Path) -> None:
    assert report("plan.json", "-o", "report.md").code == 0
    text = (work / "report.md").read_text()
    plan = load_plan()
    for needle in (
        plan["source"]["dumpSha256"], "2026-06-01T00:00:00Z", "https://api.test.example:6443", "test-cluster",
        "2026-06-08T00:00:00Z", "pruneplan 0.1.0", "| `--keep-tag-revisions` | `3` |", "| `--keep-younger-than` | `1h0m0s` |",
        "| `--prune-over-size-limit` | not set |", "| `--all` | `true` |", "| `--prune-registry` | `true` |",
        "| `age threshold (now - keep-younger-than)` | `2026-05-31T23:00:00Z` |", plan["summary"]["text"],
        "| image objects | 6 |",
    ):
        assert needle in text, needle


# ---------------------------------------------------------------------------------------------
# Reclaimable bytes


def _group(groups, name: str):
    return next(g for g in groups if g.name == name)


def test_total_counts_each_freed_blob_once_and_reports_unknown_sizes(work: Path) -> None:
    plan = load_plan()
    review = review_of("dump.json")
    sizes = {b["digest"]: b["size"] for b in plan["blobDeletions"]}
    assert review.reclaimable_bytes == sum(s or 0 for s in sizes.values()) == plan["summary"]["reclaimableBytes"]
    assert review.freed_blobs == len(sizes)
    assert review.unknown_size_blobs == sum(s is None for s in sizes.values())
    # f6-nosize plus one config and one manifest blob per deleted image (the plan has no sizes for those)
    assert review.unknown_size_blobs == 1 + 2 * 6
    assert layer("kept-base") not in sizes  # still used by kept images


def test_a_blob_shared_by_two_namespaces_counts_once_in_each_and_once_in_the_total(work: Path) -> None:
    review = review_of("dump.json")
    shared = LAYERS["shared"]
    shop, data, ci = (_group(review.per_namespace, n) for n in ("shop", "data", "ci"))
    assert shop.bytes == LAYERS["f4"] + shared + LAYERS["f6"] + LAYERS["b4"]
    assert data.bytes == LAYERS["e4"] + shared + LAYERS["n5"]
    assert ci.bytes == LAYERS["o1"]
    assert sum(g.bytes for g in review.per_namespace) == review.reclaimable_bytes + shared
    assert (shop.images, data.images, ci.images) == (3, 2, 1)


def test_per_repository_bytes_follow_image_stream_history(work: Path) -> None:
    review = review_of("dump.json")
    repos = {g.name: g.bytes for g in review.per_repository}
    assert repos == {
        "shop/frontend": LAYERS["f4"] + LAYERS["shared"] + LAYERS["f6"],
        "data/etl": LAYERS["e4"] + LAYERS["shared"] + LAYERS["n5"],
        "ci/tools": LAYERS["o1"],
        "shop/backend": LAYERS["b4"],
    }
    assert [g.name for g in review.per_repository] == ["shop/frontend", "data/etl", "ci/tools", "shop/backend"]


def test_a_blob_used_twice_within_one_group_counts_once_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two deleted images of one repository share a layer: the repository gains it once.
    monkeypatch.chdir(tmp_path)
    a, b = digest("aa"), digest("bb")
    items = [_image(a, "ns/app", ["shared", "f4"]), _image(b, "ns/app", ["shared", "e4"]),
             stream("ns", "app", {"t": [digest("cc")]})]
    write_json(tmp_path / "dump.json", as_dump(items))
    analyze_to(tmp_path / "dump.json", tmp_path / "plan.json")
    review = review_of("dump.json")
    expected = LAYERS["shared"] + LAYERS["f4"] + LAYERS["e4"]
    assert [(g.name, g.bytes) for g in review.per_repository] == [("ns/app", expected)]
    assert [(g.name, g.bytes) for g in review.per_namespace] == [("ns", expected)]
    assert review.reclaimable_bytes == expected


def test_without_the_dump_images_are_attributed_by_their_docker_image_reference(work: Path) -> None:
    review = review_of()
    assert review.attribution == "reference"
    repos = {g.name: g.bytes for g in review.per_repository}
    # The plan frees the shared layer with the last deleted user in name order (e4 < f4), so
    # without the dump it lands in that image's repository only.
    last_user = max(E[4], F[4])
    assert last_user == F[4]
    assert repos["shop/frontend"] == LAYERS["f4"] + LAYERS["shared"] + LAYERS["f6"]
    assert repos["data/etl"] == LAYERS["e4"] + LAYERS["n5"]
    assert sum(g.bytes for g in review.per_namespace) == review.reclaimable_bytes


def test_attribution_rule_is_stated_in_the_report(work: Path) -> None:
    assert report("plan.json", "--dump", "dump.json", "-o", "with.md").code == 0
    assert report("plan.json", "-o", "without.md").code == 0
    with_dump, without = (work / "with.md").read_text(), (work / "without.md").read_text()
    assert "[^attribution]: Attribution: each freed blob is attributed to every deleted image" in with_dump
    assert "image stream history in the dump" in with_dump
    assert "[^attribution]: Attribution: without --dump" in without
    assert "dockerImageReference" in without


@pytest.mark.parametrize(
    "reference, repository",
    [
        (f"{REGISTRY}/ns/app@sha256:{'0' * 64}", ("ns", "app")),
        ("registry.example.com:5000/ns/app:v1", ("ns", "app")),
        ("quay.io/org/group/app@sha256:abc", ("org", "group/app")),
        ("ns/app:latest", ("ns", "app")),
        ("quay.io/app", None),
        ("app", None),
    ],
)
def test_repository_of_a_docker_image_reference(reference: str, repository: tuple[str, str] | None) -> None:
    from pruneplan.analyze.report.review import repository_of_reference

    assert repository_of_reference(reference) == repository


def test_largest_images_and_blobs_are_ranked_by_bytes(work: Path) -> None:
    review = review_of("dump.json")
    images = [(r.name, r.freed_bytes) for r in review.top_images.rows]
    # f4 frees f4 and the shared layer (it is the last deleted user of it in name order).
    assert images[0] == (F[4], LAYERS["f4"] + LAYERS["shared"])
    assert [r.freed_bytes for r in review.top_images.rows] == sorted((r.freed_bytes for r in review.top_images.rows), reverse=True)
    blobs = [(b.digest, b.size) for b in review.top_blobs.rows]
    assert blobs[:2] == [(layer("shared"), LAYERS["shared"]), (layer("o1"), LAYERS["o1"])]
    assert [size for _, size in blobs] == [50 * MiB, 30 * MiB, 20 * MiB, 12 * MiB, 7 * MiB, 5 * MiB, 3 * MiB]
    assert review.top_blobs.total == 7  # blobs of unknown size are counted, not ranked


def test_rankings_keep_the_top_n_and_say_how_many_more(work: Path) -> None:
    assert report("plan.json", "--top", "1", "-o", "report.md").code == 0
    text = (work / "report.md").read_text()
    assert "## Will delete from image streams (top 1 by items removed, of 3)" in text
    assert "… and 2 more image streams." in text
    assert "… and 5 more images." in text
    assert "## Will delete: largest blobs (top 1 by size, of 7 with a known size)" in text
    assert "… and 6 more blobs." in text
    assert "13 blob(s) of unknown size are not ranked." in text


def test_stream_updates_list_items_and_tags_removed(work: Path) -> None:
    review = review_of()
    rows = {r.stream: r for r in review.stream_updates.rows}
    assert rows["data/etl"].items_removed == 3  # v1 e4, nightly n5, gone (missing image)
    assert rows["data/etl"].tags_removed == ("gone",)
    assert dict(rows["data/etl"].reasons) == {"beyond-keep-tag-revisions": 2, "image-missing": 1}
    assert rows["shop/frontend"].items_removed == 2 and rows["shop/frontend"].tags_removed == ()
    assert review.stream_updates.rows[0].stream == "data/etl"


# ---------------------------------------------------------------------------------------------
# Single referrer


def test_items_kept_by_exactly_one_referrer_are_listed_with_it(work: Path) -> None:
    review = review_of("dump.json")
    rows = [(r.stream, r.tag, r.index, r.image, r.rule, r.referrer, r.via) for r in review.single_referrer.rows]
    assert rows == [
        ("shop/frontend", "latest", 0, F[1], "tag-in-use", "pod shop/web-1", "container c0"),
        ("shop/frontend", "latest", 4, F[5], "image-in-use", "deployment shop/web", "container c0"),
    ]
    # shop/backend:main (two pods by tag) and data/etl@n4 (two pods by digest) have two referrers.


def test_single_referrer_list_needs_the_dump(work: Path) -> None:
    assert review_of().single_referrer is None
    assert report("plan.json", "-o", "report.md").code == 0
    assert "Not computed: pass the plan's dump with `--dump`" in (work / "report.md").read_text()


def test_one_referrer_using_an_image_twice_is_still_one_referrer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    imgs = [digest(f"i{i}") for i in range(5)]
    items = [_image(d, "ns/app", ["f4"]) for d in imgs] + [
        stream("ns", "app", {"t": imgs}),
        pod("ns", "two-containers", [f"{REGISTRY}/ns/app@{imgs[4]}", f"{REGISTRY}/ns/app@{imgs[4]}"]),
    ]
    write_json(tmp_path / "dump.json", as_dump(items))
    analyze_to(tmp_path / "dump.json", tmp_path / "plan.json")
    rows = review_of("dump.json").single_referrer.rows
    assert [(r.index, r.referrer) for r in rows] == [(4, "pod ns/two-containers")]


# ---------------------------------------------------------------------------------------------
# Dump checks


def test_a_dump_that_is_not_the_plans_gives_a_warning_in_the_report_and_on_stderr(work: Path) -> None:
    other = as_dump(golden_cluster() + [pod("shop", "extra", [f"{REGISTRY}/shop/frontend@{F[6]}"])])
    write_json(work / "other.json", other)
    result = report("plan.json", "--dump", "other.json", "-o", "report.md")
    assert result.code == 0, result.err
    plan_sha = load_plan()["source"]["dumpSha256"]
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("warning: the dump given (")
    assert f"is not the plan's source dump ({plan_sha})" in result.err_lines[0]
    text = (work / "report.md").read_text()
    assert "> ⚠️ **Warning:** `the dump given (" in text
    assert "| matches the plan's dump | no, see the warning above |" in text


def test_the_plans_own_dump_gives_no_warning(work: Path) -> None:
    result = report("plan.json", "--dump", "dump.json", "-o", "report.md")
    assert (result.code, result.err) == (0, "")
    assert "| matches the plan's dump | yes |" in (work / "report.md").read_text()


# ---------------------------------------------------------------------------------------------
# Signature status


@pytest.fixture
def signed(work: Path) -> Path:
    assert run_cli("keygen", "signer").code == 0
    assert run_cli("keygen", "other").code == 0
    from pruneplan.signing import write_signature

    write_signature("plan.json", "signer")
    return work


def test_signature_verified_with_the_key_is_shown(signed: Path) -> None:
    result = report("plan.json", "--key", "signer.pub", "--now", "2026-06-02T00:00:00Z", "-o", "report.md")
    assert (result.code, result.err) == (0, "")
    text = (signed / "report.md").read_text()
    assert "> ✅ **Signature: verified.** signature verified with signer.pub (plan.json.sig)" in text


def test_signature_with_a_wrong_key_is_reported_but_the_report_is_written(signed: Path) -> None:
    result = report("plan.json", "--key", "other.pub", "--now", "2026-06-02T00:00:00Z", "-o", "report.md")
    assert result.code == 0
    assert result.err_lines == ["warning: signature NOT verified: signature does not verify with any trusted key (tried 1)"]
    text = (signed / "report.md").read_text()
    assert "> ❌ **Signature: NOT VERIFIED (0 of 1 trusted keys signed).** signature does not verify with any trusted key (tried 1)" in text
    assert "## Will delete, per namespace (top 10 by bytes, of 3)" in text


def test_a_changed_plan_does_not_verify(signed: Path) -> None:
    plan = signed / "plan.json"
    plan.write_bytes(plan.read_bytes().replace(b'"keepTagRevisions": 3', b'"keepTagRevisions": 0'))
    result = report("plan.json", "--key", "signer.pub", "--now", "2026-06-02T00:00:00Z", "-o", "report.md")
    assert result.code == 0
    assert "**Signature: NOT VERIFIED (0 of 1 trusted keys signed).**" in (signed / "report.md").read_text()


EXPIRED = "Signature: valid (verified with signer.pub) — plan EXPIRED on 2026-06-08T00:00:00Z."


def test_a_valid_signature_on_an_expired_plan_is_shown_as_expired_not_as_not_verified(signed: Path) -> None:
    result = report("plan.json", "--key", "signer.pub", "--now", "2026-06-09T00:00:00Z", "-o", "report.md")
    assert result.code == 0
    assert result.err_lines == ["warning: signature valid (verified with signer.pub) — plan EXPIRED on 2026-06-08T00:00:00Z"]
    text = (signed / "report.md").read_text()
    assert text.splitlines()[2] == (
        "> ⌛ **Signature: valid (verified with `signer.pub`) — plan EXPIRED on `2026-06-08T00:00:00Z`.** "
        "plan.json.sig verifies, but the plan's notAfter has passed: execute refuses it; collect a fresh dump and analyze it again"
    )
    assert "| not after (expiry) | `2026-06-08T00:00:00Z` — EXPIRED |" in text
    assert "NOT VERIFIED" not in text and "NOT VERIFIED" not in result.err


def test_a_plan_past_its_expiry_whose_signature_does_not_verify_stays_not_verified(signed: Path) -> None:
    result = report("plan.json", "--key", "other.pub", "--now", "2026-06-09T00:00:00Z", "-o", "report.md")
    assert result.code == 0
    assert result.err_lines == ["warning: signature NOT verified: signature does not verify with any trusted key (tried 1)"]
    text = (signed / "report.md").read_text()
    assert "> ❌ **Signature: NOT VERIFIED (0 of 1 trusted keys signed).** signature does not verify with any trusted key (tried 1)" in text
    assert "EXPIRED" not in text


def test_an_expired_plan_has_its_own_banner_in_html(signed: Path) -> None:
    result = report("plan.json", "--key", "signer.pub", "--now", "2026-06-09T00:00:00Z", "-o", "r.html")
    assert result.code == 0
    text = (signed / "r.html").read_text()
    banner = ('<div id="signature" class="status expired"><strong>Signature: valid (verified with <code>signer.pub</code>) '
              "— plan EXPIRED on <code>2026-06-08T00:00:00Z</code>.</strong>")
    assert banner in text
    assert text.index(banner) < text.index("<h2>")
    assert "NOT VERIFIED" not in text


def test_a_signature_file_without_a_key_is_said_to_be_unchecked(signed: Path) -> None:
    result = report("plan.json", "-o", "report.md")
    assert (result.code, result.err) == (0, "")
    text = (signed / "report.md").read_text()
    assert "> ⚠️ **Signature: not checked.** plan.json.sig exists but was not checked (pass --key PUB to verify it)" in text


def test_an_unsigned_plan_says_so(work: Path) -> None:
    assert report("plan.json", "-o", "report.md").code == 0
    text = (work / "report.md").read_text()
    assert "> ⚠️ **Signature: none (unsigned plan).** no signature file plan.json.sig; this plan is not signed" in text


def test_signature_status_appears_prominently_in_html(signed: Path) -> None:
    assert report("plan.json", "--key", "other.pub", "--now", "2026-06-02T00:00:00Z", "--format", "html", "-o", "r.html").code == 0
    text = (signed / "r.html").read_text()
    banner = '<div id="signature" class="status failed"><strong>Signature: NOT VERIFIED (0 of 1 trusted keys signed).</strong>'
    assert banner in text
    assert text.index(banner) < text.index("<h2>")  # above every section


# ---------------------------------------------------------------------------------------------
# Escaping of user-controlled names


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A plan and dump whose names carry markup where a valid plan can hold it.

    A plan refuses a stream update or link whose namespace or name cannot be a registry
    repository (pruneplan.planmodel), so the hostile stream loses nothing: its names reach the
    report through the dump (single-referrer table) and through the dockerImageReference of a
    deleted image that no stream holds (per-namespace and per-repository tables). A tag with a
    pipe is removed from a well-named stream (image stream updates table)."""
    monkeypatch.chdir(tmp_path)
    imgs = [digest(f"x{i}") for i in range(4)]
    items = [_image(d, f"{XSS}/app", ["kept-base"]) for d in imgs] + [
        _image(digest("xo"), f"{XSS}/app|x", ["f4"]),  # in no stream: attributed by its reference
        stream(XSS, "app|x", {"t*_[a](b)": imgs}),
        stream("ok", "app", {"t|x": [digest(998)]}),  # a missing image: the tag is removed
        {  # keeps item 3 alone, so names also reach the single-referrer table
            "kind": "BuildConfig", "apiVersion": "build.openshift.io/v1",
            "metadata": {"namespace": XSS, "name": "bc&amp;"},
            "spec": {"strategy": {"type": "Source", "sourceStrategy": {
                "from": {"kind": "ImageStreamImage", "namespace": XSS, "name": f"app|x@{imgs[3]}"}}}},
        },
    ]
    write_json(tmp_path / "dump.json", as_dump(items))
    analyze_to(tmp_path / "dump.json", tmp_path / "plan.json", "--ignore-invalid-refs")
    return tmp_path


def test_html_escapes_a_namespace_named_like_a_script_tag(hostile: Path) -> None:
    result = report("plan.json", "--dump", "dump.json", "--format", "html", "-o", "r.html")
    assert result.code == 0, result.err
    text = (hostile / "r.html").read_text()
    assert XSS not in text
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;/app|x" in text
    assert "buildconfig &lt;script&gt;alert(1)&lt;/script&gt;/bc&amp;amp;" in text
    assert "t*_[a](b)" in text


_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def test_markdown_shows_names_as_code_spans_so_markup_stays_literal(hostile: Path) -> None:
    assert report("plan.json", "--dump", "dump.json", "-o", "r.md").code == 0
    text = (hostile / "r.md").read_text()
    assert "`<script>alert(1)</script>/app\\|x`" in text  # in a table: its pipe escaped for GFM
    assert "`t*_[a](b)`" in text  # no emphasis, no link
    assert "`buildconfig <script>alert(1)</script>/bc&amp;`" in text  # no entity either
    outside_code = _CODE_SPAN.sub("", text)
    assert XSS not in outside_code and "<script" not in outside_code


def test_code_spans_hold_any_name_literally() -> None:
    from pruneplan.analyze.report.markdown import code

    assert code("https://evil.example/x") == "`https://evil.example/x`"  # GitHub links a bare URL in text
    assert code("a`b") == "``a`b``"
    assert code("`start") == "`` `start ``"
    assert code("a|b") == "`a|b`" and code("a|b", in_table=True) == "`a\\|b`"
    assert code("line\nbreak") == "`line break`"
    assert code("") == ""


def test_markdown_table_rows_keep_their_column_count_with_a_pipe_in_a_name(hostile: Path) -> None:
    from pruneplan.analyze.report.markdown import md

    assert md("a|b") == r"a\|b"
    assert md("line\nbreak") == "line break"
    assert md("<b>&amp;") == r"\<b\>\&amp;"
    assert report("plan.json", "--dump", "dump.json", "-o", "r.md").code == 0
    lines = (hostile / "r.md").read_text().splitlines()
    start = lines.index("## Will delete from image streams (top 10 by items removed, of 1)") + 2
    header, row = lines[start], lines[start + 2]
    unescaped = lambda line: line.replace("\\|", "").count("|")  # noqa: E731
    assert unescaped(row) == unescaped(header)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "setup, args, code, message",
    [
        (None, ["missing.json"], 3, "error: missing.json: no such file"),
        ("not-json", ["plan.json"], 13, "error: plan.json: not a plan: invalid JSON"),
        ("not-a-plan", ["plan.json"], 13, "error: plan.json: not a pruneplan plan"),
        ("bad-size", ["plan.json"], 13, "error: plan.json: plan field blobDeletions[0].size must be an integer or null, not a string"),
        ("bad-dump", ["plan.json", "--dump", "dump.json"], 3, "error: dump.json: invalid JSON"),
        (None, ["plan.json", "--dump", "nothere.json"], 3, "error: nothere.json: no such file"),
        ("namespaced-dump", ["plan.json", "--dump", "ns.json"], 1, "error: cannot re-run the plan's analysis on the dump: the dump was collected for namespace shop only"),
        (None, ["plan.json", "--format", "pdf"], 2, 'error: invalid argument "pdf" for "--format" flag'),
        (None, ["plan.json", "--top", "0"], 2, "error: --top must be at least 1"),
        (None, ["plan.json", "--now", "yesterday"], 2, 'error: invalid argument "yesterday" for "--now" flag'),
    ],
)
def test_errors_are_one_line_with_a_status_and_write_nothing(
    work: Path, setup: str | None, args: list[str], code: int, message: str
) -> None:
    if setup == "not-json":
        (work / "plan.json").write_text("{")
    elif setup == "not-a-plan":
        (work / "plan.json").write_text('{"kind": "List"}')
    elif setup == "bad-size":
        plan = load_plan()
        plan["blobDeletions"][0]["size"] = "big"
        (work / "plan.json").write_text(json.dumps(plan))
    elif setup == "bad-dump":
        (work / "dump.json").write_text("{nope")
    elif setup == "namespaced-dump":
        write_json(work / "ns.json", as_dump(golden_cluster(), namespace="shop"))
    result = report(*args, "-o", "out.md")
    assert result.code == code
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith(message), result.err
    assert "Traceback" not in result.err
    assert not (work / "out.md").exists()
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_an_error_leaves_an_existing_report_untouched(work: Path) -> None:
    (work / "out.md").write_text("previous")
    assert report("missing.json", "-o", "out.md").code == 3
    assert (work / "out.md").read_text() == "previous"


def test_an_unwritable_output_is_a_one_line_error(work: Path) -> None:
    result = report("plan.json", "-o", "no/such/dir/report.md")
    assert result.code == 4
    assert result.err_lines == [result.err_lines[0]] and result.err_lines[0].startswith("error: cannot write no/such/dir/report.md")


def test_the_report_file_is_readable_by_others_like_any_new_file(work: Path) -> None:
    old = os.umask(0o022)
    try:
        assert report("plan.json", "-o", "report.md").code == 0
    finally:
        os.umask(old)
    assert (work / "report.md").stat().st_mode & 0o777 == 0o644


def test_format_follows_the_output_extension_unless_given(work: Path) -> None:
    assert report("plan.json", "-o", "r.html").code == 0
    assert (work / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert report("plan.json", "-o", "r.txt").code == 0
    assert (work / "r.txt").read_text().startswith("# Image prune plan review")
    assert report("plan.json", "--format", "md", "-o", "r2.html").code == 0
    assert (work / "r2.html").read_text().startswith("# Image prune plan review")


def test_dash_writes_the_report_to_stdout(work: Path) -> None:
    result = report("plan.json", "-o", "-")
    assert result.code == 0 and result.out.startswith("# Image prune plan review")


# ---------------------------------------------------------------------------------------------
# Units and imports


@pytest.mark.parametrize(
    "value, text",
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (1024 * 1024 - 1, "1.0 MiB"),
     (50 * MiB, "50.0 MiB"), (3 * 1024**3 + 512 * MiB, "3.5 GiB"), (2 * 1024**4, "2.0 TiB")],
)
def test_human_units(value: int, text: str) -> None:
    from pruneplan.analyze.report.review import human_bytes

    assert human_bytes(value) == text


def test_report_never_imports_kubernetes_or_requests(work: Path) -> None:
    code = (
        "import sys\n"
        "from pruneplan.analyze.report.run import ReportRequest, run_report\n"
        "run_report(ReportRequest(plan='plan.json', output='r.html', dumps=['dump.json']))\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'requests'))\n"
        "assert not bad, bad\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (work / "r.html").exists()


class _TableRows(HTMLParser):
    """The text of every <td> row of an HTML page, as tuples of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, ...]] = []
        self.cells: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.cells = []
        elif tag == "td" and self.cells is not None:
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self.cells:
            self.rows.append(tuple(self.cells))
        if tag == "tr":
            self.cells = None

    def handle_data(self, data: str) -> None:
        if self.cells:
            self.cells[-1] += data


def test_markdown_and_html_draw_the_same_sections_in_the_same_order(work: Path) -> None:
    import html as html_module

    from pruneplan.analyze.report.html import render_html
    from pruneplan.analyze.report.markdown import code, md, render_markdown
    from pruneplan.analyze.report.sections import LABEL, NUM, Code, Digest, Table, report_sections

    review = review_of("dump.json", top=3)
    sections = report_sections(review)
    markdown, page = render_markdown(review), render_html(review)
    # Markdown adds the appendix of full digests (in HTML, each short digest carries its full one)
    assert re.findall(r"^## (.*)$", markdown, flags=re.M) == [s.title for s in sections] + ["Appendix: full digests"]
    assert re.findall(r'<section id="([^"]+)"><h2>([^<]*)</h2>', page) == [(s.anchor, html_module.escape(s.title)) for s in sections]
    parser = _TableRows()
    parser.feed(page)

    def md_cell(cell: Any, ours: bool) -> str:
        if isinstance(cell, str):
            return md(cell) if ours else code(cell, in_table=True)
        return "".join(code(p.short, True) if isinstance(p, Digest) else code(p.text, True) if isinstance(p, Code) else md(p)
                       for p in cell)

    def html_cell(cell: Any) -> str:
        if isinstance(cell, str):
            return cell
        return "".join(p.short if isinstance(p, Digest) else p.text if isinstance(p, Code) else p for p in cell)

    # every table row of every section is in both reports
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Table):
                for row in block.rows:
                    words = [column.kind in (NUM, LABEL) for column in block.columns]
                    shown = [md_cell(cell, ours) for ours, cell in zip(words, row)]
                    assert "| " + " | ".join(shown) + " |" in markdown
                    assert tuple(html_cell(cell) for cell in row) in parser.rows


@pytest.mark.parametrize("field,value,must", [
    ("keepTagRevisions", "three", "must be an integer or null, not a string"),
    ("keepYoungerThan", [1], "must be a string or null, not a list"),
    ("pruneRegistry", "yes", "must be a boolean"),
])
def test_report_dump_on_an_unsigned_plan_with_a_policy_value_of_the_wrong_type_is_one_error(
    work: Path, field: str, value: Any, must: str
) -> None:
    """An unsigned plan is not trusted, but it is read strictly all the same: the re-analysis
    that --dump runs with the plan's policy never sees a value of the wrong type."""
    doc = load_plan()
    doc["policy"][field] = value
    (work / "bad.json").write_text(json.dumps(doc))
    result = report("bad.json", "--dump", "dump.json", "-o", "r.md")
    assert result.code == 13
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith(f"error: bad.json: plan field policy.{field} ")
    assert must in result.err_lines[0]
    assert not (work / "r.md").exists()


# ---------------------------------------------------------------------------------------------
# Wording, positions, digests, absent values, output, help


def test_headings_say_what_the_plan_will_delete(work: Path) -> None:
    assert report("plan.json", "--dump", "dump.json", "-o", "report.md").code == 0
    text = (work / "report.md").read_text()
    headings = re.findall(r"^#+ (.*)$", text, flags=re.M)
    assert [h for h in headings if h.startswith("Will delete")] == [
        "Will delete: totals",
        "Will delete, per namespace (top 10 by bytes, of 3)",
        "Will delete, per repository (top 10 by bytes, of 4)",
        "Will delete: largest images (top 10 by bytes freed, of 6)",
        "Will delete: largest blobs (top 10 by size, of 7 with a known size)",
        "Will delete from image streams (top 10 by items removed, of 3)",
    ]
    assert not [h for h in headings if re.search(r"\bdelet(ed|es|ions?)\b", h, flags=re.I)]
    assert "**Will delete:** 6 image objects, 6 image stream tag items, 13 layer links, 5 manifest links, 20 blobs; " \
           "will update 3 image streams. **Will free: 127.0 MiB (133,169,152 B)** in 20 blobs" in text


def _image_rows(text: str) -> dict[str, str]:
    """Markdown rows of the largest-images table by their short digest."""
    section = text.split("## Will delete: largest images", 1)[1].split("\n## ", 1)[0]
    return {row.split(" | ")[1].strip("`"): row for row in section.splitlines() if re.match(r"\| \d+ \|", row)}


@pytest.mark.parametrize("with_dump", [True, False])
def test_each_deleted_image_is_shown_with_its_tags_and_positions(work: Path, with_dump: bool) -> None:
    # Without the dump the plan's removed items tell the same positions: a deleted image has none left.
    assert report("plan.json", *(["--dump", "dump.json"] if with_dump else []), "-o", "report.md").code == 0
    rows = _image_rows((work / "report.md").read_text())
    assert "| `shop/frontend:latest` #3 |" in rows["sha256:6634663466346634"]  # f4: fourth item, counted from 0
    assert "| `shop/frontend:latest` #5 |" in rows["sha256:6636663666366636"]
    assert "| `data/etl:nightly` #4 |" in rows["sha256:6e356e356e356e35"]
    assert "| in no image stream |" in rows["sha256:6f316f316f316f31"]  # the orphan


def test_an_image_in_many_tags_lists_three_positions_and_counts_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    keep = [digest(f"k{i}") for i in range(3)]
    old = digest("old")
    tags = {"a": [*keep, old], "b": [*keep, digest("k3"), old], "c": [*keep, old], "d": [*keep, old]}
    items = [_image(d, "ns/app", ["kept-base"]) for d in [*keep, digest("k3")]] + [_image(old, "ns/app", ["f4"])]
    items += [stream("ns", "app", tags), stream("other", "app", {"x": [*keep, old]})]
    write_json(tmp_path / "dump.json", as_dump(items))
    analyze_to(tmp_path / "dump.json", tmp_path / "plan.json")
    assert report("plan.json", "--dump", "dump.json", "-o", "report.md").code == 0
    row = _image_rows((tmp_path / "report.md").read_text())[f"sha256:{old[7:19]}"]
    assert "| `ns/app:a` #3, `ns/app:b` #4, `ns/app:c` #3 and 2 more |" in row


def test_tables_show_short_digests_with_the_full_ones_in_the_appendix(work: Path) -> None:
    assert report("plan.json", "--dump", "dump.json", "-o", "report.md").code == 0
    text = (work / "report.md").read_text()
    body, appendix = text.split("## Appendix: full digests", 1)
    tables = body.split("## Will delete: largest images", 1)[1].split("## Kept by a single referrer", 1)[0]
    assert not re.search(r"sha256:[0-9a-f]{64}", tables)  # every digest in a table is short
    pairs = dict(re.findall(r"^\| `(sha256:[0-9a-f]+)` \| `(sha256:[0-9a-f]{64})` \|$", appendix, flags=re.M))
    shown = set(re.findall(r"`(sha256:[0-9a-f]{12,63})`", body))
    assert shown == set(pairs)  # each short digest of the tables, once, with its full digest
    assert all(full.startswith(short) for short, full in pairs.items())
    assert pairs["sha256:6634663466346634"] == F[4]
    # the layers' first 12 hex digits are the same ("layer-"): the report shows as many as tell them apart
    assert f"`{layer('shared')[:23]}`" in tables and f"`{layer('shared')[:19]}`" not in tables


def test_html_tables_show_short_digests_with_the_full_one_as_a_title(work: Path) -> None:
    assert report("plan.json", "--dump", "dump.json", "-o", "report.html").code == 0
    text = (work / "report.html").read_text()
    assert f'<span class="mono" title="{F[4]}">{F[4][:23]}</span>' in text
    assert f'<span class="mono" title="{layer("o1")}">{layer("o1")[:23]}</span>' in text
    assert "Appendix" not in text


def test_absent_values_are_shown_as_not_set_never_as_null(work: Path) -> None:
    plan = load_plan()
    plan["source"]["cluster"]["clusterID"] = None
    plan["source"]["collectedAt"] = None
    for entry in plan["imageDeletions"]:
        entry["created"] = None
    (work / "plan.json").write_text(json.dumps(plan))
    assert report("plan.json", "-o", "report.md").code == 0
    assert report("plan.json", "-o", "report.html").code == 0
    text, page = (work / "report.md").read_text(), (work / "report.html").read_text()
    assert "| cluster ID | not set |" in text and "| collected at | not set |" in text
    assert "| `--prune-over-size-limit` | not set |" in text and "| `--namespace` | not set |" in text
    assert all(row.endswith("| not set |") for row in _image_rows(text).values())  # created
    assert "<tr><th>cluster ID</th><td>not set</td></tr>" in page
    for shown in (text, page):
        assert not re.search(r"\bnull\b", shown)


def test_without_output_the_markdown_report_goes_to_stdout_and_warnings_to_stderr(signed: Path) -> None:
    result = report("plan.json", "--key", "signer.pub", "--now", "2026-06-09T00:00:00Z")
    assert result.code == 0
    assert result.out.startswith("# Image prune plan review: `https://api.test.example:6443`\n")
    assert result.out.endswith("in name order).\n")
    assert result.err_lines == ["warning: signature valid (verified with signer.pub) — plan EXPIRED on 2026-06-08T00:00:00Z"]
    assert sorted(p.name for p in signed.iterdir()) == ["dump.json", "other", "other.pub", "plan.json", "plan.json.sig",
                                                        "signer", "signer.pub"]  # no report file


def test_format_html_without_output_writes_html_to_stdout(work: Path) -> None:
    result = report("plan.json", "--format", "html")
    assert (result.code, result.err) == (0, "")
    assert result.out.startswith("<!DOCTYPE html>") and result.out.endswith("</html>\n")


def test_help_describes_every_option_with_upper_case_placeholders_and_examples() -> None:
    import typer

    from pruneplan.cli import build_app

    command = typer.main.get_command(build_app()).commands["report"]  # type: ignore[attr-defined]
    for param in command.params:
        if param.name == "help":
            continue
        assert getattr(param, "help", None), param.name
        assert param.metavar and re.fullmatch(r"[A-Z]+", param.metavar), (param.name, param.metavar)
    result = run_cli("report", "--help")
    assert result.code == 0
    assert "\n  Examples:\n    # Markdown on stdout, to paste into a ticket\n" \
           "    pruneplan report plan.json --dump dump.json.gz --key review-key.pub\n" in result.out
    for line in ("-o, --output FILE", "--format FORMAT", "--dump DUMP", "--key PUB", "--signature SIG", "--now TIME", "--top N",
                 "--threshold N", "--approvals FILE"):
        assert f"  {line}  " in result.out, line
