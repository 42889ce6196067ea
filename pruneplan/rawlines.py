"""A file's lines, gunzipped when it is gzip, reading the file once (its raw bytes can feed a hash).

zlib in 1 MiB chunks and bytes.split do in C what GzipFile.readline does a line at a time in
Python. Every step is linear in the file's size, and what is held is bounded whatever the data
(docs/dump-format.md, "Limits"): zlib yields at most INFLATED bytes a call, a line is at most
MAX_LINE bytes, a whole document at most the limit its reader gives.
"""

from __future__ import annotations

import io
import queue
import threading
import zlib
from typing import IO, Any, Generator, Iterator, Protocol

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
MAX_LINE = 64 << 20  # a line of a dump: an API object is at most a few MiB (etcd's request limit)
# the most zlib inflates a call: big pieces keep the inflating thread's handoffs (and its waits
# for the GIL) few; bounded, so a gzip bomb is refused a piece at a time (at most MAX_LINE)
INFLATED = 8 << 20
# compressed bytes handed to zlib at a time once a file has several members: where a member ends,
# zlib copies the rest of what it was given, so many small members cost O(members x this)
_FEED = 1 << 16
_AHEAD = 8  # inflated chunks in flight: bounds how far (in memory) the thread runs ahead
_END = object()


class LineTooLong(ValueError):
    """A line longer than MAX_LINE; `line` is its number, from 1."""

    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is longer than {MAX_LINE >> 20} MiB")
        self.line = line


class TooLarge(ValueError):
    """Content longer than the limit its reader set."""


class Hasher(Protocol):
    """What is fed a file's raw bytes (a hashlib hash)."""

    def update(self, data: bytes, /) -> None: ...


def _inflated_chunks(handle: IO[bytes], gz: bool, hasher: Hasher | None, chunk_size: int = CHUNK) -> Generator[bytes, None, None]:
    """The file's content in pieces of at most INFLATED bytes (a gzip bomb inflates a piece at a
    time). Gzip members follow one another, with zero bytes between them or after the last, as
    gzip(1) and Python's gzip module accept."""
    inflater = zlib.decompressobj(wbits=31) if gz else None
    feed = chunk_size  # compressed bytes given to zlib at a time: all of a chunk, until a member ends
    while chunk := handle.read(chunk_size):
        if hasher is not None:
            hasher.update(chunk)
        if inflater is None:
            yield chunk
            continue
        view = memoryview(chunk)
        start = 0
        while start < len(view):
            if inflater.eof:  # between members: skip zero padding, then the next member
                ahead = bytes(view[start:start + feed])
                padding = len(ahead) - len(ahead.lstrip(b"\x00"))
                start += padding
                if padding == len(ahead):
                    continue
                inflater = zlib.decompressobj(wbits=31)
            data: bytes | memoryview = view[start:start + feed]
            start += len(data)
            while True:
                piece = inflater.decompress(data, INFLATED)
                if piece:
                    yield piece
                if inflater.eof:
                    # zlib copies what follows the member into unused_data: read on from there
                    # in small feeds, so a file of many small members costs O(members x _FEED)
                    start -= len(inflater.unused_data)
                    feed = _FEED
                    break
                if inflater.unconsumed_tail:
                    data = inflater.unconsumed_tail
                elif len(piece) == INFLATED:
                    data = b""  # all input taken but the output was capped: zlib may hold more
                else:
                    break
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
    zlib.error for truncated or corrupt gzip data, LineTooLong for a line past MAX_LINE. A gzip
    file is inflated by a thread, ahead."""
    with open(path, "rb") as handle:
        gz = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        chunks = _inflated_chunks(handle, gz, hasher)
        if gz:
            chunks = _ahead(chunks)
        try:
            # the line the chunks so far cut, in pieces joined once it ends: linear, however many
            # chunks it spans (a chunk holds at most INFLATED bytes, so only such a line can pass MAX_LINE)
            pending: list[bytes] = []
            pending_size = 0
            done = 0  # lines yielded
            for data in chunks:
                lines = data.split(b"\n")
                if len(lines) == 1:  # no line ends in this chunk
                    pending.append(data)
                    pending_size += len(data)
                    if pending_size > MAX_LINE:
                        raise LineTooLong(done + 1)
                    continue
                if pending:
                    if pending_size + len(lines[0]) > MAX_LINE:
                        raise LineTooLong(done + 1)
                    pending.append(lines[0])
                    lines[0] = b"".join(pending)
                rest = lines.pop()
                pending = [rest] if rest else []
                pending_size = len(rest)
                done += len(lines)
                yield lines
            if pending:
                yield [b"".join(pending)]
        finally:
            chunks.close()  # stops the thread before the file it reads is closed


def inflate_whole(data: bytes, limit: int) -> bytes:
    """The content of gzip `data`, TooLarge once it passes `limit` bytes (inflated a piece at a
    time: a small file that inflates to gigabytes is refused before it fills the memory);
    EOFError or zlib.error for truncated or corrupt data."""
    pieces = []
    size = 0
    for piece in _inflated_chunks(io.BytesIO(data), True, None):
        size += len(piece)
        if size > limit:
            raise TooLarge(f"more than {limit} bytes")
        pieces.append(piece)
    return b"".join(pieces)
