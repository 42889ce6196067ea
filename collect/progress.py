"""Per-kind progress of collect's lists, on stderr.

On a terminal, a live display (rich) with a row per kind: objects and pages so far, and a mark
once the kind is complete. Elsewhere (a CronJob's log, CI, `| tee`), a line every `interval`
seconds while lists run: `collect: 5 of 16 kinds listed, 23,456 objects; listing pods (12,000
objects, 24 pages), ...`; a collect shorter than the interval prints none (its closing `wrote`
line already gives every kind's count). Called from every list's thread at once: one lock keeps
the figures and each write whole.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, TextIO

from pruneplan.files import is_terminal
from pruneplan.kinds import KINDS

DEFAULT_INTERVAL = 30.0  # seconds between log lines when stderr is not a terminal


def objects(count: int) -> str:
    return f"{count:,} object{'' if count == 1 else 's'}"


def pages(count: int) -> str:
    return f"{count:,} page{'' if count == 1 else 's'}"


@dataclass
class _Kind:
    objects: int = 0
    pages: int = 0
    done: bool = False
    note: str = ""



class Progress:
    def __init__(self, stream: TextIO, terminal: bool | None = None, *, interval: float = DEFAULT_INTERVAL,
                 label: str = "collect", clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self.terminal = is_terminal(stream) if terminal is None else terminal
        self._interval = interval
        self._label = label
        self._clock = clock
        self._lock = threading.Lock()
        self._kinds: dict[str, _Kind] = {}
        self._expected = len(KINDS)  # the kinds the collection lists (expect())
        self._next_line = clock() + interval
        self._live: Any = None  # rich's Progress, while the display runs
        self._rows: dict[str, Any] = {}  # kind -> its row (a rich task id)

    # -- the display's lifetime (the collector holds it open while it lists) ------------------
    def __enter__(self) -> Progress:
        if self.terminal:
            from rich.console import Console
            from rich.progress import Progress as Live
            from rich.progress import SpinnerColumn, TextColumn

            self._live = Live(SpinnerColumn(finished_text="✓"), TextColumn("{task.description}"),
                              TextColumn("{task.fields[figures]}"), console=Console(file=self._stream),
                              refresh_per_second=4)
            self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- what the lists report ------------------------------------------------------------------
    def expect(self, kinds: int) -> None:
        """The collection lists `kinds` kinds, not every one."""
        self._expected = kinds

    def update(self, resource: str, count: int) -> None:
        """A page of `resource` was read; `count` objects so far."""
        with self._lock:
            kind = self._kinds.setdefault(resource, _Kind())
            kind.objects, kind.pages = count, kind.pages + 1
            self._show(resource, kind)
            line = self._due_line()
        if line:
            self._write(line)

    def done(self, resource: str, count: int, note: str = "") -> None:
        with self._lock:
            kind = self._kinds.setdefault(resource, _Kind())
            kind.objects, kind.done, kind.note = count, True, note
            self._show(resource, kind)

    def message(self, text: str) -> None:
        """A text that must be seen whatever the display (warnings): above a live display."""
        if self._live is not None:
            self._live.console.print(text, end="", markup=False, highlight=False, emoji=False, soft_wrap=True)
        else:
            self._write(text, newline=False)

    # -- output ---------------------------------------------------------------------------------
    def _show(self, resource: str, kind: _Kind) -> None:
        if self._live is None:
            return
        figures = f"{objects(kind.objects)}, {pages(kind.pages)}" + (f" ({kind.note})" if kind.note else "")
        row = self._rows.get(resource)
        if row is None:
            row = self._rows[resource] = self._live.add_task(resource, total=1, figures=figures)
        self._live.update(row, figures=figures, completed=1 if kind.done else 0)

    def _due_line(self) -> str | None:
        """The log line, when stderr is not a terminal and an interval has passed (lock held)."""
        if self.terminal:
            return None
        now = self._clock()
        if now < self._next_line:
            return None
        self._next_line = now + self._interval
        return self.line()

    def line(self) -> str:
        done = [k for k in self._kinds.values() if k.done]
        listing = [f"{name} ({objects(k.objects)}, {pages(k.pages)})" for name, k in self._kinds.items() if not k.done]
        total = sum(k.objects for k in self._kinds.values())
        text = f"{self._label}: {len(done)} of {self._expected} kinds listed, {objects(total)}"
        return text + (f"; listing {', '.join(listing)}" if listing else "")

    def _write(self, text: str, newline: bool = True) -> None:
        self._stream.write(text + ("\n" if newline else ""))
        self._stream.flush()
