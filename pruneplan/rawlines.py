"""A file's lines, gunzipped when it is gzip, reading the file once (its raw bytes can feed a hash).

zlib in 1 MiB chunks and bytes.split do in C what GzipFile.readline does a line at a time in
Python.
"""

from __future__ import annotations

import queue
import threading
import zlib
from typing import IO, Any, Generator, Iterator, Protocol

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
_AHEAD = 8  # inflated chunks in flight: bounds how far (in memory) the thread runs ahead
_END = object()


class Hasher(Protocol):
    """What is fed a file's raw bytes (a hashlib hash)."""

    def update(self, data: bytes, /) -> None: ...


def _inflated_chunks(handle: IO[bytes], gz: bool, hasher: Hasher | None, chunk_size: int = CHUNK) -> Generator[bytes, None, None]:
    inflater = zlib.decompressobj(wbits=31) if gz else None
    while chunk := handle.read(chunk_size):
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


def read_head(path: str, size: int) -> bytes:
    """The first `size` bytes of the file's content (gunzipped when it is gzip), fewer if it is
    shorter. Small reads: a look at a dump's first line must not inflate a megabyte of it."""
    with open(path, "rb") as handle:
        gz = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        head = b""
        chunks = _inflated_chunks(handle, gz, None, chunk_size=4096)
        try:
            for data in chunks:
                head += data
                if len(head) >= size:
                    break
        finally:
            chunks.close()
        return head[:size]


def _ahead(chunks: Iterator[bytes]) -> Generator[bytes, None, None]:
    """`chunks`, produced by a thread up to _AHEAD chunks ahead of the reader: zlib and hashlib
    release the GIL on a chunk, so a gzip dump inflates on another core while the reader parses.
    The thread's exception is raised here, in the reader."""
    handoff: queue.Queue[Any] = queue.Queue(_AHEAD)
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


def read_line_batches(path: str, hasher: Hasher | None = None) -> Generator[list[bytes], None, None]:
    """The lines of `path` without their b"\\n", a list per inflated chunk (a reader loops over a
    list in one frame instead of resuming a generator per line); `hasher` (hashlib-like) is fed
    the file's raw bytes. OSError if it cannot be opened (raised on the first next()), EOFError or
    zlib.error for truncated or corrupt gzip data. A gzip file is inflated by a thread, ahead."""
    with open(path, "rb") as handle:
        gz = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        chunks = _inflated_chunks(handle, gz, hasher)
        if gz:
            chunks = _ahead(chunks)
        try:
            pending = b""
            for data in chunks:
                lines = data.split(b"\n")
                if pending:  # the line the previous chunk cut: joined, not the whole chunk copied
                    lines[0] = pending + lines[0]
                pending = lines.pop()
                if lines:
                    yield lines
            if pending:
                yield [pending]
        finally:
            chunks.close()  # stops the thread before the file it reads is closed
