"""The reference graph: the nodes and edges analyze builds, the blob layer, the manifest-list
children stage 2 protects, and nodes told in words from their fields."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.decisions.graph import (
    add_blob_uses,
    add_references,
    blob_node,
    blob_users,
    children_of_used_lists,
    image_node,
    isimage_node,
    istag_node,
    item_node,
    label,
    manifest_list_graph,
    manifest_lists,
    path_labels,
    referrer_node,
)
from pruneplan.analyze.policy_flags import PolicyFlags
from pruneplan.analyze.run import AnalyzeRequest, decide
from builders import OCI_INDEX, REGISTRY, as_dump, deployment, digest, image, pod, stream, write_json

EXAMPLE_DUMP = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"


def analysis_of(path: Path) -> Analysis:
    analysis, _, _, _ = decide(AnalyzeRequest(inputs=[str(path)], output="unused", release_raw=False,
                                                flags=PolicyFlags(now="2026-06-01T00:00:00Z")))
    return analysis


A, B, C, LIST = digest(1), digest(2), digest(3), digest(4)


@pytest.fixture()
def small(tmp_path: Path) -> Analysis:
    """ns/app lists tag v1 twice; a pod uses v1 from two containers and b by digest; a manifest
    list has children a, c and one that is no Image."""
    repeated_tag = stream("ns", "app", {"v1": [A, B]})
    repeated_tag["status"]["tags"].append({"tag": "v1", "items": [{"image": C, "created": "2026-01-02T00:00:00Z"}]})
    objects = [
        image(A, layers=[digest(10)], config=digest(20)),
        image(B, layers=[digest(10), digest(11), digest(11)]),
        image(C, layers=[digest(12)]),
        image(LIST, media_type=OCI_INDEX, manifests=[A, C, digest(99)], metadata=None),
        repeated_tag,
        stream("ns", "list", {"latest": [LIST]}),
        pod("ns", "web", [f"{REGISTRY}/ns/app:v1", f"{REGISTRY}/ns/app:v1", f"{REGISTRY}/ns/app@{B}"]),
        deployment("ns", "api", [f"{REGISTRY}/ns/app:v1", f"{REGISTRY}/ns/gone:latest"]),
    ]
    return analysis_of(write_json(tmp_path / "dump.json", as_dump(objects)))


def test_graph_links_referrers_tags_items_images_and_list_children(small: Analysis) -> None:
    web, api = referrer_node("pod", "ns", "web"), referrer_node("deployment", "ns", "api")
    v1, gone, latest = istag_node("ns", "app", "v1"), istag_node("ns", "gone", "latest"), istag_node("ns", "list", "latest")
    pulled_b = isimage_node("ns", "app", B)
    item0, item1, list_item = item_node("ns", "app", "v1", 0), item_node("ns", "app", "v1", 1), item_node("ns", "list", "latest", 0)
    a, b, c, lst = map(image_node, (A, B, C, LIST))
    assert {(u, v): d for u, v, d in small.graph.edges(data=True)} == {
        (lst, a): {}, (lst, c): {},  # the child that is no Image has no node
        (web, v1): {"via": "container c1"},  # used from two containers: the last one's
        (web, pulled_b): {"via": "container c2"},
        (api, v1): {"via": "container c0"},
        (api, gone): {"via": "container c1"},  # a tag of no stream is still a node
        (v1, item0): {}, (v1, item1): {},
        (item0, a): {}, (item1, b): {},
        (item0, c): {},  # the second listing of v1: the same tag and position
        (pulled_b, item1): {},
        (latest, list_item): {}, (list_item, lst): {},
    }
    assert set(small.graph) == {web, api, v1, gone, latest, pulled_b, item0, item1, list_item, a, b, c, lst}


def test_the_same_inputs_give_the_same_graph_in_the_same_order() -> None:
    first, second = analysis_of(EXAMPLE_DUMP), analysis_of(EXAMPLE_DUMP)
    assert list(first.graph.nodes) == list(second.graph.nodes)
    assert list(first.graph.edges(data=True)) == list(second.graph.edges(data=True))
    rebuilt = manifest_list_graph(first.images)  # built at once, not completed on first use
    add_references(rebuilt, first.streams, first.images, first.refs)
    assert list(rebuilt.edges(data=True)) == list(first.graph.edges(data=True))


def test_nodes_carry_no_attributes_and_refuse_them(small: Analysis) -> None:
    graph = small.graph
    node = image_node(A)
    assert dict(graph.nodes[node]) == {}
    with pytest.raises(TypeError):
        graph.nodes[node]["rule"] = "changed"
    with pytest.raises(TypeError):
        graph.add_node(node, rule="changed")
    with pytest.raises(TypeError):
        nx.set_node_attributes(graph, {node: "changed"}, "rule")


def test_blob_uses_are_every_layer_config_and_manifest_use() -> None:
    analysis = analysis_of(EXAMPLE_DUMP)
    graph = analysis.graph
    assert not any(node[0] == "blob" for node in graph)  # analyze does not add them
    asked = analysis_of(EXAMPLE_DUMP)  # blob by blob, as questions add them
    add_blob_uses(graph, analysis.images)
    edges = graph.number_of_edges()
    for name, model in analysis.images.items():
        uses = {used[1] for used in graph.successors(image_node(name)) if used[0] == "blob"}
        assert uses == {*model.layers, *([model.config] if model.config else []), name}
        assert graph.edges[image_node(name), blob_node(name)]["kind"] == "manifest"
        if model.config and model.config not in model.layers:
            assert graph.edges[image_node(name), blob_node(model.config)]["kind"] == "config"
    blobs = {node[1] for node in graph if node[0] == "blob"}
    for digest_ in sorted(blobs):
        scanned = sorted(n for n, m in analysis.images.items() if n == digest_ or m.config == digest_ or digest_ in m.layers)
        assert blob_users(graph, digest_) == scanned == analysis.blob_users(digest_) == asked.blob_users(digest_)
        assert sorted(graph.in_edges(blob_node(digest_), data="kind")) == sorted(asked.graph.in_edges(blob_node(digest_), data="kind"))
    add_blob_uses(graph, analysis.images)
    assert graph.number_of_edges() == edges  # added once
    assert asked.graph.number_of_edges() == edges


def test_blob_users_of_the_small_dump(small: Analysis) -> None:
    assert small.blob_users(digest(10)) == [A, B]
    assert small.blob_users(digest(11)) == [B]  # listed twice, one use
    assert small.blob_users(digest(20)) == [A]
    assert small.blob_users(LIST) == [LIST]  # its own manifest
    assert small.blob_users(digest(99)) == []  # a child that is no Image uses nothing
    assert small.graph.edges[image_node(A), blob_node(digest(20))] == {"kind": "config"}


def test_used_manifest_lists_protect_children_and_nested_grandchildren(tmp_path: Path) -> None:
    outer, inner, x, y = digest(5), digest(6), digest(7), digest(8)
    objects = [
        image(outer, media_type=OCI_INDEX, manifests=[inner, x], metadata=None),
        image(inner, media_type=OCI_INDEX, manifests=[y, outer], metadata=None),  # a cycle back
        image(x, layers=[digest(10)]),
        image(y, layers=[digest(11)]),
        stream("ns", "multi", {"latest": [outer]}),
    ]
    graph = analysis_of(write_json(tmp_path / "dump.json", as_dump(objects))).graph
    assert manifest_lists(graph) == {outer: [inner, x], inner: [y, outer]}
    assert children_of_used_lists(graph, {outer}) == {inner, x, y}
    assert children_of_used_lists(graph, {inner}) == {outer, x, y}
    assert children_of_used_lists(graph, {x, y}) == set()
    assert children_of_used_lists(graph, {outer, x}) == {inner, y}  # used images are not "protected"


def test_children_of_used_lists_ignores_blobs(small: Analysis) -> None:
    add_blob_uses(small.graph, small.images)
    assert children_of_used_lists(small.graph, {LIST}) == {A, C}


def test_nodes_are_told_from_their_fields(small: Analysis) -> None:
    graph = small.graph
    small.blob_users(digest(20))  # adds A's config blob
    web, v1 = referrer_node("pod", "ns", "web"), istag_node("ns", "app", "v1")
    assert label(graph, web) == "pod/web namespace=ns"
    assert label(graph, web, v1) == "pod/web namespace=ns (container c1)"
    assert label(graph, referrer_node("build", "", "b")) == "build/b"
    assert label(graph, isimage_node("ns", "app", B)) == f"isimage ns/app@{B}"
    path = [web, v1, item_node("ns", "app", "v1", 0), image_node(A), blob_node(digest(20))]
    assert path_labels(graph, path) == [
        "pod/web namespace=ns (container c1)", "istag ns/app:v1", "ns/app:v1 at position 0", f"image {A}",
        f"blob {digest(20)} (config)",
    ]
    assert path_labels(graph, [image_node(LIST), image_node(C)]) == [f"image {LIST} (manifest list)", f"image {C}"]
    with pytest.raises(ValueError):
        label(graph, ("stream", "ns", "app"))
