"""Dump format v1 (docs/dump-format.md): reading and validating inputs, and a streaming writer.

`analyze` accepts our dump (plain or gzip) and the `kind: List` JSON that `oc get ... -o json`
prints; several inputs are merged. This module checks the envelope and the identity fields
every object needs; analyze projects the fields its rules read.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Mapping

import orjson

from . import TOOL_NAME, __version__
from .errors import InputError
from .kinds import BY_KIND, BY_RESOURCE, KINDS
from .rawlines import GZIP_MAGIC, FileDigest, read_head, read_line_batches

DUMP_API_VERSION = "pruneplan.io/v1"
DUMP_KIND = "ClusterDump"
FORMAT_VERSION = 1
STREAM_PREFIX = b'{"apiVersion":"' + DUMP_API_VERSION.encode() + b'","kind":"' + DUMP_KIND.encode() + b'","objects":{'
HEADER_KEY = b'"header":'



@dataclass(slots=True)
class InputFile:
    path: str
    sha256: str
    size: int
    collected_at: str | None
    cluster: dict[str, Any] | None
    namespace: str | None
    source: str  # "dump" or "list"


@dataclass(slots=True)
class LoadedInputs:
    """Objects of all inputs by resource, plus what the headers said."""

    objects: dict[str, list[dict[str, Any]]]
    inputs: list[InputFile]
    duplicates: int = 0
    ignored_kinds: dict[str, int] = field(default_factory=dict)
    released_counts: dict[str, int] | None = None

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
        return min(times)  # RFC 3339 UTC strings sort chronologically

    @property
    def cluster(self) -> dict[str, Any] | None:
        known = [i.cluster for i in self.inputs if i.cluster]
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
        """Drop the raw objects (keeping their counts) once a reader has built what it needs:
        on a big dump they are most of the memory."""
        self.released_counts = self.counts()
        for resource in self.objects:
            self.objects[resource] = []


def read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a dump") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror or err}") from None


def decode_document(raw: bytes, path: str) -> Any:
    """Gunzip when gzip-compressed, then parse JSON."""
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise InputError(f"{path}: truncated or corrupt gzip data ({err})") from None
    if not raw.strip():
        raise InputError(f"{path}: empty file, not a dump")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if "Not enough memory" in str(err):
            # orjson reserves about 12 bytes per input byte up front; the kernel refused that
            raise InputError(
                f"{path}: too large to parse in memory ({len(raw) / 2**30:.1f} GiB of JSON); "
                "analyze it on a machine with more memory"
            ) from None
        raise InputError(f"{path}: invalid JSON: {err}") from None


_NAMESPACED = {kind.resource: kind.namespaced for kind in KINDS}


def _identity(obj: Any, path: str, resource: str, index: int) -> str | tuple[str, str]:
    """What makes an object unique within its resource: its name, with its namespace when the
    resource is namespaced. Raises InputError naming the object by its position."""
    try:
        meta = obj["metadata"]
        name = meta["name"]
        if _NAMESPACED[resource]:
            namespace = meta["namespace"]
            if type(name) is str and name and type(namespace) is str and namespace:
                return namespace, name
        elif type(name) is str and name:
            return name
    except (TypeError, KeyError):
        pass
    raise _identity_error(obj, f"{path}: {resource}[{index}]", _NAMESPACED[resource])


def _identity_error(obj: Any, where: str, namespaced: bool) -> InputError:
    if not isinstance(obj, dict):
        return InputError(f"{where}: expected an object, found {type(obj).__name__}")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return InputError(f"{where}: metadata is required")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return InputError(f"{where}: metadata.name is required")
    return InputError(f"{where} ({name}): metadata.namespace is required")


def _from_dump(doc: dict[str, Any], path: str) -> tuple[dict[str, list], dict[str, Any]]:
    header = doc.get("header")
    if not isinstance(header, dict):
        raise InputError(f"{path}: dump has no header")
    version = header.get("formatVersion")
    if version != FORMAT_VERSION:
        raise InputError(
            f"{path}: unsupported dump format version {version!r} (this tool reads {FORMAT_VERSION})"
        )
    objects = doc.get("objects")
    if not isinstance(objects, dict):
        raise InputError(f"{path}: dump has no objects section")
    grouped: dict[str, list] = {}
    for resource, items in objects.items():
        if resource not in BY_RESOURCE:
            continue  # a newer collector may add kinds the rules do not read
        if not isinstance(items, list):
            raise InputError(f"{path}: objects.{resource} must be a list")
        grouped[resource] = items
    return grouped, header


def _from_list(doc: dict[str, Any], path: str) -> tuple[dict[str, list], dict[str, int]]:
    items = doc.get("items")
    if not isinstance(items, list):
        raise InputError(f"{path}: {doc.get('kind')} has no items list")
    list_kind = doc.get("kind", "")
    default_kind = list_kind[: -len("List")] if list_kind != "List" else None
    grouped: dict[str, list] = {}
    ignored: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"{path}: items[{index}]: expected an object")
        kind_name = item.get("kind") or default_kind
        if not kind_name:
            raise InputError(f"{path}: items[{index}]: kind is required in a List")
        kind = BY_KIND.get(kind_name)
        if kind is None:
            ignored[kind_name] = ignored.get(kind_name, 0) + 1
            continue
        grouped.setdefault(kind.resource, []).append(item)
    return grouped, ignored


def _check_header(header: dict[str, Any], path: str) -> tuple[str | None, dict | None, str | None]:
    collected = header.get("collectedAt")
    if collected is not None and not isinstance(collected, str):
        raise InputError(f"{path}: header.collectedAt must be an RFC 3339 string")
    cluster = header.get("cluster")
    if cluster is not None and not isinstance(cluster, dict):
        raise InputError(f"{path}: header.cluster must be an object")
    namespace = header.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InputError(f"{path}: header.namespace must be a string")
    return collected or None, cluster or None, namespace or None


def _is_streamable(path: str) -> bool:
    """A dump in DumpWriter's line layout (its first line is exactly the envelope)."""
    try:
        head = read_head(path, len(STREAM_PREFIX) + 64)  # room for the line's end
    except (EOFError, OSError, zlib.error):
        return False  # the whole-document reader reports what is wrong (a missing file included)
    return head.partition(b"\n")[0].rstrip(b"\r") == STREAM_PREFIX


class _Merge:
    """The objects of all inputs by resource, each kept once (the first of its identity)."""

    __slots__ = ("loaded", "transforms", "seen")

    def __init__(self, loaded: LoadedInputs, transforms: Mapping[str, Transform]) -> None:
        self.loaded = loaded
        self.transforms = transforms
        self.seen: dict[str, set[str | tuple[str, str]]] = {k.resource: set() for k in KINDS}

    def add(self, obj: Any, path: str, resource: str, index: int) -> None:
        """An object as parsed: its identity checked, then transformed if it is new."""
        key = _identity(obj, path, resource, index)
        keys = self.seen[resource]
        if key in keys:
            self.loaded.duplicates += 1
            return
        keys.add(key)
        transform = self.transforms.get(resource)
        self.loaded.objects[resource].append(transform(obj) if transform else obj)


def _read_line_dump(path: str, hasher: Any, line_loaders: Mapping[str, LineLoader], merge: _Merge) -> dict[str, Any]:
    """Merge a dump in DumpWriter's line layout, a line at a time; return its header (the last
    line). A line its resource's line loader takes is merged from what the loader returns."""
    header: dict[str, Any] = {}
    resource: str | None = None
    wanted = False
    line_loader: LineLoader | None = None
    keys: set[str | tuple[str, str]] = set()
    kept_objects: list[Any] = []
    positions: dict[str, int] = {}  # objects so far per resource: names a bad one by position
    index = 0
    number = 1
    batches = read_line_batches(path, hasher, background=True)
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
                        positions[resource] = index
                        resource = None
                        continue
                    if not wanted:  # a newer collector may add kinds the rules do not read: not parsed
                        continue
                    body = line[:-1] if line.endswith(b",") else line
                    if line_loader is not None and (taken := line_loader(body)) is not None:
                        index += 1
                        key, kept = taken
                        if key in keys:
                            merge.loaded.duplicates += 1
                        else:
                            keys.add(key)
                            kept_objects.append(kept)
                    else:
                        merge.add(orjson.loads(body), path, resource, index)
                        index += 1
                elif line.endswith(b":["):
                    resource = orjson.loads(line[:-2])
                    if not isinstance(resource, str):
                        raise InputError(f"{path}: line {number}: malformed dump")
                    wanted = resource in BY_RESOURCE
                    if wanted:
                        line_loader = line_loaders.get(resource)
                        keys, kept_objects = merge.seen[resource], merge.loaded.objects[resource]
                        index = positions.get(resource, 0)
                elif line.startswith(HEADER_KEY) and line.endswith(b"}"):
                    found = orjson.loads(line[len(HEADER_KEY):-1])
                    if not isinstance(found, dict):
                        raise InputError(f"{path}: dump has no header")
                    header.update(found)
                elif line not in _CLOSINGS:
                    raise InputError(f"{path}: line {number}: malformed dump")
    except (EOFError, zlib.error) as err:
        raise InputError(f"{path}: truncated or corrupt gzip data ({err})") from None
    except orjson.JSONDecodeError as err:
        raise InputError(f"{path}: invalid JSON at line {number}: {err}") from None
    finally:
        batches.close()  # on an error, the inflater stops now
    if not header:
        raise InputError(f"{path}: dump is truncated (no header)")
    return header


_LIST_ENDS = (b"]", b"],")
_CLOSINGS = (b"", b"}", b"},")


def _whole_document(
    path: str, loaded: LoadedInputs
) -> tuple[list[tuple[str, list[Any]]], tuple[str | None, dict | None, str | None, str]]:
    """The objects of a whole JSON document (a dump or a List) by resource, and its header."""
    raw = read_bytes(path)
    doc = decode_document(raw, path)
    del raw
    if not isinstance(doc, dict):
        raise InputError(f"{path}: not a pruneplan dump or a Kubernetes List (top level is not an object)")
    kind = doc.get("kind")
    if kind == DUMP_KIND:
        if doc.get("apiVersion") != DUMP_API_VERSION:
            raise InputError(
                f"{path}: unsupported dump apiVersion {doc.get('apiVersion')!r} (expected {DUMP_API_VERSION})"
            )
        grouped, header = _from_dump(doc, path)
        meta = (*_check_header(header, path), "dump")
    elif isinstance(kind, str) and kind.endswith("List") and "items" in doc:
        grouped, ignored = _from_list(doc, path)
        for name, count in ignored.items():
            loaded.ignored_kinds[name] = loaded.ignored_kinds.get(name, 0) + count
        meta = (None, None, None, "list")
    else:
        raise InputError(f"{path}: not a pruneplan dump or a Kubernetes List (kind {kind!r})")
    del doc
    return list(grouped.items()), meta


Transform = Callable[[dict[str, Any]], Any]
# A dump line (one object's JSON) to (its identity, what the caller keeps), or None when the
# loader leaves the line to orjson and the Transform. The identity has _identity's form.
LineLoader = Callable[[bytes], "tuple[str | tuple[str, str], Any] | None"]


def load_inputs(
    paths: Iterable[str],
    transforms: Mapping[str, Transform] | None = None,
    line_loaders: Mapping[str, LineLoader] | None = None,
) -> LoadedInputs:
    """Read, validate and merge inputs. Objects repeated across inputs are kept once (first wins).

    `transforms` turns the objects of a resource into what the caller keeps (analyze's compact
    model) as they are read, so the raw objects of a large dump never all live at once.
    `line_loaders` may build the same straight from a dump's line, skipping the general parse;
    a line they return None for takes the general path.
    """
    transforms = transforms or {}
    line_loaders = line_loaders or {}
    loaded = LoadedInputs(objects={k.resource: [] for k in KINDS}, inputs=[])
    merge = _Merge(loaded, transforms)
    for path in paths:
        hasher = FileDigest()
        if _is_streamable(path):
            header = _read_line_dump(path, hasher, line_loaders, merge)
            meta = None
        else:
            hasher.update(read_bytes(path))  # the whole-document path reads the file again: small inputs
            groups, meta = _whole_document(path, loaded)
            for resource, items in groups:
                for index, obj in enumerate(items):
                    merge.add(obj, path, resource, index)
        if meta is None:
            if header.get("formatVersion") != FORMAT_VERSION:
                raise InputError(
                    f"{path}: unsupported dump format version {header.get('formatVersion')!r} (this tool reads {FORMAT_VERSION})"
                )
            meta = (*_check_header(header, path), "dump")
        collected, cluster, namespace, source = meta
        size = os.path.getsize(path)
        loaded.inputs.append(InputFile(path, hasher.hexdigest(), size, collected, cluster, namespace, source))
    _check_consistent(loaded)
    return loaded


def _check_consistent(loaded: LoadedInputs) -> None:
    clusters = {orjson.dumps(i.cluster, option=orjson.OPT_SORT_KEYS) for i in loaded.inputs if i.cluster}
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
) -> dict[str, Any]:
    return {
        "formatVersion": FORMAT_VERSION,
        "collectedAt": collected_at,
        "cluster": cluster,
        "namespace": namespace,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "counts": counts,
    }


class DumpWriter:
    """Writes a dump one object at a time, so memory does not grow with the cluster.

    Layout: the envelope on the first line, then each resource's `"name":[` line, one object per
    line, `]`; finally `"header":{...}}`. It is plain JSON, and a reader can parse it a line at a
    time (`_stream_dump`), so a dump larger than memory allows for one parse still loads.

    Objects are streamed into a temporary file beside the target (gzip when the name ends in
    .gz) and the file is renamed into place only by `commit()`; a crash or `abort()` leaves no
    partial dump under the output name. The header goes last: its counts are known only then.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        fd, self._tmp = tempfile.mkstemp(prefix=".pruneplan-dump-", dir=directory)
        raw: IO[bytes] = os.fdopen(fd, "wb")
        self._raw = raw
        self._out: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.endswith(".gz") else raw
        self._out.write(STREAM_PREFIX + b"\n")
        self._resource: str | None = None
        self._first_item = True
        self.counts: dict[str, int] = {}

    def begin(self, resource: str) -> None:
        if resource not in BY_RESOURCE:
            raise ValueError(f"unknown resource {resource}")
        if self._resource is not None:
            self._out.write(b"\n],\n")
        self._out.write(orjson.dumps(resource) + b":[")
        self._resource = resource
        self._first_item = True
        self.counts.setdefault(resource, 0)

    def add(self, obj: dict[str, Any]) -> None:
        if self._resource is None:
            raise ValueError("begin() a resource first")
        self._out.write(b"\n" if self._first_item else b",\n")
        self._first_item = False
        self._out.write(orjson.dumps(obj))
        self.counts[self._resource] += 1

    def commit(self, collected_at: str, cluster: dict[str, Any], namespace: str | None) -> None:
        if self._resource is not None:
            self._out.write(b"\n]")
        counts = {k.resource: self.counts.get(k.resource, 0) for k in KINDS}
        header = make_header(collected_at, cluster, namespace, counts)
        self._out.write(b"\n},\n" + HEADER_KEY + orjson.dumps(header) + b"}\n")
        if self._out is not self._raw:
            self._out.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        try:
            if self._out is not self._raw:
                self._out.close()
            self._raw.close()
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)
