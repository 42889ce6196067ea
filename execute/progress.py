"""How far a run of execute is, for a person watching it or for its log.

`RunProgress` counts the actions of each stage as the workers finish them (thread-safe, no I/O).
What shows it:

- `PlainReport`, when stderr is not a terminal (a CronJob's log, CI, `| tee`): one line on
  stderr at each stage's start and end and every `interval` seconds in between, through the
  run's line printer so that it never splits another line;
- `LiveReport`, when stderr is a terminal: a rich progress display that redraws in place.

Neither writes to stdout: the "Deleting …" lines and `--format json` stay as they are.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from pruneplan.execute.lineprinter import LinePrinter

DONE, FAILED, SKIPPED = "done", "failed", "skipped"


@dataclass(frozen=True, slots=True)
class StageView:
    """A stage's figures at one moment."""

    name: str
    total: int
    done: int
    failed: int
    skipped: int
    elapsed: float  # seconds since the stage started

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def rate(self) -> float:
        """Actions finished per second since the stage started."""
        return self.finished / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the stage's rate so far; None before the first action."""
        rate = self.rate
        if rate <= 0:
            return None
        return max(0, self.total - self.finished) / rate


def duration(seconds: float) -> str:
    """`0h18m`, `2h05m`: hours and minutes, what a watcher of a long run needs."""
    minutes = int(round(seconds / 60))
    return f"{minutes // 60}h{minutes % 60:02d}m"


def stage_line(view: StageView) -> str:
    """`execute: blobs and images 12,345/100,000 (12.3%), 3 failed, 41 skipped, 87/s, ETA 0h18m`"""
    share = 100.0 * view.finished / view.total if view.total else 100.0
    eta = "-" if view.eta is None else duration(view.eta)
    return (f"execute: {view.name} {view.finished:,}/{view.total:,} ({share:.1f}%), {view.failed:,} failed, "
            f"{view.skipped:,} skipped, {view.rate:,.0f}/s, ETA {eta}")


class RunProgress:
    """The current stage's counts; workers call `add`, a reporter reads `view`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._name = ""
        self._total = self._done = self._failed = self._skipped = 0
        self._started = 0.0
        self._listeners: list[Callable[[StageView, bool], None]] = []

    def listen(self, listener: Callable[[StageView, bool], None]) -> None:
        """`listener(view, starting)` at each stage's start (True) and end (False)."""
        self._listeners.append(listener)

    def start_stage(self, name: str, total: int, skipped: int = 0) -> None:
        """A stage of `total` actions begins; `skipped` of them the re-check already dropped."""
        with self._lock:
            self._name, self._total = name, total
            self._done = self._failed = 0
            self._skipped = skipped
            self._started = self._clock()
        view = self.view()
        for listener in self._listeners:
            listener(view, True)

    def end_stage(self) -> None:
        view = self.view()
        for listener in self._listeners:
            listener(view, False)

    def add(self, outcome: str, n: int = 1) -> None:
        with self._lock:
            if outcome == DONE:
                self._done += n
            elif outcome == FAILED:
                self._failed += n
            else:
                self._skipped += n

    def view(self) -> StageView:
        with self._lock:
            return StageView(self._name, self._total, self._done, self._failed, self._skipped,
                             self._clock() - self._started)


class Display(Protocol):
    """What the executor starts before its first stage and stops after its last."""

    def __enter__(self) -> object: ...

    def __exit__(self, *exc: object) -> None: ...


class PlainReport:
    """A line at each stage's start and end, and every `interval` seconds while one runs."""

    def __init__(self, progress: RunProgress, write: Callable[[str], None], interval: float,
                 wait: Callable[[threading.Event, float], bool] | None = None) -> None:
        self._progress = progress
        self._write = write
        self._interval = interval
        self._wait = wait or (lambda event, seconds: event.wait(seconds))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pruneplan-progress", daemon=True)
        progress.listen(self._on_stage)

    def _on_stage(self, view: StageView, starting: bool) -> None:
        self._write(stage_line(view))

    def _run(self) -> None:
        while not self._wait(self._stop, self._interval):
            view = self._progress.view()
            if view.name:  # a stage has started
                self._write(stage_line(view))

    def __enter__(self) -> PlainReport:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class LiveReport:
    """rich's progress display on a terminal (stderr): one bar per stage, redrawn in place."""

    def __init__(self, progress: RunProgress, console: object) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = progress
        self._display = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[failed]:,} failed, {task.fields[skipped]:,} skipped, {task.fields[rate]:,.0f}/s"),
            TimeRemainingColumn(), console=console,  # type: ignore[arg-type]
            transient=False, refresh_per_second=4, redirect_stdout=False, redirect_stderr=False,
        )
        self._task: object = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pruneplan-progress", daemon=True)
        progress.listen(self._on_stage)

    @property
    def console(self) -> object:
        return self._display.console

    def _on_stage(self, view: StageView, starting: bool) -> None:
        if starting:
            self._task = self._display.add_task(f"execute: {view.name}", total=view.total, failed=0, skipped=0, rate=0.0)
        self._update(view)

    def _update(self, view: StageView) -> None:
        if self._task is not None:
            self._display.update(self._task, completed=view.finished, failed=view.failed,  # type: ignore[arg-type]
                                 skipped=view.skipped, rate=view.rate)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self._update(self._progress.view())

    def __enter__(self) -> LiveReport:
        self._display.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._update(self._progress.view())
        self._display.stop()


def display(interval: float, terminal: bool) -> Callable[[RunProgress, LinePrinter], Display]:
    """How execute shows its progress: live on a terminal, else a line every `interval` seconds."""

    def show(progress: RunProgress, printer: LinePrinter) -> Display:
        if terminal:
            from rich.console import Console

            live = LiveReport(progress, Console(file=sys.stderr))
            printer.above(live.console)
            return live
        return PlainReport(progress, printer.error, interval)

    return show
