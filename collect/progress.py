"""Per-kind progress on stderr, only when stderr is a terminal (scripts and CI stay quiet).

Called from every list's thread at once: one lock keeps each write whole."""

from __future__ import annotations

import threading
import time
from typing import TextIO

REFRESH_SECONDS = 0.2


def objects(count: int) -> str:
    return f"{count:,} object{'' if count == 1 else 's'}"


class Progress:
    def __init__(self, stream: TextIO, enabled: bool | None = None) -> None:
        self._stream = stream
        if enabled is None:
            isatty = getattr(stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self._open_line = False
        self._last = 0.0
        self._lock = threading.Lock()

    def update(self, resource: str, count: int) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last < REFRESH_SECONDS:
                return
            self._last = now
            self._stream.write(f"\r\x1b[K{resource}: {objects(count)}")
            self._stream.flush()
            self._open_line = True

    def done(self, resource: str, count: int, note: str = "") -> None:
        if not self.enabled:
            return
        suffix = f" ({note})" if note else ""
        with self._lock:
            self._stream.write(f"\r\x1b[K{resource}: {objects(count)}{suffix}\n")
            self._stream.flush()
            self._open_line = False
            self._last = 0.0

    def message(self, text: str) -> None:
        """Print a line that must be seen whatever the terminal (warnings), after the progress line."""
        with self._lock:
            if self._open_line:
                self._stream.write("\r\x1b[K")
                self._open_line = False
            self._stream.write(text)
            self._stream.flush()
