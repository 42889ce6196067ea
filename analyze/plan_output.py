"""Writing the plan file and preparing upstream's dry-run lines, on two cores when the plan is big.

The plan's sorted keys split in two runs of about equal work: the image side (apiVersion,
blobDeletions, errors, imageDeletions) and the stream side (imageStreamUpdates ... summary).
For a big plan a forked child writes the stream side, and the stream part of the dry-run
lines, while this process writes the image side; the child's part is then appended to this
one. The child shares the analysis through fork (nothing is copied over a pipe) and ends with
os._exit, so it never runs this process's cleanups. The bytes are the same either way
(tests/test_plan_output.py).

The dry-run lines are kept in temporary files (they are as big as the plan) and printed only
once the plan is complete and signed, as before: a failed write prints none.
"""

from __future__ import annotations

import codecs
import errno
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Iterable, Iterator, TextIO

from pruneplan.errors import EXIT_IO, PrunePlanError
from pruneplan.files import output_error, output_file
from pruneplan.planformat import dump_plan_part

from .engine import Analysis
from .plan import (
    PlanSections,
    dry_run_epilogue,
    dry_run_prologue,
    image_dry_run_lines,
    plan_document,
    stream_dry_run_lines,
)

FIRST_STREAM_KEY = "imageStreamUpdates"
PARALLEL_MIN_ACTIONS = 50_000  # below this the fork costs more than the second core saves
LINES_PER_WRITE = 20_000
COPY_CHUNK = 1 << 24


@dataclass(slots=True)
class DryRun:
    """Upstream's dry-run lines, printed in order by print_to: fixed head lines, then parts that
    are either lines still to be made or lines spooled to a temporary file, then the tail."""

    head: list[str]
    parts: list[IO[bytes] | Iterator[str]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    def print_to(self, out: TextIO) -> None:
        _write_lines(out, self.head)
        for part in self.parts:
            if hasattr(part, "read"):  # a spool (a file, though iterable too)
                _copy_spool(part, out)  # type: ignore[arg-type]
            else:
                _write_lines(out, part)
        _write_lines(out, self.tail)


def _copy_spool(spool: IO[bytes], out: TextIO) -> None:
    spool.seek(0)
    binary = getattr(out, "buffer", None)
    if binary is not None:
        out.flush()  # what the text layer holds goes first
        while block := spool.read(COPY_CHUNK):
            binary.write(block)
    else:  # a text-only stream (tests capture stdout this way)
        decoder = codecs.getincrementaldecoder("utf-8")()
        while block := spool.read(COPY_CHUNK):
            out.write(decoder.decode(block))
        out.write(decoder.decode(b"", final=True))
    spool.close()


def _batches(lines: Iterable[str]) -> Iterator[str]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == LINES_PER_WRITE:
            yield "\n".join(batch) + "\n"
            batch = []
    if batch:
        yield "\n".join(batch) + "\n"


def _write_lines(out: TextIO, lines: Iterable[str]) -> None:
    for text in _batches(lines):
        out.write(text)


def _spool(lines: Iterable[str]) -> IO[bytes]:
    spool = tempfile.TemporaryFile()
    for text in _batches(lines):
        spool.write(text.encode())
    return spool


def _write_part(handle: BinaryIO, pieces: Iterable[bytes]) -> None:
    for piece in pieces:
        handle.write(piece)


def total_actions(sections: PlanSections) -> int:
    summary = sections.summary
    return sum(
        summary[key]
        for key in ("deletedImages", "deletedImageStreamTagItems", "deletedLayerLinks", "deletedManifestLinks", "deletedBlobs")
    )


def write_plan(
    path: str,
    analysis: Analysis,
    sections: PlanSections,
    *,
    dry_run: bool = True,
    parallel: bool | None = None,
) -> DryRun:
    """Write the plan to `path` (replaced atomically); return the dry-run lines to print.

    parallel=None forks for plans of PARALLEL_MIN_ACTIONS actions or more, where fork exists."""
    if parallel is None:
        parallel = hasattr(os, "fork") and total_actions(sections) >= PARALLEL_MIN_ACTIONS
    document = plan_document(analysis, sections)
    keys = sorted(document)
    split = keys.index(FIRST_STREAM_KEY)
    image_keys, stream_keys = keys[:split], keys[split:]
    result = DryRun(dry_run_prologue(analysis) if dry_run else [], tail=[dry_run_epilogue(sections.summary)] if dry_run else [])
    # The plan is rebuilt from the dump at will and is checked (parse, signature) before any
    # use, so it is not fsynced: on a 1M-image plan that wait was seconds.
    try:
        with output_file(path, 0o666, replace=True, durable=False) as handle:  # umask applies
            if not parallel:
                _write_part(handle, dump_plan_part(document, keys, first=True, last=True))
                if dry_run:
                    result.parts += [stream_dry_run_lines(analysis), image_dry_run_lines(analysis)]
                return result
            stream_lines = tempfile.TemporaryFile() if dry_run else None
            directory, name = os.path.split(os.path.abspath(path))
            fd, part_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
            try:
                with os.fdopen(fd, "w+b") as part:
                    _in_child(
                        lambda: _child_work(part, document, stream_keys, analysis, stream_lines),
                        lambda: _parent_work(handle, document, image_keys, analysis, result, dry_run),
                    )
                    part.seek(0)
                    _append(handle, part)
            finally:
                os.unlink(part_path)
            if stream_lines is not None:
                result.parts.insert(0, stream_lines)
            return result
    except OSError as err:
        raise output_error(path, err) from None


def _child_work(part: BinaryIO, document: dict[str, Any], keys: list[str], analysis: Analysis, lines: IO[bytes] | None) -> None:
    _write_part(part, dump_plan_part(document, keys, first=False, last=True))
    part.flush()
    if lines is not None:
        for text in _batches(stream_dry_run_lines(analysis)):
            lines.write(text.encode())
        lines.flush()


def _parent_work(handle: BinaryIO, document: dict[str, Any], keys: list[str], analysis: Analysis, result: DryRun, dry_run: bool) -> None:
    _write_part(handle, dump_plan_part(document, keys, first=True, last=False))
    if dry_run:
        result.parts.append(_spool(image_dry_run_lines(analysis)))


def _in_child(child: Any, parent: Any) -> None:
    """Run child() in a forked process while parent() runs here; raise what the child failed with."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        code = 0
        try:
            os.close(read_end)
            child()
        except BaseException as err:  # noqa: BLE001 - everything is reported to the parent
            os.write(write_end, (getattr(err, "strerror", None) or str(err) or type(err).__name__).encode()[:2000])
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        parent()
    finally:
        with os.fdopen(read_end, "rb") as reader:
            message = reader.read().decode(errors="replace")
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise PrunePlanError(f"cannot write the plan: {message or f'writer process ended with status {status}'}", EXIT_IO)


def _append(handle: BinaryIO, part: BinaryIO) -> None:
    """Append `part` (from its position) to `handle`, copying in the kernel where it can."""
    handle.flush()
    try:
        while os.sendfile(handle.fileno(), part.fileno(), None, COPY_CHUNK):
            pass
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
        shutil.copyfileobj(part, handle, COPY_CHUNK)  # no sendfile between these files here
