"""Work on daemon threads, for requests that need not wait for one another: a list's next page
read ahead, the cluster's version and settings read at once.

Daemon threads, not a pool's: an interrupted collect (Ctrl-C) ends at once instead of waiting
for the requests in flight, and nothing they hold outlives the process.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable, Iterator, TypeVar, cast

T = TypeVar("T")

_END = object()
AHEAD = 2  # items fetched before the caller takes any; one more each time it takes one


def start(work: Callable[[], T], name: str) -> Future[T]:
    """Run `work` on a daemon thread; its result, or its exception, in the future."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as err:  # handed to whoever asks for the result
            future.set_exception(err)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def read_ahead(pages: Iterator[T], name: str = "pruneplan-read-ahead") -> Iterator[T]:
    """Yield what `pages` yields, in order, fetching the next items while the caller works on
    the one before.

    A list's pages follow one another (each needs the previous one's continue token), so
    without this every page costs its round trip plus the time to project and spool it; with
    it, a page costs the longer of the two. One thread fetches them all (a thread per page would
    spread the pages' memory over many of the allocator's arenas). It may run two items ahead
    of the one the caller works on, so that it asks for the next as soon as one arrives: were it
    to wait for the caller to take the item, its request would also wait for the interpreter
    lock, which the caller holds while it works. Memory stays at three pages per list.
    Exceptions are raised where their item would have been. A caller that stops early leaves
    at most one fetch running, which ends by itself."""
    wanted = threading.Semaphore(AHEAD)  # fetches allowed beyond the items the caller has taken
    ready: queue.SimpleQueue[tuple[object, BaseException | None]] = queue.SimpleQueue()
    closed = threading.Event()

    def fetch() -> None:
        while True:
            wanted.acquire()
            if closed.is_set():
                return
            try:
                item = next(pages, _END)
            except BaseException as err:  # handed to the caller, which raises it
                ready.put((None, err))
                return
            ready.put((item, None))
            if item is _END:
                return

    threading.Thread(target=fetch, name=name, daemon=True).start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is _END:
                return
            wanted.release()  # the next request goes out before the caller processes `item`
            yield cast(T, item)
    finally:
        closed.set()
        wanted.release()  # a fetcher waiting for leave to go on ends instead
