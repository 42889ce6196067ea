"""Writing the plan file and preparing upstream's dry-run lines, on two cores when the plan is big.

The plan's sorted keys are written in three consecutive runs, by what they need: the blobs stage 2
frees (apiVersion, blobDeletions), the images stage 2 deletes (errors, imageDeletions), and what
stage 1 decided with the small keys (imageStreamUpdates ... source); `summary`, which needs every
count, comes last.

For a big analysis, stage 2 runs here (Analysis.decide_images) while a forked stream writer
writes the third run into a part file and spools the streams' dry-run lines. Then a forked blob
writer writes the first run straight into the output while this process writes the second run
into another part file and spools the images' dry-run lines. The parts are appended (sendfile)
and summary written last. A writer shares the analysis through fork (nothing crosses its pipe
but its counts) and ends with os._exit, so it never runs this process's cleanups. The bytes are
the same as one process writes them (tests/test_plan_output.py, tests/test_properties.py).

The dry-run lines are printed only once the plan is complete and signed, as before (a failed
write prints none); on two cores they wait in temporary files, as big as the plan."""

from __future__ import annotations

import codecs
import errno
import io
import os
import shutil
import signal
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Callable, Iterable, Iterator, TextIO

import orjson

from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import EXIT_IO, PrunePlanError
from pruneplan.files import output_error, output_file
from pruneplan.planformat import dump_plan_part
from pruneplan.rawlines import fork_is_safe

from .engine import Analysis
from .plan import (
    BlobSide,
    blob_side,
    dry_run_epilogue,
    dry_run_prologue,
    image_dry_run_lines,
    image_side,
    plan_head,
    plan_summary,
    stream_dry_run_lines,
    stream_side,
)

BLOB_RUN_END = "blobDeletions"  # the blob writer's keys end here (apiVersion, blobDeletions)
IMAGE_RUN_END = "imageDeletions"  # then this process's (errors, imageDeletions); the stream writer's follow
ENTRY_KEYS = ("blobDeletions", "imageDeletions", "imageStreamUpdates", "layerLinkDeletions", "manifestLinkDeletions")
PARALLEL_MIN_IMAGES = 10_000  # below this the forks cost more than the second core saves
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
        binary.flush()
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


def _write_lines(out: TextIO, lines: Iterable[str]) -> None:
    for text in _batches(lines):
        out.write(text)


def _write_part(handle: BinaryIO, pieces: Iterable[bytes]) -> None:
    for piece in pieces:
        handle.write(piece)


@dataclass(slots=True)
class KeyRuns:
    """The plan's sorted keys but the last (summary), in three consecutive runs by what they need:
    stage 2's blobs (apiVersion, blobDeletions), stage 2's images (errors, imageDeletions), and
    stage 1's streams with the small keys (imageStreamUpdates ... source)."""

    blobs: list[str]
    images: list[str]
    streams: list[str]


def _key_runs(head: dict[str, Any]) -> KeyRuns:
    keys = sorted([*head, *ENTRY_KEYS, "summary"])
    assert keys[-1] == "summary"
    blobs_end = keys.index(BLOB_RUN_END) + 1
    images_end = keys.index(IMAGE_RUN_END) + 1
    runs = KeyRuns(keys[:blobs_end], keys[blobs_end:images_end], keys[images_end:-1])
    # the stream run must not need stage 2: its entries are stage 1's, its other keys the head's
    assert "errors" in runs.images and not {"errors", "blobDeletions", "imageDeletions"} & set(runs.streams)
    return runs


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

    Runs stage 2 first when the analysis left it for later (Analysis.decide_images); in parallel,
    while a forked process writes what stage 1 decided. parallel=None forks for analyses of
    PARALLEL_MIN_IMAGES images or more, where forking is safe."""
    if parallel is None:
        parallel = len(analysis.images) >= PARALLEL_MIN_IMAGES and fork_is_safe()
    if not parallel:
        analysis.decide_images()
    result = DryRun(dry_run_prologue(analysis) if dry_run else [])
    # The plan is rebuilt from the dump at will and is checked (parse, signature) before any
    # use, so it is not fsynced: on a 1M-image plan that wait was seconds.
    try:
        with output_file(path, 0o666, replace=True, durable=False) as handle:  # umask applies
            if parallel:
                counts, reclaimable = _write_in_three_processes(path, handle, analysis, loaded, valid_for_seconds, result, dry_run)
            else:
                head = plan_head(analysis, loaded, valid_for_seconds)
                runs = _key_runs(head)
                blobs = _blob_part(handle, head, runs.blobs, blob_side(analysis))
                counts = {
                    **blobs["counts"],
                    **_image_part(handle, head, runs.images, analysis, None),
                    **_stream_part(handle, head, runs.streams, analysis, None),
                }
                reclaimable = blobs["reclaimable"]
                if dry_run:  # upstream's order: the streams' lines, then the images'
                    result.parts += [stream_dry_run_lines(analysis), image_dry_run_lines(analysis)]
            summary = plan_summary(counts, reclaimable)
            _write_part(handle, dump_plan_part({"summary": summary}, ["summary"], first=False, last=True))
    except OSError as err:
        raise output_error(path, err) from None
    if dry_run:
        result.tail.append(dry_run_epilogue(summary))
    return result


def _write_in_three_processes(
    path: str,
    handle: BinaryIO,
    analysis: Analysis,
    loaded: LoadedInputs,
    valid_for_seconds: float,
    result: DryRun,
    dry_run: bool,
) -> tuple[dict[str, int], int]:
    """A forked stream writer writes stage 1's run into a part file (and spools the streams'
    dry-run lines) while this process runs stage 2. Then a forked blob writer writes the first run
    straight into the output while this process writes the images' run into another part file
    (and spools the images' dry-run lines). The output is then blob run + image part + stream
    part; the caller writes summary."""
    head = plan_head(analysis, loaded, valid_for_seconds)  # its errors are stage 2's: not written yet
    runs = _key_runs(head)
    stream_lines = tempfile.TemporaryFile() if dry_run else None
    image_lines = tempfile.TemporaryFile() if dry_run else None
    directory, name = os.path.split(os.path.abspath(path))
    with _part_file(directory, name) as streams_out, _part_file(directory, name) as images_out:
        stream_writer = _Writer(lambda: _stream_part(streams_out, head, runs.streams, analysis, stream_lines))
        with stream_writer:
            analysis.decide_images()
            head = plan_head(analysis, loaded, valid_for_seconds)
            blob_writer = _Writer(lambda: _blob_part(handle, head, runs.blobs, blob_side(analysis)))
            with blob_writer:
                images = _image_part(images_out, head, runs.images, analysis, image_lines)
            blob_counts = blob_writer.result()
        streams = stream_writer.result()
        handle.seek(0, os.SEEK_END)  # after what the blob writer wrote through the shared descriptor
        for part in (images_out, streams_out):
            part.seek(0)
            _append(handle, part)
    if dry_run:
        result.parts += [stream_lines, image_lines]  # type: ignore[list-item]
    return {**blob_counts["counts"], **images, **streams}, blob_counts["reclaimable"]


@contextmanager
def _part_file(directory: str, name: str) -> Iterator[BinaryIO]:
    """A temporary file beside the output (same file system, for sendfile), removed afterwards."""
    fd, part_path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "w+b") as part:
            yield part
    finally:
        os.unlink(part_path)


def _spool(lines: IO[bytes] | None, made: Iterator[str]) -> None:
    if lines is not None:
        for text in _batches(made):
            lines.write(text.encode())
        lines.flush()


def _blob_part(out: BinaryIO, head: dict[str, Any], keys: list[str], blobs: BlobSide) -> dict[str, Any]:
    _write_part(out, dump_plan_part({**head, **blobs.entries()}, keys, first=True, last=False))
    out.flush()
    return {"counts": blobs.counts(), "reclaimable": blobs.reclaimable}


def _image_part(out: BinaryIO, head: dict[str, Any], keys: list[str], analysis: Analysis, lines: IO[bytes] | None) -> dict[str, int]:
    images = image_side(analysis)
    _write_part(out, dump_plan_part({**head, **images.entries(analysis)}, keys, first=False, last=False))
    out.flush()
    _spool(lines, image_dry_run_lines(analysis))
    return images.counts()


def _stream_part(out: BinaryIO, head: dict[str, Any], keys: list[str], analysis: Analysis, lines: IO[bytes] | None) -> dict[str, int]:
    streams = stream_side(analysis)
    _write_part(out, dump_plan_part({**head, **streams.entries()}, keys, first=False, last=False))
    out.flush()
    _spool(lines, stream_dry_run_lines(analysis))
    return streams.counts()


class _Writer:
    """work() in a forked process, which shares this one's objects through fork and sends back
    only work()'s JSON result, then ends with os._exit (it never runs this process's cleanups).

    As a context manager: leaving the block by an exception kills and reaps the process, so a
    failure here leaves no writer behind; result() waits for it and raises what it failed with."""

    def __init__(self, work: Callable[[], Any]) -> None:
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the caller
            code = 0
            try:
                os.close(read_end)
                message = b"ok " + orjson.dumps(work())
            except BaseException as err:  # noqa: BLE001 - everything is reported to the parent
                message = b"failed " + (getattr(err, "strerror", None) or str(err) or type(err).__name__).encode()[:2000]
                code = 1
            try:
                view = memoryview(message)
                while view:
                    view = view[os.write(write_end, view):]
            finally:
                os._exit(code)
        os.close(write_end)
        self.pid: int | None = pid
        self._reader = os.fdopen(read_end, "rb")

    def __enter__(self) -> "_Writer":
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is not None and self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
            self._reader.close()

    def result(self) -> Any:
        assert self.pid is not None
        with self._reader:
            message = self._reader.read()
        _, status = os.waitpid(self.pid, 0)
        self.pid = None
        kind, _, body = message.partition(b" ")
        if status != 0 or kind != b"ok":
            text = body.decode(errors="replace") if kind == b"failed" else f"writer process ended with status {status}"
            raise PrunePlanError(f"cannot write the plan: {text}", EXIT_IO)
        return orjson.loads(body)


def _append(handle: BinaryIO, part: BinaryIO) -> None:
    """Append `part` (from its position) to `handle`, copying in the kernel where it can."""
    handle.flush()
    try:
        out_fd = handle.fileno()
        while os.sendfile(out_fd, part.fileno(), None, COPY_CHUNK):
            pass
    except (OSError, io.UnsupportedOperation, AttributeError) as err:
        if isinstance(err, OSError) and not isinstance(err, io.UnsupportedOperation) and err.errno not in _NO_SENDFILE:
            raise
        shutil.copyfileobj(part, handle, COPY_CHUNK)  # no sendfile between these files here
    if handle.seekable():
        handle.seek(0, os.SEEK_CUR)  # the buffered writer learns the offset the kernel left


_NO_SENDFILE = (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)
