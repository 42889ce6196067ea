"""Writing output files safely, the one way every command writes one (docs/plan-format.md).

- A regular file, or a name that does not exist yet: written to a temporary sibling created with
  its mode from the start, and renamed over the name only once complete (a reader sees the old
  file or the new one, never a partial one; a replaced file gets `mode`, not the old file's).
  A symbolic link to a file is followed: the file it names is replaced, the link stays.
- An existing file that is not a regular file (a device such as /dev/null, a FIFO): written
  straight into, as a shell's `>` does; a rename would replace the device node itself.
- `-`: stdout.
- One of the command's own inputs: refused (exit 4).

Outputs that belong together (a plan and its signature, a private key and its public key) are
opened in one OutputSet and put in place together, only once all of them are complete; on any
exception (SIGTERM included: pruneplan.cli makes it one) every temporary file is removed.
Failures are one-line PrunePlanErrors (exit 4) naming the file that failed: the output, or the
temporary file while that is being written.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterable, Iterator, Protocol

from .errors import EXIT_IO, InputError, PrunePlanError

STDOUT = "-"  # the output name that means stdout, for every command
STDIN = "-"  # and the input name that means stdin
_STDIN_PATH = "/dev/stdin"  # read through a path, so a redirected file is still seekable


def input_path(name: str) -> str:
    """The path to read for an input argument: `-` is stdin."""
    return _STDIN_PATH if name == STDIN else name
# Characters of the output's name kept in its temporary file's name: with the prefix and the
# suffix that stays well under the 255-byte limit on a file name (4 bytes a character at most).
TEMP_NAME_CHARS = 32


Bytes = bytes | bytearray | memoryview


class _Writable(Protocol):
    def write(self, data: Bytes, /) -> object: ...
    def flush(self) -> object: ...


class _TextStream(Protocol):
    def write(self, text: str, /) -> object: ...
    def flush(self) -> object: ...


class _TextAsBinary:
    """Bytes written to a text stream: sys.stdout when it has no binary buffer (a StringIO that
    captures it in a test, say)."""

    def __init__(self, text: _TextStream) -> None:
        self._text = text

    def write(self, data: Bytes, /) -> int:
        self._text.write(bytes(data).decode("utf-8", "surrogateescape"))
        return len(data)

    def flush(self) -> None:
        self._text.flush()


class Output:
    """One output being written. write() and flush() turn a failure into a one-line error that
    names what was being written: the temporary file (not the output: that is untouched), the
    device, or stdout. A closed pipe stays a BrokenPipeError, for the quiet exit."""

    def __init__(
        self, handle: _Writable, path: str, label: str, *, temp: str | None = None, final: str | None = None, created: bool = False
    ) -> None:
        self._handle = handle
        self.path = path  # the name the user gave
        self._label = label  # what an error message names
        self._temp = temp  # the temporary sibling that commit() renames over `final`
        self.final = final or path  # `path`, or the file a symbolic link `path` names
        self._created = created  # a file this output created (exclusively): removed by abort()

    def write(self, data: Bytes, /) -> int:
        try:
            self._handle.write(data)
        except OSError as err:
            raise self._error(err) from None
        return len(data)

    def flush(self) -> None:
        try:
            self._handle.flush()
        except OSError as err:
            raise self._error(err) from None

    def _error(self, err: OSError) -> BaseException:
        if isinstance(err, BrokenPipeError) and self.path == STDOUT:
            return err
        return PrunePlanError(f"cannot write {self._label}: {err.strerror or err}", EXIT_IO)

    def _finish(self, durable: bool) -> None:
        """Flush (and fsync a file when `durable`), then close a file."""
        self.flush()
        if isinstance(self._handle, _File):
            try:
                if durable and self._handle.regular:
                    os.fsync(self._handle.fileno())
                self._handle.close()
            except OSError as err:
                raise self._error(err) from None

    def _discard(self) -> None:
        if isinstance(self._handle, _File):
            try:
                self._handle.close()
            except OSError:
                pass  # a failed flush of what is being thrown away
        for leftover in (self._temp, self.final if self._created else None):
            if leftover is not None:
                try:
                    os.unlink(leftover)
                except OSError:
                    pass


class _File:
    """A file descriptor opened by OutputSet, written through a buffer."""

    def __init__(self, fd: int, regular: bool) -> None:
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self.regular = regular

    def write(self, data: Bytes, /) -> int:
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()


def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def _through_proc(path: str) -> bool:
    """Whether `path` reaches its file through a descriptor's link in /proc (/dev/stdout,
    /dev/fd/1, /proc/self/fd/1): it names a file already open, to write into, not a place to
    rename a file into."""
    for _ in range(40):  # the kernel's own limit on links followed
        if not os.path.islink(path):
            return False
        if os.path.realpath(os.path.dirname(os.path.abspath(path))).startswith("/proc/"):
            return True
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return False


def _temp_name(final: str) -> str:
    directory, name = os.path.split(final)
    return os.path.join(directory, f".{name[:TEMP_NAME_CHARS]}.{secrets.token_hex(4)}.tmp")


def temp_directory(path: str) -> str | None:
    """Where scratch files for output `path` belong: beside a file (same file system), else (stdout,
    a device, a FIFO) the system's temporary directory (None, as the tempfile module takes it)."""
    if path == STDOUT:
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
    except OSError:
        pass  # not there yet: it will be a file
    return os.path.dirname(os.path.abspath(path))


def _identities(inputs: Iterable[str]) -> set[tuple[int, int]]:
    return {ident for ident in (_identity(p) for p in inputs if p != STDOUT) if ident is not None}


def _own_input(path: str) -> PrunePlanError:
    return PrunePlanError(f"refusing to write {path}: it is one of this command's inputs", EXIT_IO)


def refuse_own_inputs(paths: Iterable[str], inputs: Iterable[str]) -> None:
    """Refuse at once an output that is one of the command's inputs: the check OutputSet makes as
    it opens the output, made before a long run so that its work is not thrown away at the end."""
    own = _identities(inputs)
    for path in paths:
        if path != STDOUT and _identity(path) in own:
            raise _own_input(path)


class OutputSet:
    """Outputs of one command, put in place together once all are complete (see the module's
    docstring). Use through outputs(): it commits when its block ends and aborts on an exception."""

    def __init__(self, inputs: Iterable[str] = ()) -> None:
        self._inputs = _identities(inputs)
        self._open: list[tuple[Output, bool]] = []

    def open(self, path: str, mode: int, replace: bool, durable: bool = True) -> Output:
        """An output for `path`, a file created with `mode` (replace=False: created exclusively,
        an existing one is refused). durable=True fsyncs a file before it is put in place."""
        output = self._open_output(path, mode, replace)
        self._open.append((output, durable))
        return output

    def _open_output(self, path: str, mode: int, replace: bool) -> Output:
        if path == STDOUT:
            sys.stdout.flush()  # what was printed before goes first
            buffer = getattr(sys.stdout, "buffer", None)
            return Output(buffer if buffer is not None else _TextAsBinary(sys.stdout), path, "stdout")
        try:
            info: os.stat_result | None = os.stat(path)
        except FileNotFoundError:
            info = None
        except OSError as err:
            raise output_error(path, err) from None
        if info is not None and (info.st_dev, info.st_ino) in self._inputs:
            raise _own_input(path)
        flags = os.O_WRONLY | os.O_CLOEXEC
        if info is not None and (not stat.S_ISREG(info.st_mode) or _through_proc(path)):
            if stat.S_ISDIR(info.st_mode):
                raise output_error(path, IsADirectoryError(21, os.strerror(21)))
            if not replace:
                raise output_error(path, FileExistsError(17, os.strerror(17)))
            try:  # a device, a FIFO (which waits here for its reader), /dev/stdout: written in place, as `>` does
                fd = os.open(path, flags | os.O_NOCTTY | os.O_TRUNC)
            except OSError as err:
                raise output_error(path, err) from None
            return Output(_File(fd, regular=stat.S_ISREG(info.st_mode)), path, path)
        if not replace:
            try:
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
            except OSError as err:
                raise output_error(path, err) from None
            return Output(_File(fd, regular=True), path, path, created=True)
        final = os.path.realpath(path) if os.path.islink(path) else path
        temp = _temp_name(final)
        try:
            fd = os.open(temp, flags | os.O_CREAT | os.O_EXCL, mode)
        except OSError as err:  # where the output cannot be created either: name the output
            raise output_error(path, err) from None
        return Output(_File(fd, regular=True), path, f"temporary file {temp}", temp=temp, final=final)

    def commit(self) -> None:
        """Finish every output, then put the temporary files in place (nothing is renamed unless
        all of them were written in full). Should a rename fail, the outputs this commit already
        put in place are removed: related files (a plan and its signature, a dump and its map)
        are there together or not at all."""
        for output, durable in self._open:
            output._finish(durable)
        placed: list[str] = []
        for output, _ in self._open:
            if output._temp is not None:
                try:
                    os.replace(output._temp, output.final)
                except OSError as err:
                    for path in placed:
                        try:
                            os.unlink(path)
                        except OSError:
                            pass
                    raise output_error(output.path, err) from None
                output._temp = None
                placed.append(output.final)
            output._created = False
        self._open = []

    def abort(self) -> None:
        """Remove every temporary file and every file created so far; an output already in place
        (a failed commit) stays."""
        for output, _ in self._open:
            output._discard()
        self._open = []


@contextmanager
def outputs(inputs: Iterable[str] = ()) -> Iterator[OutputSet]:
    """An OutputSet committed when the block ends, aborted if it raises (any BaseException)."""
    group = OutputSet(inputs)
    try:
        yield group
        group.commit()
    except BaseException:
        group.abort()
        raise


@contextmanager
def output_file(path: str, mode: int, replace: bool, durable: bool = True, inputs: Iterable[str] = ()) -> Iterator[Output]:
    """One output written through an OutputSet of its own (see OutputSet.open)."""
    with outputs(inputs) as group:
        yield group.open(path, mode, replace, durable)


def write_file(
    path: str, data: bytes | Iterable[bytes], mode: int, replace: bool, durable: bool = True, inputs: Iterable[str] = ()
) -> None:
    """Write `data` (bytes, or pieces of them) to `path` through output_file."""
    with output_file(path, mode, replace, durable, inputs) as handle:
        for piece in [data] if isinstance(data, bytes) else data:
            handle.write(piece)


def output_error(path: str, err: OSError) -> PrunePlanError | BrokenPipeError:
    """The one-line error for a failure to write `path` (stdout's closed pipe stays itself: the
    command then ends quietly, as coreutils do)."""
    if isinstance(err, BrokenPipeError) and path == STDOUT:
        return err
    if isinstance(err, FileExistsError):
        return PrunePlanError(f"{path} already exists (use --force to overwrite it)", EXIT_IO)
    return PrunePlanError(f"cannot write {path}: {err.strerror or err}", EXIT_IO)


def write_or_fail(path: str, data: bytes | Iterable[bytes], mode: int, replace: bool, inputs: Iterable[str] = ()) -> None:
    """write_file, with an OSError of `data`'s making reported as a failure to write `path`."""
    try:
        write_file(path, data, mode, replace, inputs=inputs)
    except OSError as err:
        raise output_error(path, err) from None


@contextmanager
def printing_to_stdout(what: str, done: str | None = None) -> Iterator[None]:
    """Print `what` to stdout in the block, flushed at its end: a failure (stdout on a full
    disk) is one error line, exit 4, that says what was `done` all the same; a closed pipe stays
    a BrokenPipeError, for the quiet exit."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        note = f" ({done})" if done else ""
        raise PrunePlanError(f"cannot print {what} to stdout: {err.strerror or err}{note}", EXIT_IO) from None


class InputTooLarge(Exception):
    """An input holds more bytes than its reader's limit."""


_HEAD = 64 * 1024  # what is read of a pipe or a device before its first bytes are judged
_PIECE = 1 << 20  # then it is read a MiB at a time, to its end or past the limit


def looks_like_json(head: bytes) -> bool:
    """Whether the first bytes of an input can start a JSON document (or a gzip file of one)."""
    return head.startswith(b"\x1f\x8b") or head.lstrip()[:1] in (b"{", b"[", b"")


def read_input(path: str, limit: int, looks_right: Callable[[bytes], bool] = looks_like_json) -> bytes:
    """The bytes of the input `path`, at most `limit` (InputTooLarge past it: for a regular file
    from its size, before anything is read). A pipe or a device has no size: it is read up to the
    limit, but first its head must look right, so a device that never ends (/dev/zero) is refused
    at once: then its head alone is returned, for the caller's parser to say what is wrong with
    it. OSError as open's."""
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode):
            if info.st_size > limit:
                raise InputTooLarge(path)
            data = handle.read()  # what the file holds (read(limit) would reserve the limit at once)
            if len(data) > limit:  # it grew since
                raise InputTooLarge(path)
            return data
        head = handle.read(min(_HEAD, limit + 1))
        if not looks_right(head):
            return head
        pieces, size = [head], len(head)
        while piece := handle.read(_PIECE):
            size += len(piece)
            if size > limit:
                raise InputTooLarge(path)
            pieces.append(piece)
    return b"".join(pieces)


def read_input_or_fail(path: str, limit: int, too_large: str, what: str) -> bytes:
    """read_input for an input the command cannot do without: each failure one InputError that
    names `path` (`too_large` says what is past the limit; `what` is what a directory is not)."""
    try:
        return read_input(path, limit)
    except InputTooLarge:
        raise InputError(f"{path}: {too_large}") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not {what}") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None


def read_limited(path: str, limit: int) -> bytes | None:
    """read_input for a small file of any content (a key, a signature): None past `limit`, so a
    device that never ends (/dev/zero) is refused instead of read forever. OSError as open's."""
    try:
        return read_input(path, limit, looks_right=lambda _head: True)
    except InputTooLarge:
        return None


def is_terminal(stream: object) -> bool:
    """Whether `stream` is a terminal (a closed or odd stream is not)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # ValueError: a closed file
        return False
