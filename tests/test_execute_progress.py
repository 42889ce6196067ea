"""execute's progress: a line on stderr at each stage's start and end and every interval when
stderr is not a terminal, a live display when it is, and stdout untouched either way."""

from __future__ import annotations

import re
import threading

from execute_env import load
from ptyrun import ANSI, run_on_terminal
from pruneplan.execute.progress import DONE, FAILED, SKIPPED, PlainReport, RunProgress, StageView, duration, stage_line

NO_REGISTRY = "--prune-registry=false"
LINE = re.compile(r"^execute: (?P<stage>.+?) (?P<finished>[\d,]+)/(?P<total>[\d,]+) \((?P<share>[\d.]+)%\), "
                  r"(?P<failed>[\d,]+) failed, (?P<skipped>[\d,]+) skipped, [\d,]+/s, ETA (\d+h\d\dm|-)$")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- the line --------------------------------------------------------------------------------

def test_the_progress_line_gives_done_total_share_failures_skips_rate_and_eta():
    view = StageView("blobs and images", total=100_000, done=12_000, failed=3, skipped=342, elapsed=141.9)
    assert stage_line(view) == "execute: blobs and images 12,345/100,000 (12.3%), 3 failed, 342 skipped, 87/s, ETA 0h17m"


def test_before_the_first_action_the_eta_is_unknown():
    assert stage_line(StageView("blobs and images", 10, 0, 0, 0, 0.0)).endswith("0/s, ETA -")


def test_durations_read_in_hours_and_minutes():
    assert [duration(s) for s in (0, 59, 61, 3599, 3600, 7530)] == ["0h00m", "0h01m", "0h01m", "1h00m", "1h00m", "2h06m"]


# --- the plain report (not a terminal) ------------------------------------------------------------

def test_a_line_is_printed_at_each_stage_start_and_end_and_at_every_interval_in_between():
    clock = Clock()
    progress = RunProgress(clock)
    lines: list[str] = []
    ticks = threading.Semaphore(0)
    ticked = threading.Semaphore(0)
    intervals: list[float] = []

    def wait(stop: threading.Event, seconds: float) -> bool:
        """The fake clock: an interval passes when the test says so."""
        intervals.append(seconds)
        ticked.release()
        ticks.acquire()
        return stop.is_set()

    report = PlainReport(progress, lines.append, 30.0, wait)
    with report:
        ticked.acquire()  # the reporter waits for its first interval
        progress.start_stage("image streams and links", 10, skipped=1)
        progress.add(DONE, 4)
        progress.add(FAILED)
        clock.now = 30.0
        ticks.release()
        ticked.acquire()  # one interval passed: one line
        progress.add(DONE, 4)
        progress.end_stage()
        ticks.release()  # the run ends before the next interval
        report._stop.set()  # noqa: SLF001 (what leaving the report does; set first so the tick sees it)
    assert lines == [
        "execute: image streams and links 1/10 (10.0%), 0 failed, 1 skipped, 0/s, ETA -",
        "execute: image streams and links 6/10 (60.0%), 1 failed, 1 skipped, 0/s, ETA 0h00m",
        "execute: image streams and links 10/10 (100.0%), 1 failed, 1 skipped, 0/s, ETA 0h00m",
    ]
    assert set(intervals) == {30.0}


def test_no_interval_line_is_printed_before_the_first_stage_starts():
    progress = RunProgress(Clock())
    lines: list[str] = []
    calls = iter([False, False, True])
    with PlainReport(progress, lines.append, 5.0, lambda stop, seconds: next(calls)):
        pass
    assert lines == []


def test_counts_from_many_workers_add_up():
    progress = RunProgress(Clock())
    progress.start_stage("blobs and images", 8000)

    def work() -> None:
        for outcome in (DONE, FAILED, SKIPPED, DONE) * 250:
            progress.add(outcome)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    view = progress.view()
    assert (view.done, view.failed, view.skipped, view.finished) == (4000, 2000, 2000, 8000)


# --- through the CLI ------------------------------------------------------------------------------

def progress_lines(err: str) -> list[re.Match[str]]:
    return [m for m in (LINE.match(line) for line in err.splitlines()) if m]


def test_a_run_logs_each_stage_from_zero_to_its_planned_actions_on_stderr_only(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    lines = progress_lines(result.err)
    stages = [(m["stage"], m["finished"], m["total"]) for m in lines]
    updates, images = len(doc["imageStreamUpdates"]), len(doc["imageDeletions"])
    assert stages[0] == ("image streams and links", "0", str(updates))
    assert ("image streams and links", str(updates), str(updates)) in stages
    assert stages[-1] == ("blobs and images", f"{images:,}", f"{images:,}")
    assert "execute:" not in result.out


def test_a_run_with_registry_pruning_counts_links_blobs_and_images(env, tmp_path):
    plan = env.plan()
    doc = load(plan)
    result = env.execute(plan)  # a dry run: the same path, nothing sent
    assert result.code == 0, result.err
    totals = {m["stage"]: int(m["total"].replace(",", "")) for m in progress_lines(result.err)}
    assert totals == {
        "image streams and links": len(doc["imageStreamUpdates"]) + len(doc["layerLinkDeletions"]) + len(doc["manifestLinkDeletions"]),
        "blobs and images": len(doc["blobDeletions"]) + len(doc["imageDeletions"]),
    }
    ends = [m for m in progress_lines(result.err) if m["finished"] == m["total"]]
    assert {m["stage"] for m in ends} == set(totals)


# --- on a terminal --------------------------------------------------------------------------------

def run_execute_on_terminal(env, plan, *flags: str, stdout_on_terminal: bool) -> tuple[str, str]:
    out, shown = run_on_terminal(["execute", str(plan), "--key", env.pub, "--kubeconfig", env.kubeconfig, *flags],
                                 stdout_on_terminal=stdout_on_terminal)
    return out.decode(), shown


def test_with_stderr_on_a_terminal_stdout_is_exactly_what_it_is_without(env):
    plan = env.plan()
    plain = env.execute_subprocess(plan, "--num-workers", "1")
    assert plain.returncode == 0, plain.stderr
    out, terminal = run_execute_on_terminal(env, plan, "--num-workers", "1", stdout_on_terminal=False)
    assert out == plain.stdout
    assert "Deleting" in out
    text = ANSI.sub("", terminal)
    assert "execute: blobs and images" in text  # the live display
    assert not progress_lines(text)  # and not the log's lines


def test_with_both_streams_on_one_terminal_every_line_of_the_run_appears_whole(env):
    plan = env.plan()
    plain = env.execute_subprocess(plan, "--num-workers", "4")
    _, terminal = run_execute_on_terminal(env, plan, "--num-workers", "4", stdout_on_terminal=True)
    shown = {line.strip() for line in ANSI.sub("\n", terminal).splitlines()}
    for line in plain.stdout.splitlines():
        assert line.strip() in shown, line
