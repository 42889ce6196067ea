"""Why is this image, stream tag or blob kept or pruned? Answers by walking the reference graph.

`explain(analysis, target)` returns JSON-ready dicts: the verdict, the upstream rule that decided
it (named and described), and the evidence: every reason that keeps an item or image
(analyze/explain/reasons.py), referrers that keep a history item, the item's position in its tag
("ns/app:v2 at position 3 out of 5", counted from 0 as the plan's `index`), the surviving images
that still use a blob, and for a kept image or blob the path through the graph that keeps it,
from its root (a referrer, or a history item kept by its own rule) to the target
(docs/explain.md).
"""

from __future__ import annotations

from typing import Any

from pruneplan.errors import PrunePlanError
from pruneplan.timefmt import format_time

from pruneplan.analyze.decisions import rules as R
from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.decisions.graph import Node, blob_node, image_node, isimage_node, istag_node, label, path_labels
from pruneplan.analyze.decisions.model import Stream, TagHistory

from pruneplan.analyze.explain.reasons import ItemAt, Limits, age_facts, image_reasons, item_reasons, pruned_item_facts, size_facts

SAMPLE = 3  # referrers shown before "and N more"

RULES: dict[str, tuple[str, str]] = {
    # code: (verdict, description naming upstream's flag and the section of docs/rules.md)
    R.KEEP_STREAM_YOUNG: ("kept", "the image stream is younger than --keep-younger-than, so none of its history is pruned (docs/rules.md: Stage 1, young stream)"),
    R.KEEP_ITEM_YOUNG: ("kept", "the history item was created after now - --keep-younger-than (docs/rules.md: Stage 1, step a)"),
    R.KEEP_TAG_IN_USE: ("kept", "it is the newest item (position 0) of a tag used as an ImageStreamTag (docs/rules.md: Stage 1, step b)"),
    R.REMOVE_IMAGE_MISSING: ("pruned", "the item's image is not among the cluster's Images; it is removed even inside the --keep-tag-revisions window (docs/rules.md: Stage 1, step c)"),
    R.KEEP_UNDER_SIZE_LIMIT: ("kept", "--prune-over-size-limit: the image does not exceed an openshift.io/Image LimitRange of the namespace (docs/rules.md: Stage 1, step d)"),
    R.KEEP_WITHIN_REVISIONS: ("kept", "its position is within the newest --keep-tag-revisions items of the tag (docs/rules.md: Stage 1, step d)"),
    R.KEEP_IMAGE_IN_USE: ("kept", "the stream's image with this digest is used as an ImageStreamImage (pull by digest) (docs/rules.md: Stage 1, step e)"),
    R.REMOVE_OVER_SIZE_LIMIT: ("pruned", "--prune-over-size-limit: the image exceeds a LimitRange of the namespace and nothing uses it (docs/rules.md: Stage 1, step f)"),
    R.REMOVE_BEYOND_REVISIONS: ("pruned", "older than --keep-younger-than, beyond the newest --keep-tag-revisions items, and not used (docs/rules.md: Stage 1, step f)"),
    R.KEEP_STREAM_METADATA: ("kept", "the stream names an image whose metadata cannot be read; upstream leaves the whole stream alone (docs/rules.md: Stage 1, unreadable metadata)"),
    R.KEEP_REFERENCED: ("kept", "a surviving image stream history item names the image (docs/rules.md: Stage 2, step a)"),
    R.KEEP_CHILD_OF_LIST: ("kept", "it is a sub-manifest of a manifest list that a surviving history item names (docs/rules.md: Stage 2, manifest-list children)"),
    R.KEEP_UNMANAGED: ("kept", "--all=false and the image is not annotated openshift.io/image.managed=true (docs/rules.md: Stage 2, step b)"),
    R.KEEP_IMAGE_YOUNG: ("kept", "the Image was created after now - --keep-younger-than (docs/rules.md: Stage 2, step c)"),
    R.KEEP_NAMESPACED: ("kept", "--namespace was given: upstream never deletes Images or blobs in a namespaced run (docs/rules.md: Namespaced runs)"),
    R.KEEP_STAGE2_HALTED: ("kept", "stage 2 stopped: an image's metadata cannot be read, so upstream deletes no image (docs/rules.md: Stage 2, halted by unreadable metadata)"),
    R.DELETE_UNREFERENCED: ("pruned", "no surviving history item names it (nor a used manifest list), and it is old or over-size mode is on, and managed or --all (docs/rules.md: Stage 2, step d)"),
}


def describe(rule: str) -> dict[str, str]:
    verdict, text = RULES[rule]
    return {"rule": rule, "verdict": verdict, "description": text}


def _sample(names: list[str]) -> dict[str, Any]:
    return {"shown": names[:SAMPLE], "more": max(0, len(names) - SAMPLE), "total": len(names)}


def _referrers_of(analysis: Analysis, node: Node) -> list[str]:
    graph = analysis.graph
    if node not in graph:
        return []
    return sorted(label(graph, user, node) for user in graph.predecessors(node) if user[0] == "referrer")


def _listing(analysis: Analysis, ns: str, name: str, tag: str, index: int, digest: str | None = None) -> tuple[Stream, TagHistory, list[str]]:
    """The tag's history in its stream's status and the stage-1 rules of its items.

    A status may list a tag twice, and the graph has one node per tag and position: the first
    listing with that position (naming `digest`, when given) is the one."""
    outcome = next(o for o in analysis.stream_outcomes if o.stream.namespace == ns and o.stream.name == name)
    return next(
        (outcome.stream, history, rules)
        for history, rules in zip(outcome.stream.tags, outcome.rules)
        if history.tag == tag and index < len(history.images) and digest in (None, history.images[index])
    )


def _item_rule(analysis: Analysis, item: Node, digest: str | None) -> str:
    _, ns, name, tag, index = item
    return _listing(analysis, ns, name, tag, index, digest)[2][index]


def history_item(analysis: Analysis, ns: str, name: str, tag: str, index: int, digest: str | None = None,
                 limits: Limits | None = None) -> dict[str, Any]:
    """History item `index` of the tag (naming `digest`, when given), its rule, every reason that
    keeps it (`reasons`, empty when pruned; `facts` says why none holds) and who uses it.
    `limits`: the LimitRanges' image limits by namespace, for the size facts of over-size mode."""
    stream, history, rules = _listing(analysis, ns, name, tag, index, digest)
    rule = rules[index]
    at = ItemAt(stream, history, index)
    entry: dict[str, Any] = {
        "istag": f"{ns}/{name}:{tag}",
        "position": index,
        "of": len(history.images),
        "image": history.images[index],
        "created": format_time(history.created[index]),
        "where": at.where,
        **describe(rule),
        "reasons": item_reasons(analysis, at, rule, limits),
    }
    if entry["verdict"] == "pruned":
        entry["facts"] = pruned_item_facts(analysis, at, rule, limits)
    if rule == R.KEEP_TAG_IN_USE:
        entry["usedBy"] = _sample(_referrers_of(analysis, istag_node(ns, name, tag)))
    elif rule == R.KEEP_IMAGE_IN_USE:
        entry["usedBy"] = _sample(_referrers_of(analysis, isimage_node(ns, name, history.images[index])))
    return entry


def _users(analysis: Analysis, node: Node, kind: str) -> list[Node]:
    """The nodes of type `kind` with an edge to `node`, sorted (the graph's order is insertion's)."""
    graph = analysis.graph
    return sorted(user for user in graph.predecessors(node) if user[0] == kind) if node in graph else []


def _items_naming(analysis: Analysis, digest: str, limits: Limits | None = None) -> list[dict[str, Any]]:
    return [
        history_item(analysis, ns, name, tag, index, digest, limits)
        for _, ns, name, tag, index in _users(analysis, image_node(digest), "item")
    ]


def _kept_items_naming(analysis: Analysis, digest: str) -> list[tuple[ItemAt, str]]:
    """The kept history items naming the image, with their rules (the items stage 2 counts)."""
    kept = []
    for _, ns, name, tag, index in _users(analysis, image_node(digest), "item"):
        stream, history, rules = _listing(analysis, ns, name, tag, index, digest)
        if RULES[rules[index]][0] == "kept":
            kept.append((ItemAt(stream, history, index), rules[index]))
    return kept


def _lists_containing(analysis: Analysis, digest: str) -> list[str]:
    return [parent[1] for parent in _users(analysis, image_node(digest), "image")]


# the history-item rules that say a referrer keeps the item, and through which node
_HELD_THROUGH = {R.KEEP_TAG_IN_USE: "istag", R.KEEP_IMAGE_IN_USE: "isimage"}


def keeping_path(analysis: Analysis, node: Node, seen: set[Node] | None = None, digest: str | None = None) -> list[Node] | None:
    """A path of the graph that keeps `node` (an item, image or blob), from its root to `node`,
    or None when nothing on the graph keeps it. Predecessors are tried in sorted order, so the
    path is always the same one.

    An item its stage-1 rule keeps is a root, unless the rule is that a referrer uses it (the
    path then starts at the first referrer); an image is kept by a kept item naming it, or by a
    manifest list kept so (stage 2); a blob by a surviving image using it. `digest`: the image
    an item is reached from (see _listing)."""
    seen = set() if seen is None else seen
    kind = node[0]
    if kind == "item":
        rule = _item_rule(analysis, node, digest)
        if RULES[rule][0] != "kept":
            return None
        through = _HELD_THROUGH.get(rule)
        for holder in _users(analysis, node, through) if through else ():
            referrers = _users(analysis, holder, "referrer")
            if referrers:
                return [referrers[0], holder, node]
        return [node]
    if kind == "image":
        for item in _users(analysis, node, "item"):
            path = keeping_path(analysis, item, seen, node[1])
            if path:
                return [*path, node]
        for parent in _users(analysis, node, "image"):
            if parent not in seen:
                seen.add(parent)
                path = keeping_path(analysis, parent, seen)
                if path:
                    return [*path, node]
        return None
    if kind == "blob":
        surviving = [user for user in _users(analysis, node, "image") if _image_rule(analysis, user[1]) != R.DELETE_UNREFERENCED]
        for user in surviving:
            path = keeping_path(analysis, user, seen)
            if path:
                return [*path, node]
        return [surviving[0], node] if surviving else None  # a survivor by its own rule (young, unmanaged, ...)
    return None


def _path(analysis: Analysis, node: Node) -> dict[str, list[str]]:
    path = keeping_path(analysis, node)
    if not path:
        return {}
    return {"path": path_labels(analysis.graph, path)}


def _freed_blobs(analysis: Analysis) -> dict[str, str]:
    freed: dict[str, str] = {}
    if analysis.stage2:
        for name, outcome in analysis.stage2.outcomes.items():
            for blob in outcome.blobs:
                freed[blob] = name
    return freed


def _image_rule(analysis: Analysis, digest: str) -> str:
    if analysis.stage2 is None:
        return R.KEEP_NAMESPACED
    return analysis.stage2.outcomes[digest].rule


def explain_image(analysis: Analysis, digest: str, limits: Limits | None = None) -> dict[str, Any]:
    image = analysis.images[digest]
    rule = _image_rule(analysis, digest)
    items = _items_naming(analysis, digest, limits)
    verdict = RULES[rule][0]
    result: dict[str, Any] = {
        "target": digest,
        "type": "image",
        **describe(rule),
        **(_path(analysis, image_node(digest)) if rule in (R.KEEP_REFERENCED, R.KEEP_CHILD_OF_LIST) else {}),
        "created": format_time(image.created),
        "managed": image.managed,
        "reasons": image_reasons(analysis, image, _kept_items_naming(analysis, digest), limits) if verdict == "kept" else [],
        "age": age_facts(analysis.policy, image.created),
        "historyItems": items,
    }
    if analysis.policy.over_size:  # the limits of each namespace whose streams name it
        namespaces = sorted({item["istag"].split("/", 1)[0] for item in items})
        result["sizeLimits"] = [size_facts(image, ns, limits) for ns in namespaces]
    if rule == R.KEEP_CHILD_OF_LIST:
        parents = [p for p in _lists_containing(analysis, digest) if _image_rule(analysis, p) in (R.KEEP_REFERENCED, R.KEEP_CHILD_OF_LIST)]
        result["manifestLists"] = [
            {"image": parent, "historyItems": [i for i in _items_naming(analysis, parent, limits) if i["verdict"] == "kept"]}
            for parent in parents
        ]
    elif rule == R.KEEP_IMAGE_YOUNG:
        result["threshold"] = format_time(analysis.policy.threshold)
    if rule == R.DELETE_UNREFERENCED and analysis.stage2 is not None:
        result["freesBlobs"] = list(analysis.stage2.outcomes[digest].blobs)
    return result


def explain_missing_image(analysis: Analysis, digest: str, limits: Limits | None = None) -> dict[str, Any] | None:
    """A digest that history items name but no Image object has (docs/rules.md: Stage 1, step c)."""
    items = [
        history_item(analysis, stream.namespace, stream.name, tag.tag, index, digest, limits)
        for stream in analysis.streams
        for tag in stream.tags
        for index, image in enumerate(tag.images)
        if image == digest
    ]
    if not items:
        return None
    pruned = all(item["verdict"] == "pruned" for item in items)
    return {
        "target": digest,
        "type": "missing-image",
        "verdict": "pruned" if pruned else "kept",
        "rule": R.REMOVE_IMAGE_MISSING if pruned else "history-item-kept",
        "description": "no Image object has this name; the history items naming it are listed with their rules (docs/rules.md: Stage 1, step c)",
        "historyItems": items,
    }


def explain_istag(analysis: Analysis, ns: str, name: str, tag: str, limits: Limits | None = None) -> dict[str, Any]:
    stream = next((s for s in analysis.streams if s.namespace == ns and s.name == name), None)
    if stream is None:
        raise PrunePlanError(f"image stream {ns}/{name} is not in the dump (or not in the analysed namespace)")
    history = next((t for t in stream.tags if t.tag == tag), None)
    if history is None:
        tags = ", ".join(t.tag for t in stream.tags) or "none"
        raise PrunePlanError(f"image stream {ns}/{name} has no tag {tag} in its status (tags: {tags})")
    # the listing of this tag (a status may list a tag twice: the first is the one)
    items = [history_item(analysis, ns, name, tag, index, history.images[index], limits) for index in range(len(history.images))]
    removed = sum(item["verdict"] == "pruned" for item in items)
    verdict = "pruned" if removed == len(items) else "kept"
    return {
        "target": f"{ns}/{name}:{tag}",
        "type": "imagestreamtag",
        "verdict": verdict,
        "removedItems": removed,
        "items": items,
        "usedBy": _sample(_referrers_of(analysis, istag_node(ns, name, tag))),
    }


def explain_blob(analysis: Analysis, digest: str) -> dict[str, Any]:
    users = analysis.blob_users(digest)
    if not users:
        raise PrunePlanError(f"{digest} is neither an image nor a blob of any image in the dump")
    freed = _freed_blobs(analysis)
    deleted = {name for name, o in (analysis.stage2.outcomes.items() if analysis.stage2 else ()) if o.rule == R.DELETE_UNREFERENCED}
    surviving = [u for u in users if u not in deleted]
    links = [
        outcome.stream.key for outcome in analysis.stream_outcomes if digest in outcome.layer_links or digest in outcome.manifest_links
    ]
    if analysis.stage2 is None:
        result: dict[str, Any] = {"verdict": "kept", **{k: v for k, v in describe(R.KEEP_NAMESPACED).items() if k != "verdict"}}
    elif not analysis.policy.prune_registry:
        result = {
            "verdict": "kept",
            "rule": "registry-left-alone",
            "description": "--prune-registry=false: only API objects change, no blob is deleted (docs/rules.md: Flags and validation)",
        }
    elif digest in freed:
        result = {
            "verdict": "pruned",
            "rule": "blob-unreferenced",
            "description": f"every image using it is deleted; the blob goes with image {freed[digest]} (docs/rules.md: Stage 2, global counters)",
        }
    else:
        reason = "surviving images still use it" if surviving else "no image using it is deleted by this run"
        result = {"verdict": "kept", "rule": "blob-still-referenced", "description": reason + " (docs/rules.md: Stage 2, global counters)"}
    if result["rule"] == "blob-still-referenced":
        result.update(_path(analysis, blob_node(digest)))
    return {
        "target": digest,
        "type": "blob",
        **result,
        "usedBy": _sample(users),
        "survivingUsers": _sample([f"image {u} ({_image_rule(analysis, u)})" for u in surviving]),
        "linksDeletedIn": sorted(links),
    }


def is_istag(target: str) -> bool:
    """`ns/name:tag` (a digest reference `ns/name@sha256:...` is not one)."""
    return "/" in target and ":" in target.split("/", 1)[1] and "@" not in target


def explain(analysis: Analysis, target: str, limits: Limits | None = None) -> list[dict[str, Any]]:
    """Explain TARGET: `ns/name:tag`, an image name, or a blob digest, in full (an image's own
    digest is also its manifest blob; both answers are given). `limits`: reasons.named_limits."""
    if is_istag(target):
        ns, rest = target.split("/", 1)
        name, tag = rest.rsplit(":", 1)
        return [explain_istag(analysis, ns, name, tag, limits)]
    answers = []
    if target in analysis.images:
        answers.append(explain_image(analysis, target, limits))
    users = analysis.blob_users(target)
    if any(user != target for user in users) or (target not in analysis.images and users):
        answers.append(explain_blob(analysis, target))
    if not answers:
        missing = explain_missing_image(analysis, target, limits)
        if missing is not None:
            return [missing]
        raise PrunePlanError(unknown_target(target))
    return answers


def unknown_target(target: str) -> str:
    return f"{target} is not an image, a blob or an image stream tag (ns/name:tag) of the dump"
