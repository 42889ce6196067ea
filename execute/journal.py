"""The execution journal: a header line binding it to one plan, then one JSON line per action
outcome, flushed and fsynced as it happens (docs/execute.md, "Journal and resume").

A rerun with the same plan and journal skips what is done (ok, or 404 = already gone) and finishes
the rest; a journal written for another plan is refused. A later record that is not done undoes
an earlier one that was (404s withdrawn when the registry answered 404 to nearly everything).
Only outcomes are journalled, never decisions: a rerun re-checks the live cluster, so a skip is
decided afresh each time.

Reading is strict, because a line read wrongly can skip a change the plan depends on: the first
line must be the header of this plan; every other line a record (an object with a string `key`
and `status`). Only the last line may be cut short (by a crash while it was written); it is cut
off before the first new record, so recovery works any number of times. A record complete but
for its newline is kept. The journal is a regular file, never followed through a symbolic link.

`Journal(path, plan)` reads and checks; `open()` makes it writable (created with its header, or
repaired) and is called before the first change is sent, so a journal that cannot be written
stops the run before it sends anything. A record that cannot be written raises JournalError,
and every later one too: the caller stops sending changes.

Group commit: `record()` returns only once its line is durable, but the workers do not queue for
the disk one fsync each. A writer appends its line under the lock, then either flushes everything
appended so far (one fsync, outside the lock, so others keep appending meanwhile) or waits for the
flush in progress, and then for the next one, until a flush covers its line. A flush that fails
fails every writer whose line it did not cover, and every later record; a line that cannot be
written fails its own writer and every later record, while the whole lines before it are still
flushed for the writers waiting on them.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import threading
from datetime import datetime, timezone
from typing import Any, Callable

import orjson

from pruneplan.errors import EXIT_BAD_INPUT, EXIT_IO, PrunePlanError
from pruneplan.files import STDIN

DONE = frozenset({"ok", "notfound"})
HEADER_MARK = "pruneplan"  # the header's `journal` value


def journal_path(given: str | None, plan: str, plan_sha256: str) -> str:
    """Where the journal is: PLAN.journal by default (<plan sha256>.journal for a plan read from
    stdin); in a directory given as `--journal DIR`,
    DIR/<plan sha256>.journal, so a newly approved plan in the same place starts a fresh one."""
    if given is None:  # a plan read from stdin has no name: its journal is named after its sha256
        return f"{plan_sha256}.journal" if plan == STDIN else plan + ".journal"
    if os.path.isdir(given):
        return os.path.join(given, f"{plan_sha256}.journal")
    if given.endswith("/"):
        raise JournalError(f"journal directory {given} does not exist")
    return given


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JournalError(PrunePlanError):
    """The journal cannot be written (exit 4): no further change may be sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_IO)


class Journal:
    def __init__(self, path: str, plan_sha256: str, *, sync: Callable[[int], None] = os.fsync) -> None:
        """`sync` flushes the journal's file descriptor to disk (os.fsync; a test counts the
        flushes through it, or makes one fail)."""
        self.path = path
        self.plan_sha256 = plan_sha256
        self.done: set[str] = set()
        self._lock = threading.Lock()
        self._flushed = threading.Condition(self._lock)  # notified when a flush ends
        self._sync = sync
        self._fd: int | None = None
        self._failed: JournalError | None = None
        # group commit: lines are numbered as they are appended; `_durable` lines are flushed
        self._appended = 0
        self._durable = 0
        self._flushing = False
        self._flush_failed = False  # a failed flush leaves every line after the last good one in doubt
        self._pending: list[str] = []  # the keys of the lines appended but not flushed yet, in order
        self._read: tuple[int, int, int] | None = None  # (device, inode, size) of the file as read
        self._keep = 0  # bytes of the file that hold whole lines (a torn last line is cut off)
        self._newline = False  # the last record is complete but for its newline
        self._load()

    # -- reading ----------------------------------------------------------------------------
    def _refuse(self, what: str) -> PrunePlanError:
        return PrunePlanError(f"journal {self.path} {what}", EXIT_BAD_INPUT)

    def _load(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        except OSError as err:
            raise self._os_error("cannot read", err) from None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise JournalError(f"journal {self.path} is not a regular file")
            data = handle.read()
        self._read = (info.st_dev, info.st_ino, len(data))
        self._parse(data)

    def _parse(self, data: bytes) -> None:
        if not data:
            return  # an empty file: the header is written when it is opened
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, else its last line, unfinished
        self._keep = len(data) - len(tail)
        if tail:
            if _object(tail) is not None:
                lines.append(tail)  # complete but for its newline
                self._keep = len(data)
                self._newline = True
            elif not lines:
                raise self._refuse("has no complete header line: it is not a pruneplan journal, or the run that "
                                   "created it stopped before its first change (then delete it)")
        header = _object(lines[0]) if lines else None
        if header is not None and header.get("journal") == HEADER_MARK and header.get("planSha256") == self.plan_sha256:
            pass
        elif header is not None and header.get("journal") == HEADER_MARK and isinstance(header.get("planSha256"), str):
            raise self._refuse(f"belongs to plan {header['planSha256']}, not to this plan ({self.plan_sha256})")
        elif lines:
            raise self._refuse("does not start with a pruneplan journal header: it is not a journal of this tool")
        for number, line in enumerate(lines[1:], 2):
            entry = _object(line)
            if entry is None or not isinstance(entry.get("key"), str) or not isinstance(entry.get("status"), str):
                raise self._refuse(f"is corrupt at line {number} (not a record of an action)")
            if entry["status"] in DONE:
                self.done.add(entry["key"])
            else:  # a later record withdraws an earlier one (a 404 from a registry not trusted)
                self.done.discard(entry["key"])

    def is_done(self, key: str) -> bool:
        return key in self.done

    @property
    def failed(self) -> JournalError | None:
        """Why no further record can be written (then no further change may be sent), or None."""
        return self._failed

    # -- writing ----------------------------------------------------------------------------
    def _os_error(self, doing: str, err: OSError) -> JournalError:
        if err.errno == errno.ELOOP:
            return JournalError(f"journal {self.path} is a symbolic link; give the journal's own path")
        return JournalError(f"{doing} journal {self.path}: {err.strerror or err}")

    def open(self) -> None:
        """Make the journal writable before the first change is sent: create it with its header
        (fsynced with its folder), or cut off a torn last line. JournalError if it cannot."""
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            if self._read is None:
                self._fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            else:
                self._fd = os.open(self.path, flags)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalError(f"journal {self.path} is in use by another run of execute") from None
        except OSError as err:
            self.close()
            raise self._os_error("cannot write", err) from None
        info = os.fstat(self._fd)
        if self._read is not None and self._read != (info.st_dev, info.st_ino, info.st_size):
            self.close()  # another run wrote it after it was read: what is done may have changed
            raise JournalError(f"journal {self.path} changed while this run started; run again")
        try:
            if self._read is None:
                try:
                    self._append({"journal": HEADER_MARK, "planSha256": self.plan_sha256, "at": _now()})
                    directory = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY | os.O_CLOEXEC)
                    try:
                        os.fsync(directory)  # the new file's name is durable too
                    finally:
                        os.close(directory)
                except OSError:
                    os.unlink(self.path)  # created here and unusable: not left behind
                    raise
                return
            os.ftruncate(self._fd, self._keep)  # a torn last line goes; whole lines stay
            os.lseek(self._fd, 0, os.SEEK_END)
            if self._keep == 0:
                self._append({"journal": HEADER_MARK, "planSha256": self.plan_sha256, "at": _now()})
            elif self._newline:
                self._write_all(b"\n")
        except OSError as err:
            self.close()
            raise self._os_error("cannot write", err) from None

    def _write(self, data: bytes) -> None:
        assert self._fd is not None, "the journal is written after open()"
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _write_all(self, data: bytes) -> None:
        self._write(data)
        assert self._fd is not None
        self._sync(self._fd)

    def _append(self, entry: dict[str, Any]) -> None:
        self._write_all(orjson.dumps(entry) + b"\n")

    def _fail(self, err: OSError, keys: list[str], *, flushing: bool = False) -> JournalError:
        """The error of this record and every later one (called under the lock). `keys`: the
        actions whose outcome is not journalled (a failed write), or not known to be on disk (a
        failed flush: the kernel may have kept the lines or not)."""
        if not flushing:
            lost = f"the outcome of {keys[0]} is not journalled: a rerun with this journal repeats it"
        elif len(keys) == 1:
            lost = f"the outcome of {keys[0]} may not be on disk: a rerun with this journal may repeat it"
        else:
            lost = (f"the outcomes of {len(keys)} actions ({keys[0]} and {len(keys) - 1} more) may not be on disk: "
                    "a rerun with this journal may repeat them")
        self._failed = JournalError(f"cannot write journal {self.path}: {err.strerror or err}; "
                                    f"no further change was sent ({lost})")
        self._flushed.notify_all()
        return self._failed

    def record(self, key: str, status: str, message: str = "", attempts: int = 1) -> None:
        """Write an action's outcome durably: return only once a flush (fsync) covers it.
        JournalError when it cannot be written or flushed (and for every record after that)."""
        line = orjson.dumps({"key": key, "status": status, "message": message, "attempts": attempts, "at": _now()})
        with self._lock:
            if self._failed is not None:
                raise self._failed
            try:
                self._write(line + b"\n")
            except OSError as err:  # lines appended before this one are whole: they are still flushed
                raise self._fail(err, [key]) from None
            self._appended += 1
            self._pending.append(key)
            mine = self._appended
            while self._durable < mine:
                if self._flush_failed:  # the flush that would have covered this line failed
                    assert self._failed is not None
                    raise self._failed
                if self._flushing:
                    self._flushed.wait()
                else:
                    self._flush()
            if status in DONE:
                self.done.add(key)
            else:
                self.done.discard(key)

    def _flush(self) -> None:
        """Flush every line appended so far; called and returning with the lock held, which is
        released during the fsync so that other writers append meanwhile (their lines wait for
        the next flush)."""
        assert self._fd is not None, "the journal is written after open()"
        upto, covered = self._appended, len(self._pending)
        self._flushing = True
        self._lock.release()
        try:
            self._sync(self._fd)
        except OSError as err:
            failure: OSError | None = err
        else:
            failure = None
        finally:  # whatever happened, the waiters wake: one of them flushes next
            self._lock.acquire()
            self._flushing = False
            self._flushed.notify_all()
        if failure is not None:
            self._flush_failed = True
            raise self._fail(failure, self._pending, flushing=True) from None
        self._durable = upto
        del self._pending[:covered]

    def close(self) -> None:
        with self._lock:
            while self._flushing:  # not under a flush in progress
                self._flushed.wait()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def _object(line: bytes) -> dict[str, Any] | None:
    """A line's JSON object, or None when it is not one."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
