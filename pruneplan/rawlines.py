"""A file's lines, gunzipped when it is gzip, reading the file once (its raw bytes can feed a hash).

zlib in 1 MiB chunks and bytes.split do in C what GzipFile.readline does a line at a time in
Python. With `background=True` reading, hashing and inflating run in a thread: all three release
the GIL, so on a big dump they overlap the caller's parsing instead of adding to it.
"""

from __future__ import annotations

import queue
import threading
import zlib
from typing import IO, Any, Iterator

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
_QUEUE_CHUNKS = 8  # inflated chunks in flight: bounds the memory the thread can run ahead by
_END = object()


def _inflated_chunks(handle: IO[bytes], hasher: Any | None) -> Iterator[bytes]:
    gz = handle.read(2) == GZIP_MAGIC
    handle.seek(0)
    inflater = zlib.decompressobj(wbits=31) if gz else None
    while chunk := handle.read(CHUNK):
        if hasher is not None:
            hasher.update(chunk)
        if inflater is None:
            yield chunk
            continue
        data = inflater.decompress(chunk)
        while inflater.eof and inflater.unused_data:  # another gzip member follows
            rest = inflater.unused_data
            inflater = zlib.decompressobj(wbits=31)
            data += inflater.decompress(rest)
        yield data
    if inflater is not None:
        tail = inflater.flush()
        if tail:
            yield tail
        if not inflater.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")


def _in_background(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run `chunks` in a thread; its exceptions are raised here, in the reader."""
    handoff: queue.Queue[Any] = queue.Queue(_QUEUE_CHUNKS)
    stop = threading.Event()

    def hand(item: Any) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not hand(chunk):
                    return
            hand(_END)
        except BaseException as err:  # handed to the reader, which raises it
            hand(err)

    worker = threading.Thread(target=produce, name="pruneplan-inflate", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the reader stopped early (or failed): let the thread end
        worker.join()


def read_lines(path: str, hasher: Any | None = None, *, background: bool = False) -> Iterator[bytes]:
    """The lines of `path` without their b"\\n"; OSError if it cannot be opened (raised on the
    first next()), EOFError or zlib.error for truncated or corrupt gzip data."""
    with open(path, "rb") as handle:
        chunks = _inflated_chunks(handle, hasher)
        if background:
            chunks = _in_background(chunks)
        try:
            pending = b""
            for data in chunks:
                lines = (pending + data).split(b"\n")
                pending = lines.pop()
                yield from lines
            if pending:
                yield pending
        finally:
            chunks.close()  # stops the thread before the file it reads is closed
