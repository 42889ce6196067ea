"""Dump format v1 as DumpWriter writes it: a line-at-a-time reader that agrees with a whole-document
parse, and clear errors for every way such a file can be broken."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pruneplan.dumpformat import DumpWriter, load_inputs
from pruneplan.errors import InputError
from pruneplan.kinds import KINDS

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"
CLUSTER = {"apiServer": "https://api.example:6443", "clusterID": "c1"}


def write_dump(path: Path, objects: dict[str, list[dict]]) -> Path:
    writer = DumpWriter(str(path))
    for resource, items in objects.items():
        writer.begin(resource)
        for item in items:
            writer.add(item)
    writer.commit("2026-06-01T00:00:00Z", CLUSTER, None)
    return path


def sample_objects() -> dict[str, list[dict]]:
    return {
        "images": [{"metadata": {"name": f"sha256:{i:064x}"}, "dockerImageLayers": [{"name": "sha256:" + "a" * 64}]} for i in range(3)],
        "pods": [],
        "imagestreams": [{"metadata": {"namespace": "ns", "name": "app"}, "status": {"tags": [{"tag": "t", "items": [{"image": "x\ny"}]}]}}],
    }


@pytest.mark.parametrize("name", ["d.json", "d.json.gz"])
def test_line_reader_gives_what_a_whole_document_parse_gives(tmp_path, name):
    path = write_dump(tmp_path / name, sample_objects())
    raw = path.read_bytes()
    doc = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    loaded = load_inputs([str(path)])
    for kind in KINDS:
        assert loaded.objects[kind.resource] == doc["objects"].get(kind.resource, [])
    assert loaded.inputs[0].collected_at == "2026-06-01T00:00:00Z"
    assert loaded.cluster == CLUSTER
    assert doc["header"]["counts"]["images"] == 3


def test_the_bundled_example_reads_the_same_both_ways():
    doc = json.loads(gzip.decompress(EXAMPLE.read_bytes()))
    loaded = load_inputs([str(EXAMPLE)])
    assert loaded.objects["images"] == doc["objects"]["images"]
    assert loaded.objects["pods"] == doc["objects"]["pods"]


def test_transforms_apply_while_reading(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    loaded = load_inputs([str(path)], transforms={"images": lambda obj: obj["metadata"]["name"]})
    assert loaded.objects["images"] == [f"sha256:{i:064x}" for i in range(3)]


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_dump_is_refused(tmp_path, gz):
    path = write_dump(tmp_path / ("d.json.gz" if gz else "d.json"), sample_objects())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError) as err:
        load_inputs([str(path)])
    assert str(err.value).count("\n") == 0
    assert ("gzip" in str(err.value)) if gz else ("truncated" in str(err.value) or "invalid JSON" in str(err.value))


def test_a_damaged_object_line_is_reported_with_its_line_number(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3][:10]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match="invalid JSON at line 4"):
        load_inputs([str(path)])


def test_unknown_format_version_in_a_line_dump_is_refused(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    path.write_bytes(path.read_bytes().replace(b'"formatVersion":1', b'"formatVersion":7'))
    with pytest.raises(InputError, match="unsupported dump format version 7"):
        load_inputs([str(path)])


def test_duplicates_across_a_line_dump_and_a_list_are_kept_once(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    other = tmp_path / "l.json"
    other.write_text(json.dumps({"kind": "List", "items": [{"kind": "Image", **sample_objects()["images"][0]}]}))
    loaded = load_inputs([str(path), str(other)])
    assert len(loaded.objects["images"]) == 3 and loaded.duplicates == 1


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_a_line_dump_is_recognised_by_its_first_line_alone(tmp_path, ending):
    from pruneplan.dumpformat import STREAM_PREFIX, _is_streamable

    path = tmp_path / "d.json"
    path.write_bytes(STREAM_PREFIX + ending + (b'"images":[\n]\n}' if ending else b""))
    assert _is_streamable(str(path))
    # the same envelope with more on its line is a whole document, not the line layout
    path.write_bytes(STREAM_PREFIX + b'"images":[]},"header":{}}' + ending)
    assert not _is_streamable(str(path))
    missing = tmp_path / "missing.json"
    assert not _is_streamable(str(missing))
