"""Plan ∩ fresh hard decisions: which of a hard-prune plan's deletions still hold.

execute re-reads the storage and the API and decides again (analyze/hard's rules, now = the live
time). A planned deletion runs only when the fresh decisions delete it too; a link or upload of a
repository that the fresh decisions remove whole is still justified (it goes with its
repository). Everything else is skipped with a reason: something accounts for it now. Nothing
outside the plan is ever deleted, even when the fresh decisions would delete more. Pure logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from pruneplan.hardplan import HardPrunePlan
from pruneplan.inventoryformat import Inventory

ACCOUNTED_FOR_NOW = "accounted for now"
ABSENT = "no longer in the storage"


@dataclass(frozen=True)
class Deletions:
    """A set of hard-prune deletions, as keys: what a plan lists, or what fresh decisions delete."""

    repositories: frozenset[str] = frozenset()
    manifest_links: frozenset[tuple[str, str]] = frozenset()  # (repository, digest)
    layer_links: frozenset[tuple[str, str]] = frozenset()
    uploads: frozenset[tuple[str, str]] = frozenset()  # (repository, uuid)
    blobs: frozenset[str] = frozenset()


# Kinds of action, in the order they run (docs/execute.md, "Hard-prune plans").
MANIFEST_LINK, LAYER_LINK, UPLOAD, REPOSITORY, BLOB = "manifestlink", "layerlink", "upload", "repository", "blob"
ORDER = (MANIFEST_LINK, LAYER_LINK, UPLOAD, REPOSITORY, BLOB)


@dataclass(frozen=True)
class Action:
    kind: str  # one of ORDER
    repository: str  # "" for a blob
    name: str  # a digest, an upload's uuid, "" for a repository
    size: int = 0  # the plan's bytes for a blob or an upload

    @property
    def key(self) -> str:
        """The journal's key: a hard plan's actions never share one with a soft plan's."""
        return " ".join(part for part in ("hard", self.kind, self.repository, self.name) if part)

    def words(self) -> str:
        if self.kind == MANIFEST_LINK:
            return f"Deleting manifest link {self.name} in repository {self.repository}"
        if self.kind == LAYER_LINK:
            return f"Deleting layer link {self.name} in repository {self.repository}"
        if self.kind == UPLOAD:
            return f"Deleting upload {self.name} in repository {self.repository}"
        if self.kind == REPOSITORY:
            return f"Deleting repository {self.repository}"
        return f"Deleting blob {self.name}"


@dataclass
class Checked:
    run: list[Action] = field(default_factory=list)  # in ORDER
    skipped: list[tuple[Action, str]] = field(default_factory=list)  # and why


def _within(action: Action, these: Deletions, whole: bool = True) -> bool:
    """Whether `these` hold the action's object (with `whole`: or its repository, whole)."""
    if action.kind == REPOSITORY:
        return action.repository in these.repositories
    if action.kind == BLOB:
        return action.name in these.blobs
    if whole and action.repository in these.repositories:
        return True
    pair = (action.repository, action.name)
    if action.kind == MANIFEST_LINK:
        return pair in these.manifest_links
    if action.kind == LAYER_LINK:
        return pair in these.layer_links
    return pair in these.uploads


def held(inventory: Inventory) -> Deletions:
    """Everything the storage holds now, as the keys of deletions."""
    return Deletions(
        repositories=frozenset(r.name for r in inventory.repositories),
        manifest_links=frozenset((r.name, d) for r in inventory.repositories for d in r.manifests),
        layer_links=frozenset((r.name, d) for r in inventory.repositories for d in r.layers),
        uploads=frozenset((r.name, u.uuid) for r in inventory.repositories for u in r.uploads),
        blobs=frozenset(b.digest for b in inventory.blobs),
    )


def recheck(planned: Iterable[Action], fresh: Deletions, present: Deletions) -> Checked:
    """The planned actions that still hold, in the order they run; the others, with why not.
    `present`: what the storage holds now (held()); what is gone from it is skipped as absent."""
    checked = Checked()
    rank = {kind: index for index, kind in enumerate(ORDER)}
    for action in sorted(planned, key=lambda a: rank[a.kind]):  # stable: the plan's order within a kind
        if _within(action, fresh):
            checked.run.append(action)
        elif not _within(action, present, whole=False):
            checked.skipped.append((action, ABSENT))
        else:
            checked.skipped.append((action, ACCOUNTED_FOR_NOW))
    return checked


def planned_actions(plan: HardPrunePlan) -> list[Action]:
    """Every deletion a hard plan lists, in the order they run."""
    actions = [Action(MANIFEST_LINK, e.repository, e.digest) for e in plan.manifest_link_deletions]
    actions += [Action(LAYER_LINK, e.repository, e.digest) for e in plan.layer_link_deletions]
    actions += [Action(UPLOAD, e.repository, e.uuid, e.size) for e in plan.upload_deletions]
    actions += [Action(REPOSITORY, e.repository, "") for e in plan.repository_deletions]
    actions += [Action(BLOB, "", e.digest, e.size) for e in plan.blob_deletions]
    return actions
