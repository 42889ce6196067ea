"""Upstream's decisions (docs/rules.md, "Stage 1: image stream history" and "Stage 2: images"):
stage 1 prunes image stream history, stage 2 deletes images.

Pure functions over the model; they simulate upstream's dry run, where every action succeeds and
stage 2 sees the streams as stage 1 left them. Each decision records the rule that fired, so the
plan and `explain` can name it. What a removal frees (links, images, blobs) is survival.py's
accounting, which execute's re-check shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence

from pruneplan.policy import Policy

from pruneplan.analyze.decisions.model import Image, Stream
from pruneplan.analyze.decisions.referrers import References
from pruneplan.analyze.decisions.survival import NO_REMOVALS, Removals, freed_blobs, unlinked

# Stage 1 rules, in upstream's order (docs/rules.md: Stage 1, steps a-f).
KEEP_STREAM_YOUNG = "stream-young"
KEEP_ITEM_YOUNG = "item-young"
KEEP_TAG_IN_USE = "tag-in-use"
REMOVE_IMAGE_MISSING = "image-missing"
KEEP_UNDER_SIZE_LIMIT = "under-size-limit"
KEEP_WITHIN_REVISIONS = "within-keep-tag-revisions"
KEEP_IMAGE_IN_USE = "image-in-use"
REMOVE_OVER_SIZE_LIMIT = "over-size-limit"
REMOVE_BEYOND_REVISIONS = "beyond-keep-tag-revisions"
KEEP_STREAM_METADATA = "stream-skipped-unreadable-metadata"
# Stage 2 rules (docs/rules.md: Stage 2, steps a-d).
KEEP_REFERENCED = "referenced-by-stream"
KEEP_CHILD_OF_LIST = "child-of-used-manifest-list"
KEEP_UNMANAGED = "unmanaged"
KEEP_IMAGE_YOUNG = "image-young"
KEEP_NAMESPACED = "namespace-scoped-run"
KEEP_STAGE2_HALTED = "stage-2-halted"
DELETE_UNREFERENCED = "unreferenced"

REMOVING_RULES = frozenset({REMOVE_IMAGE_MISSING, REMOVE_OVER_SIZE_LIMIT, REMOVE_BEYOND_REVISIONS})
ALL_RULES = (
    KEEP_STREAM_YOUNG, KEEP_ITEM_YOUNG, KEEP_TAG_IN_USE, REMOVE_IMAGE_MISSING, KEEP_UNDER_SIZE_LIMIT,
    KEEP_WITHIN_REVISIONS, KEEP_IMAGE_IN_USE, REMOVE_OVER_SIZE_LIMIT, REMOVE_BEYOND_REVISIONS,
    KEEP_STREAM_METADATA, KEEP_REFERENCED, KEEP_CHILD_OF_LIST, KEEP_UNMANAGED, KEEP_IMAGE_YOUNG,
    KEEP_NAMESPACED, KEEP_STAGE2_HALTED, DELETE_UNREFERENCED,
)


@dataclass(slots=True)
class StreamOutcome:
    stream: Stream
    # rules[t][i]: the rule that decided items[i] of stream.tags[t]
    rules: list[list[str]]
    removals: Removals = field(default_factory=lambda: NO_REMOVALS)  # the items whose rule removes them
    layer_links: list[str] = field(default_factory=list)  # in upstream's deletion order
    manifest_links: list[str] = field(default_factory=list)
    # what upstream logs for this stream at its default verbosity, in its order: the warnings
    # of its counting pass ("warning: " lines), then the items it drops for a missing image
    log: list[str] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return sum(map(len, self.removals.values()))

    def removed_tags(self) -> list[str]:
        """The status tags the stream's update drops: those it empties, and those whose history
        is empty already (upstream drops every empty tag in the update; the plan names them all,
        so that execute changes nothing the signed plan does not say)."""
        return [
            tag.tag
            for tag, tag_rules in zip(self.stream.tags, self.rules)
            if all(rule in REMOVING_RULES for rule in tag_rules)
        ]


@dataclass(slots=True)
class ImageOutcome:
    rule: str
    # blobs freed by deleting this image, upstream order, and their kinds (survival.freed_blobs)
    # (empty tuples by default: most deleted images free nothing, no lists made for them)
    blobs: Sequence[str] = ()
    blob_kinds: Sequence[str] = ()


def exceeds_limits(image: Image, limits: list[Fraction] | None) -> bool:
    """Some openshift.io/Image max.storage in the namespace is strictly below the image size
    (docs/rules.md, "Over-size mode")."""
    if not limits or not image.has_metadata:
        return False
    return any(limit < image.size for limit in limits)


def unreadable_images(images: dict[str, Image]) -> frozenset[str]:
    """Images whose metadata upstream cannot read (docs/rules.md, "The blobs of an image"); usually
    none."""
    return frozenset(name for name, image in images.items() if not image.has_metadata and image.metadata_unreadable)


def prune_stream(
    stream: Stream,
    images: dict[str, Image],
    refs: References,
    policy: Policy,
    limits: dict[str, list[Fraction]],
    unreadable: frozenset[str],
) -> StreamOutcome:
    """Stage 1 for one stream. `unreadable` is unreadable_images(images), computed once for
    all streams."""
    threshold = policy.threshold
    over_size = policy.over_size
    if not over_size and stream.created > threshold:
        return StreamOutcome(stream, [[KEEP_STREAM_YOUNG] * len(tag.images) for tag in stream.tags])
    if unreadable:
        # upstream's counting pass warns of each missing image until the first unreadable one,
        # then leaves the whole stream alone, without an error
        warned: list[str] = []
        for tag in stream.tags:
            for digest in tag.images:
                if digest in unreadable:
                    outcome = StreamOutcome(stream, [[KEEP_STREAM_METADATA] * len(t.images) for t in stream.tags])
                    outcome.log = warned + [
                        f"warning: imagestream {stream.namespace}/{stream.name}: tag {tag.tag}: image {digest}: "
                        f"failed to read metadata for image {digest}"
                    ]
                    return outcome
                if digest not in images:
                    warned.append(_missing_warning(stream, tag.tag, digest))

    outcome = StreamOutcome(stream, [])
    ns, name = stream.namespace, stream.name
    stream_limits = limits.get(ns)
    revisions = policy.revisions
    used_tags, used_images = refs.used_tags, refs.used_images
    removals: dict[int, list[int]] = {}
    dropped: list[str] = []  # upstream's Info lines for items removed for a missing image
    for t, tag in enumerate(stream.tags):
        tag_rules: list[str] = []
        gone: list[int] = []
        for rev, (digest, created) in enumerate(zip(tag.images, tag.created)):
            image = images.get(digest)
            if image is None:  # upstream's counting pass warns of every one, whatever is decided
                outcome.log.append(_missing_warning(stream, tag.tag, digest))
            if not over_size and created > threshold:
                rule = KEEP_ITEM_YOUNG
            elif rev == 0 and (ns, name, tag.tag) in used_tags:
                rule = KEEP_TAG_IN_USE
            elif image is None:
                rule = REMOVE_IMAGE_MISSING
                gone.append(rev)
                dropped.append(f"imagestream {ns}/{name}: tag {tag.tag}: revision {rev + 1}: image {digest} not found, deleting...")
            elif over_size and not exceeds_limits(image, stream_limits):
                rule = KEEP_UNDER_SIZE_LIMIT
            elif not over_size and rev < revisions:
                rule = KEEP_WITHIN_REVISIONS
            elif (ns, name, digest) in used_images:
                rule = KEEP_IMAGE_IN_USE
            else:
                rule = REMOVE_OVER_SIZE_LIMIT if over_size else REMOVE_BEYOND_REVISIONS
                gone.append(rev)
            tag_rules.append(rule)
        outcome.rules.append(tag_rules)
        if gone:
            removals[t] = gone
    outcome.log += dropped
    if removals:
        outcome.removals = removals
        if policy.prune_registry:
            links = unlinked(images, stream, removals)
            outcome.manifest_links, outcome.layer_links = links.manifests, links.layers
    return outcome


def _missing_warning(stream: Stream, tag: str, digest: str) -> str:
    return f"warning: imagestream {stream.namespace}/{stream.name}: tag {tag}: image {digest} not found"


@dataclass(slots=True)
class Stage2:
    outcomes: dict[str, ImageOutcome]
    errors: list[str]


def prune_images(
    images: dict[str, Image],
    used: set[str],
    list_children: set[str],
    policy: Policy,
    unreadable: frozenset[str] | None = None,
) -> Stage2:
    """Stage 2 for a cluster-wide run (docs/rules.md, "Stage 2: images"). `used` are images named
    by surviving items; `list_children` the further images protected as sub-manifests of a used
    manifest list; `unreadable` is unreadable_images(images), when the caller has it already."""
    outcomes: dict[str, ImageOutcome] = {}
    threshold = policy.threshold
    over_size = policy.over_size
    prune_registry = policy.prune_registry

    if unreadable is None:
        unreadable = unreadable_images(images)
    # building the global counters fails: stage 2 stops with a single error (docs/rules.md: Stage 2,
    # halted by unreadable metadata)
    first = min(unreadable) if unreadable else None
    halted = f"image {first}: failed to read metadata for image {first}" if first else None

    # Kept images share one outcome per rule: a kept outcome frees no blob and is never changed.
    kept = {rule: ImageOutcome(rule) for rule in (KEEP_REFERENCED, KEEP_CHILD_OF_LIST, KEEP_STAGE2_HALTED, KEEP_UNMANAGED, KEEP_IMAGE_YOUNG)}
    deleted: list[Image] = []
    for name in sorted(images):
        image = images[name]
        if name in used:
            outcomes[name] = kept[KEEP_REFERENCED]
        elif name in list_children:
            outcomes[name] = kept[KEEP_CHILD_OF_LIST]
        elif halted is not None:
            outcomes[name] = kept[KEEP_STAGE2_HALTED]
        elif not policy.all_images and not image.managed:
            outcomes[name] = kept[KEEP_UNMANAGED]
        elif not over_size and image.created > threshold:
            outcomes[name] = kept[KEEP_IMAGE_YOUNG]
        else:
            outcomes[name] = ImageOutcome(DELETE_UNREFERENCED)
            deleted.append(image)
    if prune_registry and deleted:
        for name, blobs, kinds in freed_blobs(images, deleted):
            outcome = outcomes[name]
            outcome.blobs, outcome.blob_kinds = blobs, kinds
    return Stage2(outcomes, [halted] if halted else [])

