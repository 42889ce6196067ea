"""The reference graph: who references what, from referrers down to blobs.

Every reference question is answered here: which used manifest lists protect which children
(stage 2), which images use a blob, and (explain) which items, tags and referrers hold an image.
The decisions themselves (rules) stay with the outcomes of stage 1 and stage 2.

Nodes are tuples whose first element is their type; the helpers below make them and `label`
turns one into text from its fields:
  ("referrer", resource, namespace, name)  a pod, deployment, buildconfig, ... ("" namespace: none)
  ("istag", ns, name, tag)                  ImageStreamTag: every tag of a stream, and every tag a referrer uses
  ("isimage", ns, name, digest)             ImageStreamImage that a referrer uses (pull by digest)
  ("item", ns, name, tag, index)            history item `index` of a tag (0 = newest)
  ("image", digest)                         an Image object
  ("blob", digest)                          a registry blob (layer, config or manifest)

Edges point from the user to the used. Their kind follows from the types of their two ends, so
only two kinds carry an attribute, the fact their ends do not hold:
  referrer → istag | isimage   `via`: the container ("container app") or "build strategy"
  istag → item                 the tag's history
  isimage → item               the stream's items naming that digest
  item → image                 the item's image (none when no Image has that name)
  image → image                a manifest list's child
  image → blob                 `kind`: layer, config or manifest (the image's own digest)

Nodes carry no attributes (the decisions live in the outcomes of stage 1 and stage 2), so every
node shares one empty, read-only attribute mapping (networkx's documented factory hook for
lighter graphs) instead of an empty dict each: nodes are most of the graph's objects.

Built in two steps: `manifest_list_graph` (the manifest lists and their children, which stage 2
asks about) while analyzing, and `add_references` (the other images, referrers, tags, history
items) on the first question that needs them; an analyze run that only writes a plan asks none,
and building them was about a third of its time at 100k images.

Blobs are added when asked about (`add_blob_uses`), each with all of its uses, not by analyze:
the decisions about blobs are reference counts over the images' blob lists, and at a million
image → blob uses networkx's node and edge dicts would cost about as much memory and time as
the whole analysis. A question about one blob adds that blob (explain asks about one or two).

Indexes: `manifest_lists` is the one index derived from the graph (for stage 2); everything else
reads the graph's own adjacency. The other way round for the referrers: their uses are gathered
once, into analyze/decisions/referrers.py's References (keyed by tag and by image, which stage 1
asks for every history item), and the referrer edges are made from it when the graph is first
asked. Making the graph their first holder, with stage 1 reading an index derived from it, gave
the same plans but built every referrer edge on every run, a run that writes a plan included.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

import networkx as nx

from pruneplan.analyze.decisions.model import Image, Stream
from pruneplan.analyze.decisions.referrers import References

Node = tuple[Any, ...]
BUILD_STRATEGY = "build strategy"  # the `via` of a build's or buildconfig's use
BLOB_KINDS = ("layer", "config", "manifest")  # an image → blob edge's `kind`


class _NoAttributes(Mapping[str, Any]):
    """The attribute mapping of every node: empty, and an attempt to fill it fails."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def update(self, other: Mapping[str, Any] | None = None, **more: Any) -> None:
        if other or more:  # networkx updates a new node's mapping with no attributes
            raise TypeError("nodes of the reference graph carry no attributes")

    def copy(self) -> "_NoAttributes":
        return self

    def __repr__(self) -> str:
        return "{}"


NO_ATTRIBUTES = _NoAttributes()


if TYPE_CHECKING:
    _DiGraph = nx.DiGraph[Node]
else:  # not subscriptable at runtime
    _DiGraph = nx.DiGraph


class Graph(_DiGraph):
    """A networkx DiGraph whose nodes all share NO_ATTRIBUTES (the subclass hook networkx
    documents for lighter graphs); edges keep a dict each, as networkx makes them."""

    def _no_attributes(self) -> _NoAttributes:
        return NO_ATTRIBUTES

    node_attr_dict_factory = _no_attributes  # type: ignore[assignment]  # a read-only mapping, not a MutableMapping


def referrer_node(resource: str, namespace: str, name: str) -> Node:
    return ("referrer", resource, namespace, name)


def istag_node(namespace: str, name: str, tag: str) -> Node:
    return ("istag", namespace, name, tag)


def isimage_node(namespace: str, name: str, digest: str) -> Node:
    return ("isimage", namespace, name, digest)


def item_node(namespace: str, name: str, tag: str, index: int) -> Node:
    return ("item", namespace, name, tag, index)


def image_node(digest: str) -> Node:
    return ("image", digest)


def blob_node(digest: str) -> Node:
    return ("blob", digest)


def manifest_list_graph(images: Mapping[str, Image]) -> Graph:
    """The manifest lists and their children (present as Images): all that stage 2 asks. The
    rest is added by add_references when a question needs it (an Analysis does so on first use)."""
    graph = Graph()
    nodes: dict[str, Node] = {}  # one tuple per image, however many lists name it

    def node(name: str) -> Node:
        found = nodes.get(name)
        if found is None:
            found = nodes[name] = image_node(name)
        return found

    graph.add_edges_from(
        (node(name), node(child)) for name, image in images.items() if image.manifests for child in image.manifests if child in images
    )
    return graph


def add_references(graph: Graph, streams: Iterable[Stream], images: Mapping[str, Image], refs: References) -> None:
    """Add the other images, and referrer → tag | image stream image → history item → image, to
    a manifest_list_graph.

    Built in bulk with add_nodes_from/add_edges_from, in the order of `images`, `refs` and
    `streams`, so the same inputs give the same graph, iteration order included."""
    images_by_name = {name: node for name in images if (node := image_node(name)) not in graph}
    images_by_name.update((node[1], node) for node in graph)  # the graph's own tuples: all are images yet
    graph.add_nodes_from(images_by_name[name] for name in images)
    graph.add_edges_from(_referrer_edges(refs))
    streams = list(streams)
    # every tag, also one without items
    graph.add_nodes_from(istag_node(s.namespace, s.name, tag.tag) for s in streams for tag in s.tags)
    graph.add_edges_from(_history_edges(streams, images_by_name, refs))


def _referrer_edges(refs: References) -> Iterator[tuple[Node, Node, dict[str, str]]]:
    """referrer → istag | isimage, with the use's `via` (when a referrer uses a target twice the
    last use's, as add_edges_from updates the edge)."""
    nodes: dict[Node, Node] = {}  # one tuple per referrer, however many uses it has
    vias: dict[str, dict[str, str]] = {}
    for kind, used in (("istag", refs.used_tags), ("isimage", refs.used_images)):
        for key, uses in used.items():
            target = (kind, *key)
            for use in uses:
                r = use.referrer
                source = referrer_node(r.resource, r.namespace, r.name)
                source = nodes.setdefault(source, source)
                via = vias.get(use.via)
                if via is None:
                    via = vias[use.via] = {"via": use.via or BUILD_STRATEGY}
                yield source, target, via


def _history_edges(streams: list[Stream], images: dict[str, Node], refs: References) -> Iterator[tuple[Node, Node]]:
    """istag → item → image, and isimage → item for the digests referrers pull."""
    used_images = refs.used_images
    for stream in streams:
        ns, name = stream.namespace, stream.name
        for tag in stream.tags:
            istag = istag_node(ns, name, tag.tag)
            for index, digest in enumerate(tag.images):
                item = item_node(ns, name, tag.tag, index)
                yield istag, item
                image = images.get(digest)
                if image is not None:
                    yield item, image
                if (ns, name, digest) in used_images:
                    yield isimage_node(ns, name, digest), item


def add_blob_uses(graph: Graph, images: Mapping[str, Image], digests: Iterable[str] | None = None) -> None:
    """Add image → blob for the blobs `digests` (for every blob when None): each blob with every
    image that uses it as a layer, its config or its own manifest. A blob added before is left
    as it is. A digest an image uses in two roles has one edge, of the later kind in BLOB_KINDS."""
    added: set[str] = graph.graph.setdefault("blobs", set())  # the blobs whose uses are all in the graph
    if graph.graph.get("all blobs"):
        return
    wanted = None if digests is None else set(digests) - added
    if wanted == set():
        return
    kinds = {kind: {"kind": kind} for kind in BLOB_KINDS}
    blobs: dict[str, Node] = {}

    def blob(digest: str) -> Node:  # one tuple per blob, however many images use it
        node = blobs.get(digest)
        if node is None:
            node = blobs[digest] = blob_node(digest)
        return node

    def uses() -> Iterator[tuple[Node, Node, dict[str, str]]]:
        for name, image in images.items():
            if wanted is not None and wanted.isdisjoint(image.layers) and image.config not in wanted and name not in wanted:
                continue
            user = image_node(name)
            for digest, kind in (*((layer, "layer") for layer in image.layers), (image.config, "config"), (name, "manifest")):
                if digest and (wanted is None or digest in wanted):
                    yield user, blob(digest), kinds[kind]

    graph.add_edges_from(uses())
    if wanted is None:
        graph.graph["all blobs"] = True
    else:
        added |= wanted


def blob_users(graph: Graph, digest: str) -> list[str]:
    """Images that use `digest` as a layer, their config or their own manifest, by name (its
    uses must be in the graph: add_blob_uses)."""
    node = blob_node(digest)
    return sorted(user[1] for user in graph.predecessors(node)) if node in graph else []


def manifest_lists(graph: Graph) -> dict[str, list[str]]:
    """Each manifest list's children, by name: the image → image edges, as an index (stage 2
    asks it for most images, and most images are no list)."""
    lists: dict[str, list[str]] = {}
    for node, successors in graph.adjacency():
        if node[0] == "image" and successors:
            children = [child[1] for child in successors if child[0] == "image"]
            if children:
                lists[node[1]] = children
    return lists


def children_of_used_lists(graph: Graph, used: set[str]) -> set[str]:
    """Images protected as sub-manifests of used manifest lists (docs/rules.md: Stage 2,
    manifest-list children).

    Upstream walks one level in random map order, so a nested index may or may not protect its
    grandchildren; we take the outcome where it does (the safe one of upstream's outcomes).
    """
    lists = manifest_lists(graph)
    protected: set[str] = set()
    frontier = [digest for digest in used if digest in lists]
    while frontier:
        for child in lists[frontier.pop()]:
            if child not in used and child not in protected:
                protected.add(child)
                if child in lists:
                    frontier.append(child)
    return protected


def label(graph: Graph, node: Node, used: Node | None = None) -> str:
    """`node` in words, from its fields; for a referrer with `used` (what it uses next on a
    path), the container it uses it from too."""
    match node:
        case ("referrer", resource, namespace, name):
            # upstream's wording of an object (docs/rules.md, "Bad-reference report")
            text = f"{resource}/{name} namespace={namespace}" if namespace else f"{resource}/{name}"
            via = graph.edges[node, used]["via"].strip() if used is not None else ""
            return f"{text} ({via})" if via else text
        case ("istag", namespace, name, tag):
            return f"istag {namespace}/{name}:{tag}"
        case ("isimage", namespace, name, digest):
            return f"isimage {namespace}/{name}@{digest}"
        case ("item", namespace, name, tag, index):
            return f"{namespace}/{name}:{tag} at position {index}"  # from 0, as the plan's index
        case ("image", digest):
            return f"image {digest}"
        case ("blob", digest):
            return f"blob {digest}"
    raise ValueError(f"not a node of the reference graph: {node!r}")


def path_labels(graph: Graph, path: list[Node]) -> list[str]:
    """Each node of `path` (a walk along the graph's edges) in words; the edges say what a
    referrer uses (its container), which image is a manifest list and what a blob is to the image
    before it (its kind)."""
    labels = []
    for index, node in enumerate(path):
        following = path[index + 1] if index + 1 < len(path) else None
        text = label(graph, node, following)
        if node[0] == "image" and following is not None and following[0] == "image":
            text += " (manifest list)"
        elif node[0] == "blob" and index:
            text += f" ({graph.edges[path[index - 1], node]['kind']})"
        labels.append(text)
    return labels
