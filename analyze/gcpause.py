"""The cyclic garbage collector paused while an analysis is imported and built (light: the CLI
imports it before the analysis machinery)."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of long-lived objects are built.

    Nothing analyze builds needs it (no reference cycles are dropped), and on a 100k-image dump
    its repeated full passes were a third of the run time (benchmarks profile). Importing the
    analysis machinery (networkx above all) made another 10 ms of its passes: analyze pauses it
    before it imports.

    On the way out what was built is frozen (gc.freeze: out of the collector's sight, still freed
    by reference counting) before the collector is enabled again. Else its first pass, at the
    next allocation, walked every object built meanwhile as one young generation: 0.7-0.9 s at
    100k images, after the plan was written. A caller that had paused it keeps it paused."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
