"""analyze on bad inputs and bad flags: one line on stderr, a non-zero exit, no plan written."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from builders import as_dump, as_list, digest, image, stream, write_json
from clirunner import run_cli

NOW = "2026-06-01T00:00:00Z"


def small_cluster() -> list[dict]:
    return [image(digest(1), layers=[digest("a")]), stream("ns", "app", {"latest": [digest(1)]})]


def assert_one_line_failure(result, plan: Path, code: int | None = None) -> None:
    assert result.code != 0
    if code is not None:
        assert result.code == code
    assert len(result.err_lines) == 1, result.err
    assert result.err_lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    assert not plan.exists()


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    return tmp_path / "plan.json"


def test_missing_input_file_is_reported(tmp_path, plan):
    result = run_cli("analyze", str(tmp_path / "nope.json"), "-o", str(plan))
    assert_one_line_failure(result, plan, 3)
    assert "no such file" in result.err


def test_truncated_gzip_is_reported(tmp_path, plan):
    data = gzip.compress(json.dumps(as_dump(small_cluster())).encode())
    bad = tmp_path / "dump.json.gz"
    bad.write_bytes(data[: len(data) // 2])
    result = run_cli("analyze", str(bad), "-o", str(plan))
    assert_one_line_failure(result, plan, 3)
    assert "gzip" in result.err


def test_invalid_json_is_reported(tmp_path, plan):
    bad = tmp_path / "dump.json"
    bad.write_text('{"kind": "ClusterDump", ')
    result = run_cli("analyze", str(bad), "-o", str(plan))
    assert_one_line_failure(result, plan, 3)
    assert "invalid JSON" in result.err


def test_empty_file_is_reported(tmp_path, plan):
    bad = tmp_path / "dump.json"
    bad.write_text("")
    assert_one_line_failure(run_cli("analyze", str(bad), "-o", str(plan)), plan, 3)


def test_document_that_is_neither_dump_nor_list_is_refused(tmp_path, plan):
    bad = write_json(tmp_path / "pod.json", {"kind": "Pod", "metadata": {"name": "x"}})
    result = run_cli("analyze", str(bad), "-o", str(plan))
    assert_one_line_failure(result, plan, 3)
    assert "not a pruneplan dump or a Kubernetes List" in result.err


def test_json_array_is_refused(tmp_path, plan):
    bad = tmp_path / "a.json"
    bad.write_text("[1, 2]")
    assert_one_line_failure(run_cli("analyze", str(bad), "-o", str(plan)), plan, 3)


def test_unknown_dump_version_is_refused(tmp_path, plan):
    doc = as_dump(small_cluster())
    doc["header"]["formatVersion"] = 2
    result = run_cli("analyze", str(write_json(tmp_path / "d.json", doc)), "-o", str(plan))
    assert_one_line_failure(result, plan, 3)
    assert "unsupported dump format version 2" in result.err


def test_object_without_name_is_refused(tmp_path, plan):
    items = small_cluster()
    del items[1]["metadata"]["name"]
    result = run_cli("analyze", str(write_json(tmp_path / "l.json", as_list(items))), "-o", str(plan), "--now", NOW)
    assert_one_line_failure(result, plan, 3)
    assert "metadata.name is required" in result.err


def test_namespaced_object_without_namespace_is_refused(tmp_path, plan):
    items = small_cluster()
    del items[1]["metadata"]["namespace"]
    result = run_cli("analyze", str(write_json(tmp_path / "l.json", as_list(items))), "-o", str(plan), "--now", NOW)
    assert_one_line_failure(result, plan, 3)
    assert "metadata.namespace is required" in result.err


def test_wrongly_typed_rule_field_is_refused(tmp_path, plan):
    items = small_cluster()
    items[1]["status"]["tags"][0]["items"][0]["image"] = 42
    result = run_cli("analyze", str(write_json(tmp_path / "l.json", as_list(items))), "-o", str(plan), "--now", NOW)
    assert_one_line_failure(result, plan, 3)
    assert "status.tags[0].items[0].image must be a string" in result.err


def test_bad_timestamp_is_refused(tmp_path, plan):
    items = small_cluster()
    items[0]["metadata"]["creationTimestamp"] = "yesterday"
    result = run_cli("analyze", str(write_json(tmp_path / "l.json", as_list(items))), "-o", str(plan), "--now", NOW)
    assert_one_line_failure(result, plan, 3)
    assert "invalid timestamp" in result.err


def test_bad_history_item_timestamp_names_the_item(tmp_path, plan):
    items = small_cluster()
    items[1]["status"]["tags"][0]["items"].append({"image": items[0]["metadata"]["name"], "created": "yesterday"})
    result = run_cli("analyze", str(write_json(tmp_path / "l.json", as_list(items))), "-o", str(plan), "--now", NOW)
    assert_one_line_failure(result, plan, 3)
    assert "status.tags[0].items[1].created: invalid timestamp" in result.err


def test_list_without_collection_time_needs_now(tmp_path, plan):
    path = write_json(tmp_path / "l.json", as_list(small_cluster()))
    result = run_cli("analyze", str(path), "-o", str(plan))
    assert_one_line_failure(result, plan)
    assert "--now" in result.err
    assert run_cli("analyze", str(path), "-o", str(plan), "--now", NOW).code == 0
    assert plan.exists()


def test_dump_collection_time_is_the_default_now(tmp_path, plan):
    path = write_json(tmp_path / "d.json.gz", as_dump(small_cluster(), collected_at="2026-03-04T05:06:07Z"), gz=True)
    assert run_cli("analyze", str(path), "-o", str(plan)).code == 0
    written = json.loads(plan.read_text())
    assert written["policy"]["now"] == "2026-03-04T05:06:07Z"
    assert written["metadata"]["createdAt"] == "2026-03-04T05:06:07Z"
    assert written["metadata"]["notAfter"] == "2026-03-11T05:06:07Z"
    assert written["source"]["collectedAt"] == "2026-03-04T05:06:07Z"
    assert written["source"]["cluster"] == {"apiServer": "https://api.test.example:6443", "clusterID": "test-cluster"}


def test_namespace_limited_dump_requires_matching_namespace_flag(tmp_path, plan):
    path = write_json(tmp_path / "d.json", as_dump(small_cluster(), namespace="ns"))
    result = run_cli("analyze", str(path), "-o", str(plan))
    assert_one_line_failure(result, plan)
    assert "-n ns" in result.err
    assert run_cli("analyze", str(path), "-o", str(plan), "-n", "ns").code == 0


def test_inputs_from_two_clusters_are_refused(tmp_path, plan):
    a = write_json(tmp_path / "a.json", as_dump(small_cluster()))
    b = write_json(tmp_path / "b.json", as_dump(small_cluster(), cluster={"apiServer": "https://other", "clusterID": "x"}))
    result = run_cli("analyze", str(a), str(b), "-o", str(plan))
    assert_one_line_failure(result, plan, 3)
    assert "different clusters" in result.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--prune-over-size-limit", "--keep-tag-revisions=3"],
         "--prune-over-size-limit cannot be specified with --keep-tag-revisions nor --keep-younger-than"),
        (["--prune-over-size-limit=false", "--keep-younger-than=1h"],
         "--prune-over-size-limit cannot be specified with --keep-tag-revisions nor --keep-younger-than"),
        (["--keep-younger-than=-1h"], "--keep-younger-than must be greater than or equal to 0"),
        (["--keep-tag-revisions=-1"], "--keep-tag-revisions must be greater than or equal to 0"),
        (["--keep-younger-than=1d"],
         'invalid argument "1d" for "--keep-younger-than" flag: time: unknown unit "d" in duration "1d"'),
        (["--keep-younger-than=5"], 'invalid argument "5" for "--keep-younger-than" flag: time: missing unit in duration "5"'),
        (["--keep-tag-revisions=three"],
         'invalid argument "three" for "--keep-tag-revisions" flag: strconv.ParseInt: parsing "three": invalid syntax'),
        (["--all=maybe"], 'invalid argument "maybe" for "--all" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
        (["--now", "tomorrow"], 'invalid argument "tomorrow" for "--now" flag'),
        (["--valid-for=0s"], "--valid-for must be greater than 0"),
        (["--now", "9999-12-01T00:00:00Z", "--valid-for=8760h"],
         "--valid-for 8760h from 9999-12-01T00:00:00Z ends after the year 9999"),
    ],
)
def test_invalid_flags_get_upstream_messages(tmp_path, plan, flags, message):
    path = write_json(tmp_path / "d.json", as_dump(small_cluster()))
    result = run_cli("analyze", str(path), "-o", str(plan), *flags)
    assert_one_line_failure(result, plan)
    assert message in result.err_lines[0]


def test_flag_validation_happens_before_reading_inputs(tmp_path, plan):
    result = run_cli("analyze", str(tmp_path / "missing.json"), "-o", str(plan), "--keep-tag-revisions=-2")
    assert result.err_lines == ["error: --keep-tag-revisions must be greater than or equal to 0"]
    assert result.code == 2  # a bad flag value is a bad command line, whatever the flag


def test_unwritable_output_is_reported(tmp_path):
    path = write_json(tmp_path / "d.json", as_dump(small_cluster()))
    target = tmp_path / "no-such-dir" / "plan.json"
    result = run_cli("analyze", str(path), "-o", str(target))
    assert_one_line_failure(result, target, 4)


def test_unknown_option_is_a_one_line_usage_error(tmp_path, plan):
    path = write_json(tmp_path / "d.json", as_dump(small_cluster()))
    result = run_cli("analyze", str(path), "-o", str(plan), "--keep-everything")
    assert_one_line_failure(result, plan, 2)


def test_a_dump_collected_at_the_zero_time_is_refused_without_a_traceback(tmp_path: Path) -> None:
    dump = as_dump([image(digest(1))])
    dump["header"]["collectedAt"] = "0001-01-01T00:00:00Z"
    result = run_cli("analyze", str(write_json(tmp_path / "dump.json", dump)), "-o", str(tmp_path / "plan.json"))
    assert result.code == 3
    assert result.err.strip() == "error: dump collection time 0001-01-01T00:00:00Z is the zero time; pass --now so the plan is reproducible"
    assert not (tmp_path / "plan.json").exists()


def test_a_keep_younger_than_reaching_before_the_year_1_is_refused_without_a_traceback(tmp_path: Path) -> None:
    dump = write_json(tmp_path / "dump.json", as_dump([image(digest(1))]))
    result = run_cli("analyze", str(dump), "--now", "0001-01-01T00:10:00Z", "--keep-younger-than", "1h", "-o", str(tmp_path / "plan.json"))
    assert result.code == 2
    assert result.err.strip() == "error: --keep-younger-than 1h0m0s before 0001-01-01T00:10:00Z starts before the year 1"
    assert not (tmp_path / "plan.json").exists()


def test_a_newline_in_a_path_stays_inside_the_one_error_line(tmp_path: Path) -> None:
    """A name may hold a newline or an escape sequence: the error line escapes them, so it stays
    one line and cannot drive the terminal."""
    dump = write_json(tmp_path / "dump.json", as_dump(small_cluster()))
    target = tmp_path / "no\nsuch\x1b[2J" / "plan.json"
    result = run_cli("analyze", str(dump), "-o", str(target))
    assert result.code == 4
    assert result.err_lines == [f"error: cannot write {tmp_path}/no\\nsuch\\x1b[2J/plan.json: No such file or directory"]
    missing = run_cli("analyze", str(tmp_path / "in\nput.json"), "-o", str(tmp_path / "plan.json"))
    assert missing.code == 3 and missing.err_lines == [f"error: {tmp_path}/in\\nput.json: no such file"]
