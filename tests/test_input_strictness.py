"""analyze is as strict with its inputs as upstream's decoders, bounded in time and memory whatever
the input, and says what is wrong in JSON's words (docs/dump-format.md, "Limits" and "Errors"):
every refusal is one `error:` line, exit status 3 (2 for a flag), no traceback, no plan."""

from __future__ import annotations

import gzip
import json
import os
import stat
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import as_dump, as_list, digest, image, stream, write_json, write_line_dump
from clirunner import run_cli
from pruneplan import dumpformat
from pruneplan.dumpformat import HEADER_KEY, STREAM_PREFIX
from pruneplan.kinds import KINDS
from pruneplan.rawlines import MAX_LINE, LineTooLong, read_line_batches
from pruneplan.timefmt import format_time, parse_time

NOW = "2026-06-01T00:00:00Z"
CLUSTER = {"apiServer": "https://api.test.example:6443", "clusterID": "test"}
MIB = 1 << 20


def cluster() -> list[dict[str, Any]]:
    return [
        image(digest(1), layers=[digest("a")]),
        image(digest(2), layers=[digest("b")]),
        image(digest(3), layers=[digest("c")]),
        stream("ns", "app", {"latest": [digest(1), digest(2)]}),
    ]


def edit_header(path: Path, **changes: Any) -> Path:
    """Change fields of a line dump's header (its last line)."""
    lines = path.read_bytes().split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(HEADER_KEY))
    header = json.loads(lines[at][len(HEADER_KEY):-1])
    header.update(changes)
    lines[at] = HEADER_KEY + json.dumps(header).encode() + b"}"
    path.write_bytes(b"\n".join(lines))
    return path


def dump_in(form: str, tmp_path: Path, items: list[dict[str, Any]] | None = None, **header: Any) -> Path:
    """`items` (the small cluster by default) as a line dump or a whole dump document, with
    `header` fields changed."""
    items = cluster() if items is None else items
    if form == "line-dump":
        return edit_header(write_line_dump(tmp_path / "dump.json", items), **header)
    doc = as_dump(items, collected_at=NOW)
    doc["header"].update(header)
    return write_json(tmp_path / "whole.json", doc)


def analyze(tmp_path: Path, *args: str):
    plan = tmp_path / "plan.json"
    return run_cli("analyze", *args, "-o", str(plan)), plan


def assert_refused(result, plan: Path, message: str, code: int = 3) -> None:
    """One `error:` line, the exit status, no traceback, no plan."""
    assert "Traceback" not in result.err
    assert result.err_lines == [f"error: {message}"], result.err
    assert result.code == code
    assert not plan.exists()


FORMS = ("line-dump", "whole-dump")


# --- 10. linear time, bounded lines ----------------------------------------------------------------

def test_a_line_spanning_many_chunks_is_read_in_linear_time(tmp_path):
    # one 48 MiB line, cut by 48 chunks, costs about what 48 lines of 1 MiB cost: joining it
    # chunk by chunk (each join copying all before it) took ten times as long
    one, many = tmp_path / "one.json", tmp_path / "many.json"
    one.write_bytes(b"x" * (48 * MIB) + b"\n")
    many.write_bytes((b"x" * (MIB - 1) + b"\n") * 48)

    def seconds(path: Path) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            lines = [len(line) for batch in read_line_batches(str(path)) for line in batch]
            best = min(best, time.perf_counter() - start)
        assert sum(lines) == 48 * MIB - (0 if path == one else 48)
        return best

    assert seconds(one) < 4 * seconds(many) + 0.05


def test_a_line_of_the_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    path = tmp_path / "lines.json"
    path.write_bytes(b"first\n" + b"x" * MAX_LINE + b"\nlast\n")
    assert [len(line) for batch in read_line_batches(str(path)) for line in batch] == [5, MAX_LINE, 4]
    path.write_bytes(b"first\n" + b"x" * (MAX_LINE + 1) + b"\nlast\n")
    with pytest.raises(LineTooLong) as err:
        [line for batch in read_line_batches(str(path)) for line in batch]
    assert err.value.line == 2


def test_a_small_gzip_of_a_gigantic_line_is_refused_once_the_line_passes_the_limit(tmp_path):
    # 3 MB of gzip members that inflate to one line of 3 GB: refused after 64 MiB of it
    start = STREAM_PREFIX + b'\n"images":[\n{"metadata":{"name":"sha256:x"},"pad":"'
    member = gzip.compress(b"a" * MIB, mtime=0)
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(start, mtime=0) + member * 3000)
    assert path.stat().st_size < 4_000_000
    began = time.perf_counter()
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: line 3 is longer than 64 MiB, the limit of a line of a dump")
    assert time.perf_counter() - began < 30  # generous: it takes well under a second


def test_a_whole_document_inflating_past_the_limit_is_refused_without_inflating_it_all(tmp_path, monkeypatch):
    assert dumpformat.MAX_DOCUMENT == 2 << 30  # docs/dump-format.md, "Limits": 2 GiB
    monkeypatch.setattr(dumpformat, "MAX_DOCUMENT", 16 * MIB)  # the same rule, at a size a test can afford
    start = b'{"apiVersion":"v1","kind":"List","items":[{"kind":"Image","metadata":{"name":"sha256:x"},"pad":"'
    path = tmp_path / "bomb.json.gz"
    path.write_bytes(gzip.compress(start, mtime=0) + gzip.compress(b"a" * MIB, mtime=0) * 3000)  # 3 GB inflated
    result, plan = analyze(tmp_path, str(path), "--now", NOW)
    message = (f"{path}: larger than 16 MiB once read (and inflated), the limit of a whole JSON document: "
               "use the collector's line dump, or split the input (several inputs are merged)")
    assert_refused(result, plan, message)
    plain = tmp_path / "big.json"  # uncompressed: refused by its size, before it is read
    plain.write_bytes(b" " * (16 * MIB + 1))
    result, plan = analyze(tmp_path, str(plain), "--now", NOW)
    assert_refused(result, plan, message.replace(str(path), str(plain)))


# --- 11. strict where upstream is strict ------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("version", "shown"), [(1.0, "1.0"), (True, "true"), ("1", '"1"'), (None, "null")])
def test_the_format_version_must_be_the_integer_1(tmp_path, form, version, shown):
    path = dump_in(form, tmp_path, formatVersion=version)
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: unsupported dump format version {shown} (this tool reads 1)")


@pytest.mark.parametrize("form", FORMS)
def test_an_empty_header_namespace_is_refused_not_read_as_cluster_wide(tmp_path, form):
    path = dump_in(form, tmp_path, namespace="")
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f'{path}: header.namespace is "": null for a cluster-wide dump, else the namespace collected')


def test_a_line_dump_with_an_object_line_deleted_is_refused_by_its_counts(tmp_path):
    path = write_line_dump(tmp_path / "dump.json", cluster())
    lines = path.read_bytes().split(b"\n")
    second_image = [i for i, line in enumerate(lines) if line.startswith(b'{"kind":"Image"')][1]
    path.write_bytes(b"\n".join(lines[:second_image] + lines[second_image + 1:]))  # still JSON
    result, plan = analyze(tmp_path, str(path))
    assert_refused(
        result, plan, f"{path}: header.counts.images is 3, but the dump holds 2: objects were removed or added after collection"
    )


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"images": 4}, "header.counts.images is 4, but the dump holds 3: objects were removed or added after collection"),
        ({"pods": 1}, "header.counts.pods is 1, but the dump holds 0: objects were removed or added after collection"),
        ({"images": "3"}, 'header.counts.images must be a count, not "3"'),
        ({"images": 3.0}, "header.counts.images must be a count, not 3.0"),
        ([], "header.counts must be an object"),
    ],
)
def test_header_counts_must_match_the_objects_read(tmp_path, form, counts, message):
    written = {kind.resource: 0 for kind in KINDS} | {"images": 3, "imagestreams": 1}
    path = dump_in(form, tmp_path, counts=written | counts if isinstance(counts, dict) else counts)
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: {message}")


def test_header_counts_of_kinds_this_tool_does_not_read_are_not_checked(tmp_path):
    written = {kind.resource: 0 for kind in KINDS} | {"images": 3, "imagestreams": 1, "secrets": 12}
    result, plan = analyze(tmp_path, str(dump_in("line-dump", tmp_path, counts=written)))
    assert result.code == 0, result.err
    assert plan.exists()


def _drop_comma(data: bytes, after: bytes) -> bytes:
    """The line dump without the comma that ends the line starting with `after`."""
    lines = data.split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(after))
    assert lines[at].endswith(b",")
    lines[at] = lines[at][:-1]
    return b"\n".join(lines)


def _add_comma(data: bytes, after: bytes) -> bytes:
    lines = data.split(b"\n")
    at = max(i for i, line in enumerate(lines) if line.startswith(after))
    lines[at] += b","
    return b"\n".join(lines)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: _drop_comma(d, b'{"kind":"Image"'), "invalid JSON at line 7: expected ',' or ']'"),
        (lambda d: _add_comma(d, b'{"kind":"Image"'), "invalid JSON at line 8: trailing comma is not allowed"),
        (lambda d: _drop_comma(d, b"],"), "invalid JSON at line 5: expected ',' or '}'"),
        (lambda d: _add_comma(d, b"]"), "invalid JSON at line 9: trailing comma is not allowed"),
        (lambda d: _drop_comma(d, b"},"), "invalid JSON at line 11: expected ',' or '}'"),
        (lambda d: d + b'"header":{}}\n', "invalid JSON at line 12: unexpected content after document"),
        (lambda d: d.replace(b'"images":[', b'"secrets":[\n{}\n{}\n],\n"images":['), "invalid JSON at line 7: expected ',' or ']'"),
    ],
    ids=["object-comma", "trailing-object-comma", "list-comma", "trailing-list-comma", "objects-comma", "after-header",
         "object-comma-of-a-kind-not-read"],
)
def test_a_line_dump_must_be_json_as_a_whole(tmp_path, damage, message):
    path = write_line_dump(tmp_path / "dump.json", cluster())
    # line 1 the envelope, 2 "imagestreams":[, 3 the stream, 4 ], 5 "images":[, 6-8 images, 9 ], 10 },, 11 the header
    path.write_bytes(damage(path.read_bytes()))
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: {message}")


def test_a_line_of_a_kind_this_tool_does_not_read_must_still_be_json(tmp_path):
    path = write_line_dump(tmp_path / "dump.json", cluster())
    path.write_bytes(path.read_bytes().replace(b'"images":[', b'"secrets":[\n{"metadata":{"name":"s"}\n],\n"images":['))
    result, plan = analyze(tmp_path, str(path))
    assert "Traceback" not in result.err
    assert result.code == 3 and len(result.err_lines) == 1
    assert result.err.startswith(f"error: {path}: invalid JSON at line 6: ")
    assert not plan.exists()


NOT_RFC3339 = [
    "2026-01-01 00:00:00Z", "20260101T000000Z", "2026-W01-1T00:00:00Z", "2026-01-01T00:00:00z", "2026-01-01t00:00:00Z",
    " 2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01", "2026-01-01T00:00Z", "2026-01-01T00:00:00+0100",
    "2026-01-01T00:00:00.Z", "+2026-01-01T00:00:00Z",
]


@pytest.mark.parametrize("text", NOT_RFC3339)
def test_a_time_that_is_not_rfc3339_is_refused_wherever_it_is(tmp_path, text):
    reason = f"{json.dumps(text)}: not an RFC 3339 time such as 2026-01-31T12:00:00Z"
    created = image(digest(1), created=text)
    result, plan = analyze(tmp_path, str(write_json(tmp_path / "in.json", as_list([created]))), "--now", NOW)
    assert_refused(result, plan, f"image {digest(1)}: metadata.creationTimestamp: invalid timestamp: {reason}")
    item = stream("ns", "app", {"latest": [digest(1)]}, item_created={("latest", 0): text})
    result, plan = analyze(tmp_path, str(write_json(tmp_path / "in.json", as_list([item]))), "--now", NOW)
    assert_refused(result, plan, f"imagestream ns/app: status.tags[0].items[0].created: invalid timestamp: {reason}")
    path = dump_in("line-dump", tmp_path, collectedAt=text)
    result, plan = analyze(tmp_path, str(path), "--now", NOW)  # checked even when --now stands in for it
    assert_refused(result, plan, f"{path}: header.collectedAt: invalid timestamp: {reason}")
    result, plan = analyze(tmp_path, str(path), "--now", text)
    assert_refused(result, plan, f'invalid argument "{text}" for "--now" flag: not an RFC 3339 time such as 2026-01-31T12:00:00Z', 2)


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("2026-01-01T1:00:00Z", "2026-01-01T01:00:00Z"),  # Go's general parser takes a one-digit hour
        ("2026-01-01T00:00:00,5Z", "2026-01-01T00:00:00.5Z"),  # and a comma before the fraction
        ("2026-01-02T00:00:00+24:00", "2026-01-01T00:00:00Z"),  # and offsets up to 24:60
        ("2026-01-02T01:00:00+24:60", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00.1234567891Z", "2026-01-01T00:00:00.123456Z"),  # beyond microseconds: cut
    ],
)
def test_what_go_reads_as_rfc3339_is_read(tmp_path, text, same_as):
    assert parse_time(text) == parse_time(same_as)
    source = write_json(tmp_path / "in.json", as_list([image(digest(1), created=text)]))  # unreferenced: deleted
    result, plan = analyze(tmp_path, str(source), "--now", NOW)
    assert result.code == 0, result.err
    assert json.loads(plan.read_text())["imageDeletions"][0]["created"] == format_time(parse_time(same_as))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-02-29T00:00:00Z", "day out of range"),
        ("2026-13-01T00:00:00Z", "month out of range"),
        ("2026-01-01T24:00:00Z", "hour out of range"),
        ("2026-01-01T00:00:60Z", "second out of range"),
        ("2026-01-01T00:00:00+25:00", "time zone offset out of range"),
        ("0000-06-01T00:00:00Z", "out of range: times from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z are read"),
    ],
)
def test_a_time_out_of_range_is_refused_with_the_reason(text, reason):
    with pytest.raises(ValueError) as err:
        parse_time(text)
    assert str(err.value) == f"{json.dumps(text)}: {reason}"


@settings(max_examples=500, deadline=None)
@given(
    st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)),
    st.one_of(st.none(), st.integers(-(24 * 60 - 1), 24 * 60 - 1)),
    st.sampled_from(["", ".5", ".123", ".123456", ".1234567"]),
)
def test_a_valid_time_reads_as_before_to_the_bit(moment, offset_minutes, fraction):
    # a plan made from valid inputs must not change: the value is what datetime.fromisoformat gave
    zone = "Z" if offset_minutes is None else f"{'-' if offset_minutes < 0 else '+'}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    text += fraction + zone
    assert parse_time(text) == datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("form", ["list", "whole-dump", "line-dump"])
@pytest.mark.parametrize("size", [-15, -(2**63), -(2**70), -0.5])
def test_a_negative_layer_size_is_refused_naming_the_image_and_the_field(tmp_path, form, size):
    bad = image(digest(4), layers=[digest("d"), digest("e")])
    bad["dockerImageLayers"][1]["size"] = size if form != "line-dump" else 12345  # orjson writes 64 bits at most
    items = [*cluster(), bad]
    if form == "list":
        path = write_json(tmp_path / "in.json", as_list(items))
    else:
        path = dump_in(form, tmp_path, items)
        path.write_bytes(path.read_bytes().replace(b'"size":12345', f'"size":{json.dumps(size)}'.encode()))
    result, plan = analyze(tmp_path, str(path), "--now", NOW)
    assert_refused(result, plan, f"image {digest(4)}: dockerImageLayers[1].size must not be negative")


# --- 9. never a traceback -------------------------------------------------------------------------

EDGE_TIMES = [
    ("0001-01-01T00:00:00+01:00", "out of range: times from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z are read"),
    ("9999-12-31T23:59:59-01:00", "out of range: times from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z are read"),
    ("9999-12-31T23:59:59.999999Z", "out of range: times from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z are read"),
]


@pytest.mark.parametrize(("now", "reason"), EDGE_TIMES)
def test_now_at_the_edges_of_the_years_is_one_error(tmp_path, now, reason):
    source = write_json(tmp_path / "in.json", as_list(cluster()))
    result, plan = analyze(tmp_path, str(source), "--now", now, "--valid-for=1ns")
    assert_refused(result, plan, f'invalid argument "{now}" for "--now" flag: {reason}', 2)


@pytest.mark.parametrize(("collected", "reason"), EDGE_TIMES)
@pytest.mark.parametrize("form", FORMS)
def test_a_collection_time_at_the_edges_of_the_years_is_one_error(tmp_path, form, collected, reason):
    path = dump_in(form, tmp_path, collectedAt=collected)
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: header.collectedAt: invalid timestamp: {json.dumps(collected)}: {reason}")


@pytest.mark.parametrize(
    ("now", "message"),
    [
        ("0001-01-01T00:00:01Z", "--keep-younger-than 1h0m0s before 0001-01-01T00:00:01Z starts before the year 1"),
        ("9999-12-31T23:59:59Z", "--valid-for 168h from 9999-12-31T23:59:59Z ends after the year 9999"),
    ],
)
def test_a_time_in_the_first_or_last_year_is_one_error_when_the_plan_cannot_hold_it(tmp_path, now, message):
    for args in (["--now", now], []):
        path = dump_in("line-dump", tmp_path, collectedAt=now)
        result, plan = analyze(tmp_path, str(path), *args)
        assert_refused(result, plan, message, 2)


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808", "-9223372036854775809", "0x10000000000000000"])
def test_an_integer_flag_past_64_bits_is_out_of_range_as_oc_says(tmp_path, value):
    source = write_json(tmp_path / "in.json", as_list(cluster()))
    result, plan = analyze(tmp_path, str(source), "--now", NOW, f"--keep-tag-revisions={value}")
    assert_refused(
        result, plan,
        f'invalid argument "{value}" for "--keep-tag-revisions" flag: strconv.ParseInt: parsing "{value}": value out of range', 2,
    )


def test_layer_sizes_adding_up_past_64_bits_are_added_exactly(tmp_path):
    # each size within int64, as upstream's decoder takes them; their sum is no machine integer
    # (upstream reports no such sum), so it is written exactly, and the plan reads back
    big = image(digest(4), layers=[digest("d"), digest("e"), digest("f")])
    for layer in big["dockerImageLayers"]:
        layer["size"] = 2**63 - 1
    source = write_json(tmp_path / "in.json", as_list([big]))
    result, plan = analyze(tmp_path, str(source), "--now", NOW)
    assert result.code == 0 and "Traceback" not in result.err, result.err
    assert json.loads(plan.read_text())["summary"]["reclaimableBytes"] == 3 * (2**63 - 1)
    report = run_cli("report", str(plan), "-o", str(tmp_path / "review.md"))
    assert report.code == 0, report.err


@pytest.mark.parametrize(("kind", "found"), [({"a": 1}, "an object"), (["Image"], "an array"), (5, "a number"), (True, "a boolean")])
@pytest.mark.parametrize("list_kind", ["List", "ImageList"])
def test_a_list_item_whose_kind_is_not_a_string_is_refused(tmp_path, kind, found, list_kind):
    items = cluster()
    items[1]["kind"] = kind
    source = write_json(tmp_path / "in.json", {"apiVersion": "v1", "kind": list_kind, "items": items})
    result, plan = analyze(tmp_path, str(source), "--now", NOW)
    assert_refused(result, plan, f"{source}: items[1]: kind must be a string, found {found}")


# --- 12. messages -------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "found"), [(b"null", "null"), (b"[1]", "an array"), (b'"x"', "a string"), (b"7", "a number")])
def test_a_refusal_names_json_types_not_python_types(tmp_path, line, found):
    path = write_line_dump(tmp_path / "dump.json", cluster())
    data = path.read_bytes()
    first_image = next(li for li in data.split(b"\n") if li.startswith(b'{"kind":"Image"'))
    path.write_bytes(edit := data.replace(first_image, line + b",", 1))
    assert edit != data
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: images[0]: expected an object, found {found}")


def test_invalid_utf8_is_reported_at_its_line_and_column(tmp_path):
    path = write_line_dump(tmp_path / "dump.json", cluster())
    data = path.read_bytes()
    bad = data.replace(b'"name":"app"', b'"name":"a\xffp"', 1)  # the stream's line, 3
    column = bad.split(b"\n")[2].index(b"\xff") + 1
    path.write_bytes(bad)
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: invalid JSON at line 3: invalid UTF-8 at column {column}")
    # in a line of the structure too
    path.write_bytes(data.replace(b'"images":[', b'"ima\xc3ges":['))
    result, plan = analyze(tmp_path, str(path))
    assert_refused(result, plan, f"{path}: invalid JSON at line 5: invalid UTF-8 at column 5")


@pytest.mark.parametrize("gz", [False, True])
def test_invalid_utf8_in_a_whole_document_is_reported_at_its_line_column_and_byte(tmp_path, gz):
    text = json.dumps(as_list(cluster()), indent=1).encode()
    offset = text.index(b'"app"') + 2
    bad = text[:offset] + b"\xe2\x28" + text[offset + 1:]  # a lead byte without its continuation
    line = bad.count(b"\n", 0, offset) + 1
    column = offset - bad.rfind(b"\n", 0, offset)
    path = tmp_path / ("in.json.gz" if gz else "in.json")
    path.write_bytes(gzip.compress(bad, mtime=0) if gz else bad)
    result, plan = analyze(tmp_path, str(path), "--now", NOW)
    assert_refused(result, plan, f"{path}: invalid JSON: invalid UTF-8 at line {line} column {column} (byte {offset})")


def _endless_device(tmp_path: Path) -> Path:
    """A zero device of the test's own (as root, as CI runs): it never ends."""
    node = tmp_path / "zero"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    return node


def test_an_endless_device_as_a_dump_or_a_plan_is_refused_at_once(tmp_path):
    """A pipe or a device has no size to check first: its first bytes must be able to start a
    JSON document (or a gzip file), so one that never ends is refused without reading it on."""
    zero = _endless_device(tmp_path)
    assert run_cli("keygen", str(tmp_path / "key")).code == 0
    plan = tmp_path / "plan.json"
    analyzed = run_cli("analyze", str(write_json(tmp_path / "dump.json", as_dump(cluster()))), "-o", str(plan), "-q",
                       "--sign-key", str(tmp_path / "key"))
    assert analyzed.code == 0, analyzed.err
    for args, code, message in (
        (["analyze", str(zero), "-o", str(tmp_path / "p.json")], 3, f"error: {zero}: invalid JSON: "),
        (["report", str(plan), "--dump", str(zero), "-o", str(tmp_path / "r.md")], 3, f"error: {zero}: invalid JSON: "),
        (["report", str(zero), "-o", str(tmp_path / "r.md")], 13, f"error: {zero}: not a plan: invalid JSON"),
        (["verify", str(zero), "--key", str(tmp_path / "key.pub"), "--signature", str(plan) + ".sig"], 10,
         "error: signature does not verify with any trusted key"),
    ):
        result = run_cli(*args)
        assert result.code == code, (args, result.err)
        assert len(result.err_lines) == 1 and result.err_lines[0].startswith(message), result.err


def test_a_dump_through_a_pipe_is_read_once_and_gives_the_files_plan(tmp_path):
    """`analyze <(cat dump.json.gz)`: a pipe can be read once only, so it is read whole (a line
    dump is one JSON document too); looking at its first line first used to eat it."""
    dump = write_line_dump(tmp_path / "dump.json.gz", cluster())
    from_file = tmp_path / "from-file.json"
    assert run_cli("analyze", str(dump), "-o", str(from_file), "-q").code == 0
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(dump.read_bytes()))
    writer.start()
    from_pipe = tmp_path / "from-pipe.json"
    result = run_cli("analyze", str(fifo), "-o", str(from_pipe), "-q")
    writer.join()
    assert result.code == 0, result.err
    plan, expected = json.loads(from_pipe.read_text()), json.loads(from_file.read_text())
    assert plan["source"]["dumpSha256"] == expected["source"]["dumpSha256"]
    assert from_pipe.read_bytes().replace(str(fifo).encode(), b"") == from_file.read_bytes().replace(str(dump).encode(), b"")
