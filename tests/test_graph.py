"""The reference graph analyze builds in bulk equals the one networkx's public API builds.

analyze/decisions/graph.py fills the DiGraph's node and adjacency dicts directly for speed; these tests
build the graph the slow, public way (add_node/add_edge) from the same analysis and compare
nodes, edges and their attributes, so a networkx change in how it stores graphs shows up here.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.decisions.graph import build_graph, children_of_used_lists, referrer_node
from pruneplan.analyze.run import AnalyzeRequest, decide
from builders import OCI_INDEX, REGISTRY, as_dump, deployment, digest, image, pod, stream, write_json

EXAMPLE_DUMP = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"


def graph_the_public_way(analysis: Analysis) -> nx.DiGraph:
    graph = nx.DiGraph()
    refs = analysis.refs
    for kind, keys in (("istag", refs.used_tags), ("isimage", refs.used_images)):
        for key, uses in keys.items():
            for use in uses:
                r = use.referrer
                graph.add_edge(referrer_node(r.resource, r.namespace, r.name), (kind, *key), via=use.via or "build strategy")
    for name, model in analysis.images.items():
        graph.add_node(("image", name))
        for child in model.manifests:
            if child in analysis.images:
                graph.add_edge(("image", name), ("image", child))
    for outcome in analysis.stream_outcomes:
        s = outcome.stream
        graph.add_node(("stream", s.namespace, s.name))
        for tag, rules in zip(s.tags, outcome.rules):
            istag = ("istag", s.namespace, s.name, tag.tag)
            graph.add_edge(("stream", s.namespace, s.name), istag)
            for index, (digest_, rule) in enumerate(zip(tag.images, rules)):
                item = ("item", s.namespace, s.name, tag.tag, index)
                graph.add_edge(istag, item)
                graph.nodes[item]["rule"] = rule
                if digest_ in analysis.images:
                    graph.add_edge(item, ("image", digest_))
                if (s.namespace, s.name, digest_) in refs.used_images:
                    graph.add_edge(("isimage", s.namespace, s.name, digest_), item)
    if analysis.stage2 is not None:
        for name, outcome in analysis.stage2.outcomes.items():
            graph.nodes[("image", name)]["rule"] = outcome.rule
    return graph


def assert_same_graph(built: nx.DiGraph, expected: nx.DiGraph) -> None:
    assert dict(built.nodes(data=True)) == dict(expected.nodes(data=True))
    assert {(u, v): d for u, v, d in built.edges(data=True)} == {(u, v): d for u, v, d in expected.edges(data=True)}
    for node in expected:  # explain lists referrers in the order the graph gives them
        assert list(built.predecessors(node)) == list(expected.predecessors(node)), node
        assert built.pred[node] == built._pred[node] and all(built.succ[u][node] is built.pred[node][u] for u in built.pred[node])


def analysis_of(path: Path) -> Analysis:
    analysis, _, _, _ = decide(AnalyzeRequest(inputs=[str(path)], output="unused", release_raw=False, now="2026-06-01T00:00:00Z"))
    return analysis


def test_bulk_graph_of_the_example_dump_equals_the_public_api_graph() -> None:
    analysis = analysis_of(EXAMPLE_DUMP)
    assert analysis.graph.number_of_nodes() > 500
    assert_same_graph(analysis.graph, graph_the_public_way(analysis))


def test_bulk_graph_handles_repeated_tags_referrers_and_manifest_lists(tmp_path: Path) -> None:
    a, b, c, lst = digest(1), digest(2), digest(3), digest(4)
    repeated_tag = stream("ns", "app", {"v1": [a, b]})
    repeated_tag["status"]["tags"].append({"tag": "v1", "items": [{"image": c, "created": "2026-01-02T00:00:00Z"}]})
    objects = [
        image(a, layers=[digest(10)]),
        image(b, layers=[digest(10), digest(11)]),
        image(c, layers=[digest(12)]),
        image(lst, media_type=OCI_INDEX, manifests=[a, c, digest(99)], metadata=None),
        repeated_tag,
        stream("ns", "list", {"latest": [lst]}),
        # the same pod names the same tag from two containers (the edge keeps the last via)
        pod("ns", "web", [f"{REGISTRY}/ns/app:v1", f"{REGISTRY}/ns/app:v1", f"{REGISTRY}/ns/app@{b}"]),
        deployment("ns", "api", [f"{REGISTRY}/ns/app:v1", f"{REGISTRY}/ns/gone:latest"]),
    ]
    path = write_json(tmp_path / "dump.json", as_dump(objects))
    analysis = analysis_of(path)
    built = analysis.graph
    assert_same_graph(built, graph_the_public_way(analysis))
    assert built.edges[("pod", "ns/web"), ("istag", "ns", "app", "v1")]["via"] == "container c1"
    assert ("istag", "ns", "gone", "latest") in built  # a referenced tag of no stream is still a node
    assert ("item", "ns", "app", "v1", 0) in built.pred[("image", c)]  # the repeated tag's item 0
    assert children_of_used_lists(built, {lst}) == {a, c}


@pytest.mark.parametrize("with_rules", [True, False])
def test_bulk_graph_without_stage_one_rules_has_bare_items(with_rules: bool) -> None:
    analysis = analysis_of(EXAMPLE_DUMP)
    rules = (o.rules for o in analysis.stream_outcomes) if with_rules else None
    graph = build_graph(analysis.streams, analysis.images, analysis.refs, rules)
    items = [attrs for node, attrs in graph.nodes(data=True) if node[0] == "item"]
    assert items and all(("rule" in attrs) is with_rules for attrs in items)


def test_graph_attributes_are_shared_and_read_only() -> None:
    analysis = analysis_of(EXAMPLE_DUMP)
    graph = analysis.graph
    items = [node for node in graph if node[0] == "item"]
    same_rule = [n for n in items if graph.nodes[n]["rule"] == graph.nodes[items[0]]["rule"]]
    assert len(same_rule) > 1 and graph.nodes[same_rule[0]] is graph.nodes[same_rule[1]]
    with pytest.raises(TypeError):
        graph.nodes[items[0]]["rule"] = "changed"
    u, v = next(iter(graph.edges))
    with pytest.raises(TypeError):
        graph.edges[u, v]["note"] = "changed"
