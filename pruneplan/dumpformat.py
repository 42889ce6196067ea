"""Dump format v1 (docs/dump-format.md): the input forms, their envelopes, object identity and the
merge of several inputs. The writer is pruneplan/dumpwriter.py.

`analyze` accepts our dump (plain or gzip) in the collector's line layout or as one JSON document,
and the `kind: List` (or typed list, `ImageList`, ...) that `oc get ... -o json` prints; several
inputs are merged. Every form hands each object's JSON, as bytes, to its resource's Reader
(analyze's decoders build the typed model from it, once). This module checks the envelopes, names
an object a reader refuses (by its identity, or by its position when it has none) and keeps the
first object of each identity.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Mapping, Union

import msgspec
import orjson

from . import TOOL_NAME, __version__
from .clustersettings import ClusterSettings, decode_settings
from .errors import InputError, PrunePlanError
from .files import read_input_or_fail
from .jsonwords import describe_validation
from .jsonwords import json_type
from .kinds import BY_KIND, BY_RESOURCE, KINDS
from .rawlines import GZIP_MAGIC, MAX_LINE, Hasher, LineTooLong, TooLarge, inflate_whole, read_head, read_line_batches
from .timefmt import parse_time
from .urls import without_userinfo

DUMP_API_VERSION = "pruneplan.io/v1"
DUMP_KIND = "ClusterDump"
FORMAT_VERSION = 1
# a whole JSON document (a dump or a List, not the collector's line layout) is read whole, so its
# content (inflated, for gzip) is bounded: docs/dump-format.md, "Limits"
MAX_DOCUMENT = 2 << 30
STREAM_PREFIX = b'{"apiVersion":"' + DUMP_API_VERSION.encode() + b'","kind":"' + DUMP_KIND.encode() + b'","objects":{'
HEADER_KEY = b'"header":'

# What makes an object unique within its resource: its name, after its namespace for a namespaced kind.
Identity = Union[str, tuple[str, str]]
# One object's JSON to its identity and what the caller keeps of it; raises Refused for an object
# it does not keep, msgspec.DecodeError (or RecursionError) for malformed JSON.
Reader = Callable[[bytes], tuple[Identity, Any]]
# A `kind: List`'s items (each one's JSON) read without looking up each one's kind first: each
# item's resource, identity and what the caller keeps of it, in the list's order; None when some
# item must be read alone by its Reader (an item of a kind not read, a refused object: the Reader
# says what is wrong).
ListReader = Callable[[list[msgspec.Raw]], "list[tuple[str, Identity, Any]] | None"]


class Refused(Exception):
    """Raised by a Reader for an object it does not keep: a field of the wrong type, or an
    identity it could not read (the loader then reads the identity apart, to say what is wrong).
    The loader names the object: `detail` follows its kind and name ("spec.containers[0].image
    must be a string"), or `error(name)` is the whole error, worded by the reader."""

    def __init__(self, detail: str = "", error: Callable[[str], PrunePlanError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.error = error


class ObjectError(InputError):
    """A field of one object that its reader refused (the object is named in the message)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused object of a resource the caller reads later (`deferred`): its error is raised
    when the caller's analysis reaches it, if its namespace is in scope."""

    resource: str
    identity: Identity
    error: PrunePlanError

    @property
    def namespace(self) -> str | None:
        return self.identity[0] if isinstance(self.identity, tuple) else None


@dataclass(slots=True)
class InputFile:
    path: str
    sha256: str
    size: int
    collected_at: str | None
    cluster: dict[str, Any] | None
    namespace: str | None
    source: str  # "dump" or "list"
    settings: ClusterSettings | None = None  # None: not collected (a List, an older dump)


@dataclass(slots=True)
class LoadedInputs:
    """Objects of all inputs by resource, as their readers keep them, plus what the headers said."""

    objects: dict[str, list[Any]]
    inputs: list[InputFile]
    duplicates: int = 0
    ignored_kinds: dict[str, int] = field(default_factory=dict)
    released_counts: dict[str, int] | None = None
    refused: list[Refusal] = field(default_factory=list)  # in input order

    @property
    def dump_sha256(self) -> str:
        if len(self.inputs) == 1:
            return self.inputs[0].sha256
        joined = "".join(f"{i.sha256}\n" for i in self.inputs)
        return hashlib.sha256(joined.encode()).hexdigest()

    @property
    def collected_at(self) -> str | None:
        """The earliest collection time, or None when any input has none."""
        times = [i.collected_at for i in self.inputs if i.collected_at is not None]
        if len(times) < len(self.inputs):
            return None
        return min(times, key=parse_time)  # by time: a time with an offset does not sort as text (checked at load)

    @property
    def cluster(self) -> dict[str, Any] | None:
        known = [i.cluster for i in self.inputs if i.cluster]
        return known[0] if known else None

    @property
    def cluster_settings(self) -> ClusterSettings | None:
        """The cluster's pruning settings, from the first input that recorded them."""
        known = [i.settings for i in self.inputs if i.settings is not None]
        return known[0] if known else None

    @property
    def namespace(self) -> str | None:
        known = [i.namespace for i in self.inputs if i.namespace]
        return known[0] if known else None

    def counts(self) -> dict[str, int]:
        if self.released_counts is not None:
            return dict(self.released_counts)
        return {k.resource: len(self.objects[k.resource]) for k in KINDS}

    def release(self) -> None:
        """Drop the objects (keeping their counts) once a reader has built what it needs: on a big
        dump they are most of the memory."""
        self.released_counts = self.counts()
        for resource in self.objects:
            self.objects[resource] = []

    def raise_refused(self, resources: Iterable[str], namespace: str | None = None) -> None:
        """Raise the error of the first refused object of `resources`, taken in that order (each
        in input order); with `namespace`, of the objects in that namespace only."""
        for resource in resources:
            for refusal in self.refused:
                if refusal.resource == resource and (namespace is None or refusal.namespace == namespace):
                    raise refusal.error


def read_bytes(path: str) -> bytes:
    return read_input_or_fail(path, MAX_DOCUMENT, _too_large_text(), "a dump")


# --- JSON errors -----------------------------------------------------------------------------
# msgspec decodes; a document it finds malformed is worded as orjson words it (the messages the
# format has always given: line and column of the fault).

def _invalid_json(raw: bytes, prefix: str, fallback: object) -> InputError:
    """`prefix: <why raw is not JSON>`, in orjson's words; `fallback` where orjson accepts it (a
    nesting depth msgspec refuses but orjson does not)."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if "Not enough memory" not in str(err):  # orjson reserves about 12 bytes per input byte
            return InputError(f"{prefix}: {err}")
    return InputError(f"{prefix}: {fallback}")


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


_UTF8_STEP = 1 << 20


def _utf8_error(raw: bytes) -> int:
    """The offset of the first byte of `raw` that is not UTF-8, or -1 (msgspec checks UTF-8 only
    in what it decodes; JSON text must be UTF-8 throughout; orjson names no position for it)."""
    if raw.isascii():
        return -1
    view = memoryview(raw)
    start = 0
    while start < len(view):  # in steps: decoding it whole would hold a str as large as the input
        stop = start + _UTF8_STEP
        try:
            start += codecs.utf_8_decode(view[start:stop], "strict", stop >= len(view))[1]
        except UnicodeDecodeError as err:
            return start + err.start
    return -1


def _json_text(value: Any) -> str:
    """A decoded value as JSON writes it (`null`, `1.0`, `"v2"`), cut short, for a message."""
    text = orjson.dumps(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."


def _too_large_text() -> str:
    limit = f"{MAX_DOCUMENT >> 30} GiB" if MAX_DOCUMENT % (1 << 30) == 0 else f"{MAX_DOCUMENT >> 20} MiB"
    return (f"larger than {limit} once read (and inflated), the limit of a whole JSON document: "
            "use the collector's line dump, or split the input (several inputs are merged)")


def _too_large(path: str) -> InputError:
    return InputError(f"{path}: {_too_large_text()}")


_decode_any = msgspec.json.Decoder().decode

# --- identity ------------------------------------------------------------------------------------

_NAMESPACED = {kind.resource: kind.namespaced for kind in KINDS}


class _IdentityProbe(msgspec.Struct):
    metadata: Any = None


_decode_probe = msgspec.json.Decoder(_IdentityProbe).decode
# msgspec's names of JSON types, as JSON names them
_MSGSPEC_TYPES = {"array": "an array", "str": "a string", "int": "a number", "float": "a number", "bool": "a boolean", "null": "null"}


def _identity(raw: bytes, resource: str, where: str) -> Identity:
    """An object's identity read apart from the rest of it (its reader refused the object). Raises
    InputError naming the object by `where`, its position, when it has none."""
    try:
        probe = _decode_probe(raw)
    except msgspec.ValidationError as err:  # not an object: "Expected `object`, got `array`"
        found = str(err).partition("got `")[2].partition("`")[0]
        raise InputError(f"{where}: expected an object, found {_MSGSPEC_TYPES.get(found, found)}") from None
    meta = probe.metadata
    if not isinstance(meta, dict):
        raise InputError(f"{where}: metadata is required")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: metadata.name is required")
    if not _NAMESPACED[resource]:
        return name
    namespace = meta.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise InputError(f"{where} ({name}): metadata.namespace is required")
    return namespace, name


def _named(resource: str, identity: Identity) -> str:
    word = BY_RESOURCE[resource].word
    return f"{word} {identity[0]}/{identity[1]}" if isinstance(identity, tuple) else f"{word} {identity}"


# --- merging -------------------------------------------------------------------------------------

# Words the InputError of malformed JSON, given msgspec's message: at a dump line or in a document.
Malformed = Callable[[object], InputError]


class _Merge:
    """The objects of all inputs by resource, each identity kept once (the first)."""

    __slots__ = ("loaded", "readers", "deferred", "list_reader", "seen")

    def __init__(
        self, loaded: LoadedInputs, readers: Mapping[str, Reader], deferred: Collection[str], list_reader: ListReader | None
    ) -> None:
        self.loaded = loaded
        self.readers = readers
        self.deferred = deferred
        self.list_reader = list_reader
        self.seen: dict[str, set[Identity]] = {k.resource: set() for k in KINDS}

    def add(self, raw: bytes, resource: str, where: str, malformed: Malformed) -> None:
        """One object's JSON, read by its resource's reader; kept if its identity is new."""
        try:
            key, kept = self.readers[resource](raw)
        except Refused as refused:
            self.refuse(raw, refused, resource, where, malformed)
            return
        except (msgspec.DecodeError, RecursionError) as err:
            raise malformed(err) from None
        self.keep(resource, key, kept)

    def keep(self, resource: str, key: Identity, kept: Any) -> None:
        """An object read: kept if its identity is new."""
        keys = self.seen[resource]
        if key in keys:
            self.loaded.duplicates += 1
        else:
            keys.add(key)
            self.loaded.objects[resource].append(kept)

    def refuse(self, raw: bytes, refused: Refused, resource: str, where: str, malformed: Malformed) -> None:
        """A refused object: malformed JSON first, then a missing identity (named by `where`, its
        position), then a repeated one (not read at all, as the first of it wins); else its
        error is raised now, or kept for the caller when its resource is deferred."""
        raw = bytes(raw)  # a document's part comes as a msgspec.Raw
        if not _is_json(raw):  # a number msgspec refuses as out of range in a field it decodes
            raise malformed(refused.detail)
        try:
            identity = _identity(raw, resource, where)
        except RecursionError as err:
            raise malformed(err) from None
        keys = self.seen[resource]
        if identity in keys:
            self.loaded.duplicates += 1
            return
        keys.add(identity)
        name = identity[1] if isinstance(identity, tuple) else identity
        error = refused.error(name) if refused.error else ObjectError(f"{_named(resource, identity)}: {refused.detail}")
        if resource not in self.deferred:
            raise error
        self.loaded.refused.append(Refusal(resource, identity, error))


# --- the collector's line layout ----------------------------------------------------------------

def _is_streamable(path: str) -> bool:
    """A dump in DumpWriter's line layout (its first line is exactly the envelope), in a regular
    file: a pipe (`<(oc get ... -o json)`) can be read once only, so it is read whole, as a
    document (a line dump is one JSON document too)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        head = read_head(path, len(STREAM_PREFIX) + 64)  # room for the line's end
    except (EOFError, OSError, zlib.error):
        return False  # the whole-document reader reports what is wrong (a missing file included)
    return head.partition(b"\n")[0].rstrip(b"\r") == STREAM_PREFIX


_LIST_ENDS = (b"]", b"],")
_OBJECTS_ENDS = (b"}", b"},")
# Where the line layout is outside a resource's list, by the last line of its structure: what may
# follow each is in _read_line_dump (blank lines aside, JSON's whitespace).
_OPEN, _MEMBER, _LAST, _HEADER, _CLOSED, _END = "envelope", "],", "]", "},", "}", "header"


def _read_line_dump(path: str, hasher: Hasher, merge: _Merge) -> tuple[dict[str, Any], dict[str, int]]:
    """Merge a dump in DumpWriter's line layout, a line at a time; return its header (the last
    line) and how many objects it holds of each resource read. Each object line goes to its
    resource's reader; lines of resources this tool does not read are only checked to be JSON
    (a newer collector may add kinds). The layout must be JSON as a whole: the commas between
    objects and lists included."""
    header: dict[str, Any] = {}
    state = _OPEN
    state_line = 1  # the line of the last line of the structure
    comma: bool | None = None  # whether the previous object line of the list ended with one
    resource: str | None = None
    wanted = False
    reader: Reader = _no_reader
    keys: set[Identity] = set()
    kept_objects: list[Any] = []
    positions: dict[str, int] = {}  # objects so far per resource: names a bad one by position
    index = 0
    number = 1

    def malformed_at(raw: bytes) -> Malformed:
        line = number
        return lambda fallback: _invalid_json(raw, f"{path}: invalid JSON at line {line}", fallback)

    def invalid(why: str, line: int = 0) -> InputError:
        return InputError(f"{path}: invalid JSON at line {line or number}: {why}")

    batches = read_line_batches(path, hasher)
    try:
        first = True
        for batch in batches:
            if first:
                del batch[0]  # the envelope, checked by _is_streamable
                first = False
            # one frame loops over the chunk's lines: this is the loop of every object in the dump
            for number, line in enumerate(batch, number + 1):
                line = line.rstrip(b"\r")
                if resource is not None:
                    if line in _LIST_ENDS:
                        if comma:
                            raise invalid("trailing comma is not allowed", number - 1)
                        if wanted:
                            positions[resource] = index
                        resource = None
                        state, state_line = (_MEMBER if line == b"]," else _LAST), number
                        continue
                    if comma is False:
                        raise invalid("expected ',' or ']'")
                    if line.endswith(b","):
                        body, comma = line[:-1], True
                    else:
                        body, comma = line, False
                    if not wanted:
                        _line_value(body, path, number)
                        continue
                    if not body.isascii() and (bad := _utf8_error(body)) >= 0:
                        raise invalid(f"invalid UTF-8 at column {bad + 1}")
                    try:
                        key, kept = reader(body)
                    except Refused as refused:
                        merge.refuse(body, refused, resource, f"{path}: {resource}[{index}]", malformed_at(body))
                    except (msgspec.DecodeError, RecursionError) as err:
                        raise malformed_at(body)(err) from None
                    else:
                        if key in keys:
                            merge.loaded.duplicates += 1
                        else:
                            keys.add(key)
                            kept_objects.append(kept)
                    index += 1
                elif line.endswith(b":["):
                    if state != _OPEN and state != _MEMBER:
                        raise _out_of_place(path, number, line, state, state_line)
                    resource = _line_value(line[:-2], path, number)
                    if not isinstance(resource, str):
                        raise InputError(f"{path}: line {number}: malformed dump")
                    comma = None
                    wanted = resource in BY_RESOURCE
                    if wanted:
                        reader = merge.readers[resource]
                        keys, kept_objects = merge.seen[resource], merge.loaded.objects[resource]
                        index = positions.get(resource, 0)
                elif line.startswith(HEADER_KEY) and line.endswith(b"}"):
                    if state != _HEADER:
                        raise _out_of_place(path, number, line, state, state_line)
                    found = _line_value(line[len(HEADER_KEY):-1], path, number)
                    if not isinstance(found, dict):
                        raise InputError(f"{path}: dump has no header")
                    header.update(found)
                    state, state_line = _END, number
                elif line in _OBJECTS_ENDS:
                    if state != _OPEN and state != _LAST:
                        raise _out_of_place(path, number, line, state, state_line)
                    state, state_line = (_HEADER if line == b"}," else _CLOSED), number
                elif line:
                    raise _out_of_place(path, number, line, state, state_line)
    except LineTooLong as err:
        raise InputError(
            f"{path}: line {err.line} is longer than {MAX_LINE >> 20} MiB, the limit of a line of a dump"
        ) from None
    except (EOFError, zlib.error) as err:
        raise InputError(f"{path}: truncated or corrupt gzip data ({err})") from None
    finally:
        batches.close()  # on an error, the file is closed now
    if not header:
        raise InputError(f"{path}: dump is truncated (no header)")
    return header, positions


def _out_of_place(path: str, number: int, line: bytes, state: str, state_line: int) -> InputError:
    """Line `number` of the structure of a line dump, where the layout (and mostly JSON) has no
    place for it after `state`, the structure's line `state_line`."""
    if state == _MEMBER and line in _OBJECTS_ENDS:
        return InputError(f"{path}: invalid JSON at line {state_line}: trailing comma is not allowed")
    if state in (_LAST, _CLOSED):
        return InputError(f"{path}: invalid JSON at line {number}: expected ',' or '}}'")
    if state == _END:
        return InputError(f"{path}: invalid JSON at line {number}: unexpected content after document")
    return InputError(f"{path}: line {number}: malformed dump")


def _no_reader(raw: bytes) -> tuple[Identity, Any]:
    raise AssertionError("an object line outside a resource's list")  # the loop sets a reader first


def _line_value(raw: bytes, path: str, number: int) -> Any:
    """The JSON value of (part of) line `number`."""
    bad = _utf8_error(raw)
    if bad >= 0:
        raise InputError(f"{path}: invalid JSON at line {number}: invalid UTF-8 at column {bad + 1}")
    try:
        return _decode_any(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as err:
        raise _invalid_json(raw, f"{path}: invalid JSON at line {number}", err) from None


# --- whole documents: a dump, a List -------------------------------------------------------------

class _Document(msgspec.Struct):
    """The top level of a whole JSON input; the fields a dump or a List has, each decoded later."""

    kind: Any = None
    api_version: Any = msgspec.field(default=None, name="apiVersion")
    header: msgspec.Raw = msgspec.Raw()  # an empty Raw: absent
    objects: msgspec.Raw = msgspec.Raw()
    items: msgspec.Raw = msgspec.Raw()


class _ItemKind(msgspec.Struct):
    kind: Any = None


_decode_document = msgspec.json.Decoder(_Document).decode
_decode_raw_map = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_decode_raw_list = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_item_kind = msgspec.json.Decoder(_ItemKind).decode

# collectedAt, cluster, namespace, cluster settings, source
InputMeta = tuple[str | None, dict[str, Any] | None, str | None, ClusterSettings | None, str]


Groups = list[tuple[str, list[msgspec.Raw]]]  # the objects' JSON by resource


def _read_document(path: str, raw: bytes, merge: _Merge) -> tuple[Groups, InputMeta, Malformed]:
    """The objects of a whole JSON document (a dump or a List) by resource, as JSON, what its
    header says, and how to word an error in its JSON. A List that the list reader reads in one
    pass is merged here, and leaves no groups."""
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = inflate_whole(raw, MAX_DOCUMENT)
        except TooLarge:
            raise _too_large(path) from None
        except (EOFError, zlib.error) as err:
            raise InputError(f"{path}: truncated or corrupt gzip data ({err})") from None
    if not raw or raw.isspace():
        raise InputError(f"{path}: empty file, not a dump")
    document = raw

    def malformed(fallback: object) -> InputError:
        return _invalid_json(document, f"{path}: invalid JSON", fallback)

    bad = _utf8_error(raw)
    if bad >= 0:
        line, column = raw.count(b"\n", 0, bad) + 1, bad - raw.rfind(b"\n", 0, bad)
        raise InputError(f"{path}: invalid JSON: invalid UTF-8 at line {line} column {column} (byte {bad})")
    try:
        doc = _decode_document(raw)
    except msgspec.ValidationError:  # the one type it checks: the top level is an object
        raise InputError(f"{path}: not a pruneplan dump or a Kubernetes List (top level is not an object)") from None
    except (msgspec.DecodeError, RecursionError) as err:
        raise malformed(err) from None
    kind = doc.kind
    if kind == DUMP_KIND:
        if doc.api_version != DUMP_API_VERSION:
            raise InputError(f"{path}: unsupported dump apiVersion {_json_text(doc.api_version)} (expected {DUMP_API_VERSION})")
        return (*_dump_document(path, doc, malformed), malformed)
    if isinstance(kind, str) and kind.endswith("List") and len(doc.items):
        return _list_document(path, kind, doc.items, merge, malformed), (None, None, None, None, "list"), malformed
    raise InputError(f"{path}: not a pruneplan dump or a Kubernetes List (kind {_json_text(kind)})")


def _value(raw: msgspec.Raw, malformed: Malformed) -> Any:
    """A part of a document (already found to be JSON) as a plain value; None when absent."""
    if not len(raw):
        return None
    try:
        return _decode_any(raw)
    except (msgspec.ValidationError, RecursionError) as err:  # a number beyond a double's range
        raise malformed(err) from None


def _dump_document(path: str, doc: _Document, malformed: Malformed) -> tuple[Groups, InputMeta]:
    header = _value(doc.header, malformed)
    if not isinstance(header, dict):
        raise InputError(f"{path}: dump has no header")
    _check_version(header, path)
    try:
        objects = _decode_raw_map(doc.objects) if len(doc.objects) else None
    except msgspec.ValidationError:
        objects = None
    if objects is None:
        raise InputError(f"{path}: dump has no objects section")
    grouped: Groups = []
    for resource, items in objects.items():
        if resource not in BY_RESOURCE:
            continue  # a newer collector may add kinds the rules do not read
        try:
            grouped.append((resource, _decode_raw_list(items)))
        except msgspec.ValidationError:
            raise InputError(f"{path}: objects.{resource} must be a list") from None
    meta = (*_check_header(header, path), "dump")
    _check_counts(header, {resource: len(items) for resource, items in grouped}, path)
    return grouped, meta


def _list_document(path: str, list_kind: str, raw_items: msgspec.Raw, merge: _Merge, malformed: Malformed) -> Groups:
    try:
        items = _decode_raw_list(raw_items)
    except msgspec.ValidationError:
        raise InputError(f"{path}: {list_kind} has no items list") from None
    if list_kind == "List" and merge.list_reader is not None:  # a typed list's items may have no kind
        read = merge.list_reader(items)
        if read is not None:
            for resource, identity, kept in read:
                merge.keep(resource, identity, kept)
            return []
    loaded = merge.loaded
    default_kind = list_kind[: -len("List")] if list_kind != "List" else None
    grouped: dict[str, list[msgspec.Raw]] = {}
    for index, item in enumerate(items):
        try:
            kind_name = _decode_item_kind(item).kind
        except msgspec.ValidationError:
            raise InputError(f"{path}: items[{index}]: expected an object") from None
        except RecursionError as err:
            raise malformed(err) from None
        if kind_name is not None and not isinstance(kind_name, str):  # as upstream's decoder refuses it
            raise InputError(f"{path}: items[{index}]: kind must be a string, found {json_type(kind_name)}")
        kind_name = kind_name or default_kind
        if not kind_name:
            raise InputError(f"{path}: items[{index}]: kind is required in a List")
        kind = BY_KIND.get(kind_name)
        if kind is None:
            loaded.ignored_kinds[kind_name] = loaded.ignored_kinds.get(kind_name, 0) + 1
            continue
        grouped.setdefault(kind.resource, []).append(item)
    return list(grouped.items())


def _check_version(header: dict[str, Any], path: str) -> None:
    version = header.get("formatVersion")
    if type(version) is not int or version != FORMAT_VERSION:  # 1.0 and true are not the integer 1
        raise InputError(f"{path}: unsupported dump format version {_json_text(version)} (this tool reads {FORMAT_VERSION})")


def _check_header(header: dict[str, Any], path: str) -> tuple[str | None, dict | None, str | None, ClusterSettings | None]:
    collected = header.get("collectedAt")
    if collected is not None and not isinstance(collected, str):
        raise InputError(f"{path}: header.collectedAt must be an RFC 3339 string")
    if collected:  # checked whether or not --now replaces it: the times of an input are RFC 3339
        try:
            parse_time(collected)
        except ValueError as err:
            raise InputError(f"{path}: header.collectedAt: invalid timestamp: {err}") from None
    cluster = header.get("cluster")
    if cluster is not None and not isinstance(cluster, dict):
        raise InputError(f"{path}: header.cluster must be an object")
    namespace = header.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InputError(f"{path}: header.namespace must be a string")
    if namespace == "":  # the collector writes null for a cluster-wide dump and refuses -n ""
        raise InputError(f'{path}: header.namespace is "": null for a cluster-wide dump, else the namespace collected')
    settings = None
    if "clusterSettings" in header:  # a dump of an older collector has none
        try:
            settings = decode_settings(header["clusterSettings"])
        except msgspec.ValidationError as err:
            field, problem = describe_validation(str(err), "header.clusterSettings")
            raise InputError(f"{path}: {field} {problem}") from None
    return collected or None, cluster or None, namespace, settings


def _check_counts(header: dict[str, Any], found: Mapping[str, int], path: str) -> None:
    """header.counts (how many objects of each resource the collector wrote) against the objects
    `found`; a dump without counts (written by hand) is not checked."""
    counts = header.get("counts")
    if counts is None:
        return
    if not isinstance(counts, dict):
        raise InputError(f"{path}: header.counts must be an object")
    for resource, written in counts.items():
        if resource not in BY_RESOURCE:
            continue  # a kind of a newer collector, which this tool does not read
        if type(written) is not int or written < 0:
            raise InputError(f"{path}: header.counts.{resource} must be a count, not {_json_text(written)}")
        if found.get(resource, 0) != written:
            raise InputError(
                f"{path}: header.counts.{resource} is {written}, but the dump holds {found.get(resource, 0)}: "
                "objects were removed or added after collection"
            )


# --- all inputs ----------------------------------------------------------------------------------

def load_inputs(
    paths: Iterable[str], readers: Mapping[str, Reader], deferred: Collection[str] = (), list_reader: ListReader | None = None
) -> LoadedInputs:
    """Read, check and merge inputs of any form; each object is read by its resource's reader
    (`readers` has one for every resource of KINDS), or a `kind: List`'s items all at once by
    `list_reader`, when it can. Objects repeated across inputs are kept once (the first). A
    refused object's error is raised as it is met, unless its resource is in `deferred`: then it
    is kept in `refused`, for the caller to raise when it reads the kind."""
    loaded = LoadedInputs(objects={k.resource: [] for k in KINDS}, inputs=[])
    merge = _Merge(loaded, readers, deferred, list_reader)
    for path in paths:
        hasher = hashlib.sha256()
        meta: InputMeta
        if _is_streamable(path):
            header, found = _read_line_dump(path, hasher, merge)
            _check_version(header, path)
            meta = (*_check_header(header, path), "dump")
            _check_counts(header, found, path)
            size = os.path.getsize(path)
        else:
            raw = read_bytes(path)
            hasher.update(raw)
            size = len(raw)  # as read: a pipe has no size on disk
            groups, meta, malformed = _read_document(path, raw, merge)
            del raw  # a gzip file's bytes; the objects' JSON, inflated, lives on in groups
            for resource, items in groups:
                for index, item in enumerate(items):
                    merge.add(item, resource, f"{path}: {resource}[{index}]", malformed)
            del groups
        collected, cluster, namespace, settings, source = meta
        loaded.inputs.append(InputFile(path, hasher.hexdigest(), size, collected, cluster, namespace, source, settings))
    _check_consistent(loaded)
    return loaded


def _cluster_key(cluster: dict[str, Any]) -> bytes:
    """A header's cluster as inputs are compared: an older dump's URL may carry credentials."""
    server = cluster.get("apiServer")
    if isinstance(server, str):
        cluster = {**cluster, "apiServer": without_userinfo(server)}
    return orjson.dumps(cluster, option=orjson.OPT_SORT_KEYS)


def _check_consistent(loaded: LoadedInputs) -> None:
    clusters = {_cluster_key(i.cluster) for i in loaded.inputs if i.cluster}
    if len(clusters) > 1:
        raise InputError("inputs come from different clusters; analyze one cluster at a time")
    namespaces = {i.namespace for i in loaded.inputs if i.namespace}
    if len(namespaces) > 1:
        raise InputError(f"inputs were collected for different namespaces: {', '.join(sorted(namespaces))}")
    if namespaces and any(i.source == "dump" and not i.namespace for i in loaded.inputs):
        raise InputError("a namespace-limited dump cannot be merged with a cluster-wide dump")


def make_header(
    collected_at: str,
    cluster: dict[str, Any],
    namespace: str | None,
    counts: dict[str, int],
    settings: ClusterSettings | None = None,
) -> dict[str, Any]:
    header = {
        "formatVersion": FORMAT_VERSION,
        "collectedAt": collected_at,
        "cluster": cluster,
        "namespace": namespace,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "counts": counts,
    }
    if settings is not None:  # a reader of older dumps finds no such key
        header["clusterSettings"] = settings.to_json()
    return header
