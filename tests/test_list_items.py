"""A `kind: List`'s items read in one pass, each by its `kind`, give what each kind's reader gives
item by item; an item the pass cannot read sends the whole list back to the item-by-item path."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from builders import as_list, deployment, digest, image, limit_range, pod, stream, write_json
from pruneplan.analyze.decisions.inputs import READERS, load_inputs, read_list_items
from pruneplan.kinds import BY_KIND, KINDS

REF = f"registry.example/ns/app@{digest(1)}"
POD_SPEC = {"containers": [{"name": "app", "image": REF}]}


def one_of_each_kind() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        image(digest(1), layers=[digest("a"), digest("b")]),
        stream("ns", "app", {"latest": [digest(1)]}),
        pod("ns", "web", [REF]),
        limit_range("ns", "limits", "1Gi"),
    ]
    for kind in ("ReplicationController", "DaemonSet", "Deployment", "DeploymentConfig", "ReplicaSet", "StatefulSet", "Job"):
        items.append({**deployment("ns", kind.lower(), [REF]), "kind": kind})
    items.append({"kind": "CronJob", "metadata": {"namespace": "ns", "name": "nightly"},
                  "spec": {"jobTemplate": {"spec": {"template": {"spec": POD_SPEC}}}}})
    for kind in ("Build", "BuildConfig"):
        items.append({"kind": kind, "metadata": {"namespace": "ns", "name": kind.lower()},
                      "spec": {"strategy": {"sourceStrategy": {"from": {"kind": "DockerImage", "name": REF}}}}})
    assert {item["kind"] for item in items} == {kind.kind for kind in KINDS}
    return items


def fields(kept: Any) -> Any:
    """A record by its fields (one read in one pass is an instance of its schema's tagged
    subclass); a model (Image, Stream) as it is."""
    if isinstance(kept, msgspec.Struct):
        return {name: getattr(kept, name) for name in kept.__struct_fields__}
    return kept


def comparable(read: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    return [(resource, identity, fields(kept)) for resource, identity, kept in read]


def item_by_item(items: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    read = []
    for item in items:
        resource = BY_KIND[item["kind"]].resource
        read.append((resource, *READERS[resource](json.dumps(item).encode())))
    return read


def test_every_kind_read_in_one_pass_is_what_its_reader_reads_alone():
    items = one_of_each_kind()
    in_one_pass = read_list_items([json.dumps(item).encode() for item in items])
    assert in_one_pass is not None
    assert comparable(in_one_pass) == comparable(item_by_item(items))


def test_an_item_the_pass_cannot_read_sends_the_list_to_the_item_by_item_path():
    good = [json.dumps(item).encode() for item in one_of_each_kind()]
    for bad in (
        {"kind": "Secret", "metadata": {"namespace": "ns", "name": "s"}},  # a kind analyze does not read
        {"metadata": {"namespace": "ns", "name": "no-kind"}},
        {**pod("ns", "p", [REF]), "spec": "not an object"},  # a wrong type: its reader words it
        {**image(digest(2)), "metadata": {"name": ""}},  # no identity: named by its position
        {**image(digest(3)), "metadata": {"name": digest(3), "creationTimestamp": "yesterday"}},
    ):
        assert read_list_items([*good, json.dumps(bad).encode()]) is None, bad


def test_a_list_with_an_ignored_kind_loads_the_same_objects_and_counts_the_kind(tmp_path):
    items = one_of_each_kind()
    plain = load_inputs([str(write_json(tmp_path / "plain.json", as_list(items)))])
    secret = {"kind": "Secret", "metadata": {"namespace": "ns", "name": "s"}}
    mixed = load_inputs([str(write_json(tmp_path / "mixed.json", as_list([secret, *items, items[0]])))])
    assert mixed.ignored_kinds == {"Secret": 1} and plain.ignored_kinds == {}
    assert mixed.duplicates == 1 and plain.duplicates == 0
    assert {r: list(map(fields, objs)) for r, objs in plain.objects.items()} == {
        r: list(map(fields, objs)) for r, objs in mixed.objects.items()
    }
