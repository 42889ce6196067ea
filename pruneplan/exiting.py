"""Ending the `pruneplan` process without freeing a big heap object by object.

After a large analysis the objects left (model, graph, outcomes) are millions; letting Python
free them one at a time when they go out of scope, then again at interpreter shutdown, cost
about 0.4 s per 100k images and serves nothing once the output is written. The console command
turns retention on, analyze hands over what it built, and the process then ends with os._exit
once its output is flushed. In-process callers (tests) never turn it on, so for them nothing is
retained; commands that retain nothing exit normally.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

_retained: list[Any] = []
_enabled = False


def enable_fast_exit() -> None:
    global _enabled
    _enabled = True


def retain(*objects: Any) -> None:
    """Keep `objects` alive until the process ends (only when fast exit is on)."""
    if _enabled:
        _retained.extend(objects)


def finish(code: int) -> NoReturn:
    """End the process with `code`: at once when a command retained its objects (their output is
    written; only the streams need flushing), else through the normal interpreter shutdown, which
    runs the cleanups other commands rely on (finalizers removing temporary files)."""
    if not _retained:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(code)
