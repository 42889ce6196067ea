"""Every reason a history item or an image is kept, not only the rule that decided it.

The rules (analyze/decisions/rules.py) stop at the first rule that matches; a reviewer also wants
the others that hold: a tag used by three pods and within --keep-tag-revisions is kept four
times over, and deleting one pod does not free it. Each reason is a JSON-ready dict: `rule` (a
rule code of evidence.RULES), `text` (one line with the concrete facts) and the facts as fields.

Conditions are evaluated as stage 1 and stage 2 evaluate them, so the first reason of a kept
item or image is always the rule that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

from pruneplan.goduration import format_go_duration
from pruneplan.policy import Policy
from pruneplan.timefmt import format_time

from pruneplan.analyze.decisions import rules as R
from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.decisions.graph import BUILD_STRATEGY
from pruneplan.analyze.decisions.model import IMAGE_LIMIT_TYPE, Image, Stream, TagHistory, json_number
from pruneplan.analyze.decisions.quantity import parse_quantity
from pruneplan.analyze.decisions.referrers import Use


@dataclass(frozen=True, slots=True)
class Limit:
    """One openshift.io/Image max.storage of a LimitRange: where it is, as written, in bytes."""

    limit_range: str  # namespace/name
    storage: str  # as the LimitRange writes it ("1Gi")
    value: Fraction  # in bytes

    def to_json(self) -> dict[str, Any]:
        return {"limitRange": self.limit_range, "maxStorage": self.storage, "bytes": _number(self.value)}

    def __str__(self) -> str:
        return f"limitrange {self.limit_range} max.storage {self.storage} ({_number(self.value)} bytes)"


Limits = dict[str, list[Limit]]  # by namespace


def _number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


def named_limits(ranges: Iterable[Any]) -> Limits:
    """The image limits of LimitRange records (analyze/decisions/wire.py) with their names. The
    analysis has read them already (analyze/decisions/model.py load_limits), so a value that
    does not parse never gets here in over-size mode; elsewhere it is skipped, not an error."""
    limits: Limits = {}
    for limit_range in ranges:
        spec, meta = limit_range.spec, limit_range.metadata
        for limit in (spec.limits or ()) if spec is not None else ():
            if limit is None or limit.type != IMAGE_LIMIT_TYPE or not isinstance(limit.max, dict) or "storage" not in limit.max:
                continue
            storage = json_number(limit.max["storage"])
            try:
                value = parse_quantity(storage)
            except ValueError:
                continue
            limits.setdefault(meta.namespace, []).append(Limit(f"{meta.namespace}/{meta.name}", str(storage), value))
    return limits


def where(ns: str, name: str, tag: str, index: int, of: int) -> str:
    """A history item's place, counted from 0 as the plan's `index` and upstream's docs count."""
    return f"{ns}/{name}:{tag} at position {index} out of {of}"


def referrer_json(use: Use) -> dict[str, str]:
    r = use.referrer
    return {"kind": r.resource, "namespace": r.namespace, "name": r.name, "field": use.via.strip() or BUILD_STRATEGY, "reference": use.reference}


def referrer_text(use: Use) -> str:
    return f"{use.referrer} ({use.via.strip() or BUILD_STRATEGY})"


def threshold_text(policy: Policy) -> str:
    """The threshold and where it comes from: `T (now N - --keep-younger-than=D)`."""
    if policy.keep_younger_than is None:
        return "the zero time (--keep-younger-than not set)"
    return (f"{format_time(policy.threshold)} (now {format_time(policy.now)}"
            f" - --keep-younger-than={format_go_duration(policy.keep_younger_than)})")


def _time(seconds: float) -> str:
    return format_time(seconds) or "0001-01-01T00:00:00Z (not set)"


def age_facts(policy: Policy, created: float) -> dict[str, Any]:
    """A creation time against --keep-younger-than: younger means kept by age."""
    young = not policy.over_size and created > policy.threshold
    if policy.over_size:
        text = "not considered with --prune-over-size-limit"
    elif young:
        text = f"created after the threshold {threshold_text(policy)}: its age keeps it"
    else:
        text = f"created at or before the threshold {threshold_text(policy)}: its age does not keep it"
    return {
        "created": format_time(created),
        "threshold": format_time(policy.threshold) if policy.keep_younger_than is not None else None,
        "keepYoungerThan": None if policy.keep_younger_than is None else format_go_duration(policy.keep_younger_than),
        "now": format_time(policy.now),
        "young": young,
        "text": text,
    }


def size_facts(image: Image, namespace: str, limits: Limits | None) -> dict[str, Any]:
    """The image's size against the openshift.io/Image limits of `namespace` (over-size mode)."""
    known = None if limits is None else limits.get(namespace, [])
    exceeded = [limit for limit in known or () if limit.value < image.size]
    if not image.has_metadata:
        text = "its size is unknown (no image metadata): no limit applies"
    elif known is None:
        text = f"size {image.size} bytes against the openshift.io/Image limits of namespace {namespace}"
    elif not known:
        text = f"size {image.size} bytes; namespace {namespace} has no openshift.io/Image LimitRange"
    elif exceeded:
        text = f"size {image.size} bytes exceeds {', '.join(map(str, exceeded))}"
    else:
        text = f"size {image.size} bytes does not exceed {', '.join(map(str, known))}"
    return {
        "namespace": namespace,
        "size": image.size if image.has_metadata else None,
        "limits": None if known is None else [limit.to_json() for limit in known],
        "text": text,
    }


def _reason(rule: str, text: str, **facts: Any) -> dict[str, Any]:
    return {"rule": rule, "text": text, **facts}


@dataclass(frozen=True, slots=True)
class ItemAt:
    """A history item: its stream, its tag's listing and its index there."""

    stream: Stream
    history: TagHistory
    index: int

    @property
    def digest(self) -> str:
        return self.history.images[self.index]

    @property
    def where(self) -> str:
        s = self.stream
        return where(s.namespace, s.name, self.history.tag, self.index, len(self.history.images))


def item_reasons(analysis: Analysis, item: ItemAt, rule: str, limits: Limits | None) -> list[dict[str, Any]]:
    """Every stage-1 condition that keeps the item, in stage 1's order (docs/rules.md: Stage 1).
    Empty for an item its rule removes: a removing rule wins over the keeping ones after it."""
    if rule in R.REMOVING_RULES:
        return []
    if rule == R.KEEP_STREAM_METADATA:
        return [_reason(rule, f"image stream {item.stream.key} names an image whose metadata cannot be read; it is left alone")]
    policy, stream, history, index = analysis.policy, item.stream, item.history, item.index
    ns, name, tag = stream.namespace, stream.name, history.tag
    place = item.where
    reasons: list[dict[str, Any]] = []
    if not policy.over_size and stream.created > policy.threshold:
        reasons.append(_reason(
            R.KEEP_STREAM_YOUNG,
            f"image stream {stream.key} was created {_time(stream.created)}, after the threshold {threshold_text(policy)}",
            streamCreated=format_time(stream.created), threshold=format_time(policy.threshold),
        ))
    if not policy.over_size and history.created[index] > policy.threshold:
        reasons.append(_reason(
            R.KEEP_ITEM_YOUNG,
            f"{place} was created {_time(history.created[index])}, after the threshold {threshold_text(policy)}",
            where=place, created=format_time(history.created[index]), threshold=format_time(policy.threshold),
        ))
    if index == 0:
        for use in analysis.refs.used_tags.get((ns, name, tag), ()):
            reasons.append(_reason(
                R.KEEP_TAG_IN_USE,
                f"{referrer_text(use)} uses {ns}/{name}:{tag} (as {use.reference}), whose newest item is {place}",
                where=place, referrer=referrer_json(use),
            ))
    image = analysis.images.get(item.digest)
    if image is None:  # upstream removes it here, whatever keeps it below
        return reasons
    if policy.over_size:
        size = size_facts(image, ns, limits)
        if limits is None:  # the limits' names are not known: the decided rule says it
            under = rule == R.KEEP_UNDER_SIZE_LIMIT
        else:  # rules.exceeds_limits, on the same values
            under = not image.has_metadata or not any(limit.value < image.size for limit in limits.get(ns, ()))
        if under:
            reasons.append(_reason(R.KEEP_UNDER_SIZE_LIMIT, f"--prune-over-size-limit: image {image.name} of {place}: {size['text']}",
                                   where=place, size=size))
    elif index < policy.revisions:
        reasons.append(_reason(
            R.KEEP_WITHIN_REVISIONS,
            f"{place} is within --keep-tag-revisions={policy.revisions} (positions 0 to {policy.revisions - 1} are kept)",
            where=place, position=index, of=len(history.images), keepTagRevisions=policy.revisions,
        ))
    for use in analysis.refs.used_images.get((ns, name, item.digest), ()):
        reasons.append(_reason(
            R.KEEP_IMAGE_IN_USE,
            f"{referrer_text(use)} pulls {ns}/{name}@{item.digest} by digest (as {use.reference}), which {place} names",
            where=place, referrer=referrer_json(use),
        ))
    return reasons


def pruned_item_facts(analysis: Analysis, item: ItemAt, rule: str, limits: Limits | None) -> str:
    """Why none of the keeping conditions holds for an item its rule removes, in facts."""
    policy = analysis.policy
    if rule == R.REMOVE_IMAGE_MISSING:
        return f"no Image named {item.digest} is in the dump"
    facts = []
    if not policy.over_size:
        # a removed item is old: young ones are kept before any removing rule
        facts.append(f"created {_time(item.history.created[item.index])}, at or before the threshold {threshold_text(policy)}")
        facts.append(f"position {item.index} is beyond --keep-tag-revisions={policy.revisions}")
    else:
        image = analysis.images[item.digest]
        facts.append(size_facts(image, item.stream.namespace, limits)["text"])
    if (item.stream.namespace, item.stream.name, item.history.tag) in analysis.refs.used_tags:
        facts.append("the tag is used, which keeps its newest item (position 0) only")
    else:
        facts.append("no pod, controller or build uses the tag")
    facts.append(f"none pulls {item.stream.key}@{item.digest} by digest")
    return "; ".join(facts)


def image_reasons(analysis: Analysis, image: Image, kept_items: list[tuple[ItemAt, str]], limits: Limits | None) -> list[dict[str, Any]]:
    """Every reason the image is kept: the reasons of each kept history item naming it (stage 1
    keeps the item, the item keeps the image), then stage 2's own, in stage 2's order
    (docs/rules.md: Stage 2). `kept_items`: the kept items naming it, with their rules."""
    reasons = [reason for item, rule in kept_items for reason in item_reasons(analysis, item, rule, limits)]
    policy, stage2 = analysis.policy, analysis.stage2
    if stage2 is None:
        return [*reasons, _reason(R.KEEP_NAMESPACED, f"--namespace={policy.namespace}: a namespaced run deletes no image")]
    graph = analysis.graph
    node = ("image", image.name)
    parents = sorted(user[1] for user in graph.predecessors(node) if user[0] == "image") if node in graph else []
    for parent in parents:
        parent_rule = stage2.outcomes[parent].rule
        if parent_rule in (R.KEEP_REFERENCED, R.KEEP_CHILD_OF_LIST):
            reasons.append(_reason(R.KEEP_CHILD_OF_LIST, f"it is a child of manifest list {parent}, which is kept ({parent_rule})",
                                   manifestList=parent))
    if stage2.errors:
        reasons.append(_reason(R.KEEP_STAGE2_HALTED, f"stage 2 stopped: {stage2.errors[0]}"))
    if not policy.all_images and not image.managed:
        reasons.append(_reason(R.KEEP_UNMANAGED, "--all=false and the image is not annotated openshift.io/image.managed=true"))
    if not policy.over_size and image.created > policy.threshold:
        reasons.append(_reason(R.KEEP_IMAGE_YOUNG, f"image {image.name} was created {_time(image.created)}, after the threshold {threshold_text(policy)}",
                               created=format_time(image.created), threshold=format_time(policy.threshold)))
    return reasons
