"""Plan ∩ fresh analysis (docs/execute.md): which planned actions are still justified on the live cluster.

`fresh` is the analysis of a live snapshot with the plan's policy at execution time. An action runs
only if the plan has it **and** the live state still justifies it. What a link, image or blob is
still needed by is asked of analyze's own accounting (analyze/decisions/survival.py), over what
will really survive: the live state minus the approved removals, so nothing a kept (or newly
pushed) image uses is deleted. Every planned action that will not run gets a reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.explain.evidence import describe
from pruneplan.analyze.decisions.model import Stream
from pruneplan.analyze.decisions.rules import DELETE_UNREFERENCED, REMOVING_RULES
from pruneplan.analyze.decisions.survival import (
    NO_REMOVALS,
    Removals,
    blob_holders,
    claimed_blobs,
    named_images,
    repository_claims,
    surviving_images,
)
from pruneplan.timefmt import format_time
from pruneplan.wording import deleting_blob, deleting_image, deleting_items, deleting_layer_link, deleting_manifest_link

if TYPE_CHECKING:
    from pruneplan.planmodel import ImageDeletion, Plan

Item = tuple[str, str, str | None]  # (tag, image, created as RFC 3339 or None)


def match_items(tags: list[tuple[str, list[tuple[str, str | None]]]], wanted: Counter[Item]) -> set[tuple[int, int]]:
    """Positions (tag index, item index) of the items `wanted` names, each at most as often as
    wanted. New items are pushed at the front of a tag's history, so positions shift; matching
    runs from the oldest item so that a digest listed twice loses its older occurrence, as planned."""
    remaining = Counter(wanted)
    found: set[tuple[int, int]] = set()
    for t, (tag, items) in enumerate(tags):
        for i in range(len(items) - 1, -1, -1):
            key = (tag, items[i][0], items[i][1])
            if remaining[key] > 0:
                remaining[key] -= 1
                found.add((t, i))
    return found


def key_layer_link(repo: str, digest: str) -> str:
    return f"layerlink {repo} {digest}"


def key_manifest_link(repo: str, digest: str) -> str:
    return f"manifestlink {repo} {digest}"


def key_stream(namespace: str, name: str) -> str:
    return f"stream {namespace}/{name}"


def key_blob(digest: str) -> str:
    return f"blob {digest}"


def key_image(name: str) -> str:
    return f"image {name}"


def plan_actions(plan: Plan) -> list[tuple[str, str]]:
    """Every action the plan holds, as (journal key, upstream's words), in the plan's order."""
    actions = [(key_stream(u.namespace, u.name), deleting_items(len(u.removed_items), u.repository))
               for u in plan.image_stream_updates]
    actions += [(key_layer_link(d.repository, d.digest), deleting_layer_link(d.digest, d.repository))
                for d in plan.layer_link_deletions]
    actions += [(key_manifest_link(d.repository, d.digest), deleting_manifest_link(d.digest, d.repository))
                for d in plan.manifest_link_deletions]
    actions += [(key_blob(b.digest), deleting_blob(b.digest)) for b in plan.blob_deletions]
    actions += [(key_image(i.name), deleting_image(i.name)) for i in plan.image_deletions]
    return actions


@dataclass(slots=True)
class Skip:
    key: str
    action: str  # upstream's wording of the action that will not run
    reason: str


@dataclass(slots=True)
class StreamWork:
    stream: Stream  # the live stream
    removals: list[Item]  # approved: planned and still justified
    approved_at: Removals  # where the approved items are in the live stream's history
    layer_links: list[str]
    manifest_links: list[str]
    removed_tags: frozenset[str] = frozenset()  # the plan's: the only tags the update may drop

    @property
    def namespace(self) -> str:
        return self.stream.namespace

    @property
    def name(self) -> str:
        return self.stream.name

    @property
    def repository(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(slots=True)
class ImageWork:
    name: str
    blobs: list[str]  # approved blobs, upstream order


@dataclass(slots=True)
class StageOneWork:
    streams: list[StreamWork]
    skipped: list[Skip] = field(default_factory=list)


def _item_reason(fresh: Analysis, ns: str, name: str, tag: str, index: int) -> str:
    from pruneplan.analyze.explain.evidence import history_item  # the same evidence explain prints

    item = history_item(fresh, ns, name, tag, index)
    reason = f"{item['where']} is now kept ({item['rule']}: {item['description']})"
    used = item.get("usedBy")
    if used and used["total"]:
        more = f" and {used['more']} more" if used["more"] else ""
        reason += f"; used by {', '.join(used['shown'])}{more}"
    return reason


def in_upstream_order(planned: list[str], upstream: list[str]) -> list[str]:
    """`planned` (the plan keeps links sorted by digest) in the order of `upstream`, the order in
    which upstream deletes them (the fresh outcome's, as analyze prints them); digests `upstream`
    does not list go last, in plan order."""
    position = {digest: i for i, digest in enumerate(upstream)}
    return sorted(planned, key=lambda digest: position.get(digest, len(position)))


def stage_one(plan: Plan, fresh: Analysis) -> StageOneWork:
    live = {(s.namespace, s.name): s for s in fresh.streams}
    outcomes = {(o.stream.namespace, o.stream.name): o for o in fresh.stream_outcomes}
    images = fresh.images
    layer_plan: dict[str, list[str]] = {}
    manifest_plan: dict[str, list[str]] = {}
    for link in plan.layer_link_deletions:
        layer_plan.setdefault(link.repository, []).append(link.digest)
    for link in plan.manifest_link_deletions:
        manifest_plan.setdefault(link.repository, []).append(link.digest)

    work = StageOneWork([])
    for update in plan.image_stream_updates:
        ns, name, repo = update.namespace, update.name, update.repository
        stream = live.get((ns, name))
        if stream is None:
            reason = f"image stream {repo} no longer exists"
            work.skipped.append(Skip(key_stream(ns, name), deleting_items(len(update.removed_items), repo), reason))
            work.skipped += [Skip(key_layer_link(repo, d), deleting_layer_link(d, repo), reason) for d in layer_plan.get(repo, [])]
            work.skipped += [Skip(key_manifest_link(repo, d), deleting_manifest_link(d, repo), reason) for d in manifest_plan.get(repo, [])]
            continue
        outcome = outcomes[(ns, name)]
        wanted = Counter((i.tag, i.image, i.created) for i in update.removed_items)
        live_items = [(tag.tag, [(img, format_time(c)) for img, c in zip(tag.images, tag.created)]) for tag in stream.tags]
        approved: list[Item] = []
        approved_at: dict[int, list[int]] = {}
        for t, i in sorted(match_items(live_items, wanted)):  # sorted: each tag's indices ascending
            tag = stream.tags[t]
            if outcome.rules[t][i] in REMOVING_RULES:
                approved.append((tag.tag, tag.images[i], format_time(tag.created[i])))
                approved_at.setdefault(t, []).append(i)
            else:
                work.skipped.append(Skip(
                    key_stream(ns, name),
                    f"Remove {repo}:{tag.tag} history item {tag.images[i]}",
                    _item_reason(fresh, ns, name, tag.tag, i),
                ))
        # what the items that will really survive hold in this repository
        survivors = named_images(stream, approved_at)
        claims = repository_claims(images, survivors)
        layer_links, manifest_links = [], []
        for digest in in_upstream_order(layer_plan.get(repo, []), outcome.layer_links):
            if digest in claims.blobs:
                users = blob_holders(images, survivors, digest)
                work.skipped.append(Skip(key_layer_link(repo, digest), deleting_layer_link(digest, repo),
                                         f"still used in {repo} by image {users[0]}" + (f" and {len(users) - 1} more" if len(users) > 1 else "")))
            else:
                layer_links.append(digest)
        for digest in in_upstream_order(manifest_plan.get(repo, []), outcome.manifest_links):
            if digest in claims.manifests:
                work.skipped.append(Skip(key_manifest_link(repo, digest), deleting_manifest_link(digest, repo),
                                         f"a surviving history item of {repo} still names {digest}"))
            else:
                manifest_links.append(digest)
        work.streams.append(StreamWork(stream, approved, approved_at, layer_links, manifest_links, frozenset(update.removed_tags)))
    return work


def stage_two(
    plan: Plan,
    fresh: Analysis,
    stream_work: list[StreamWork],
    failed_streams: set[str],
) -> tuple[list[ImageWork], list[Skip]]:
    """Images and blobs, decided after stage 1 ran: a stream whose update failed keeps every image
    it names (our fix of an upstream hazard: docs/rules.md, "Upstream hazards we avoid")."""
    skipped: list[Skip] = []
    planned_images = plan.image_deletions
    if fresh.stage2 is None:
        return [], skipped
    images = fresh.images

    def left_out(work: StreamWork) -> Removals:
        """The items really gone from a stream: none if its update failed."""
        return NO_REMOVALS if work.repository in failed_streams else work.approved_at

    worked = {(w.namespace, w.name): w for w in stream_work}
    histories: list[tuple[Stream, Removals]] = []
    for stream in fresh.streams:
        w = worked.get((stream.namespace, stream.name))
        histories.append((stream, NO_REMOVALS if w is None else left_out(w)))
    used = surviving_images(histories)
    used |= fresh.children_of_used_lists(used & images.keys())
    named_by_work: list[set[str]] | None = None  # per stream work, the images it still names: made when a skip needs them

    approved: list[ImageDeletion] = []
    for entry in planned_images:
        name = entry.name
        if name not in images:
            continue  # already gone: nothing to do
        rule = fresh.stage2.outcomes[name].rule
        if name in used:
            if named_by_work is None:
                named_by_work = [set(named_images(w.stream, left_out(w))) for w in stream_work]
            holders = sorted(w.repository for w, named in zip(stream_work, named_by_work) if name in named)
            where = f" (image stream {', '.join(holders)})" if holders else ""
            skipped.append(Skip(key_image(name), deleting_image(name), f"still named by a surviving history item{where}"))
        elif rule != DELETE_UNREFERENCED:
            skipped.append(Skip(key_image(name), deleting_image(name), f"now kept ({rule}: {describe(rule)['description']})"))
        else:
            approved.append(entry)

    approved_names = {e.name for e in approved}
    claimed = claimed_blobs(images, approved_names)
    planned_blobs = {b.digest for b in plan.blob_deletions}
    work: list[ImageWork] = []
    for entry in approved:
        blobs = []
        for digest in entry.blobs:
            if digest not in planned_blobs:
                continue
            if digest in claimed:
                skipped.append(Skip(key_blob(digest), deleting_blob(digest), "still used by an image that stays"))
            else:
                blobs.append(digest)
        work.append(ImageWork(entry.name, blobs))
    for entry in planned_images:
        if entry.name not in approved_names and entry.name in images:
            skipped += [Skip(key_blob(d), deleting_blob(d), f"image {entry.name} is kept") for d in entry.blobs]
    return work, skipped
