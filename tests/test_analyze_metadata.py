"""An image whose metadata is not a DockerImage: its streams are skipped and stage 2 stops, or,
for metadata of the wrong JSON type, the graph build fails (docs/rules.md)."""

from __future__ import annotations

import json

import pytest

from builders import OCI_INDEX, as_list, digest, image, stream, write_json, write_line_dump
from clirunner import run_cli

NOW = "2026-06-01T00:00:00Z"
FLAGS = ("--now", NOW, "--keep-tag-revisions=1")


def run(tmp_path, items):
    plan = tmp_path / "plan.json"
    result = run_cli("analyze", str(write_json(tmp_path / "in.json", as_list(items))), "-o", str(plan), *FLAGS)
    return result, (json.loads(plan.read_text()) if plan.exists() else None)


def test_single_manifest_image_without_metadata_skips_its_streams_and_halts_stage_2(tmp_path):
    bare = image(digest(2), layers=[digest("l2")], metadata=None)
    items = [
        image(digest(1), layers=[digest("l1")]),
        bare,
        image(digest(3), layers=[digest("l3")]),
        image(digest(4), layers=[digest("l4")]),
        stream("ns", "has-bare", {"latest": [digest(1), digest(2)]}),
        stream("ns", "clean", {"latest": [digest(3), digest(4)]}),
    ]
    result, plan = run(tmp_path, items)
    assert result.code == 1
    assert result.err_lines[-1] == f"error: image {digest(2)}: failed to read metadata for image {digest(2)}"
    updated = {(u["namespace"], u["name"]) for u in plan["imageStreamUpdates"]}
    assert updated == {("ns", "clean")}, "the stream naming the unreadable image is left alone, silently"
    assert plan["imageDeletions"] == [] and plan["blobDeletions"] == []
    assert plan["errors"] == [f"image {digest(2)}: failed to read metadata for image {digest(2)}"]


def test_manifest_list_needs_no_metadata(tmp_path):
    child = image(digest(5), layers=[digest("l5")])
    index = image(digest(6), media_type=OCI_INDEX, manifests=[digest(5)], metadata=None)
    items = [child, index, image(digest(7), layers=[digest("l7")]), stream("ns", "multi", {"latest": [digest(6)]})]
    result, plan = run(tmp_path, items)
    assert result.code == 0, result.err
    assert [d["name"] for d in plan["imageDeletions"]] == [digest(7)]


def test_image_listing_children_without_a_list_media_type_needs_metadata_like_upstream(tmp_path):
    """Upstream tells a manifest list by its media type alone: children do not make one."""
    child = image(digest(5), layers=[digest("l5")])
    not_a_list = image(digest(6), media_type="", manifests=[digest(5)], metadata=None)
    items = [child, not_a_list, image(digest(7), layers=[digest("l7")]),
             stream("ns", "multi", {"latest": [digest(6), digest(5)]}), stream("ns", "other", {"latest": [digest(7)]})]
    result, plan = run(tmp_path, items)
    halted = f"image {digest(6)}: failed to read metadata for image {digest(6)}"
    assert result.code == 1
    assert result.err_lines[-1] == f"error: {halted}"
    assert f"warning: imagestream ns/multi: tag latest: image {digest(6)}: failed to read metadata for image {digest(6)}" in result.err_lines
    assert plan["imageStreamUpdates"] == [] and plan["manifestLinkDeletions"] == [] and plan["layerLinkDeletions"] == []
    assert plan["imageDeletions"] == [] and plan["blobDeletions"] == []
    assert plan["errors"] == [halted]


def test_metadata_of_the_wrong_json_type_fails_the_graph_build_as_upstream_reports_it(tmp_path):
    result, plan = run(tmp_path, [image(digest(8), metadata="not-an-object")])
    assert result.code == 1 and plan is None
    assert result.err_lines == [
        "Failed to build graph!",
        f"failed to read image metadata for {digest(8)}: json: cannot unmarshal string into Go value of type docker10.DockerImage",
        "error: failed to build graph - no changes made",
    ]


@pytest.mark.parametrize("form", ["list", "collected-dump"])
def test_metadata_field_of_the_wrong_type_fails_the_graph_build(tmp_path, form):
    bad = image(digest(9), metadata={"kind": "DockerImage", "Size": "12"})
    items = [bad, stream("ns", "app", {"latest": [digest(9)]})]
    if form == "list":
        result, plan = run(tmp_path, items)
    else:
        dump = write_line_dump(tmp_path / "dump.json.gz", items)
        result = run_cli("analyze", str(dump), "-o", str(tmp_path / "plan.json"), *FLAGS)
        plan = None if not (tmp_path / "plan.json").exists() else "written"
    assert result.code == 1 and plan is None
    assert result.err_lines == [
        "Failed to build graph!",
        f"failed to read image metadata for {digest(9)}: json: cannot unmarshal string into Go struct field DockerImage.Size of type int64",
        "error: failed to build graph - no changes made",
    ]
