"""`execute --metrics-file FILE`: the run's outcome in Prometheus' text format (version 0.0.4),
for node_exporter's textfile collector or any scraper of a file (docs/execute.md, "Metrics").

The file describes one run, and the next run replaces it: every value is a gauge of that run
(a count of this run's actions is no counter that grows across runs, so no name ends in
`_total`). Every series is written on every run, 0 when nothing happened, because an alert on a
series that is absent fires late or never. Rendering is pure; `write_metrics` replaces the file
atomically (a temporary sibling, fsynced, renamed), so a scraper reads the old file or the new one.
A soft plan's run (execute/runner.py's Report) and a hard plan's (execute/hard/replay.py's
HardReport) feed the same RunFacts and the same series; only where their actions come from differs.
"""

from __future__ import annotations

import math
import os
import re
import stat
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator

from pruneplan.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_IO, Interrupted, PrunePlanError
from pruneplan.files import write_file
from pruneplan.hardplan import HardPrunePlan
from pruneplan.planmodel import Plan
from pruneplan.timefmt import parse_time

from pruneplan.execute.hard.replay import HardReport
from pruneplan.execute.ports import DEFERRED, EARLIER, NOT_FOUND, OK

if TYPE_CHECKING:  # the runner imports the analysis: not loaded for a type
    from pruneplan.execute.runner import Report

PREFIX = "pruneplan_execute_"
# The journal key's first word (execute/recheck.py key_*) and the kind label it gets.
KINDS = {"stream": "imagestream", "layerlink": "layerlink", "manifestlink": "manifestlink", "blob": "blob", "image": "image"}
# A hard plan's journal keys are `hard <kind> …` (execute/hard/recheck.py): a link or a blob is
# the same thing deleted either way, so it shares its label; repositories and uploads are new.
HARD_KINDS = {"manifestlink": "manifestlink", "layerlink": "layerlink", "upload": "upload",
              "repository": "repository", "blob": "blob"}
KIND_LABELS = (*KINDS.values(), "repository", "upload")
OUTCOMES = ("done", "already_absent", "failed", "skipped", "done_earlier", "deferred", "dry_run")
LAST_SUCCESS = PREFIX + "last_success_timestamp_seconds"
PREVIOUS_LIMIT = 1 << 20  # a metrics file larger than this is not ours: its last success is not read


@dataclass
class RunFacts:
    """What the run knew when it ended: filled in as the run goes, so a run that stops early
    still says when it started, which plan it read (if it got that far) and what it did."""

    started: float
    dry_run: bool
    plan: Plan | HardPrunePlan | None = None
    report: Report | HardReport | None = None  # once the executor (or the hard replay) exists: its lists grow as it runs
    ended: float = 0.0
    exit_code: int = 0
    last_success: float = 0.0  # the previous file's, unless this run succeeds


def kind_of(key: str) -> str | None:
    words = key.split(" ", 2)
    if words[0] == "hard":
        return HARD_KINDS.get(words[1]) if len(words) > 1 else None
    return KINDS.get(words[0])


def _soft_outcomes(report: Report) -> Iterator[tuple[str, str]]:
    """(journal key, outcome) of each of a soft run's actions."""
    for entry in list(report.performed):  # a copy: on an interrupted run workers may still append
        status = entry.status
        yield entry.key, {OK: "done", NOT_FOUND: "already_absent", DEFERRED: "deferred", EARLIER: "done_earlier"}.get(status, "failed")
    for would in list(report.would_perform):
        yield would["key"], "dry_run"
    for skip in list(report.skipped):
        yield skip.key, "skipped"
    for earlier in list(report.done_earlier):
        yield earlier["key"], "done_earlier"


def _hard_outcomes(report: HardReport) -> Iterator[tuple[str, str]]:
    """(journal key, outcome) of each of a hard run's actions, as its Summary counts them. A dry
    run goes through the same checks with a deleter that removes nothing: what it would delete
    is `dry_run`, what it found gone or could not delete is `already_absent` or `failed`."""
    done = "dry_run" if report.dry_run else "done"
    for entry in list(report.performed):
        status = entry["status"]
        yield entry["key"], done if status == OK else "already_absent" if status == NOT_FOUND else "failed"
    for action, _ in list(report.skipped):  # by the re-check, or a blob a link still names
        yield action.key, "skipped"
    for action in list(report.done_earlier):
        yield action.key, "done_earlier"


def action_counts(report: Report | HardReport | None) -> dict[tuple[str, str], int]:
    """Every (kind, outcome) pair with this run's count, 0 included."""
    counts = {(kind, outcome): 0 for kind in KIND_LABELS for outcome in OUTCOMES}
    if report is None:
        return counts
    outcomes = _hard_outcomes(report) if isinstance(report, HardReport) else _soft_outcomes(report)
    for key, outcome in outcomes:
        kind = kind_of(key)
        if kind is not None:
            counts[kind, outcome] += 1
    return counts


def reclaimed_bytes(plan: Plan | HardPrunePlan | None, report: Report | HardReport | None) -> int:
    """A soft run: the plan's sizes of the blobs it deleted (a 404 reclaimed nothing; a size the
    plan does not know counts 0). A hard run: the bytes its Summary says it reclaimed, measured in
    the storage (the blobs and listed uploads it deleted). A dry run reclaimed nothing."""
    if report is None:
        return 0
    if isinstance(report, HardReport):
        return 0 if report.dry_run else report.reclaimed
    if not isinstance(plan, Plan):
        return 0
    deleted = {entry.key for entry in list(report.performed) if entry.status == OK}
    return sum(blob.size or 0 for blob in plan.blob_deletions if f"blob {blob.digest}" in deleted)


def _plan_time(plan: Plan | HardPrunePlan | None, which: str) -> float:
    if plan is None:
        return 0.0
    try:
        return parse_time(getattr(plan.metadata, which))
    except ValueError:
        return 0.0


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)


def _family(name: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} gauge"]
    for labels, value in samples:
        shown = ",".join(f'{key}="{escape_label(val)}"' for key, val in labels.items())
        lines.append(f"{PREFIX}{name}{{{shown}}} {_number(value)}" if shown else f"{PREFIX}{name} {_number(value)}")
    return lines


def render(facts: RunFacts) -> str:
    """The text of the metrics file (ends with a newline, as the format requires)."""
    success = facts.exit_code == 0
    counts = action_counts(facts.report)
    last_success = facts.ended if success and not facts.dry_run else facts.last_success
    families = [
        _family("actions", "Actions of this run by kind and outcome (dry_run: what --confirm would do).",
                (({"kind": kind, "outcome": outcome}, n) for (kind, outcome), n in counts.items())),
        _family("reclaimed_bytes", "Bytes this run deleted: a plan's blobs as the plan gives their sizes; "
                "a hard plan's blobs and uploads as measured in the storage.",
                [({}, reclaimed_bytes(facts.plan, facts.report))]),
        _family("start_timestamp_seconds", "When this run started (unix seconds).", [({}, facts.started)]),
        _family("end_timestamp_seconds", "When this run ended (unix seconds).", [({}, facts.ended)]),
        _family("duration_seconds", "How long this run took.", [({}, max(0.0, facts.ended - facts.started))]),
        _family("plan_created_timestamp_seconds", "When the plan was made (unix seconds; 0: the plan was not read).",
                [({}, _plan_time(facts.plan, "created_at"))]),
        _family("plan_expiry_timestamp_seconds", "When the plan expires (unix seconds; 0: the plan was not read).",
                [({}, _plan_time(facts.plan, "not_after"))]),
        _family("dry_run", "1 when this run was a dry run (no --confirm), else 0.", [({}, facts.dry_run)]),
        _family("success", "1 when this run exited 0, else 0.", [({}, success)]),
        _family("exit_code", "This run's exit status.", [({}, facts.exit_code)]),
        _family("last_success_timestamp_seconds",
                "When the last confirmed run that exited 0 ended (unix seconds; kept from the previous file; 0: never).",
                [({}, last_success)]),
    ]
    return "".join(f"{line}\n" for family in families for line in family)


_LAST_SUCCESS_LINE = re.compile(rf"^{LAST_SUCCESS} ([0-9.e+]+)$", re.MULTILINE)


def previous_last_success(path: str) -> float:
    """The last success the file at `path` records, or 0 (no file, or not one of ours): carried
    over so that an alert on "no successful run for N days" survives failed runs in between."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return 0.0
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > PREVIOUS_LIMIT:
            return 0.0  # a device or FIFO is written into, never read
        text = os.read(fd, PREVIOUS_LIMIT).decode("utf-8", "replace")
    except OSError:
        return 0.0
    finally:
        os.close(fd)
    found = _LAST_SUCCESS_LINE.search(text)
    try:
        return float(found.group(1)) if found else 0.0
    except ValueError:
        return 0.0


def exit_status(err: BaseException) -> int:
    """The status pruneplan's CLI exits with for `err` raised by a command (pruneplan/cli.py)."""
    if isinstance(err, (PrunePlanError, Interrupted)):
        return err.exit_code
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(err, OSError) and not isinstance(err, BrokenPipeError):
        return EXIT_IO
    return EXIT_FAILURE


def refused_plan(err: BaseException) -> Plan | HardPrunePlan | None:
    """The plan a refusal read and verified before refusing it (an expired plan), else None."""
    from pruneplan.signing import PlanExpired

    if isinstance(err, PlanExpired):
        return err.verified.plan
    return None


def write_metrics(path: str, facts: RunFacts) -> None:
    """Replace `path` with the metrics of `facts`; PrunePlanError (or OSError) when it cannot."""
    write_file(path, render(facts).encode(), 0o644, replace=True)


def write_metrics_or_warn(path: str, facts: RunFacts) -> None:
    """Write the metrics; a failure is a warning, so that it neither hides the run's own error
    nor changes its exit status."""
    try:
        write_metrics(path, facts)
    except Exception as err:  # whatever it is, the run's own outcome comes first
        if isinstance(err, PrunePlanError):
            reason = err.message
        elif isinstance(err, OSError):
            reason = f"cannot write {path}: {err.strerror or err}"
        else:
            reason = f"{path}: {err}"
        print(f"warning: metrics file not written: {reason}", file=sys.stderr)
