"""Writing a dump (docs/dump-format.md, "Layout"): one object at a time, or one kind at a time
from a SectionSpool filled while that kind was still being listed.

Layout: the envelope on the first line, then each resource's `"name":[` line, one object per
line, `]`; finally `"header":{...}}`. It is plain JSON, and a reader can parse it a line at a
time (dumpformat.load_inputs does), so a dump larger than memory allows for one parse still loads.
"""

from __future__ import annotations

import shutil
import tempfile
from typing import IO, Any, Iterable

import orjson

from .clustersettings import ClusterSettings
from .dumpformat import HEADER_KEY, STREAM_PREFIX, make_header
from .errors import EXIT_IO, PrunePlanError
from .files import Output, OutputSet
from .gzipjoin import GzipJoiner, Piece
from .kinds import BY_RESOURCE, KINDS

# zlib's and Go's default; level 9 costs half as much CPU again for a dump about 1.5 % smaller
GZIP_LEVEL = 6
# a spool deflates what it holds in runs of this size: few zlib calls (each one lets another
# thread take the interpreter, and waits to get it back), little memory
SPOOL_RUN = 256 * 1024


def _separator(first: bool) -> bytes:
    return b"\n" if first else b",\n"


class SectionSpool:
    """One resource's objects, in the bytes they will have in the dump, in an unlinked temporary
    file until `DumpWriter.add_section` moves them in. For a .gz dump they are deflated as they
    come (pruneplan.gzipjoin), so the compression of a long list runs while it is being listed,
    not after. `restart` empties it, for a list that must start over."""

    def __init__(self, directory: str | None, deflate: bool, run_size: int = SPOOL_RUN) -> None:
        self._directory = directory or tempfile.gettempdir()
        try:
            self.file: IO[bytes] = tempfile.TemporaryFile(dir=directory, prefix=".pruneplan-spool-")
        except OSError as err:
            raise self._error(err) from None
        self.piece = Piece(self.file, GZIP_LEVEL) if deflate else None
        self._run: list[bytes] = []
        self._run_size = 0
        self._run_limit = run_size
        self.count = 0

    def _error(self, err: OSError) -> PrunePlanError:
        # the spool has no name (unlinked): its directory says where the space ran out
        return PrunePlanError(f"cannot write a temporary spool file in {self._directory}: {err.strerror or err}", EXIT_IO)

    def add_encoded(self, data: bytes) -> None:
        """An object already encoded as one line of JSON (no newline)."""
        self._run.append(_separator(self.count == 0))
        self._run.append(data)
        self._run_size += len(data) + 2
        self.count += 1
        if self._run_size >= self._run_limit:
            self._write_run()

    def _write_run(self) -> None:
        data = b"".join(self._run)
        self._run.clear()
        self._run_size = 0
        try:
            if self.piece is not None:
                self.piece.write(data)
            else:
                self.file.write(data)
        except OSError as err:
            raise self._error(err) from None

    def finish(self) -> None:
        """The last objects are written: the spool can go into the dump."""
        self._write_run()
        try:
            if self.piece is not None:
                self.piece.end()
            self.file.seek(0)
        except OSError as err:
            raise self._error(err) from None

    def restart(self) -> None:
        self._run.clear()
        self._run_size = 0
        try:
            self.file.seek(0)
            self.file.truncate()
        except OSError as err:
            raise self._error(err) from None
        if self.piece is not None:
            self.piece.restart()
        self.count = 0

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass  # the flush of a spool thrown away (after a failure: it must not hide that one)


class DumpWriter:
    """Writes a dump one object (`begin`, `add`) or one spooled kind (`add_section`) at a time,
    so memory does not grow with the cluster.

    Objects are streamed (gzip when the name ends in .gz) through pruneplan.files: into a
    temporary file beside the target, renamed into place only by `commit()`, so a crash or
    `abort()` leaves no partial dump under the output name; or into stdout (`-`), a device or a
    FIFO. The header goes last: its counts are known only then.
    """

    def __init__(self, path: str, inputs: Iterable[str] = ()) -> None:
        self.path = path
        self._outputs = OutputSet(inputs)  # mode 0600: a dump names the cluster's objects
        self._raw: Output = self._outputs.open(path, 0o600, replace=True)
        # one gzip member whose header names no file and no time (a temporary name would make
        # dumps differ), assembled from deflated pieces so that spools can be deflated early
        self._gzip = GzipJoiner(self._raw, GZIP_LEVEL) if path.endswith(".gz") else None
        self._resource: str | None = None
        self._first_item = True
        self.counts: dict[str, int] = {}
        try:
            self._write(STREAM_PREFIX + b"\n")
        except BaseException:
            self.abort()
            raise

    def _write(self, data: bytes) -> None:
        if self._gzip is not None:
            self._gzip.write(data)
        else:
            self._raw.write(data)

    def spool(self, directory: str | None) -> SectionSpool:
        """A spool for one resource's objects, in this dump's encoding; `directory` None is the
        system's temporary directory."""
        return SectionSpool(directory, deflate=self._gzip is not None)

    def begin(self, resource: str) -> None:
        if resource not in BY_RESOURCE:
            raise ValueError(f"unknown resource {resource}")
        if self._resource is not None:
            self._write(b"\n],\n")
        self._write(orjson.dumps(resource) + b":[")
        self._resource = resource
        self._first_item = True
        self.counts.setdefault(resource, 0)

    def add(self, obj: dict[str, Any]) -> None:
        self.add_encoded(orjson.dumps(obj))

    def add_encoded(self, data: bytes) -> None:
        """An object already encoded as one line of JSON (no newline)."""
        if self._resource is None:
            raise ValueError("begin() a resource first")
        self._write(_separator(self._first_item) + data)
        self._first_item = False
        self.counts[self._resource] += 1

    def add_section(self, resource: str, spool: SectionSpool) -> None:
        """Every object of `resource`, from a spool of this writer's that is `finish`ed."""
        self.begin(resource)
        try:  # the writer's own failures are PrunePlanErrors already: an OSError is the spool's
            if spool.piece is not None:
                if self._gzip is None:
                    raise ValueError("a deflated spool belongs to a .gz dump")
                self._gzip.add_piece(spool.file, spool.piece.crc, spool.piece.size)
            else:
                shutil.copyfileobj(spool.file, self._raw)
        except OSError as err:
            raise spool._error(err) from None
        self._first_item = spool.count == 0
        self.counts[resource] += spool.count

    def attach(self, path: str, data: bytes, mode: int) -> None:
        """A file that belongs with the dump (a redaction map): put in place with it by commit(),
        or not at all."""
        self._outputs.open(path, mode, replace=True).write(data)

    def commit(
        self, collected_at: str, cluster: dict[str, Any], namespace: str | None, settings: ClusterSettings | None = None
    ) -> None:
        if self._resource is not None:
            self._write(b"\n]")
        counts = {k.resource: self.counts.get(k.resource, 0) for k in KINDS}
        header = make_header(collected_at, cluster, namespace, counts, settings)
        self._write(b"\n},\n" + HEADER_KEY + orjson.dumps(header) + b"}\n")
        if self._gzip is not None:
            self._gzip.close()  # the final block and the trailer; the file stays open for the commit
        self._outputs.commit()

    def abort(self) -> None:
        self._outputs.abort()
