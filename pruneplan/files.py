"""Writing output files safely: created with their mode from the start, replaced atomically."""

from __future__ import annotations

import os
import secrets
from typing import Iterable

from .errors import EXIT_IO, PrunePlanError


def write_file(path: str, data: bytes | Iterable[bytes], mode: int, replace: bool) -> None:
    """Write `data` (bytes, or pieces of them) to `path`, the file being created with `mode`
    from the start.

    replace=False creates the file exclusively (O_EXCL), so an existing file is never touched.
    replace=True writes a sibling temporary file and renames it over `path`: readers see the
    old or the new content, never a partial one, and a replaced file gets `mode` rather than
    keeping the old file's permissions.
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
            for piece in [data] if isinstance(data, bytes) else data:
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(target, path)
    except BaseException:
        try:
            os.unlink(target)
        except OSError:
            pass
        raise


def write_or_fail(path: str, data: bytes | Iterable[bytes], mode: int, replace: bool) -> None:
    try:
        write_file(path, data, mode, replace)
    except FileExistsError:
        raise PrunePlanError(f"{path} already exists (use --force to overwrite it)", EXIT_IO) from None
    except OSError as err:
        raise PrunePlanError(f"cannot write {path}: {err.strerror or err}", EXIT_IO) from None
