"""What analyze and execute print, in oc's words: the warnings upstream logs while it prunes, the
bad-reference report as upstream's aggregate holds it, and several errors as oc prints them."""

from __future__ import annotations

import json

import pytest

from builders import as_list, digest, image, pod, stream, write_json
from clirunner import run_cli
from execute_env import make_env
from fakeapi import FakeAPI

NOW = "2026-06-01T00:00:00Z"
OLD = "2026-01-01T00:00:00Z"
YOUNG = "2026-05-31T23:59:00Z"
CLUSTER_VERSION = {"kind": "ClusterVersion", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "version"},
                   "spec": {"clusterID": "messages-test"}}


def analyze(tmp_path, items, *flags):
    plan = tmp_path / "plan.json"
    result = run_cli("analyze", str(write_json(tmp_path / "in.json", as_list(items))), "-o", str(plan),
                     "--now", NOW, *flags)
    return result, plan


def missing_history(young: str = YOUNG) -> list[dict]:
    """ns/app latest: [gone-old (old item), kept, gone-young (young item)]; gone-* have no Image."""
    return [
        image(digest(1), layers=[digest("l1")]),
        stream("ns", "app", {"latest": [digest(91), digest(1), digest(92)]},
               item_created={("latest", 0): OLD, ("latest", 2): young}),
    ]


def test_analyze_warns_of_every_missing_image_then_logs_the_items_it_drops(tmp_path):
    result, _ = analyze(tmp_path, missing_history(), "-q")  # upstream's lines alone, without our banner and closing
    assert result.code == 0, result.err
    assert result.err_lines[-1].startswith("warning: the plan is already expired")  # made with an old --now
    assert result.err_lines[:-1] == [
        # upstream's counting pass warns of each missing image, kept or not
        f"warning: imagestream ns/app: tag latest: image {digest(91)} not found",
        f"warning: imagestream ns/app: tag latest: image {digest(92)} not found",
        # then the decision drops the old one (the young one is kept by its age)
        f"imagestream ns/app: tag latest: revision 1: image {digest(91)} not found, deleting...",
    ]


def test_bad_reference_report_prints_every_error_as_upstreams_aggregate_holds_them(tmp_path):
    twice = pod("ns", "p", ["not a reference"], phase="Running")
    twice["spec"]["containers"].append({"name": "c0", "image": "not a reference"})  # same name, same image
    result, plan = analyze(tmp_path, [twice])
    message = 'pod/p namespace=ns: container c0: invalid image reference "not a reference": invalid reference format'
    assert result.code == 1 and not plan.exists()
    assert result.err_lines == [
        "Failed to build graph!", "", "The following objects have invalid references:", "",
        f"  {message}", f"  {message}",
        "", "Either fix the references or delete the objects to make the pruner proceed.",
        "error: failed to build graph - no changes made",
    ]


def test_one_error_is_prefixed_and_several_are_printed_as_they_are():
    """kubectl's error handler: one error `error: <msg>`; an aggregate one per line, duplicates kept
    (the CLI path: the execute test below and tests/test_analyze_metadata.py)."""
    from pruneplan.errors import AggregateError

    assert AggregateError(["image a: failed"]).lines() == ["error: image a: failed"]
    several = ["image a: failed", "image b: failed", "image a: failed"]
    assert AggregateError(several).lines() == several


# -- execute says it as analyze says it ------------------------------------------------------

@pytest.fixture
def api():
    with FakeAPI() as fake:
        fake.add(CLUSTER_VERSION)
        yield fake


def signed_plan(env, *flags, expect_code=0):
    dump = env.collect()
    plan = env.tmp / "plan.json"
    result = run_cli("analyze", str(dump), "-o", str(plan), "--sign-key", env.key, "-q", *flags)
    assert result.code == expect_code, result.err
    return plan, result


def test_execute_logs_missing_images_as_analyze_does(api, tmp_path):
    from datetime import datetime, timezone

    api.add_all(missing_history(young=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")))
    env = make_env(api, tmp_path)
    plan, analyzed = signed_plan(env, "--prune-registry=false")
    result = env.execute(plan)
    assert result.code == 0, result.err
    logged = [line for line in result.err_lines if "not found" in line]
    assert logged == [line for line in analyzed.err_lines if "not found" in line]
    assert len(logged) == 3


@pytest.mark.parametrize("confirm", [False, True], ids=["dry-run", "confirm"])
def test_execute_stops_stage_2_on_unreadable_metadata_as_analyze_does(api, tmp_path, confirm):
    bare = image(digest(2), layers=[digest("l2")], metadata=None)
    api.add_all([image(digest(1), layers=[digest("l1")], created=OLD), bare,
                 image(digest(3), layers=[digest("l3")], created=OLD),
                 stream("ns", "app", {"latest": [digest(1), digest(2)]}), stream("ns", "old", {"latest": [digest(3)]})])
    env = make_env(api, tmp_path)
    plan, analyzed = signed_plan(env, "--prune-registry=false", "--keep-tag-revisions=0", expect_code=1)
    halted = f"image {digest(2)}: failed to read metadata for image {digest(2)}"
    assert analyzed.err_lines[-1] == f"error: {halted}"
    doc = json.loads(plan.read_text())
    assert doc["imageDeletions"] == [] and doc["errors"] == [halted]

    result = env.execute(plan, *(["--confirm"] if confirm else []))
    assert result.code == 1
    warning = f"warning: imagestream ns/app: tag latest: image {digest(2)}: failed to read metadata for image {digest(2)}"
    assert warning in result.err_lines
    assert result.err_lines[-1] == f"error: {halted}"
    assert {i["metadata"]["name"] for i in api.objects("images")} == {digest(1), digest(2), digest(3)}


def test_execute_prints_several_failures_one_per_line_without_a_prefix_then_counts_them(api, tmp_path):
    """Upstream's aggregate: each failure on its own line, without the prefix; then pruneplan's one
    `error:` line with their count (a log's last line tells how the run ended)."""
    api.add_all([image(digest(1), created=OLD), image(digest(2), created=OLD)])
    env = make_env(api, tmp_path)
    plan, _ = signed_plan(env, "--prune-registry=false")
    api.fault("/apis/image.openshift.io/v1/images/", 403, times=None, method="DELETE")
    result = env.execute(plan, "--confirm")
    assert result.code == 1
    failed = [line for line in result.err_lines if line.startswith("image sha256:")]
    assert len(failed) == 2 and result.err_lines[-3:-1] == failed
    assert not any(line.startswith("error: image") for line in result.err_lines)
    assert result.err_lines[-1].startswith("error: 2 errors in this run (listed above)")
