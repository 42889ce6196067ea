"""The reference graph (design.md): every decision as a path from referrers to blobs.

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
"""

from __future__ import annotations

from typing import Iterable

import networkx as nx

from .model import Image, Stream
from .referrers import References


def referrer_node(resource: str, namespace: str, name: str) -> tuple[str, str]:
    return (resource, f"{namespace}/{name}" if namespace else name)


def build_graph(streams: Iterable[Stream], images: dict[str, Image], refs: References) -> nx.DiGraph:
    graph = nx.DiGraph()
    edges: list[tuple] = []
    append = edges.append

    for (ns, name, tag), uses in refs.used_tags.items():
        target = ("istag", ns, name, tag)
        for use in uses:
            r = use.referrer
            graph.add_edge(referrer_node(r.resource, r.namespace, r.name), target, via=use.via or "build strategy")
    for (ns, name, digest), uses in refs.used_images.items():
        target = ("isimage", ns, name, digest)
        for use in uses:
            r = use.referrer
            graph.add_edge(referrer_node(r.resource, r.namespace, r.name), target, via=use.via or "build strategy")

    used_images = refs.used_images
    for stream in streams:
        ns, name = stream.namespace, stream.name
        stream_node = ("stream", ns, name)
        graph.add_node(stream_node)
        for tag in stream.tags:
            istag = ("istag", ns, name, tag.tag)
            append((stream_node, istag))
            for index, digest in enumerate(tag.images):
                item = ("item", ns, name, tag.tag, index)
                append((istag, item))
                if digest in images:
                    append((item, ("image", digest)))
                if (ns, name, digest) in used_images:
                    append((("isimage", ns, name, digest), item))

    graph.add_nodes_from(("image", name) for name in images)
    for image in images.values():
        for child in image.manifests:
            if child in images:
                append((("image", image.name), ("image", child)))
    graph.add_edges_from(edges)
    return graph


def children_of_used_lists(graph: nx.DiGraph, used: set[str]) -> set[str]:
    """Images protected as sub-manifests of used manifest lists (§4.5 step 2).

    Upstream walks one level in random map order, so a nested index may or may not protect its
    grandchildren; we take the outcome where it does (the safe one of upstream's outcomes).
    """
    protected: set[str] = set()
    frontier = [("image", digest) for digest in used]
    while frontier:
        node = frontier.pop()
        if node not in graph:
            continue
        for succ in graph.successors(node):
            if succ[0] == "image" and succ[1] not in used and succ[1] not in protected:
                protected.add(succ[1])
                frontier.append(succ)
    return protected
