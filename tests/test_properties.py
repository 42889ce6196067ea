"""Property tests over generated clusters: determinism and the safety invariants of a plan."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.engine import analyze
from pruneplan.analyze.plan.entries import plan_for
from pruneplan.analyze.plan.writer import write_plan
from pruneplan.analyze.decisions.rules import REMOVING_RULES
from builders import OCI_INDEX, REGISTRY, as_dump, digest, image, limit_range, pod, stream, write_line_dump
from pruneplan.analyze.decisions.inputs import load_inputs
from pruneplan.planformat import dump_plan, plan_chunks
from pruneplan.planmodel import Plan
from pruneplan.policy import build_policy
from pruneplan.timefmt import parse_time

NOW = "2026-06-01T00:00:00Z"
TIMES = [None, "2025-01-01T00:00:00Z", "2026-05-31T23:30:00Z", "2026-06-01T00:00:00Z"]
LAYERS = [digest(f"layer{i}") for i in range(6)]


@st.composite
def clusters(draw):
    count = draw(st.integers(1, 8))
    names = [digest(i + 1) for i in range(count)]
    items = []
    for index, name in enumerate(names):
        is_list = index > 0 and draw(st.booleans()) and draw(st.booleans())
        if is_list:
            children = draw(st.lists(st.sampled_from(names[:index]), max_size=2, unique=True))
            items.append(image(name, media_type=OCI_INDEX, manifests=children, metadata=None,
                               created=draw(st.sampled_from(TIMES)), managed=draw(st.booleans())))
        else:
            items.append(image(
                name,
                layers=draw(st.lists(st.sampled_from(LAYERS), max_size=4)),
                config=draw(st.sampled_from([None, digest("cfg1"), digest("cfg2"), names[0]])),
                created=draw(st.sampled_from(TIMES)),
                managed=draw(st.booleans()),
                size=draw(st.sampled_from([50, 150, 300])),
            ))
    pool = names + [digest(999)]  # 999 is never an Image: a missing image
    for s in range(draw(st.integers(0, 3))):
        ns = draw(st.sampled_from(["a", "b"]))
        tags = {
            f"t{t}": draw(st.lists(st.sampled_from(pool), min_size=1, max_size=5))
            for t in range(draw(st.integers(1, 3)))
        }
        item_created = {(t, i): draw(st.sampled_from(TIMES[1:])) for t, v in tags.items() for i in range(len(v))
                        if draw(st.booleans()) and draw(st.booleans())}
        items.append(stream(ns, f"s{s}", tags, created=draw(st.sampled_from(TIMES)), item_created=item_created))
    for p in range(draw(st.integers(0, 3))):
        ns = draw(st.sampled_from(["a", "b"]))
        target = draw(st.sampled_from(["s0", "s1", "s2"]))
        ref = draw(st.one_of(
            st.builds(lambda t: f"{REGISTRY}/{ns}/{target}:{t}", st.sampled_from(["t0", "t1", "t2"])),
            st.builds(lambda d: f"{REGISTRY}/{ns}/{target}@{d}", st.sampled_from(pool)),
        ))
        items.append(pod(ns, f"p{p}", [ref], phase=draw(st.sampled_from(["Running", "Succeeded"])),
                         created=draw(st.sampled_from(TIMES))))
    if draw(st.booleans()):
        items.append(limit_range("a", "limits", draw(st.sampled_from(["100", "200"]))))
    return items


@st.composite
def policies(draw):
    if draw(st.booleans()):
        flags = {"prune_over_size_limit": True, "keep_tag_revisions": None, "keep_younger_than": None}
    else:
        flags = {
            "prune_over_size_limit": None,
            "keep_tag_revisions": draw(st.sampled_from([None, "0", "1", "3"])),
            "keep_younger_than": draw(st.sampled_from([None, "0", "1h", "96h"])),
        }
    return build_policy(
        now=parse_time(NOW),
        all_images=draw(st.booleans()),
        prune_registry=draw(st.booleans()),
        **flags,
    )


def run(tmp: Path, items, policy):
    path = tmp / "dump.json"
    path.write_text(json.dumps(as_dump(items, collected_at=NOW)))
    loaded = load_inputs([str(path)])
    analysis = analyze(loaded, policy)
    return analysis, plan_for(analysis, loaded, 3600.0).to_dict()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(items=clusters(), policy=policies())
def test_same_input_gives_identical_plan_bytes(tmp_path, items, policy):
    _, first = run(tmp_path, items, policy)
    _, second = run(tmp_path, items, policy)
    assert dump_plan(first) == dump_plan(second)


@SETTINGS
@given(items=clusters(), policy=policies(), chunk=st.integers(1, 3))
def test_streamed_plan_bytes_equal_the_whole_document_bytes(tmp_path, items, policy, chunk):
    # the analyze command writes the plan a chunk of entries at a time
    analysis, plan = run(tmp_path, items, policy)
    loaded = load_inputs([str(tmp_path / "dump.json")])
    assert b"".join(plan_chunks(plan_for(analysis, loaded, 3600.0), chunk)) == dump_plan(plan)
    write_plan(str(tmp_path / "plan.json"), analysis, loaded, 3600.0, dry_run=False)
    assert (tmp_path / "plan.json").read_bytes() == dump_plan(plan)


@SETTINGS
@given(items=clusters(), policy=policies())
def test_plan_round_trips_through_json(tmp_path, items, policy):
    _, plan = run(tmp_path, items, policy)
    raw = dump_plan(plan)
    assert Plan.from_bytes(raw).to_dict() == plan
    assert dump_plan(Plan.from_bytes(raw).to_dict()) == raw


@SETTINGS
@given(items=clusters(), policy=policies())
def test_no_surviving_image_or_its_blobs_is_deleted(tmp_path, items, policy):
    analysis, plan = run(tmp_path, items, policy)
    deleted_images = {d["name"] for d in plan["imageDeletions"]}
    deleted_blobs = {b["digest"] for b in plan["blobDeletions"]}
    surviving_items = {
        digest_
        for outcome in analysis.stream_outcomes
        for tag, rules in zip(outcome.stream.tags, outcome.rules)
        for digest_, rule in zip(tag.images, rules)
        if rule not in REMOVING_RULES
    }
    protected = set(surviving_items)
    frontier = [d for d in protected if d in analysis.images]
    while frontier:  # children of used manifest lists
        for child in analysis.images[frontier.pop()].manifests:
            if child not in protected:
                protected.add(child)
                frontier.append(child)
    assert not protected & deleted_images
    for name, img in analysis.images.items():
        if name not in deleted_images:
            assert not (set(img.blobs) | {name}) & deleted_blobs, name


@SETTINGS
@given(items=clusters(), policy=policies())
def test_links_only_go_when_no_surviving_item_of_the_repository_uses_them(tmp_path, items, policy):
    # Upstream counts manifests and blobs separately per repository (docs/rules.md: Stage 1,
    # repository links), so a
    # digest that is one image's manifest and another's config is judged in each counter alone.
    analysis, plan = run(tmp_path, items, policy)
    for outcome in analysis.stream_outcomes:
        repo = outcome.stream.key
        blobs_used, manifests_used = set(), set()
        for tag, rules in zip(outcome.stream.tags, outcome.rules):
            for digest_, rule in zip(tag.images, rules):
                if rule not in REMOVING_RULES and digest_ in analysis.images:
                    blobs_used |= set(analysis.images[digest_].blobs)
                    manifests_used.add(digest_)
        links = {link["digest"] for link in plan["layerLinkDeletions"] if link["repository"] == repo}
        manifests = {link["digest"] for link in plan["manifestLinkDeletions"] if link["repository"] == repo}
        assert not links & blobs_used
        assert not manifests & manifests_used


@SETTINGS
@given(items=clusters(), policy=policies())
def test_summary_counts_match_the_actions(tmp_path, items, policy):
    _, plan = run(tmp_path, items, policy)
    summary = plan["summary"]
    assert summary["deletedImages"] == len(plan["imageDeletions"])
    assert summary["deletedBlobs"] == len(plan["blobDeletions"])
    assert summary["updatedImageStreams"] == len(plan["imageStreamUpdates"])
    assert summary["deletedImageStreamTagItems"] == sum(len(u["removedItems"]) for u in plan["imageStreamUpdates"])
    if not policy.prune_registry:
        assert not plan["blobDeletions"] and not plan["layerLinkDeletions"] and not plan["manifestLinkDeletions"]


@st.composite
def analyze_flags(draw):
    """Command-line flags of a policy, as an admin gives them."""
    flags = ["--all=" + draw(st.sampled_from(["true", "false"])), "--prune-registry=" + draw(st.sampled_from(["true", "false"]))]
    if draw(st.booleans()):
        return [*flags, "--prune-over-size-limit"]
    revisions = draw(st.sampled_from([None, "0", "1", "3"]))
    younger = draw(st.sampled_from([None, "0", "1h", "96h"]))
    return flags + ([f"--keep-tag-revisions={revisions}"] if revisions else []) + ([f"--keep-younger-than={younger}"] if younger else [])


@SETTINGS
@given(items=clusters(), flags=analyze_flags())
def test_the_collectors_line_layout_a_whole_dump_and_a_list_give_the_same_plan(tmp_path, items, flags):
    """Every input form is decoded into the same objects: the same plan bytes, stdout and stderr
    whichever form analyze reads."""
    from clirunner import run_cli

    listing = tmp_path / "list.json"
    listing.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(as_dump(items, collected_at=NOW)))
    dump = write_line_dump(tmp_path / "dump.json.gz", items, NOW)
    results = []
    for source in (listing, whole, dump):
        plan = tmp_path / "plan.json"
        plan.unlink(missing_ok=True)
        result = run_cli("analyze", str(source), "-o", str(plan), "--now", NOW, *flags)
        err = result.err.replace(str(source), "INPUT")  # the closing block names the input in its next commands
        # the expiry warning counts days and hours from the clock: runs an hour apart may differ
        err = re.sub(r"\d+ days? ago", "N days ago", re.sub(r"--valid-for \d+h", "--valid-for Nh", err))
        results.append((result.code, result.out, err, json.loads(plan.read_bytes()) if plan.exists() else None))
    for code, out, err, plan in results:
        assert plan is not None
        # the plans differ only where they name their input (its sha256, size and header)
        plan["source"] = {k: v for k, v in plan["source"].items() if k not in ("dumpSha256", "inputs", "cluster", "collectedAt")}
    assert results[1:] == [results[0]] * 2
