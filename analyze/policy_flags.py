"""The policy flags as given on analyze's and explain's command line: oc's flags and --now."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(slots=True)
class PolicyFlags:
    """Each flag as given; None: not given (oc's default applies, or the automatic pruner's value,
    or the plan's)."""

    now: str | None = None
    keep_tag_revisions: str | None = None
    keep_younger_than: str | None = None
    prune_over_size_limit: bool | None = None
    all_images: bool | None = None
    namespace: str | None = None
    ignore_invalid_refs: bool | None = None
    prune_registry: bool | None = None

    def given(self) -> list[str]:
        """The options given, as they are spelled on the command line."""
        return [_OPTIONS[f.name] for f in fields(self) if getattr(self, f.name) is not None]

    def by_oc_name(self) -> dict[str, Any]:
        """The decision flags by oc's names (not --now); None: not given."""
        return {_OPTIONS[f.name][2:]: getattr(self, f.name) for f in fields(self) if f.name != "now"}


_OPTIONS = {
    "now": "--now", "keep_tag_revisions": "--keep-tag-revisions", "keep_younger_than": "--keep-younger-than",
    "prune_over_size_limit": "--prune-over-size-limit", "all_images": "--all", "namespace": "--namespace",
    "ignore_invalid_refs": "--ignore-invalid-refs", "prune_registry": "--prune-registry",
}
