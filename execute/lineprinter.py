"""The workers' lines (upstream's "Deleting …" on the run's output, error lines on stderr), written
by one thread of their own.

A worker that wrote a line itself would hold the output while the write's system call releases
the interpreter lock and while it waits to get it back from the busy workers: every other worker
with a line to print would queue behind it, once per action. Here a worker only queues the line
and goes on; the printer thread writes in order of arrival, both streams through the one queue
(so a combined log keeps a "Deleting" line before the error it caused), and flushes whenever it
has caught up, so a log shows each line within moments of its action.

An output that cannot be written (a closed pipe) stops the run as it did when workers wrote
themselves: `failure` is set, the executor checks it before each call, and leaving the printer
raises it.
"""

from __future__ import annotations

import queue
import sys
import threading
from types import TracebackType
from typing import Any, TextIO

from pruneplan.files import is_terminal

_STOP = None


class LinePrinter:
    def __init__(self, out: TextIO, err: TextIO | None = None) -> None:
        self._out = out
        self._err = err  # None: sys.stderr as it is when the line is written
        self._queue: queue.SimpleQueue[tuple[bool, str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pruneplan-lines", daemon=True)
        self._failure: OSError | None = None
        self._console: Any = None  # a rich Console drawing a live display on the terminal

    def __enter__(self) -> LinePrinter:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
        if kind is None and self._failure is not None:
            raise self._failure

    def above(self, console: Any) -> None:
        """From now on, lines bound for a terminal are printed by `console` above its live
        display (written straight to the terminal, they would land inside it). Lines bound for a
        file or a pipe are written as before."""
        self._console = console

    @property
    def failure(self) -> OSError | None:
        return self._failure

    def say(self, line: str) -> None:
        """A line of the run's output."""
        self._queue.put((False, line))

    def error(self, line: str) -> None:
        """A line on stderr."""
        self._queue.put((True, line))

    def close(self) -> None:
        """Write every queued line, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    def _run(self) -> None:
        pending: set[TextIO] = set()
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            to_stderr, line = item
            stream = (self._err or sys.stderr) if to_stderr else self._out
            if self._failure is None:
                try:
                    if self._console is not None and is_terminal(stream):
                        self._console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
                    else:
                        stream.write(line + "\n")
                        pending.add(stream)
                    if self._queue.empty():  # caught up: what was written shows now
                        self._flush(pending)
                except OSError as err:  # a closed pipe: the run goes on, the failure is raised at the end
                    self._failure = err
        if self._failure is None:
            try:
                self._flush(pending)
            except OSError as err:
                self._failure = err

    @staticmethod
    def _flush(streams: set[TextIO]) -> None:
        for stream in streams:
            stream.flush()
        streams.clear()

