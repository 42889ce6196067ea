"""The prune policy: upstream's decision flags, with their "given or not" semantics and validation
messages (docs/rules.md, "Flags and validation"). Shared by analyze (to decide) and execute (to
re-decide live).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .errors import FlagError, PrunePlanError
from .goduration import format_go_duration, go_quote, parse_go_duration
from .goint import GoNumError, parse_go_int
from .timefmt import ZERO, format_time, parse_time

DEFAULT_KEEP_TAG_REVISIONS = 3
DEFAULT_KEEP_YOUNGER_THAN = 60 * 60 * 1_000_000_000  # 60m in nanoseconds


@dataclass(frozen=True, slots=True)
class Policy:
    keep_tag_revisions: int | None  # None: unset, behaves as 0
    keep_younger_than: int | None  # nanoseconds; None: unset, threshold is the zero time
    prune_over_size_limit: bool | None  # None: flag not given
    all_images: bool
    namespace: str | None
    ignore_invalid_refs: bool
    prune_registry: bool
    now: float  # epoch seconds
    # flag name -> where its value comes from (pruneplan.prunerpolicy.SOURCES); None: not recorded
    sources: tuple[tuple[str, str], ...] | None = None

    @property
    def over_size(self) -> bool:
        return bool(self.prune_over_size_limit)

    @property
    def revisions(self) -> int:
        return self.keep_tag_revisions or 0

    @property
    def threshold(self) -> float:
        """T = now - keep-younger-than, or Go's zero time when keep-younger-than is unset."""
        if self.keep_younger_than is None:
            return ZERO
        return self.now - self.keep_younger_than / 1e9

    def to_json(self) -> dict[str, Any]:
        recorded = {} if self.sources is None else {"sources": dict(self.sources)}
        return {
            **recorded,
            "all": self.all_images,
            "ignoreInvalidRefs": self.ignore_invalid_refs,
            "keepTagRevisions": self.keep_tag_revisions,
            "keepYoungerThan": None
            if self.keep_younger_than is None
            else format_go_duration(self.keep_younger_than),
            "namespace": self.namespace,
            "now": format_time(self.now),
            "pruneOverSizeLimit": self.prune_over_size_limit,
            "pruneRegistry": self.prune_registry,
            "threshold": format_time(self.threshold),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Policy":
        """Rebuild the policy a plan was made with (execute re-analyzes with it)."""
        try:
            kyt = data["keepYoungerThan"]
            return cls(
                keep_tag_revisions=data["keepTagRevisions"],
                keep_younger_than=None if kyt is None else parse_go_duration(kyt),
                prune_over_size_limit=data["pruneOverSizeLimit"],
                all_images=bool(data["all"]),
                namespace=data["namespace"],
                ignore_invalid_refs=bool(data["ignoreInvalidRefs"]),
                prune_registry=bool(data["pruneRegistry"]),
                now=parse_time(data["now"]),
                sources=None if data.get("sources") is None else tuple(sorted(data["sources"].items())),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as err:  # AttributeError: sources not an object
            raise PrunePlanError(f"plan policy is malformed: {err}") from None

    def with_now(self, now: float) -> "Policy":
        return replace(self, now=now)

    def with_sources(self, sources: dict[str, str]) -> "Policy":
        return replace(self, sources=tuple(sorted(sources.items())))


def parse_int_flag(value: str, flag: str) -> int:
    """pflag's int flag: Go's strconv.ParseInt(value, 0, 64), with pflag's message."""
    try:
        return parse_go_int(value)
    except GoNumError as err:
        raise FlagError(f"invalid argument {go_quote(value)} for {go_quote(flag)} flag: {err}") from None


def parse_duration_flag(value: str, flag: str) -> int:
    try:
        return parse_go_duration(value)
    except ValueError as err:
        raise FlagError(f'invalid argument "{value}" for "{flag}" flag: {err}') from None


def build_policy(
    *,
    now: float,
    keep_tag_revisions: str | None,
    keep_younger_than: str | None,
    prune_over_size_limit: bool | None,
    all_images: bool = True,
    namespace: str | None = None,
    ignore_invalid_refs: bool = False,
    prune_registry: bool = True,
) -> Policy:
    """Apply upstream's Complete and Validate steps. A None argument means "flag not given"."""
    revisions = None if keep_tag_revisions is None else parse_int_flag(keep_tag_revisions, "--keep-tag-revisions")
    younger = None if keep_younger_than is None else parse_duration_flag(keep_younger_than, "--keep-younger-than")
    if prune_over_size_limit is None:
        # Not given: the keep-* options take their defaults when not given either.
        if revisions is None:
            revisions = DEFAULT_KEEP_TAG_REVISIONS
        if younger is None:
            younger = DEFAULT_KEEP_YOUNGER_THAN
    elif revisions is not None or younger is not None:
        raise FlagError("--prune-over-size-limit cannot be specified with --keep-tag-revisions nor --keep-younger-than")
    if younger is not None and younger < 0:
        raise FlagError("--keep-younger-than must be greater than or equal to 0")
    if revisions is not None and revisions < 0:
        raise FlagError("--keep-tag-revisions must be greater than or equal to 0")
    if namespace is not None and not namespace:
        raise FlagError("--namespace must not be empty")
    return Policy(
        keep_tag_revisions=revisions,
        keep_younger_than=younger,
        prune_over_size_limit=prune_over_size_limit,
        all_images=all_images,
        namespace=namespace,
        ignore_invalid_refs=ignore_invalid_refs,
        prune_registry=prune_registry,
        now=now,
    )
