"""`pruneplan collect --registry-storage DIR`: read a registry's filesystem storage into an
inventory (docs/inventory-format.md). Paths, sizes, times and link targets only: no blob content
is ever read, and only one repository's links are held at a time (the blobs stream out as the
sorted walk meets them).

Distribution's layout under `docker/registry/v2/`:
  repositories/<name...>/_manifests/revisions/sha256/<hex>/link
  repositories/<name...>/_manifests/tags/<tag>/current/link
  repositories/<name...>/_layers/sha256/<hex>/link
  repositories/<name...>/_uploads/<uuid>/{startedat,data,hashstates/...}
  blobs/sha256/<hex[:2]>/<hex>/data
Anything odd in it is a problem to report (the inventory's `problems`, a warning line), never a
reason to stop: a hard prune is exactly for storage that is not as it should be.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, TextIO

from pruneplan.errors import InputError
from pruneplan.files import STDOUT
from pruneplan.inventoryformat import (
    DIGEST_RE,
    INVENTORY_API_VERSION,
    INVENTORY_KIND,
    TAG_RE,
    Blob,
    Header,
    Inventory,
    InventoryWriter,
    Problem,
    Repository,
    Upload,
    count,
    make_header,
)
from pruneplan.planmodel import PATH_COMPONENT_RE, SHA256_HEX_RE
from pruneplan.timefmt import format_time, parse_time

V2 = os.path.join("docker", "registry", "v2")
REPOSITORY_MARKS = ("_manifests", "_layers", "_uploads")  # a directory holding one is a repository
PREFIX_RE = re.compile(r"[0-9a-f]{2}")  # blobs/sha256/<the digest's first two hex digits>/
MAX_SMALL_FILE = 1024  # a link or a startedat file is a few dozen bytes; more is not one


def storage_base(root: str) -> str:
    """The `docker/registry/v2` directory of the storage root `root` (the directory holding
    `docker/`), or `root` itself when it is that directory; InputError otherwise."""
    if not os.path.exists(root):
        raise InputError(f"{root}: no such directory")
    if not os.path.isdir(root):
        raise InputError(f"{root}: not a directory")
    base = os.path.join(root, V2)
    if os.path.isdir(base):
        return base
    if os.path.normpath(os.path.abspath(root)).endswith(os.sep + V2):
        return root
    raise InputError(f"{root}: not a registry's storage (no {V2} in it, and it is not that directory)")


@dataclass
class Problems:
    """What is odd in the storage, by path under the storage root; each one also goes to `warn`
    as it is found."""

    base: str
    warn: Callable[[Problem], None]
    found: list[Problem] = field(default_factory=list)

    def add(self, path: str, what: str) -> None:
        relative = os.path.relpath(path, self.base)
        where = V2 if relative == "." else os.path.join(V2, relative)
        problem = Problem(path=where.replace(os.sep, "/"), problem=what)
        self.found.append(problem)
        self.warn(problem)


def _why(err: OSError) -> str:
    return err.strerror or str(err)


def listing(path: str, problems: Problems) -> list[os.DirEntry[str]]:
    """The entries of directory `path`, sorted by name; [] and a problem when it cannot be read."""
    try:
        with os.scandir(path) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as err:
        problems.add(path, f"cannot read the directory: {_why(err)}")
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def read_small(path: str, what: str, problems: Problems) -> str | None:
    """The text of a small file (a link, a startedat); None and a problem when it is missing,
    unreadable or too long to be what it should."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SMALL_FILE + 1)
    except FileNotFoundError:
        problems.add(os.path.dirname(path), f"has no {os.path.basename(path)} file")
        return None
    except OSError as err:
        problems.add(path, f"cannot read the {what}: {_why(err)}")
        return None
    if len(data) > MAX_SMALL_FILE:
        problems.add(path, f"is not a {what}: longer than {MAX_SMALL_FILE} bytes")
        return None
    return data.decode("utf-8", "replace")


def read_link(path: str, problems: Problems) -> str | None:
    """The digest a link file names; None and a problem when it does not name a valid one."""
    text = read_small(path, "link", problems)
    if text is None:
        return None
    if not DIGEST_RE.fullmatch(text):
        problems.add(path, f"is not a valid link: it holds {text[:80]!r}, not sha256:<64 hex>")
        return None
    return text


def digest_links(directory: str, problems: Problems) -> list[str]:
    """The targets of `<directory>/<hex>/link` (a `sha256` directory of revisions or layers),
    sorted and unique. A link that names another digest than its directory's is listed as it
    names (that is what the registry follows) and reported."""
    if not os.path.isdir(directory):
        return []
    digests: set[str] = set()
    for entry in listing(directory, problems):
        if not _is_dir(entry) or not SHA256_HEX_RE.fullmatch(entry.name):
            problems.add(entry.path, "is not a link directory (sha256 hex digest)")
            continue
        target = read_link(os.path.join(entry.path, "link"), problems)
        if target is None:
            continue
        if target != f"sha256:{entry.name}":
            problems.add(os.path.join(entry.path, "link"), f"names {target}, not the digest of its directory")
        digests.add(target)
    return sorted(digests)


def tag_links(directory: str, problems: Problems) -> dict[str, str]:
    """tag -> the digest of `<directory>/<tag>/current/link`, sorted by tag."""
    if not os.path.isdir(directory):
        return {}
    tags: dict[str, str] = {}
    for entry in listing(directory, problems):
        if not _is_dir(entry) or not TAG_RE.fullmatch(entry.name):
            problems.add(entry.path, "is not a tag directory")
            continue
        target = read_link(os.path.join(entry.path, "current", "link"), problems)
        if target is not None:
            tags[entry.name] = target
    return tags


def uploads(directory: str, problems: Problems) -> list[Upload]:
    """The uploads in progress under `_uploads`: each one's start time and bytes so far."""
    if not os.path.isdir(directory):
        return []
    found: list[Upload] = []
    for entry in listing(directory, problems):
        if not _is_dir(entry):
            problems.add(entry.path, "is not an upload directory")
            continue
        found.append(Upload(uuid=entry.name, started_at=_started_at(entry.path, problems), size=_data_size(entry.path, problems)))
    return found


def _started_at(directory: str, problems: Problems) -> str | None:
    path = os.path.join(directory, "startedat")
    text = read_small(path, "start time", problems)
    if text is None:
        return None
    try:
        return format_time(parse_time(text.strip())) if text.strip() else None
    except ValueError:
        pass
    problems.add(path, f"is not an RFC 3339 time: {text[:80]!r}")
    return None


def _data_size(directory: str, problems: Problems) -> int:
    """Bytes of an upload's `data` so far; 0 when there is none yet (an upload just begun)."""
    try:
        return os.stat(os.path.join(directory, "data"), follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0
    except OSError as err:
        problems.add(os.path.join(directory, "data"), f"cannot read the upload's data: {_why(err)}")
        return 0


def sha256_links(directory: str, problems: Problems) -> list[str]:
    """digest_links of `<directory>/sha256`; any other entry of `directory` is a problem (the
    registry stores sha256 digests only, and a later prune must not overlook a link)."""
    if not os.path.isdir(directory):
        return []
    for entry in listing(directory, problems):
        if entry.name != "sha256" or not _is_dir(entry):
            problems.add(entry.path, "is not a sha256 link directory (only sha256 links are read)")
    return digest_links(os.path.join(directory, "sha256"), problems)


def repository(directory: str, name: str, problems: Problems) -> Repository:
    manifests = os.path.join(directory, "_manifests")
    return Repository(
        name=name,
        manifests=sha256_links(os.path.join(manifests, "revisions"), problems),
        layers=sha256_links(os.path.join(directory, "_layers"), problems),
        tags=tag_links(os.path.join(manifests, "tags"), problems),
        uploads=uploads(os.path.join(directory, "_uploads"), problems),
    )


def repositories(base: str, problems: Problems) -> Iterator[Repository]:
    """Every repository under `repositories/`, in the order of a sorted walk: by path component,
    a repository before those nested in it (`a`, `a/b`, `a-b`)."""
    top = os.path.join(base, "repositories")
    if os.path.isdir(top):
        yield from _tree(top, (), problems)


def _tree(directory: str, components: tuple[str, ...], problems: Problems) -> Iterator[Repository]:
    entries = listing(directory, problems)
    if components and any(entry.name in REPOSITORY_MARKS for entry in entries):
        yield repository(directory, "/".join(components), problems)
    for entry in entries:
        if entry.name.startswith("_") or not _is_dir(entry):
            continue  # a repository's own data (read above), or a stray file
        if not PATH_COMPONENT_RE.fullmatch(entry.name):
            problems.add(entry.path, "is not a repository name component (lower-case letters, digits, separators)")
            continue
        yield from _tree(entry.path, (*components, entry.name), problems)


def blobs(base: str, problems: Problems) -> Iterator[Blob]:
    """Every blob under `blobs/sha256/<2 hex>/<hex>/data`, sorted by digest."""
    top = os.path.join(base, "blobs")
    if not os.path.isdir(top):
        return
    for algorithm in listing(top, problems):
        if algorithm.name != "sha256" or not _is_dir(algorithm):
            problems.add(algorithm.path, "is not a blob directory (only sha256 blobs are stored)")
            continue
        for prefix in listing(algorithm.path, problems):
            if not _is_dir(prefix) or not PREFIX_RE.fullmatch(prefix.name):
                problems.add(prefix.path, "is not a blob prefix directory (two hex digits)")
                continue
            for entry in listing(prefix.path, problems):
                found = _blob(entry, prefix.name, problems)
                if found is not None:
                    yield found


def _blob(entry: os.DirEntry[str], prefix: str, problems: Problems) -> Blob | None:
    if not _is_dir(entry) or not SHA256_HEX_RE.fullmatch(entry.name) or not entry.name.startswith(prefix):
        problems.add(entry.path, f"is not a blob directory (a sha256 hex digest starting {prefix})")
        return None
    data = os.path.join(entry.path, "data")
    try:
        info = os.stat(data, follow_symlinks=False)
    except FileNotFoundError:
        problems.add(entry.path, "is a blob directory without data")
        return None
    except OSError as err:
        problems.add(data, f"cannot read the blob's data: {_why(err)}")
        return None
    if not stat.S_ISREG(info.st_mode):
        problems.add(data, "is not a regular file")
        return None
    return Blob(digest=f"sha256:{entry.name}", size=info.st_size, modified=rfc3339_ns(info.st_mtime_ns))


def rfc3339_ns(nanoseconds: int) -> str:
    """A file time as RFC 3339 UTC, to the microsecond when it has a fraction (exact: no float)."""
    seconds, rest = divmod(nanoseconds, 1_000_000_000)
    moment = time.gmtime(seconds)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", moment)
    micro = rest // 1000
    return f"{text}.{micro:06d}Z" if micro else f"{text}Z"


MAX_WARNINGS = 20  # warning lines on stderr; the inventory lists every problem


class Warnings:
    """`warning: <path> <problem>` on stderr for the first MAX_WARNINGS problems."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.count = 0

    def __call__(self, problem: Problem) -> None:
        self.count += 1
        if self.count <= MAX_WARNINGS:
            print(f"warning: {problem.path} {problem.problem}", file=self._stream)

    def close(self) -> None:
        if self.count > MAX_WARNINGS:
            more = self.count - MAX_WARNINGS
            print(f"warning: {more:,} more problem{'s' if more != 1 else ''} (the inventory's problems list them all)", file=self._stream)


def collect_inventory(root: str, output: str, read_at: float | None, stderr: TextIO | None = None) -> Header:
    """Read the storage under `root` and write its inventory to `output`; read_at (epoch
    seconds) is the header's readAt, else the time the walk begins (a blob written during the
    walk is then newer than the inventory)."""
    stderr = stderr or sys.stderr  # looked up now: a caller may have redirected it
    base = storage_base(root)
    try:  # the root itself must be readable: anything below it unreadable is only a problem
        os.scandir(base).close()
    except OSError as err:
        raise InputError(f"{root}: cannot read: {_why(err)}") from None
    started = format_time(float(int(time.time())) if read_at is None else read_at) or ""
    warnings = Warnings(stderr)
    problems = Problems(base, warnings)
    writer = InventoryWriter(output)
    try:
        for found in repositories(base, problems):
            writer.lines.repository(found)
        for blob in blobs(base, problems):
            writer.lines.blob(blob)
        header = writer.commit(problems.found, started, root)
    except BaseException:
        writer.abort()
        raise
    warnings.close()
    print(f"wrote {'the inventory to stdout' if output == STDOUT else output}: {summary(header)}", file=stderr)
    return header


def summary(header: Header) -> str:
    counts = header.counts
    return (f"{counts.repositories:,} repositories, {counts.blobs:,} blobs ({counts.blob_bytes:,} bytes), "
            f"{counts.uploads:,} uploads in progress, {counts.problems:,} problems")


def read_storage(root: str, read_at: float | None = None, warn: Callable[[Problem], None] | None = None) -> Inventory:
    """The inventory of the storage under `root`, in memory and written nowhere: the same walk as
    collect_inventory, for execute's re-check of a hard-prune plan (the storage as it is now).
    `warn` sees each problem as it is found (default: none is said; the inventory lists them)."""
    base = storage_base(root)
    try:
        os.scandir(base).close()
    except OSError as err:
        raise InputError(f"{root}: cannot read: {_why(err)}") from None
    started = format_time(float(int(time.time())) if read_at is None else read_at) or ""
    problems = Problems(base, warn or (lambda problem: None))
    found = list(repositories(base, problems))
    stored = list(blobs(base, problems))
    header = make_header(started, root, count(found, stored, len(problems.found)))
    return Inventory(api_version=INVENTORY_API_VERSION, kind=INVENTORY_KIND, repositories=found, blobs=stored,
                     problems=problems.found, header=header)
