"""A file's lines, gunzipped when it is gzip, reading the file once (its raw bytes can feed a hash).

zlib in 1 MiB chunks and bytes.split do in C what GzipFile.readline does a line at a time in
Python. With `background=True` reading, hashing and inflating run beside the caller's parsing:
in a forked process for a gzip file when this process has no other thread (true parallelism:
the inflated bytes come through a pipe), else in a thread (zlib releases the GIL, but taking it
back after each chunk made the thread save only half of its time).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import queue
import threading
import zlib
from typing import IO, Any, Generator, Iterator

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
_QUEUE_CHUNKS = 8  # inflated chunks in flight: bounds the memory the thread can run ahead by
_END = object()
PIPE_SIZE = 1 << 20  # the most an unprivileged process may ask for (/proc/sys/fs/pipe-max-size)


def _inflated_chunks(handle: IO[bytes], gz: bool, hasher: Any | None, chunk_size: int = CHUNK) -> Generator[bytes, None, None]:
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


def _in_background(chunks: Iterator[bytes]) -> Generator[bytes, None, None]:
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


class FileDigest:
    """The sha256 of a file's raw bytes: fed chunk by chunk here, or reported whole by the
    process that read the file."""

    __slots__ = ("_hash", "_hex")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._hex: str | None = None

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def report(self, hexdigest: str) -> None:
        self._hex = hexdigest

    def hexdigest(self) -> str:
        return self._hex if self._hex is not None else self._hash.hexdigest()


def _in_process(handle: IO[bytes], digest: FileDigest | None) -> Generator[bytes, None, None]:
    """Inflate in a forked child; its chunks arrive through a pipe, then one status line:
    b"ok <sha256>", or the exception's class and text, raised here again."""
    data_read, data_write = os.pipe()
    status_read, status_write = os.pipe()
    try:
        fcntl.fcntl(data_write, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except OSError:
        pass  # the default pipe size only costs more system calls
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        code = 0
        try:
            os.close(data_read)
            os.close(status_read)
            hasher = hashlib.sha256()
            # small pieces: each fits the pipe, so inflating the next overlaps the reader's parsing
            for chunk in _inflated_chunks(handle, True, hasher, PIPE_SIZE // 8):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(data_write, view):]
            os.write(status_write, b"ok " + hasher.hexdigest().encode())
        except BrokenPipeError:
            pass  # the reader stopped early
        except BaseException as err:  # noqa: BLE001 - reported to the reader
            os.write(status_write, f"{type(err).__name__} {err}".encode()[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(data_write)
    os.close(status_write)
    try:
        with open(data_read, "rb", buffering=0) as pipe:
            while block := pipe.read(PIPE_SIZE):
                yield block
        with open(status_read, "rb", buffering=0) as status_pipe:
            status = status_pipe.read().decode(errors="replace")
        kind, _, text = status.partition(" ")
        if kind == "ok":
            if digest is not None:
                digest.report(text)
        elif kind == "EOFError":
            raise EOFError(text)
        elif kind == "error":  # zlib.error's class name
            raise zlib.error(text)
        else:
            raise OSError(text or "the inflating process ended without a status")
    finally:
        for fd in (data_read, status_read):
            try:
                os.close(fd)
            except OSError:
                pass  # closed by its file object
        os.waitpid(pid, 0)


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


def fork_is_safe() -> bool:
    # forking a process with other threads can deadlock the child on a lock one of them holds
    return hasattr(os, "fork") and threading.active_count() == 1


def read_line_batches(path: str, hasher: Any | None = None, *, background: bool = False) -> Generator[list[bytes], None, None]:
    """The lines of `path` without their b"\\n", a list per inflated chunk (a reader loops over a
    list in one frame instead of resuming a generator per line); OSError if it cannot be opened
    (raised on the first next()), EOFError or zlib.error for truncated or corrupt gzip data. With
    a forked inflater the hash is reported whole, so `hasher` must then be a FileDigest."""
    with open(path, "rb") as handle:
        gz = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        if background and gz and fork_is_safe() and (hasher is None or isinstance(hasher, FileDigest)):
            chunks = _in_process(handle, hasher)
        else:
            chunks = _inflated_chunks(handle, gz, hasher)
            if background:
                chunks = _in_background(chunks)
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
