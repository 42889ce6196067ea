"""Writing the plan (analyze/plan/writer.py): the file holds exactly the typed plan's bytes, made
by the plan format's one serialiser whatever its chunk size, replaced atomically; upstream's
dry-run lines come only once the plan is complete (and signed)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Iterator

import pytest

from builders import as_dump, digest, image, stream, write_json
from clirunner import run_cli
from pruneplan.analyze.plan import writer
from pruneplan.analyze.plan.entries import plan_for
from pruneplan.analyze.plan.writer import write_plan
from pruneplan.analyze.run import AnalyzeRequest, decide
from pruneplan.errors import EXIT_BAD_INPUT, EXIT_IO, PrunePlanError
from pruneplan.planformat import LIST_CHUNK, plan_chunks
from pruneplan.planmodel import Plan

EXAMPLE_DUMP = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"


@pytest.fixture(scope="module")
def decided():
    analysis, loaded, _, valid_for = decide(AnalyzeRequest(inputs=[str(EXAMPLE_DUMP)], output="unused", release_raw=False))
    return analysis, loaded, valid_for


@pytest.fixture(scope="module")
def plan(decided) -> Plan:
    return plan_for(*decided)


def test_the_plan_file_holds_the_typed_plans_bytes_and_reads_back_as_it(decided, plan: Plan, tmp_path: Path) -> None:
    assert plan.summary.deleted_blobs > 0 and plan.summary.updated_image_streams > 0
    out = tmp_path / "plan.json"

    write_plan(str(out), *decided)

    assert out.read_bytes() == plan.to_bytes()
    assert Plan.from_bytes(out.read_bytes()) == plan
    assert sorted(os.listdir(tmp_path)) == ["plan.json"], "no temporary file is left"


@pytest.mark.parametrize("chunk", [1, 2, 7, LIST_CHUNK])
def test_the_plan_bytes_do_not_depend_on_the_chunk_size(plan: Plan, chunk: int) -> None:
    assert b"".join(plan_chunks(plan, chunk)) == plan.to_bytes()


def test_the_plan_reads_from_the_top_then_sorted_keys_two_space_indentation_and_a_final_newline(plan: Plan) -> None:
    raw = plan.to_bytes()
    document = json.loads(raw)
    assert list(document) == [
        "apiVersion", "kind", "metadata", "source", "policy", "summary", "errors",
        "imageStreamUpdates", "layerLinkDeletions", "manifestLinkDeletions", "blobDeletions", "imageDeletions",
    ]
    below = {key: json.loads(json.dumps(value, sort_keys=True)) for key, value in document.items()}
    assert raw == json.dumps(below, indent=2, ensure_ascii=False).encode() + b"\n"
    assert raw.index(b'"summary"') < raw.index(b'"imageStreamUpdates"'), "the summary comes before the actions"


def test_a_hand_made_document_and_the_typed_plan_come_out_the_same(plan: Plan) -> None:
    assert b"".join(plan_chunks(plan.to_dict(), 3)) == plan.to_bytes()


def test_the_dry_run_prints_the_streams_then_the_images_then_the_summary(decided, plan: Plan, tmp_path: Path) -> None:
    dry_run = write_plan(str(tmp_path / "plan.json"), *decided).dry_run
    printed = io.StringIO()

    dry_run.print_to(printed)

    lines = printed.getvalue().splitlines()
    assert printed.getvalue().endswith("\n")
    assert lines[-1] == f"Summary: {plan.summary.text}"
    images = [line for line in lines if line.startswith("Deleting image ")]
    assert images == [f"Deleting image {image.name}" for image in plan.image_deletions]
    blobs = [line for line in lines if line.startswith("Deleting blob ")]
    assert sorted(blobs) == sorted(f"Deleting blob {blob.digest}" for blob in plan.blob_deletions)
    last_stream_line = max(i for i, line in enumerate(lines) if " in repository " in line or " items from image stream " in line)
    first_image_line = min(i for i, line in enumerate(lines) if line.startswith(("Deleting blob ", "Deleting image ")))
    assert last_stream_line < first_image_line


def test_a_quiet_write_prints_nothing(decided, tmp_path: Path) -> None:
    dry_run = write_plan(str(tmp_path / "plan.json"), *decided, dry_run=False).dry_run
    printed = io.StringIO()
    dry_run.print_to(printed)
    assert printed.getvalue() == ""


def test_a_failed_write_keeps_the_old_plan_and_leaves_no_partial_file(decided, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "plan.json"
    out.write_bytes(b"the old plan\n")

    def full_disk(plan: Plan) -> Iterator[bytes]:
        yield b"{\n"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "plan_chunks", full_disk)
    with pytest.raises(PrunePlanError) as failure:
        write_plan(str(out), *decided)

    assert failure.value.message == f"cannot write {out}: No space left on device"
    assert failure.value.exit_code == EXIT_IO
    assert out.read_bytes() == b"the old plan\n"
    assert os.listdir(tmp_path) == ["plan.json"]


def test_no_dry_run_line_is_printed_when_the_plan_cannot_be_signed(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(out), "--sign-key", str(tmp_path / "missing-key"))
    assert result.code != 0
    assert result.out == ""
    assert result.err_lines[-1].startswith("error: ")
    assert not out.exists(), "an unsigned plan is not left where a signed one was asked for"


@pytest.mark.parametrize("cluster, field", [
    ({"apiServer": "https://api.test.example:6443"}, "header.cluster.clusterID is missing"),
    ({"apiServer": "https://api.test.example:6443", "clusterID": None, "region": "x"}, "header.cluster.region is not a known field"),
])
def test_a_dump_cluster_the_plan_cannot_record_is_refused_before_a_plan_is_written(tmp_path: Path, cluster: dict, field: str) -> None:
    items = [image(digest(1), layers=[digest("l1")]), stream("ns", "app", {"latest": [digest(1)]})]
    dump = write_json(tmp_path / "dump.json", as_dump(items, collected_at="2026-06-01T00:00:00Z", cluster=cluster))
    out = tmp_path / "plan.json"

    result = run_cli("analyze", str(dump), "-o", str(out))

    assert result.code == EXIT_BAD_INPUT
    assert result.err_lines == [f"error: {dump}: {field}"]
    assert result.out == ""
    assert not out.exists()
