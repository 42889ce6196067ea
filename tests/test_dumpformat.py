"""Dump format v1: the line layout DumpWriter writes, a whole document and a List give their
readers the same objects; objects are kept once per identity and named by identity or position
when refused; every way such a file can be broken is one clear error."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pruneplan.dumpformat import STREAM_PREFIX, Identity, ObjectError, Refused, load_inputs
from pruneplan.dumpwriter import DumpWriter
from pruneplan.errors import InputError
from pruneplan.kinds import BY_RESOURCE, KINDS

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


def json_reader(resource: str):
    """Keeps each object as the plain JSON value it is; refuses one without its identity, or
    one whose `refuse` field is set."""
    namespaced = BY_RESOURCE[resource].namespaced

    def read(raw: bytes) -> tuple[Identity, Any]:
        obj = msgspec.json.decode(raw)
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not meta.get("name") or (namespaced and not meta.get("namespace")):
            raise Refused()
        if obj.get("refuse"):
            raise Refused(f"refuse must be {obj['refuse']}")
        return ((meta["namespace"], meta["name"]) if namespaced else meta["name"]), obj

    return read


READERS = {kind.resource: json_reader(kind.resource) for kind in KINDS}


def load(*paths: Path, deferred: tuple[str, ...] = ()):
    return load_inputs([str(p) for p in paths], READERS, deferred)


@pytest.mark.parametrize("name", ["d.json", "d.json.gz"])
def test_line_reader_gives_what_a_whole_document_parse_gives(tmp_path, name):
    path = write_dump(tmp_path / name, sample_objects())
    raw = path.read_bytes()
    doc = json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)
    loaded = load(path)
    for kind in KINDS:
        assert loaded.objects[kind.resource] == doc["objects"].get(kind.resource, [])
    assert loaded.inputs[0].collected_at == "2026-06-01T00:00:00Z"
    assert loaded.cluster == CLUSTER
    assert doc["header"]["counts"]["images"] == 3


def test_the_line_layout_a_whole_document_and_a_list_give_the_same_objects(tmp_path):
    objects = sample_objects()
    line = load(write_dump(tmp_path / "d.json", objects))
    whole = json.loads((tmp_path / "d.json").read_text())
    (tmp_path / "whole.json").write_text(json.dumps(whole, indent=1))  # not the line layout any more
    items = [{"kind": BY_RESOURCE[resource].kind, **obj} for resource, objs in objects.items() for obj in objs]
    (tmp_path / "list.json").write_text(json.dumps({"kind": "List", "items": items}))
    for other in (load(tmp_path / "whole.json"), load(tmp_path / "list.json")):
        for resource in ("images", "imagestreams"):
            assert [{k: v for k, v in o.items() if k != "kind"} for o in other.objects[resource]] == line.objects[resource]
    assert [i.source for i in (line.inputs + load(tmp_path / "list.json").inputs)] == ["dump", "list"]


def test_the_bundled_example_reads_the_same_both_ways():
    doc = json.loads(gzip.decompress(EXAMPLE.read_bytes()))
    loaded = load(EXAMPLE)
    assert loaded.objects["images"] == doc["objects"]["images"]
    assert loaded.objects["pods"] == doc["objects"]["pods"]


def test_readers_decide_what_is_kept(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    names = {**READERS, "images": lambda raw: (json_reader("images")(raw)[0],) * 2}
    loaded = load_inputs([str(path)], names)
    assert loaded.objects["images"] == [f"sha256:{i:064x}" for i in range(3)]


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_dump_is_refused(tmp_path, gz):
    path = write_dump(tmp_path / ("d.json.gz" if gz else "d.json"), sample_objects())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError) as err:
        load(path)
    assert str(err.value).count("\n") == 0
    assert ("gzip" in str(err.value)) if gz else ("truncated" in str(err.value) or "invalid JSON" in str(err.value))


def test_a_damaged_object_line_is_reported_with_its_line_number(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3][:10]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(InputError, match="invalid JSON at line 4: unexpected end of data: line 1 column 11"):
        load(path)


def test_unknown_format_version_in_a_line_dump_is_refused(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    path.write_bytes(path.read_bytes().replace(b'"formatVersion":1', b'"formatVersion":7'))
    with pytest.raises(InputError, match="unsupported dump format version 7"):
        load(path)


def test_duplicates_across_a_line_dump_and_a_list_are_kept_once(tmp_path):
    path = write_dump(tmp_path / "d.json", sample_objects())
    other = tmp_path / "l.json"
    other.write_text(json.dumps({"kind": "List", "items": [{"kind": "Image", **sample_objects()["images"][0]}]}))
    loaded = load(path, other)
    assert len(loaded.objects["images"]) == 3 and loaded.duplicates == 1


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_a_line_dump_is_recognised_by_its_first_line_alone(tmp_path, ending):
    path = tmp_path / "d.json"
    path.write_bytes(STREAM_PREFIX + ending + (b'"images":[\n]\n}' if ending else b""))
    with pytest.raises(InputError, match="dump is truncated"):  # read a line at a time: the header line is missing
        load(path)
    # the same envelope with more on its line is a whole document, not the line layout
    path.write_bytes(STREAM_PREFIX + b'"images":[]},"header":{}}' + ending)
    with pytest.raises(InputError, match="unsupported dump format version null"):
        load(path)
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "missing.json")


# --- refused objects -------------------------------------------------------------------------------

def two_forms(tmp_path: Path, resource: str, objects: list[Any]) -> list[Path]:
    items = [{"kind": BY_RESOURCE[resource].kind, **obj} for obj in objects]
    listing = tmp_path / "l.json"
    listing.write_text(json.dumps({"kind": "List", "items": items}))
    return [write_dump(tmp_path / "d.json", {resource: objects}), listing]


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"metadata": {"namespace": "ns"}}, "pods[1]: metadata.name is required"),
        ({"metadata": {"name": "", "namespace": "ns"}}, "pods[1]: metadata.name is required"),
        ({"metadata": {"name": "p"}}, "pods[1] (p): metadata.namespace is required"),
        ({"metadata": "p"}, "pods[1]: metadata is required"),
        ({"metadata": {"name": "p", "namespace": "ns"}, "refuse": "a list"}, "pod ns/p: refuse must be a list"),
    ],
)
def test_a_refused_object_is_named_by_its_identity_or_else_its_position(tmp_path, obj, message):
    for path in two_forms(tmp_path, "pods", [{"metadata": {"name": "ok", "namespace": "ns"}}, obj]):
        with pytest.raises(InputError) as err:
            load(path)
        assert err.value.message == f"{path}: {message}" or err.value.message == message
        assert isinstance(err.value, ObjectError) == ("refuse" in obj)


def test_a_refused_object_of_a_deferred_resource_is_kept_for_later_and_its_repeat_not_read(tmp_path):
    good, refused = {"metadata": {"name": "a", "namespace": "ns"}}, {"metadata": {"name": "b", "namespace": "ns2"}, "refuse": "x"}
    for path in two_forms(tmp_path, "pods", [good, refused, {**refused, "refuse": "y"}, good]):
        loaded = load(path, deferred=("pods",))
        assert [obj["metadata"] for obj in loaded.objects["pods"]] == [good["metadata"]] and loaded.duplicates == 2
        assert [(r.resource, r.identity, r.namespace, r.error.message) for r in loaded.refused] == [
            ("pods", ("ns2", "b"), "ns2", "pod ns2/b: refuse must be x")]
        loaded.raise_refused(["images", "pods"], "ns")  # none in that namespace
        with pytest.raises(ObjectError, match="pod ns2/b: refuse must be x"):
            loaded.raise_refused(["images", "pods"])


def test_raise_refused_takes_resources_in_the_order_given(tmp_path):
    items = [{"kind": "Job", "metadata": {"name": "j", "namespace": "ns"}, "refuse": "j"},
             {"kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "refuse": "p"}]
    path = tmp_path / "l.json"
    path.write_text(json.dumps({"kind": "List", "items": items}))
    loaded = load(path, deferred=("pods", "jobs"))
    with pytest.raises(ObjectError, match="pod ns/p"):
        loaded.raise_refused(["pods", "jobs"])
    with pytest.raises(ObjectError, match="job ns/j"):
        loaded.raise_refused(["jobs", "pods"])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kind": "List", "items": [1]}, "items[0]: expected an object"),
        ({"kind": "List", "items": [{"metadata": {}}]}, "items[0]: kind is required in a List"),
        ({"kind": "List", "items": {}}, "List has no items list"),
        ({"kind": "List", "items": None}, "List has no items list"),
        ({"kind": "List"}, 'not a pruneplan dump or a Kubernetes List (kind "List")'),
        ({"kind": "Pod", "items": []}, 'not a pruneplan dump or a Kubernetes List (kind "Pod")'),
        ([1], "not a pruneplan dump or a Kubernetes List (top level is not an object)"),
        ({"kind": "ClusterDump", "apiVersion": "pruneplan.io/v1", "header": {"formatVersion": 1}}, "dump has no objects section"),
        ({"kind": "ClusterDump", "apiVersion": "pruneplan.io/v1", "header": {"formatVersion": 1}, "objects": {"pods": {}}},
         "objects.pods must be a list"),
        ({"kind": "ClusterDump", "apiVersion": "pruneplan.io/v1", "header": [], "objects": {}}, "dump has no header"),
        ({"kind": "ClusterDump", "apiVersion": "v2"}, 'unsupported dump apiVersion "v2" (expected pruneplan.io/v1)'),
    ],
)
def test_a_broken_document_is_one_error(tmp_path, document, message):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError) as err:
        load(path)
    assert err.value.message == f"{path}: {message}"


def test_a_typed_list_gives_its_items_kind_and_other_kinds_are_counted(tmp_path):
    path = tmp_path / "l.json"
    items = [{"metadata": {"name": "sha256:a"}}, {"kind": "Secret", "metadata": {"name": "s"}},
             {"kind": "", "metadata": {"name": "sha256:b"}}]  # a kind of another JSON type: tests/test_input_strictness.py
    path.write_text(json.dumps({"kind": "ImageList", "items": items}))
    loaded = load(path)
    assert [obj["metadata"]["name"] for obj in loaded.objects["images"]] == ["sha256:a", "sha256:b"]
    assert loaded.ignored_kinds == {"Secret": 1}


def test_the_earliest_collection_time_of_several_inputs_is_found_by_time_not_by_text(tmp_path):
    from builders import as_dump, write_json

    later_as_text = write_json(tmp_path / "a.json", as_dump([], collected_at="2026-06-01T01:30:00+02:00"))  # 23:30Z
    earlier_as_text = write_json(tmp_path / "b.json", as_dump([], collected_at="2026-05-31T23:45:00Z"))
    loaded = load(later_as_text, earlier_as_text)
    assert loaded.collected_at == "2026-06-01T01:30:00+02:00"


def test_an_older_dump_with_credentials_in_its_url_is_of_the_same_cluster_as_a_new_one(tmp_path):
    from builders import as_dump, write_json

    cluster = {"apiServer": "https://api.example:6443", "clusterID": "c1"}
    old = write_json(tmp_path / "old.json", as_dump([], cluster={**cluster, "apiServer": "https://admin:pw@api.example:6443"}))
    new = write_json(tmp_path / "new.json", as_dump([], cluster=cluster))
    assert len(load(old, new).inputs) == 2
    other = write_json(tmp_path / "other.json", as_dump([], cluster={**cluster, "clusterID": "c2"}))
    with pytest.raises(InputError, match="different clusters"):
        load(new, other)
