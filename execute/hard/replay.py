"""Replays a hard plan's re-checked deletions against the storage, journalled and resumable.

One action at a time, in the order the re-check gives (manifest links, layer links, uploads,
repositories, blobs): each is printed, sent to the deleter (a dry run's deletes nothing) and, in a
confirmed run, its outcome journalled before the next one starts. An action the journal says is
done is left out and counted as done earlier, so a rerun finishes an interrupted run. A blob that
a link still names because deleting that link (or its repository) failed is kept: deleting it
would leave the link pointing at nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from pruneplan.inventoryformat import Inventory

from pruneplan.execute.hard.deleter import Deleted, StorageDeleter
from pruneplan.execute.hard.recheck import BLOB, LAYER_LINK, MANIFEST_LINK, ORDER, REPOSITORY, UPLOAD, Action, Checked
from pruneplan.execute.journal import Journal
from pruneplan.execute.ports import ERROR, NOT_FOUND

PLURALS = {MANIFEST_LINK: "manifest link(s)", LAYER_LINK: "layer link(s)", UPLOAD: "upload(s)",
           REPOSITORY: "repository(ies)", BLOB: "blob(s)"}
JSON_NAMES = {MANIFEST_LINK: "manifestLinks", LAYER_LINK: "layerLinks", UPLOAD: "uploads",
              REPOSITORY: "repositories", BLOB: "blobs"}


@dataclass
class HardReport:
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ORDER, 0))
    absent: int = 0  # done: already gone before this run reached them
    reclaimed: int = 0  # bytes of the blobs and listed uploads this run deleted (or would)
    repository_bytes: int = 0  # bytes of uploads that went with removed repositories
    performed: list[dict[str, str]] = field(default_factory=list)
    skipped: list[tuple[Action, str]] = field(default_factory=list)
    done_earlier: list[Action] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(self.deleted.values()) + self.absent

    def summary_lines(self) -> list[str]:
        parts = ", ".join(f"{self.deleted[kind]} {PLURALS[kind]}" for kind in ORDER)
        verb = "would be done" if self.dry_run else "done"
        lines = [f"Summary: {self.done} {verb} ({parts}; {self.absent} already absent), {len(self.skipped)} skipped, "
                 f"{len(self.errors)} failed, {len(self.done_earlier)} done by an earlier run (journal)"]
        extra = f" (and {self.repository_bytes} bytes of uploads in removed repositories)" if self.repository_bytes else ""
        lines.append(f"{'Would reclaim' if self.dry_run else 'Reclaimed'} {self.reclaimed} bytes{extra}")
        return lines

    def to_json(self) -> dict[str, object]:
        return {
            "dryRun": self.dry_run,
            "summary": {"deleted": {JSON_NAMES[k]: v for k, v in self.deleted.items()},
                        "alreadyAbsent": self.absent, "skipped": len(self.skipped), "failed": len(self.errors),
                        "doneEarlier": len(self.done_earlier), "reclaimedBytes": self.reclaimed,
                        "text": self.summary_lines()[0].removeprefix("Summary: ")},
            "wouldPerform" if self.dry_run else "performed": self.performed,
            "skipped": [{"key": a.key, "action": a.words(), "reason": why} for a, why in self.skipped],
            "doneEarlier": [{"key": a.key, "action": a.words()} for a in self.done_earlier],
            "errors": self.errors,
        }


def _call(deleter: StorageDeleter, action: Action) -> Deleted:
    if action.kind == MANIFEST_LINK:
        return deleter.delete_manifest_link(action.repository, action.name)
    if action.kind == LAYER_LINK:
        return deleter.delete_layer_link(action.repository, action.name)
    if action.kind == UPLOAD:
        return deleter.delete_upload(action.repository, action.name)
    if action.kind == REPOSITORY:
        return deleter.delete_repository(action.repository)
    return deleter.delete_blob(action.name)


class Replay:
    def __init__(self, deleter: StorageDeleter, journal: Journal | None, out: TextIO, err: TextIO, inventory: Inventory) -> None:
        self.deleter = deleter
        self.journal = journal
        self.out = out
        self.err = err
        self.confirm = not deleter.dry_run
        self.report = HardReport(dry_run=deleter.dry_run)
        self._linked = {r.name: set(r.manifests) | set(r.layers) for r in inventory.repositories}
        self._still_linked: dict[str, str] = {}  # blob -> the repository whose link to it could not be deleted

    def run(self, checked: Checked) -> HardReport:
        """Perform `checked.run` in order. JournalError (nothing sent after it) when an outcome
        cannot be journalled."""
        if self.confirm and self.journal is not None:
            self.journal.open()  # before the first deletion: a journal that cannot be written stops the run here
        for action, why in checked.skipped:  # what an earlier run did is done, not skipped
            if self.journal is not None and self.journal.is_done(action.key):
                self.report.done_earlier.append(action)
            else:
                self.report.skipped.append((action, why))
        for action in checked.run:
            if self.journal is not None and self.journal.is_done(action.key):
                self.report.done_earlier.append(action)
                continue
            if action.kind == BLOB and action.name in self._still_linked:
                why = f"a link to it in repository {self._still_linked[action.name]} could not be deleted"
                self.report.skipped.append((action, why))
                continue
            self._perform(action)
        for action, why in self.report.skipped:
            print(f"Skipped: {action.words()}: {why}", file=self.out)
        return self.report

    def _perform(self, action: Action) -> None:
        print(action.words(), file=self.out)
        self.out.flush()
        outcome = _call(self.deleter, action)
        # reported first: it happened, even if a signal or a journal failure comes next
        self.report.performed.append({"key": action.key, "action": action.words(), "status": outcome.status})
        if self.confirm and self.journal is not None:  # JournalError ends the run before the next deletion
            self.journal.record(action.key, outcome.status, outcome.message)
        if outcome.status == ERROR:
            words = action.words()
            print(f"error {words[0].lower()}{words[1:]}: {outcome.message}", file=self.err)
            self.report.errors.append(f"cannot delete {words.removeprefix('Deleting ')}: {outcome.message}")
            self._keep_linked(action)
            return
        if outcome.status == NOT_FOUND:
            self.report.absent += 1
            return
        self.report.deleted[action.kind] += 1
        if action.kind in (BLOB, UPLOAD):
            self.report.reclaimed += outcome.size
        elif action.kind == REPOSITORY:
            self.report.repository_bytes += outcome.size

    def _keep_linked(self, action: Action) -> None:
        if action.kind in (MANIFEST_LINK, LAYER_LINK):
            self._still_linked.setdefault(action.name, action.repository)
        elif action.kind == REPOSITORY:
            for digest in self._linked.get(action.repository, ()):
                self._still_linked.setdefault(digest, action.repository)
