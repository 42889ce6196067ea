"""Performs the re-checked work in upstream's order, journalling every outcome (docs/rules.md,
"Order of actions").

Per stream, as upstream's pruneImageStream: GET a fresh copy of the stream (a stream that cannot
be read is left alone: no link is deleted, its images stay), layer links, the status update
(remove only the approved items from that copy, PUT /status; on 409 re-fetch and re-apply,
5 tries, never deleting a layer link twice), then manifest links only after the update succeeded.
Then per image: blobs (layers, config, manifest blob), then the Image object, unless every blob
deletion that was tried failed. A stream whose update failed keeps all its images and their
blobs. Dry run: the same lines (no GET: upstream's dry run reads nothing either), nothing sent;
with a journal, what an earlier run did is left out and counted.

A 404 is done (the object is already absent) but is no deletion: it is counted apart. A registry
that answers 404 to nearly every deletion is not the one the plan was made for: the run stops,
and the journal withdraws those 404s so a rerun against the right registry repeats them
(docs/execute.md, "Summary, already absent, skipped").
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from contextlib import nullcontext
from typing import Any, Callable, Collection, ContextManager, TextIO

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.errors import EXIT_FAILURE, PrunePlanError
from pruneplan.planmodel import Plan
from pruneplan.wording import deleting_blob, deleting_image, deleting_items, deleting_layer_link, deleting_manifest_link

from pruneplan.execute.journal import Journal, JournalError
from pruneplan.execute.lineprinter import LinePrinter
from pruneplan.execute.progress import DONE, FAILED, SKIPPED, RunProgress
from pruneplan.execute.ports import CONFLICT, DEFERRED, EARLIER, ERROR, NOT_FOUND, OK, ApiPort, Outcome, RegistryPort
from pruneplan.execute.recheck import (
    ImageWork,
    Item,
    Skip,
    StreamWork,
    key_blob,
    key_image,
    key_layer_link,
    key_manifest_link,
    key_stream,
    match_items,
    plan_actions,
    stage_one,
    stage_two,
)

STATUS_UPDATE_ATTEMPTS = 5  # client-go's DefaultRetry, as upstream
# A registry that answered 404 to at least this share of at least this many deletions of one run
# is taken for the wrong registry (an empty one, a mirror): a real one was pruned by this plan's
# own analysis moments ago, so nearly everything it lists is there.
ABSENT_CHECK_MIN = 20
ABSENT_CHECK_SHARE = 0.9
UNTRUSTED = "untrusted"  # journal status withdrawing a 404: not done
STAGE_ONE, STAGE_TWO = "image streams and links", "blobs and images"  # progress lines' names


@dataclass
class Counts:
    deletedImages: int = 0
    deletedImageStreamTagItems: int = 0
    updatedImageStreams: int = 0
    deletedLayerLinks: int = 0
    deletedManifestLinks: int = 0
    deletedBlobs: int = 0


@dataclass
class Absent:
    """Actions answered 404: done, but nothing was deleted by this run."""

    imageStreams: int = 0
    layerLinks: int = 0
    manifestLinks: int = 0
    blobs: int = 0
    images: int = 0


ABSENT_WORDS = (
    ("images", "{} image object(s)"),
    ("imageStreams", "{} image stream(s)"),
    ("layerLinks", "{} layer link(s)"),
    ("manifestLinks", "{} manifest link(s)"),
    ("blobs", "{} blob(s)"),
)


@dataclass(frozen=True, slots=True)
class Performed:
    """An action this run sent and its answer. Slotted, not a dict: a run holds one per action,
    which at a hundred thousand actions is tens of megabytes of dicts; orjson writes it as the
    JSON object `{"key", "status", "message"}` without building one."""

    # in sorted order: --format json sorts its keys, and orjson writes a dataclass's fields as declared
    key: str
    message: str
    status: str


@dataclass
class Report:
    dry_run: bool
    counts: Counts = field(default_factory=Counts)
    absent: Absent = field(default_factory=Absent)
    performed: list[Performed] = field(default_factory=list)
    would_perform: list[dict[str, str]] = field(default_factory=list)  # dry run: what --confirm would send
    done_earlier: list[dict[str, str]] = field(default_factory=list)  # the plan's actions the journal says are done
    skipped: list[Skip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deferred_blobs: int = 0

    def summary_text(self) -> str:
        """Upstream's Summary words for this run's deletions."""
        from pruneplan.analyze.plan.entries import summary_text

        return summary_text(vars(self.counts))

    def summary_line(self) -> str:
        """Upstream's words, then what upstream does not tell apart: 404s, actions the re-check
        skipped, actions an earlier run did (each only when there are any, so an ordinary run
        prints upstream's line)."""
        text = self.summary_text()
        absent = [words.format(getattr(self.absent, name)) for name, words in ABSENT_WORDS if getattr(self.absent, name)]
        if absent:
            text += f"; already absent (404): {', '.join(absent)}"
        if self.skipped:
            text += f"; skipped by the re-check: {len(self.skipped)} action(s)"
        if self.done_earlier:
            text += f"; done by an earlier run (journal): {len(self.done_earlier)} action(s)"
        return text

    def to_json(self) -> dict[str, Any]:
        summary = {
            **vars(self.counts),
            "alreadyAbsent": vars(self.absent),
            "skippedActions": len(self.skipped),
            "doneEarlier": len(self.done_earlier),
            "text": self.summary_line(),
            "blobsLeftForGarbageCollect": self.deferred_blobs,
        }
        document: dict[str, Any] = {"dryRun": self.dry_run, "summary": summary}
        if self.dry_run:
            document["wouldPerform"] = self.would_perform
        else:
            document["performed"] = self.performed
        return {
            **document,
            "doneEarlier": self.done_earlier,
            "skipped": [{"key": s.key, "action": s.action, "reason": s.reason} for s in self.skipped],
            "errors": self.errors,
        }


class MostlyAbsent(PrunePlanError):
    """The registry answered 404 to nearly every deletion: the run stops (exit 1)."""

    def __init__(self, registry: str, absent: int, sent: int) -> None:
        super().__init__(
            f"the registry at {registry} answered 404 (not found) to {absent} of the {sent} deletions sent to it: is "
            "this the cluster's integrated registry? Stopped before anything else was sent, and the journal does not "
            "count those 404s as done; give the right address with --registry-url, or add --allow-mostly-absent if "
            "something else already pruned this registry",
            EXIT_FAILURE,
        )


def remove_items(stream: dict[str, Any], removals: list[Item], removed_tags: Collection[str]) -> int:
    """Drop the approved items from a freshly fetched stream, and the tags left empty that the
    plan says the update removes (`removed_tags`; another empty tag stays: nothing changes that
    the signed plan does not say); return how many items."""
    tags = (stream.get("status") or {}).get("tags") or []
    shaped = [
        (tag.get("tag"), [(item.get("image"), _created(item.get("created"))) for item in tag.get("items") or []])
        for tag in tags
    ]
    positions = match_items(shaped, Counter(removals))
    kept_tags = []
    for t, tag in enumerate(tags):
        items = [item for i, item in enumerate(tag.get("items") or []) if (t, i) not in positions]
        if items or tag.get("tag") not in removed_tags:  # an empty tag the plan does not drop stays
            kept_tags.append({**tag, "items": items} if tag.get("items") else tag)
    stream.setdefault("status", {})["tags"] = kept_tags
    return len(positions)


def longest_first(streams: list[StreamWork]) -> list[StreamWork]:
    """A stream's requests are one worker's sequence (its links around its update): the streams
    with the most start first, so that a long one never starts last while the other workers
    idle (longest-processing-time first). Ties keep the plan's order."""
    return sorted(streams, key=lambda work: len(work.layer_links) + len(work.manifest_links), reverse=True)


def _created(value: Any) -> str | None:
    from pruneplan.timefmt import format_time, parse_time

    try:
        return format_time(parse_time(value))
    except ValueError:
        return None


class Executor:
    def __init__(
        self,
        api: ApiPort | None,
        registry: RegistryPort | None,
        journal: Journal | None,
        out: TextIO,
        *,
        confirm: bool,
        prune_registry: bool,
        workers: int = 5,
        on_action: Callable[[str], None] | None = None,
        registry_url: str = "",
        absent_check: bool = True,
        progress: RunProgress | None = None,
        show_progress: Callable[[RunProgress, LinePrinter], ContextManager[object]] | None = None,
    ) -> None:
        self.api = api
        self.registry = registry
        self.journal = journal
        self.out = out
        self.confirm = confirm
        self.prune_registry = prune_registry
        self.workers = max(1, workers)
        self.report = Report(dry_run=not confirm)
        self._lock = threading.Lock()
        self._on_action = on_action  # test hook: called before each real call
        self._stopped: PrunePlanError | None = None  # set when an outcome could not be journalled, or on MostlyAbsent
        self.registry_url = registry_url or "the registry"
        self.absent_check = absent_check
        self._registry_sent = 0  # registry deletions answered in this run
        self._registry_absent: list[str] = []  # the keys of those answered 404
        self._halt: MostlyAbsent | None = None
        self._printer = LinePrinter(out)
        self.progress = progress or RunProgress()
        # how the progress is shown (execute/progress.py); None: it is only counted
        self._show_progress = show_progress

    # -- bookkeeping -------------------------------------------------------------------------
    def _error(self, line: str | None, error: str) -> None:
        """Print upstream's stderr line for a failed call (None: upstream prints none) and keep
        the error for the final report."""
        if line is not None:
            self._printer.error(line)
        with self._lock:
            self.report.errors.append(error)

    def _count(self, counter: str, n: int = 1, outcome: Outcome | None = None, absent: str | None = None) -> None:
        """Count a done action: a deletion, or (a 404, `absent` given) an object already absent."""
        if outcome is not None and outcome.status == EARLIER:
            return  # the summary counts this run's work only
        with self._lock:
            if outcome is not None and outcome.status == NOT_FOUND and absent is not None:
                setattr(self.report.absent, absent, getattr(self.report.absent, absent) + 1)
            else:
                setattr(self.report.counts, counter, getattr(self.report.counts, counter) + n)

    def _registry_answer(self, key: str, outcome: Outcome) -> None:
        """Tally a registry deletion's answer; stop the run when nearly all were 404."""
        if not self.confirm or outcome.status in (EARLIER, DEFERRED):
            return
        with self._lock:
            self._registry_sent += 1
            if outcome.status == NOT_FOUND:
                self._registry_absent.append(key)
            sent, absent = self._registry_sent, len(self._registry_absent)
            if (self.absent_check and self._halt is None and sent >= ABSENT_CHECK_MIN
                    and absent >= ABSENT_CHECK_SHARE * sent):
                self._halt = MostlyAbsent(self.registry_url, absent, sent)
                self._stopped = self._stopped or self._halt

    def _withdraw_absent(self) -> None:
        """After MostlyAbsent: the 404s of this run are not done (a rerun repeats them)."""
        if self.journal is None:
            return
        for key in self._registry_absent:
            self.journal.record(key, UNTRUSTED, "404 from a registry that answered 404 to nearly every deletion")

    def _done(self, key: str) -> bool:
        return self.journal is not None and self.journal.is_done(key)

    def _perform(self, key: str, line: str, call: Callable[[], Outcome]) -> Outcome:
        """Print upstream's line, then (confirm mode) make the call and journal its outcome. Once
        an outcome could not be journalled, no call is made any more: JournalError ends the run."""
        if self._done(key):
            self.progress.add(DONE)
            return Outcome(EARLIER, "done in an earlier run")
        if self._stopped is not None:
            raise self._stopped
        if self.journal is not None and self.journal.failed is not None:
            # another worker's record failed (a shared flush): stop before sending, not after
            raise self.journal.failed
        if self._printer.failure is not None:  # the output is gone (a closed pipe): stop as well
            raise self._printer.failure
        self._printer.say(line)
        if not self.confirm:
            with self._lock:
                self.report.would_perform.append({"key": key, "action": line})
            self.progress.add(DONE)
            return Outcome(OK, "dry run")
        if self._on_action:
            self._on_action(key)
        outcome = call()
        self._record(key, outcome)
        self.progress.add(DONE if outcome.done or outcome.status == DEFERRED else FAILED)
        return outcome

    # Calls to the cluster are made by _perform in confirm mode only, and execute's command gives
    # the executor an API client whenever it confirms (a registry client when it also prunes it).
    def _api(self) -> ApiPort:
        assert self.api is not None, "an API call outside confirm mode"
        return self.api

    def _registry(self) -> RegistryPort:
        assert self.registry is not None, "a registry call outside confirm mode or with --prune-registry=false"
        return self.registry

    def _record(self, key: str, outcome: Outcome) -> None:
        """Journal an action's outcome and list it in the report. The journal returns once the
        outcome is on disk, in a flush shared with the other workers' outcomes of the moment."""
        if self.journal is not None and outcome.status != DEFERRED:
            try:
                self.journal.record(key, outcome.status, outcome.message, outcome.attempts)
            except JournalError as err:
                self._stopped = err
                raise
        with self._lock:
            self.report.performed.append(Performed(key=key, message=outcome.message, status=outcome.status))

    # -- stage 1 -----------------------------------------------------------------------------
    def _get_stream(self, work: StreamWork) -> tuple[Outcome, dict[str, Any] | None]:
        """A fresh copy of the stream, or why there is none (NOT_FOUND: it is gone)."""
        got, stream = self._api().get_stream(work.namespace, work.name)
        if got.status == NOT_FOUND:
            return Outcome(NOT_FOUND, "image stream is gone", got.attempts), None
        if not got.done or stream is None:
            return Outcome(ERROR, got.message or "the API server returned no image stream", got.attempts), None
        return got, stream

    def _update_stream(self, work: StreamWork, stream: dict[str, Any] | None, failed_get: list[bool]) -> Outcome:
        """Remove the approved items from `stream` (fetched already) and PUT its status; on 409
        fetch it again and re-apply, as upstream's retry.RetryOnConflict. `failed_get` is set
        when a re-fetch failed (upstream prints no update error line then)."""
        last = Outcome(ERROR, "no attempt")
        for attempt in range(1, STATUS_UPDATE_ATTEMPTS + 1):
            if stream is None:
                got, stream = self._get_stream(work)
                if stream is None:
                    got.attempts = attempt
                    failed_get.append(got.status != NOT_FOUND)
                    return got
            if remove_items(stream, work.removals, work.removed_tags) == 0:
                return Outcome(OK, "items already removed", attempt)
            last = self._api().update_stream_status(stream)
            last.attempts = attempt
            if last.status != CONFLICT:
                return last
            stream = None
        return Outcome(ERROR, f"conflicts on every one of {STATUS_UPDATE_ATTEMPTS} attempts: {last.message}", last.attempts)

    def _links(self, repo: str, digests: list[str], *, manifest: bool) -> None:
        """Delete a repository's layer links or manifest links, in upstream's wording."""
        for digest in digests:
            if manifest:
                key, line = key_manifest_link(repo, digest), deleting_manifest_link(digest, repo)
                call = lambda d=digest: self._registry().delete_manifest_link(repo, d)  # noqa: E731
            else:
                key, line = key_layer_link(repo, digest), deleting_layer_link(digest, repo)
                call = lambda d=digest: self._registry().delete_layer_link(repo, d)  # noqa: E731
            outcome = self._perform(key, line, call)
            self._registry_answer(key, outcome)
            if outcome.done:
                self._count("deletedManifestLinks" if manifest else "deletedLayerLinks", outcome=outcome,
                            absent="manifestLinks" if manifest else "layerLinks")
            elif manifest:
                self._error(f"error deleting manifest link {digest} from repository {repo}: {outcome.message}",
                            f"imagestream {repo}: failed to delete manifest link {digest}: {outcome.message}")
            else:
                self._error(f"error deleting repository {repo} layer link {digest} from the registry: {outcome.message}",
                            f"imagestream {repo}: failed to delete layer link {digest}: {outcome.message}")

    def _stream(self, work: StreamWork) -> bool:
        """Run one stream's actions; return True when its update did not succeed."""
        repo = work.repository
        key = key_stream(work.namespace, work.name)
        stream: dict[str, Any] | None = None
        if work.removals and self.confirm and not self._done(key):
            # Upstream GETs the stream before it deletes anything for it; a GET that fails leaves
            # the stream alone (no link deleted, its images stay) and prints no line of its own:
            # the error is only returned (`imagestream NS/NAME: <err>`).
            got, stream = self._get_stream(work)
            if stream is None:
                self._record(key, got)
                self.progress.add(DONE if got.status == NOT_FOUND else FAILED)
                self.progress.add(SKIPPED, self._link_actions(work))  # a stream left alone: no link is deleted
                if got.status == NOT_FOUND:
                    self._count("updatedImageStreams", outcome=got, absent="imageStreams")
                else:
                    self._error(None, f"imagestream {repo}: {got.message}")
                return True
        if self.prune_registry:
            self._links(repo, work.layer_links, manifest=False)
        failed = False
        if work.removals:
            failed_get: list[bool] = []
            outcome = self._perform(
                key,
                deleting_items(len(work.removals), repo),
                lambda: self._update_stream(work, stream, failed_get),
            )
            if outcome.status in (OK, EARLIER):
                self._count("updatedImageStreams", outcome=outcome)
                self._count("deletedImageStreamTagItems", len(work.removals), outcome=outcome)
            else:
                failed = True
                if outcome.status == NOT_FOUND:  # gone meanwhile: its images stay, as for a failed update
                    self._count("updatedImageStreams", outcome=outcome, absent="imageStreams")
                else:
                    line = None if any(failed_get) else (
                        f"error updating image stream {repo} to remove image references: {outcome.message}")
                    self._error(line, f"imagestream {repo}: {outcome.message}")
        if failed and self.prune_registry:
            self.progress.add(SKIPPED, len(work.manifest_links))  # kept: the update did not happen
        if failed or not self.prune_registry:
            return failed
        self._links(repo, work.manifest_links, manifest=True)
        return False

    def _link_actions(self, work: StreamWork) -> int:
        return len(work.layer_links) + len(work.manifest_links) if self.prune_registry else 0

    def _stream_actions(self, work: StreamWork) -> int:
        return (1 if work.removals else 0) + self._link_actions(work)

    def _image_actions(self, work: ImageWork) -> int:
        return 1 + (len(work.blobs) if self.prune_registry else 0)

    # -- stage 2 -----------------------------------------------------------------------------
    def _image(self, work: ImageWork) -> None:
        deleted = failures = 0
        if self.prune_registry:
            for digest in work.blobs:
                delete = lambda d=digest: self._registry().delete_blob(d)  # noqa: E731
                outcome = self._perform(key_blob(digest), deleting_blob(digest), delete)
                self._registry_answer(key_blob(digest), outcome)
                if outcome.status == DEFERRED:
                    with self._lock:
                        self.report.deferred_blobs += 1
                elif outcome.done:
                    deleted += 1
                    self._count("deletedBlobs", outcome=outcome, absent="blobs")
                else:
                    failures += 1
                    kind = "manifest blob" if digest == work.name else "blob"
                    self._error(f"error deleting blob {digest} from the registry: {outcome.message}",
                                f"image {work.name}: failed to delete {kind} {digest}: {outcome.message}")
        if deleted == 0 and failures > 0:
            self.progress.add(SKIPPED)
            return  # upstream keeps the Image object when every blob deletion it tried failed
        outcome = self._perform(key_image(work.name), deleting_image(work.name), lambda: self._api().delete_image(work.name))
        if outcome.done:
            self._count("deletedImages", outcome=outcome, absent="images")
        else:
            self._error(f"error deleting image {work.name} from server: {outcome.message}",
                        f"image {work.name}: failed to delete image {work.name}: {outcome.message}")

    # -- the whole run -----------------------------------------------------------------------
    def _shown_progress(self) -> ContextManager[object]:
        if self._show_progress is None:
            return nullcontext()
        return self._show_progress(self.progress, self._printer)

    def run(self, plan: Plan, fresh: Analysis) -> Report:
        """Perform the plan's re-checked actions. In confirm mode the journal is opened first: one
        that cannot be written stops the run before anything is sent (JournalError), and so does
        an outcome that cannot be journalled, before the next call."""
        if self.confirm and self.journal is not None:
            self.journal.open()
        if self.journal is not None:  # before this run adds to it: what earlier runs did
            self.report.done_earlier = [{"key": key, "action": action} for key, action in plan_actions(plan)
                                        if self.journal.is_done(key)]
        try:
            with self._printer, self._shown_progress():
                first = stage_one(plan, fresh)
                self.report.skipped += first.skipped
                streams = longest_first(first.streams) if self.workers > 1 else first.streams
                total = sum(map(self._stream_actions, streams)) + len(first.skipped)
                self.progress.start_stage(STAGE_ONE, total, skipped=len(first.skipped))
                with ThreadPoolExecutor(self.workers) as pool:
                    results = list(pool.map(self._stream, streams))
                self.progress.end_stage()
                failed = {w.repository for w, bad in zip(streams, results) if bad}
                images, skipped = stage_two(plan, fresh, first.streams, failed)
                self.report.skipped += skipped
                self.progress.start_stage(STAGE_TWO, sum(map(self._image_actions, images)) + len(skipped), skipped=len(skipped))
                with ThreadPoolExecutor(self.workers) as pool:
                    list(pool.map(self._image, images))
                self.progress.end_stage()
        except PrunePlanError:
            if self._halt is None:
                raise
            self._withdraw_absent()  # every worker has stopped: no record races these
            raise self._halt from None
        return self.report
