"""Writing output files safely: created with their mode from the start, replaced atomically."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from typing import BinaryIO, Iterable, Iterator

from .errors import EXIT_IO, PrunePlanError


@contextmanager
def output_file(path: str, mode: int, replace: bool, durable: bool = True) -> Iterator[BinaryIO]:
    """A file to write `path` through, created with `mode` from the start.

    replace=False creates the file exclusively (O_EXCL), so an existing file is never touched.
    replace=True writes a sibling temporary file and renames it over `path` when the block ends
    without an exception: readers see the old or the new content, never a partial one, and a
    replaced file gets `mode` rather than keeping the old file's permissions. On an exception
    the partial file is removed. durable=True fsyncs before the rename.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    if replace:
        directory, name = os.path.split(os.path.abspath(path))
        target = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    else:
        target = path
    fd = os.open(target, flags, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if replace:
            os.replace(target, path)
    except BaseException:
        try:
            os.unlink(target)
        except OSError:
            pass
        raise


def write_file(path: str, data: bytes | Iterable[bytes], mode: int, replace: bool, durable: bool = True) -> None:
    """Write `data` (bytes, or pieces of them) to `path` through output_file."""
    with output_file(path, mode, replace, durable) as handle:
        for piece in [data] if isinstance(data, bytes) else data:
            handle.write(piece)


def output_error(path: str, err: OSError) -> PrunePlanError:
    if isinstance(err, FileExistsError):
        return PrunePlanError(f"{path} already exists (use --force to overwrite it)", EXIT_IO)
    return PrunePlanError(f"cannot write {path}: {err.strerror or err}", EXIT_IO)


def write_or_fail(path: str, data: bytes | Iterable[bytes], mode: int, replace: bool) -> None:
    try:
        write_file(path, data, mode, replace)
    except OSError as err:
        raise output_error(path, err) from None
