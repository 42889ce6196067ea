"""Storage inventory format v1 (docs/inventory-format.md): what a registry's storage holds, as
paths and digests, for a later hard-prune analysis.

The classes are msgspec Structs (frozen, unknown fields refused) with a strict `from_dict` and a
`to_dict`, as pruneplan.planmodel's are. `InventoryWriter` streams the document a line at a time
(the repositories and blobs of a big registry need not fit in memory twice); `Inventory.to_bytes`
goes through the same writer, so `Inventory.from_bytes(b).to_bytes() == b` for every inventory
collect writes. Any malformed field is one InputError: `<path>: inventory field <where> <what>`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import zlib
from typing import Annotated, Any, Callable, Iterable, Optional, TypeVar

import msgspec
from msgspec import Meta

from . import TOOL_NAME, __version__
from .errors import InputError
from .files import Output, OutputSet, input_path, read_input_or_fail
from .jsonwords import describe_validation
from .planmodel import PATH_COMPONENT_RE
from .rawlines import LineTooLong, TooLarge, inflate_whole, read_line_batches
from .strictstruct import BadField, StrictStruct, join
from .timefmt import ZERO, parse_time

INVENTORY_API_VERSION = "pruneplan.io/v1"
INVENTORY_KIND = "StorageInventory"
FORMAT_VERSION = 1
GZIP_LEVEL = 6  # as a dump's
MAX_INVENTORY = 4 << 30  # read whole (inflated): millions of blobs at ~130 bytes each

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")  # the only digests distribution's storage names
REPOSITORY_RE = re.compile(rf"{PATH_COMPONENT_RE.pattern}(?:/{PATH_COMPONENT_RE.pattern})*")
# a tag as distribution accepts one
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")

NonNegative = Annotated[int, Meta(ge=0)]


class InventoryFieldError(InputError):
    """A malformed inventory field: `where` (e.g. blobs[3].digest) and `what` is wrong with it."""

    def __init__(self, where: str, what: str, path: str = "inventory") -> None:
        super().__init__(f"{path}: inventory field {where} {what}")
        self.where = where
        self.what = what


def _digest(value: str, name: str) -> None:
    if not DIGEST_RE.fullmatch(value):
        raise BadField(name, f"must be a digest sha256:<64 lower-case hex>, not {value!r}")


# digests one to a line: a whole list is checked in one match (an inventory holds millions)
_DIGEST_LINES_RE = re.compile(rf"(?:{DIGEST_RE.pattern}\n)*")


def _digests(values: list[str], name: Callable[[int], str]) -> None:
    """Every value a digest, else BadField for the first that is not (`name(index)`). One line
    per value and a whole match means each value is exactly one digest: a value that held a
    line break would add a line."""
    lines = "\n".join(values) + "\n" if values else ""
    if lines.count("\n") == len(values) and _DIGEST_LINES_RE.fullmatch(lines):
        return
    for index, value in enumerate(values):
        _digest(value, name(index))


def _is_time(value: str) -> bool:
    try:
        return parse_time(value) != ZERO
    except ValueError:
        return False


def _time(value: Optional[str], name: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    try:
        seconds = parse_time(value) if isinstance(value, str) else ZERO
    except ValueError:
        seconds = ZERO
    if seconds == ZERO:
        raise BadField(name, f"must be an RFC 3339 time{' or null' if optional else ''}, not {value!r}")


def _ascending(values: list[Any], name: str, what: str) -> None:
    """Strictly ascending: sorted, no duplicates (the writer's order, so the bytes are stable)."""
    for index in range(1, len(values)):
        if not values[index - 1] < values[index]:
            raise BadField(f"{name}[{index}]", f"is out of order or repeated: {what} are sorted and unique")


T = TypeVar("T", bound="_Struct")


class _Struct(StrictStruct, frozen=True):
    @classmethod
    def from_dict(cls: type[T], data: Any, path: str = "inventory") -> T:
        """Strictly convert decoded JSON and check it; InventoryFieldError names the field."""
        try:
            struct = msgspec.convert(data, type=cls, strict=True)
        except msgspec.ValidationError as err:
            raise InventoryFieldError(*describe_validation(str(err)), path) from None
        return struct.checked(path)

    def checked(self: T, path: str) -> T:
        """This struct, once its value checks pass; InventoryFieldError names the first field that fails."""
        try:
            self._check("")
        except BadField as bad:
            raise InventoryFieldError(bad.name, bad.what, path) from None
        return self

    def _check(self, where: str) -> None:
        """Value checks decoding does not make; raise BadField with the field's path under `where`."""


class Upload(_Struct, frozen=True):
    """An upload in progress: `_uploads/<uuid>/`."""

    uuid: str
    started_at: Optional[str]  # null when its startedat file is missing or unreadable (a problem says so)
    size: NonNegative  # bytes of `data` so far

    def _check(self, where: str) -> None:
        if not self.uuid or "/" in self.uuid or self.uuid in (".", ".."):
            raise BadField(join(where, "uuid"), f"must be one directory name, not {self.uuid!r}")
        _time(self.started_at, join(where, "startedAt"), optional=True)


class Repository(_Struct, frozen=True):
    name: str
    manifests: list[str]  # _manifests/revisions/sha256/<hex>/link targets
    layers: list[str]  # _layers/sha256/<hex>/link targets
    tags: dict[str, str]  # tag -> _manifests/tags/<tag>/current/link target
    uploads: list[Upload]

    def _check(self, where: str) -> None:
        if not REPOSITORY_RE.fullmatch(self.name):
            raise BadField(join(where, "name"), f"must be a repository name (lower-case path components), not {self.name!r}")
        for key in ("manifests", "layers"):
            values: list[str] = getattr(self, key)
            field = join(where, key)
            _digests(values, lambda index: f"{field}[{index}]")
            _ascending(values, field, "digests")
        for tag, digest in self.tags.items():
            if not TAG_RE.fullmatch(tag):
                raise BadField(join(where, "tags"), f"has a key that is not a tag: {tag!r}")
            _digest(digest, f"{join(where, 'tags')}.{tag}")
        _ascending(list(self.tags), join(where, "tags"), "tags")
        for index, upload in enumerate(self.uploads):
            upload._check(f"{join(where, 'uploads')}[{index}]")
        _ascending([u.uuid for u in self.uploads], join(where, "uploads"), "uploads")


class Blob(_Struct, frozen=True):
    digest: str
    size: NonNegative
    modified: str  # the data file's modification time, RFC 3339 UTC

    def _check(self, where: str) -> None:
        _digest(self.digest, join(where, "digest"))
        _time(self.modified, join(where, "modified"))


class Problem(_Struct, frozen=True):
    path: str  # relative to the storage root as given (`docker/registry/v2/...`)
    problem: str

    def _check(self, where: str) -> None:
        for key in ("path", "problem"):
            if not getattr(self, key):
                raise BadField(join(where, key), "must not be empty")


class Counts(_Struct, frozen=True):
    repositories: NonNegative
    manifests: NonNegative
    layers: NonNegative
    tags: NonNegative
    uploads: NonNegative
    blobs: NonNegative
    blob_bytes: NonNegative
    problems: NonNegative


class Tool(_Struct, frozen=True):
    name: str
    version: str


class Header(_Struct, frozen=True):
    format_version: Annotated[int, Meta(ge=FORMAT_VERSION, le=FORMAT_VERSION)]
    read_at: str
    root: str
    tool: Tool
    counts: Counts

    def _check(self, where: str) -> None:
        _time(self.read_at, join(where, "readAt"))
        if not self.root:
            raise BadField(join(where, "root"), "must not be empty")


class Inventory(_Struct, frozen=True):
    api_version: str
    kind: str
    repositories: list[Repository]
    blobs: list[Blob]
    problems: list[Problem]
    header: Header

    def _check(self, where: str) -> None:
        if self.kind != INVENTORY_KIND:
            raise BadField("kind", f"must be {INVENTORY_KIND}, not {self.kind!r}")
        if self.api_version != INVENTORY_API_VERSION:
            raise BadField("apiVersion", f"must be {INVENTORY_API_VERSION} (the version this tool knows), not {self.api_version!r}")
        for index, repository in enumerate(self.repositories):
            repository._check(f"repositories[{index}]")
        _ascending([repository_key(r.name) for r in self.repositories], "repositories", "repositories")
        _digests([blob.digest for blob in self.blobs], lambda index: f"blobs[{index}].digest")
        for index, blob in enumerate(self.blobs):
            if not _is_time(blob.modified):
                blob._check(f"blobs[{index}]")  # says which field, and how it is wrong
        _ascending([b.digest for b in self.blobs], "blobs", "blobs")
        for index, problem in enumerate(self.problems):
            problem._check(f"problems[{index}]")
        self._check_counts()

    def _check_counts(self) -> None:
        found = count(self.repositories, self.blobs, len(self.problems))
        for field in msgspec.structs.fields(Counts):
            said, held = getattr(self.header.counts, field.name), getattr(found, field.name)
            if said != held:
                raise BadField(f"header.counts.{field.encode_name}", f"is {said}, but the inventory holds {held}")

    @classmethod
    def from_bytes(cls, raw: bytes, path: str = "inventory") -> "Inventory":
        """Parse an inventory (plain or gzip) and check all of it."""
        if raw[:2] == b"\x1f\x8b":
            raw = _inflate(raw, path)
        try:
            top = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
        except msgspec.ValidationError:  # valid JSON, but not an object
            top = {}
        except msgspec.DecodeError as err:
            raise InputError(f"{path}: invalid JSON: {err}") from None
        if "kind" not in top or msgspec.json.decode(top["kind"]) != INVENTORY_KIND:
            raise InputError(f"{path}: not a storage inventory (kind is not {INVENTORY_KIND})")
        del top
        try:  # straight into the typed objects: no dicts of the whole document on the way
            inventory = msgspec.json.decode(raw, type=cls, strict=True)
        except msgspec.ValidationError as err:
            raise InventoryFieldError(*describe_validation(str(err)), path) from None
        return inventory.checked(path)

    def to_bytes(self) -> bytes:
        """The document exactly as InventoryWriter writes it."""
        buffer = io.BytesIO()
        writer = InventoryLines(buffer)
        for repository in self.repositories:
            writer.repository(repository)
        for blob in self.blobs:
            writer.blob(blob)
        writer.finish(self.problems, self.header)
        return buffer.getvalue()


def _inflate(raw: bytes, path: str) -> bytes:
    """A gzip file's content, bounded (rawlines.inflate_whole): a small file must not inflate
    without limit."""
    try:
        return inflate_whole(raw, MAX_INVENTORY)
    except TooLarge:
        raise InputError(f"{path}: larger than {MAX_INVENTORY >> 30} GiB once inflated") from None
    except EOFError:
        raise InputError(f"{path}: not a readable gzip file: it ends early") from None
    except zlib.error as err:
        raise InputError(f"{path}: not a readable gzip file: {err}") from None


def repository_key(name: str) -> tuple[str, ...]:
    """The order of repositories: by path component (`a/b` before `a-b`), as a sorted walk of the
    directories meets them."""
    return tuple(name.split("/"))


def count(repositories: Iterable[Repository], blobs: Iterable[Blob], problems: int) -> Counts:
    totals = dict.fromkeys(("repositories", "manifests", "layers", "tags", "uploads", "blobs", "blob_bytes"), 0)
    for repository in repositories:
        add_repository(totals, repository)
    for blob in blobs:
        add_blob(totals, blob)
    return Counts(problems=problems, **totals)


def add_repository(totals: dict[str, int], repository: Repository) -> None:
    totals["repositories"] += 1
    totals["manifests"] += len(repository.manifests)
    totals["layers"] += len(repository.layers)
    totals["tags"] += len(repository.tags)
    totals["uploads"] += len(repository.uploads)


def add_blob(totals: dict[str, int], blob: Blob) -> None:
    totals["blobs"] += 1
    totals["blob_bytes"] += blob.size


def make_header(read_at: str, root: str, counts: Counts) -> Header:
    return Header(format_version=FORMAT_VERSION, read_at=read_at, root=root, tool=Tool(TOOL_NAME, __version__), counts=counts)


_encode = msgspec.json.Encoder().encode
_ENVELOPE = b'{"apiVersion":"' + INVENTORY_API_VERSION.encode() + b'","kind":"' + INVENTORY_KIND.encode() + b'",\n'


class InventoryLines:
    """The line layout: the envelope, `"repositories":[`, one repository a line, `],"blobs":[`,
    one blob a line, `],"problems":[`, one problem a line, `],` and the header line last (its
    counts are known only at the end). Repositories must all come before blobs."""

    def __init__(self, out: Output | gzip.GzipFile | io.BytesIO) -> None:
        self._out = out
        self._out.write(_ENVELOPE + b'"repositories":[')
        self._section = "repositories"
        self._first = True
        self.totals = dict.fromkeys(("repositories", "manifests", "layers", "tags", "uploads", "blobs", "blob_bytes"), 0)

    def _item(self, data: bytes) -> None:
        self._out.write((b"\n" if self._first else b",\n") + data)
        self._first = False

    def _to(self, section: str) -> None:
        if self._section != section:
            self._out.write(f'\n],"{section}":['.encode())
            self._section = section
            self._first = True

    def repository(self, repository: Repository) -> None:
        if self._section != "repositories":
            raise ValueError("every repository goes before the blobs")
        self._item(_encode(repository))
        add_repository(self.totals, repository)

    def blob(self, blob: Blob) -> None:
        self._to("blobs")
        self._item(_encode(blob))
        add_blob(self.totals, blob)

    def counts(self, problems: int) -> Counts:
        return Counts(problems=problems, **self.totals)

    def finish(self, problems: list[Problem], header: Header) -> None:
        self._to("blobs")
        self._to("problems")
        for problem in problems:
            self._item(_encode(problem))
        self._out.write(b'\n],\n"header":' + _encode(header) + b"}\n")


class InventoryWriter:
    """Streams an inventory into `path` (gzip when it ends in .gz; `-` is stdout) through
    pruneplan.files: a temporary file renamed into place by commit(), none left by abort()."""

    def __init__(self, path: str, inputs: Iterable[str] = ()) -> None:
        self.path = path
        self._outputs = OutputSet(inputs)
        raw = self._outputs.open(path, 0o600, replace=True)  # 0600: it names every repository
        # filename="", mtime=0: the same storage gives the same bytes
        self._out: Output | gzip.GzipFile = (
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) if path.endswith(".gz") else raw)
        try:
            self.lines = InventoryLines(self._out)
        except BaseException:
            self.abort()
            raise

    def commit(self, problems: list[Problem], read_at: str, root: str) -> Header:
        header = make_header(read_at, root, self.lines.counts(len(problems)))
        self.lines.finish(problems, header)
        if isinstance(self._out, gzip.GzipFile):
            self._out.close()  # its trailer; the file stays open for the commit
        self._outputs.commit()
        return header

    def abort(self) -> None:
        self._outputs.abort()
        if isinstance(self._out, gzip.GzipFile):
            try:
                self._out.close()
            except (OSError, ValueError):
                pass


def read_inventory(path: str) -> Inventory:
    """Read and check the inventory file `path` (`-` is stdin); one-line InputError otherwise."""
    return read_inventory_file(path)[0]


def read_inventory_file(path: str) -> tuple[Inventory, str]:
    """The inventory and the sha256 of its file's bytes (a plan records it); one-line InputError.

    A regular file in the writer's line layout is read a line at a time, so the inflated
    document is never held whole: an inventory's objects are most of what it costs. Anything
    else, and any line that is not as the writer makes it, is read as one document, whose reader
    words every fault; both end with the same checks."""
    real = input_path(path)
    try:
        streamed = _read_lines(real) if os.path.isfile(real) else None
    except OSError:
        streamed = None  # the whole read says what is wrong with the file
    if streamed is not None:
        inventory, sha256 = streamed
        return inventory.checked(path), sha256
    raw = read_input_or_fail(real, MAX_INVENTORY, f"larger than {MAX_INVENTORY >> 30} GiB", "an inventory")
    return Inventory.from_bytes(raw, path), hashlib.sha256(raw).hexdigest()


class _NotTheLayout(Exception):
    """A line that is not as InventoryLines writes it."""


_SECTIONS = {b'],"blobs":[': "blobs", b'],"problems":[': "problems", b"],": "header"}
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "repositories": msgspec.json.Decoder(Repository, strict=True),
    "blobs": msgspec.json.Decoder(Blob, strict=True),
    "problems": msgspec.json.Decoder(Problem, strict=True),
}
_HEADER_DECODER = msgspec.json.Decoder(Header, strict=True)
_HEADER_KEY = b'"header":'


def _read_lines(path: str) -> tuple[Inventory, str] | None:
    """The inventory decoded line by line (not checked yet) and its file's sha256, or None when
    the file is not in the writer's line layout or a line does not decode."""
    hasher = hashlib.sha256()
    found: dict[str, list[Any]] = {"repositories": [], "blobs": [], "problems": []}
    header: Header | None = None
    section = ""
    size = 0
    try:
        for lines in read_line_batches(path, hasher):
            for line in lines:
                size += len(line) + 1
                if section in _DECODERS and line[:1] == b"{":
                    found[section].append(_DECODERS[section].decode(line[:-1] if line[-1:] == b"," else line))
                elif not section and line == _ENVELOPE[:-1]:
                    section = "envelope"
                elif section == "envelope" and line == b'"repositories":[':
                    section = "repositories"
                elif line in _SECTIONS and section in _DECODERS:
                    section = _SECTIONS[line]
                elif section == "header" and line.startswith(_HEADER_KEY) and line.endswith(b"}") and header is None:
                    header = _HEADER_DECODER.decode(line[len(_HEADER_KEY):-1])
                elif line or header is None:
                    raise _NotTheLayout()
            if size > MAX_INVENTORY:
                return None
    except (_NotTheLayout, msgspec.DecodeError, EOFError, zlib.error, LineTooLong):
        return None  # msgspec.ValidationError is a DecodeError
    if header is None:
        return None
    inventory = Inventory(INVENTORY_API_VERSION, INVENTORY_KIND, found["repositories"], found["blobs"], found["problems"], header)
    return inventory, hasher.hexdigest()
