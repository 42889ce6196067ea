"""The reference graph: every decision as a path from referrers to blobs.

Nodes are tuples whose first element says what they are:
  (resource, "ns/name")              a referrer: pod, deployment, buildconfig, ...
  ("istag", ns, name, tag)           ImageStreamTag, used by referrers, owned by its stream
  ("isimage", ns, name, digest)      ImageStreamImage, used by referrers
  ("stream", ns, name)               image stream (also the registry repository ns/name)
  ("item", ns, name, tag, index)     history item `index` of a tag (0 = newest)
  ("image", digest)                  Image object
Edges: referrer→istag|isimage (attribute `via`: container or "build strategy"),
stream→istag, istag→item, isimage→item (items of that stream naming the digest), item→image,
image→image (manifest list → child). Item and image nodes carry `rule`, the upstream rule that
decided them.

Blobs are not nodes: an image's blobs are a fixed list on the image (layers, config, its own
manifest), decisions about them are reference counts, and as edges they were most of the graph
(a million at 100k images) and half of its build time. `Analysis.blob_users` answers the
reverse question (which images use a blob) when explain or a report asks it.

Attribute data is shared and read-only: every edge without attributes has the same empty
mapping, every node the mapping of its rule (or the empty one). They are most of the graph's
objects (millions at 1M images), identical by the thousand, and nothing changes them after the
build; a read-only mapping makes an attempt to fail loudly instead of changing every node.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Iterable, Mapping

import networkx as nx

from pruneplan.analyze.decisions.model import Image, Stream
from pruneplan.analyze.decisions.referrers import References
from pruneplan.analyze.decisions.rules import ALL_RULES, ImageOutcome


def referrer_node(resource: str, namespace: str, name: str) -> tuple[str, str]:
    return (resource, f"{namespace}/{name}" if namespace else name)


Node = tuple[Any, ...]
Adjacency = dict[Node, dict[Node, Mapping[str, str]]]


def _storage(graph: nx.DiGraph) -> tuple[dict[Node, Mapping[str, str]], Adjacency, Adjacency]:
    """The DiGraph's own node, successor and predecessor dicts, which this module fills and reads
    directly for speed (see build_graph)."""
    # networkx's private attributes: present at runtime, but types-networkx declares only the public views
    return graph._node, graph._succ, graph._pred  # type: ignore[attr-defined]


NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})
_SHARED: dict[tuple[str, str], Mapping[str, str]] = {}


def shared_attributes(key: str, value: str) -> Mapping[str, str]:
    """The shared, read-only attribute mapping {key: value}."""
    attributes = _SHARED.get((key, value))
    if attributes is None:
        attributes = _SHARED[key, value] = MappingProxyType({key: value})
    return attributes


def rule_attributes(rule: str) -> Mapping[str, str]:
    return shared_attributes("rule", rule)


def set_image_rules(graph: nx.DiGraph, outcomes: Mapping[str, ImageOutcome]) -> None:
    """Give each image's node its stage-2 rule's shared attribute mapping."""
    nodes = _storage(graph)[0]
    attributes_of = {rule: rule_attributes(rule) for rule in ALL_RULES}
    for name, outcome in outcomes.items():
        nodes["image", name] = attributes_of[outcome.rule]


def build_graph(
    streams: Iterable[Stream],
    images: dict[str, Image],
    refs: References,
    item_rules: Iterable[list[list[str]]] | None = None,
) -> nx.DiGraph:
    """The graph, items carrying their stage-1 rule when `item_rules` (aligned with `streams`,
    per tag, per item) is given.

    Built in bulk: the node and adjacency dicts of the DiGraph are filled directly, as networkx
    itself stores them (node -> attributes; succ[u][v] and pred[v][u] the same edge data).
    add_edges_from does the same per edge with several checks and calls, which made it half of
    the graph's build time. tests/test_graph.py checks the result equals a graph built edge by
    edge with networkx's public API.
    """
    graph: nx.DiGraph[Node] = nx.DiGraph()
    nodes, succ, pred = _storage(graph)
    bare = NO_ATTRIBUTES

    image_nodes = {name: ("image", name) for name in images}
    for key in image_nodes.values():
        nodes[key] = bare
        succ[key] = {}
        pred[key] = {}
    for image in images.values():
        parent = image_nodes[image.name]
        for child in image.manifests:
            child_node = image_nodes.get(child)
            if child_node is not None:
                succ[parent][child_node] = pred[child_node][parent] = bare

    # A referrer has many uses and one node. Its uses share one Referrer object, which `refs`
    # keeps alive meanwhile, so its id() is the key: a frozen dataclass hashes in Python.
    referrer_nodes: dict[int, tuple[str, str]] = {}
    via_attributes: dict[str, Mapping[str, str]] = {}

    def referrers(keys: dict, kind: str) -> None:
        for key, uses in keys.items():
            target = (kind, *key)
            nodes[target] = bare
            succ[target] = {}
            into = pred[target] = {}
            for use in uses:
                r = use.referrer
                source = referrer_nodes.get(id(r))
                if source is None:
                    source = referrer_nodes[id(r)] = referrer_node(r.resource, r.namespace, r.name)
                    if source not in nodes:
                        nodes[source] = bare
                        succ[source] = {}
                        pred[source] = {}
                via = via_attributes.get(use.via)
                if via is None:
                    via = via_attributes[use.via] = shared_attributes("via", use.via or "build strategy")
                # the last use's container wins, as with add_edge
                succ[source][target] = into[source] = via

    referrers(refs.used_tags, "istag")
    referrers(refs.used_images, "isimage")

    rules_per_stream = iter(item_rules) if item_rules is not None else None
    attributes_of = {rule: rule_attributes(rule) for rule in ALL_RULES}
    for stream in streams:
        ns, name = stream.namespace, stream.name
        stream_node = ("stream", ns, name)
        nodes[stream_node] = bare
        stream_out = succ[stream_node] = {}
        pred[stream_node] = {}
        stream_rules = next(rules_per_stream) if rules_per_stream is not None else None
        for t_index, tag in enumerate(stream.tags):
            istag = ("istag", ns, name, tag.tag)
            if istag not in nodes:
                nodes[istag] = bare
                succ[istag] = {}
                pred[istag] = {}
            stream_out[istag] = pred[istag][stream_node] = bare
            istag_out = succ[istag]
            tag_rules = stream_rules[t_index] if stream_rules is not None else None
            for index, digest in enumerate(tag.images):
                item = ("item", ns, name, tag.tag, index)
                if item in nodes:  # a tag listed twice in one stream's status: one node, as networkx would
                    item_out, item_in = succ[item], pred[item]
                else:
                    item_out = succ[item] = {}
                    item_in = pred[item] = {}
                nodes[item] = attributes_of[tag_rules[index]] if tag_rules is not None else bare
                istag_out[item] = item_in[istag] = bare
                image_node = image_nodes.get(digest)
                if image_node is not None:
                    item_out[image_node] = pred[image_node][item] = bare
                isimage = ("isimage", ns, name, digest)
                if isimage in nodes:
                    succ[isimage][item] = item_in[isimage] = bare
    return graph


def children_of_used_lists(graph: nx.DiGraph, used: set[str]) -> set[str]:
    """Images protected as sub-manifests of used manifest lists (docs/rules.md: Stage 2,
    manifest-list children).

    Upstream walks one level in random map order, so a nested index may or may not protect its
    grandchildren; we take the outcome where it does (the safe one of upstream's outcomes).
    """
    protected: set[str] = set()
    adjacency = _storage(graph)[1]  # read directly: most used images have no successor at all
    frontier = [node for node in (("image", digest) for digest in used) if adjacency.get(node)]
    while frontier:
        for succ in adjacency[frontier.pop()]:
            if succ[0] == "image" and succ[1] not in used and succ[1] not in protected:
                protected.add(succ[1])
                if adjacency[succ]:
                    frontier.append(succ)
    return protected
