"""Writing the plan file and preparing upstream's dry-run lines, on two cores when the plan is big.

The plan's sorted keys are written in two runs of about equal work. For a big analysis a forked
child decides and writes the first run (apiVersion, blobDeletions) straight into the output file
and spools the images' dry-run lines, while this process writes the second run (errors ...
source) into a part file and spools the streams' dry-run lines; that part is then appended
(sendfile) and `summary`, which needs both sides' counts, written last. The child shares the
analysis through fork (nothing crosses the pipe but its counts) and ends with os._exit, so it
never runs this process's cleanups. The bytes are the same as one process writes them
(tests/test_plan_output.py, tests/test_properties.py).

The dry-run lines are printed only once the plan is complete and signed, as before (a failed
write prints none); on two cores they wait in two temporary files, together about a third of
the plan's size."""

from __future__ import annotations

import codecs
import errno
import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Iterable, Iterator, TextIO

import orjson

from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import EXIT_IO, PrunePlanError
from pruneplan.files import output_error, output_file
from pruneplan.planformat import dump_plan_part
from pruneplan.rawlines import fork_is_safe

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.plan.entries import (
    BlobSide,
    blob_side,
    dry_run_epilogue,
    dry_run_prologue,
    image_dry_run_text,
    image_side,
    plan_head,
    plan_summary,
    stream_dry_run_text,
    stream_side,
)

LAST_CHILD_KEY = "blobDeletions"
ENTRY_KEYS = ("blobDeletions", "imageDeletions", "imageStreamUpdates", "layerLinkDeletions", "manifestLinkDeletions")
PARALLEL_MIN_IMAGES = 10_000  # below this the fork costs more than the second core saves
LINES_PER_WRITE = 20_000
TEXT_PER_WRITE = 1 << 20
COPY_CHUNK = 1 << 24


@dataclass(slots=True)
class DryRun:
    """Upstream's dry-run lines, printed in order by print_to: fixed head lines, then parts that
    are either text still to be made (blocks of whole lines, each ending with a newline) or
    lines spooled to a temporary file, then the tail."""

    head: list[str]
    parts: list[IO[bytes] | Iterator[str]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    def print_to(self, out: TextIO) -> None:
        _write_lines(out, self.head)
        for part in self.parts:
            if hasattr(part, "read"):  # a spool (a file, though iterable too)
                _copy_spool(part, out)  # type: ignore[arg-type]  # hasattr does not narrow the union to its IO member
            else:
                for text in _text_batches(part):
                    out.write(text)
        _write_lines(out, self.tail)


def _copy_spool(spool: IO[bytes], out: TextIO) -> None:
    spool.seek(0)
    binary = getattr(out, "buffer", None)
    if binary is not None:
        out.flush()  # what the text layer holds goes first
        _append(binary, spool)  # in the kernel where it can (hundreds of MB at 1M images)
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


def _text_batches(blocks: Iterable[str]) -> Iterator[str]:
    """Blocks of lines joined into writes of about TEXT_PER_WRITE characters."""
    batch: list[str] = []
    size = 0
    for block in blocks:
        batch.append(block)
        size += len(block)
        if size >= TEXT_PER_WRITE:
            yield "".join(batch)
            batch, size = [], 0
    if batch:
        yield "".join(batch)


def _write_lines(out: TextIO, lines: Iterable[str]) -> None:
    for text in _batches(lines):
        out.write(text)


def _write_part(handle: BinaryIO, pieces: Iterable[bytes]) -> None:
    for piece in pieces:
        handle.write(piece)


def _key_runs(head: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The plan's sorted keys but the last (summary), in two runs: up to blobDeletions (the
    child's), and the rest (this process's)."""
    keys = sorted([*head, *ENTRY_KEYS, "summary"])
    assert keys[-1] == "summary"
    split = keys.index(LAST_CHILD_KEY) + 1
    return keys[:split], keys[split:-1]


def write_plan(
    path: str,
    analysis: Analysis,
    loaded: LoadedInputs,
    valid_for_seconds: float,
    *,
    dry_run: bool = True,
    parallel: bool | None = None,
) -> DryRun:
    """Write the plan to `path` (replaced atomically); return the dry-run lines to print.

    parallel=None forks for analyses of PARALLEL_MIN_IMAGES images or more, where forking is safe."""
    if parallel is None:
        parallel = len(analysis.images) >= PARALLEL_MIN_IMAGES and fork_is_safe()
    head = plan_head(analysis, loaded, valid_for_seconds)
    child_keys, own_keys = _key_runs(head)
    result = DryRun(dry_run_prologue(analysis) if dry_run else [])
    # The plan is rebuilt from the dump at will and is checked (parse, signature) before any
    # use, so it is not fsynced: on a 1M-image plan that wait was seconds.
    try:
        with output_file(path, 0o666, replace=True, durable=False) as handle:  # umask applies
            if parallel:
                counts, reclaimable = _write_in_two_processes(path, handle, head, child_keys, own_keys, analysis, result, dry_run)
            else:
                blobs = _blob_part(handle, head, child_keys, analysis)
                counts = {**blobs.counts(), **_own_part(handle, head, own_keys, analysis)}
                reclaimable = blobs.reclaimable
                if dry_run:  # upstream's order: the streams' lines, then the images'
                    result.parts += [stream_dry_run_text(analysis), image_dry_run_text(analysis)]
            summary = plan_summary(counts, reclaimable)
            _write_part(handle, dump_plan_part({"summary": summary}, ["summary"], first=False, last=True))
    except OSError as err:
        raise output_error(path, err) from None
    if dry_run:
        result.tail.append(dry_run_epilogue(summary))
    return result


def _write_in_two_processes(
    path: str,
    handle: BinaryIO,
    head: dict[str, Any],
    child_keys: list[str],
    own_keys: list[str],
    analysis: Analysis,
    result: DryRun,
    dry_run: bool,
) -> tuple[dict[str, int], int]:
    """The child writes the first run (up to blobDeletions) and spools the images' dry-run lines
    while this process writes the rest into a part file and spools the streams' dry-run lines;
    then the output is child part + own part, and the dry run the streams' lines, then the
    images'."""
    stream_lines = tempfile.TemporaryFile() if dry_run else None
    image_lines = tempfile.TemporaryFile() if dry_run else None
    directory, name = os.path.split(os.path.abspath(path))
    fd, own_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "w+b") as own:
            report = _in_child(
                lambda: _child_work(handle, head, child_keys, analysis, image_lines),
                lambda: _own_part(own, head, own_keys, analysis, stream_lines),
            )
            try:
                child = orjson.loads(report.child_message)
                own.seek(0)
                handle.seek(0, os.SEEK_END)  # after what the child wrote through the shared descriptor
                _append(handle, own)
            finally:
                os.waitpid(report.pid, 0)
    finally:
        os.unlink(own_path)
    if stream_lines is not None and image_lines is not None:
        result.parts += [stream_lines, image_lines]
    return {**child["counts"], **report.parent_result}, child["reclaimable"]


def _blob_part(out: BinaryIO, head: dict[str, Any], keys: list[str], analysis: Analysis) -> BlobSide:
    blobs = blob_side(analysis)
    _write_part(out, dump_plan_part({**head, **blobs.entries()}, keys, first=True, last=False))
    return blobs


def _spool(spool: IO[bytes] | None, blocks: Iterable[str]) -> None:
    if spool is not None:
        for text in _text_batches(blocks):
            spool.write(text.encode())
        spool.flush()


def _child_work(out: BinaryIO, head: dict[str, Any], keys: list[str], analysis: Analysis, image_lines: IO[bytes] | None) -> dict[str, Any]:
    blobs = _blob_part(out, head, keys, analysis)
    out.flush()
    _spool(image_lines, image_dry_run_text(analysis))
    return {"counts": blobs.counts(), "reclaimable": blobs.reclaimable}


def _own_part(
    out: BinaryIO, head: dict[str, Any], keys: list[str], analysis: Analysis, stream_lines: IO[bytes] | None = None
) -> dict[str, int]:
    streams, images = stream_side(analysis), image_side(analysis)
    _write_part(out, dump_plan_part({**head, **images.entries(analysis), **streams.entries()}, keys, first=False, last=False))
    out.flush()
    _spool(stream_lines, stream_dry_run_text(analysis))
    return {**streams.counts(), **images.counts()}


@dataclass(slots=True)
class _Report:
    parent_result: Any
    child_message: bytes
    pid: int  # the child: it has sent its message and may still be exiting (os.waitpid it)


def _in_child(child: Any, parent: Any) -> _Report:
    """Run child() in a forked process while parent() runs here. Returns parent()'s result and
    child()'s (as JSON bytes); raises what the child failed with. The caller reaps the child
    (os.waitpid(report.pid, 0)): it closes its pipe before it exits, and unmapping its copy of
    the heap (some milliseconds) then overlaps the caller's next step."""
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        code = 0
        try:
            os.close(read_end)
            message = b"ok " + orjson.dumps(child())
        except BaseException as err:  # noqa: BLE001 - everything is reported to the parent
            message = b"failed " + (getattr(err, "strerror", None) or str(err) or type(err).__name__).encode()[:2000]
            code = 1
        try:
            view = memoryview(message)
            while view:
                view = view[os.write(write_end, view):]
            os.close(write_end)  # the parent reads the end of the message now, not after the exit
        finally:
            os._exit(code)
    os.close(write_end)
    reader = os.fdopen(read_end, "rb")
    try:
        outcome = parent()
    except BaseException:
        reader.read()  # to its end: a child blocked on a full pipe would never exit
        reader.close()
        os.waitpid(pid, 0)
        raise
    with reader:
        message = reader.read()
    kind, _, body = message.partition(b" ")
    if kind != b"ok":
        _, status = os.waitpid(pid, 0)
        text = body.decode(errors="replace") if kind == b"failed" else f"writer process ended with status {status}"
        raise PrunePlanError(f"cannot write the plan: {text}", EXIT_IO)
    return _Report(outcome, body, pid)


_NO_SENDFILE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


def _append(handle: IO[bytes], part: IO[bytes]) -> None:
    """Append `part` (from its position) to `handle`, copying in the kernel where it can."""
    handle.flush()
    try:
        out_fd, in_fd = handle.fileno(), part.fileno()
        while os.sendfile(out_fd, in_fd, None, COPY_CHUNK):
            pass
    except (io.UnsupportedOperation, AttributeError):  # a stream without a descriptor
        shutil.copyfileobj(part, handle, COPY_CHUNK)
    except OSError as err:
        if err.errno not in _NO_SENDFILE:
            raise
        shutil.copyfileobj(part, handle, COPY_CHUNK)  # no sendfile between these files here
    if handle.seekable():
        handle.seek(0, os.SEEK_CUR)  # the buffered writer learns the offset the kernel left
