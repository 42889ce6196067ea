"""analyze's inputs, in every form, decoded once into the typed model the analysis reads.

`load_inputs` reads the collector's line dump, a whole dump document, a `kind: List` or typed
list, and execute's live snapshot alike (pruneplan/dumpformat.py reads the envelopes and merges).
Each object's JSON is decoded by msgspec against its kind's schema (analyze/decisions/wire.py,
analyze/decisions/workloads.py), then projected into what the rules read: Images and
ImageStreams into the model of analyze/decisions/model.py, with upstream's checks of an image's
metadata; workloads and LimitRanges stay their decoded records.

A field of the wrong JSON type refuses its object with one error naming the object and the field
(`pod ns/web: spec.containers[0].image must be a string`, docs/dump-format.md, "Errors"): msgspec's
account of the fault (`Expected `str | null`, got `int` - at `$.spec.containers[0].image``) is
put in those words here. Images and ImageStreams are refused as they are read; a refused
workload or LimitRange is raised when the analysis reaches its kind, if its namespace is in scope.
"""

from __future__ import annotations

import re
import sys
from operator import attrgetter
from typing import Any, Callable, Iterable, Mapping, Union

import msgspec

from pruneplan import dumpformat
from pruneplan.dumpformat import Identity, LoadedInputs, Reader, Refused
from pruneplan.errors import PrunePlanError
from pruneplan.kinds import KINDS, Kind
from pruneplan.projection import MANAGED_ANNOTATION
from pruneplan.timefmt import parse_time

from pruneplan.analyze.decisions import wire
from pruneplan.analyze.decisions.engine import BuildGraphError
from pruneplan.analyze.decisions.model import (
    CONFIG_MEDIA_TYPES,
    INT_MAX,
    INT_MIN,
    Image,
    MetadataError,
    Stream,
    TagHistory,
    docker_metadata,
    metadata_not_an_object,
)
from pruneplan.analyze.decisions.referrers import REFERRER_RESOURCES
from pruneplan.analyze.decisions.workloads import Build, Controller, CronJob, Pod

# read as they are met; the others when the analysis reaches their kind (in its namespace)
DEFERRED = frozenset({*REFERRER_RESOURCES, "limitranges"})


def load_inputs(paths: Iterable[str]) -> LoadedInputs:
    """Read, decode and merge `paths` (InputError for a bad input; BuildGraphError for image
    metadata upstream cannot read, as upstream fails to build its graph)."""
    try:
        return dumpformat.load_inputs(paths, READERS, DEFERRED, read_list_items)
    except MetadataError as err:
        raise BuildGraphError.of_metadata(err) from None


# --- msgspec's faults in our words ---------------------------------------------------------------

_FAULT = re.compile(
    r"(?:Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`|Object missing required field `(?P<missing>[^`]*)`|.*?)"
    r"(?: - at `\$\.?(?P<path>[^`]*)`)?"
)
_ENTRY = re.compile(r"(?P<list>[^.\[\]]+)\[\d+\]$")  # a list's entry: `status.tags[0]`
_WORDS = (("object", "an object"), ("array", "a list"), ("str", "a string"))
# the Python type of a value of each JSON type msgspec names
_PYTHON_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool, "array": list, "object": dict}

# Entries of these lists that are not objects are named by the string field that identifies
# them (`dockerImageLayers[0].name must be a string`), as for an entry without it.
_IMAGE_ENTRIES = {"dockerImageLayers": "name", "dockerImageManifests": "digest"}
_STREAM_ENTRIES = {"tags": "tag", "items": "image"}


def _refused(err: msgspec.ValidationError, entries: Mapping[str, str] | None = None) -> Refused:
    """The object refused for the field msgspec names. A fault in its identity (metadata, its
    name or namespace) is found again, and worded, by the loader; so is a number msgspec finds
    out of range (malformed JSON)."""
    fault = _FAULT.fullmatch(str(err))
    assert fault is not None  # the pattern's last branch takes any message
    path = fault["path"] or ""
    if fault["missing"]:  # the required fields, but for the identity, are strings
        return Refused(f"{_joined(path, fault['missing'])} must be a string")
    expected = fault["expected"]
    if expected is None:
        return Refused(str(err))
    entry = _ENTRY.search(path)
    if entries and entry and entry["list"] in entries and expected.startswith("object"):
        return Refused(f"{path}.{entries[entry['list']]} must be a string")
    must = next((words for word, words in _WORDS if expected.startswith(word)), expected)
    return Refused(f"{path} must be {must}")


def _as_is(error: PrunePlanError) -> Callable[[str], PrunePlanError]:
    return lambda _name: error


def _joined(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _not_an_object(err: msgspec.ValidationError, path: str) -> type | None:
    """The Python type of the value msgspec found at `path` instead of an object, else None."""
    fault = _FAULT.fullmatch(str(err))
    if fault is None or fault["path"] != path or not (fault["expected"] or "").startswith("object"):
        return None
    return _PYTHON_TYPES.get(fault["got"], type(None))


# --- Images ----------------------------------------------------------------------------------------

_decode_image = msgspec.json.Decoder(wire.Image).decode
_intern = sys.intern
_NAME = attrgetter("name")
_SIZE = attrgetter("size")
_DIGEST = attrgetter("digest")


def read_image(raw: bytes) -> tuple[Identity, Image]:
    try:
        decoded = _decode_image(raw)
    except msgspec.ValidationError as err:
        found = _not_an_object(err, "dockerImageMetadata")
        if found is not None:  # upstream's decoder refuses it, in its words
            raise Refused(error=lambda name: metadata_not_an_object(name, found)) from None
        raise _refused(err, _IMAGE_ENTRIES) from None
    return project_image(decoded)


def project_image(decoded: wire.Image) -> tuple[Identity, Image]:
    """The model of a decoded Image, with upstream's checks of its metadata."""
    meta = decoded.metadata
    if not meta.name:
        raise Refused()  # the loader names it by its position
    name = _intern(meta.name)
    # one frame per image, every list mapped by C callables: they are millions in a big dump
    raw_layers = decoded.layers
    if raw_layers:
        layers = tuple(map(_intern, map(_NAME, raw_layers)))
        sizes = tuple(map(_SIZE, raw_layers))  # as given: the model judges a size when it is read
        try:  # but a negative one is refused now: it would make the bytes a plan frees negative
            negative = min(sizes) < 0
        except TypeError:  # sizes of other JSON types (no size) among them: looked at one by one
            negative = True
        if negative and (bad := _first_negative(sizes)) >= 0:
            raise Refused(f"dockerImageLayers[{bad}].size must not be negative")
    else:
        layers = sizes = ()
    children = tuple(map(_intern, map(_DIGEST, decoded.manifests))) if decoded.manifests else ()
    docker = decoded.docker_metadata
    if docker is None:
        has_metadata, image_id, size = False, "", 0
    else:
        has_metadata, image_id, size = True, docker.id, docker.size
        if type(image_id) is not str or type(size) is not int or size < INT_MIN or size > INT_MAX:
            try:
                image_id, size = docker_metadata(name, image_id, size)
            except MetadataError as err:
                raise Refused(error=_as_is(err)) from None
    try:
        created = parse_time(meta.creation_timestamp)
    except ValueError as err:
        raise Refused(f"metadata.creationTimestamp: invalid timestamp: {err}") from None
    media_type = _intern(decoded.media_type or "")
    annotations = meta.annotations
    # positional: the field order of Image; the config blob is dockerImageMetadata.Id, for a media type that has one
    return name, Image(
        name,
        created,
        annotations is not None and annotations.get(MANAGED_ANNOTATION) == "true",
        media_type,
        decoded.reference or "",
        layers,
        sizes,
        _intern(image_id) if has_metadata and image_id and media_type in CONFIG_MEDIA_TYPES else "",
        has_metadata,
        size,
        children,
    )


def _first_negative(sizes: tuple[Any, ...]) -> int:
    """The index of the first negative number of `sizes`, else -1."""
    for index, size in enumerate(sizes):
        if type(size) in (int, float) and size < 0:
            return index
    return -1


# --- ImageStreams ----------------------------------------------------------------------------------

_decode_stream = msgspec.json.Decoder(wire.ImageStream).decode
_IMAGE = attrgetter("image")
_CREATED = attrgetter("created")


def read_stream(raw: bytes) -> tuple[Identity, Stream]:
    try:
        decoded = _decode_stream(raw)
    except msgspec.ValidationError as err:
        raise _refused(err, _STREAM_ENTRIES) from None
    return project_stream(decoded)


def project_stream(decoded: wire.ImageStream) -> tuple[Identity, Stream]:
    """The model of a decoded ImageStream."""
    meta = decoded.metadata
    if not meta.namespace or not meta.name:
        raise Refused()  # the loader names it by its position
    status = decoded.status
    tags: list[TagHistory] = []
    if status is not None and status.tags:
        try:  # map() with C callables: no Python frame per item
            tags = [
                TagHistory(_intern(tag.tag), list(map(_intern, map(_IMAGE, tag.items))), list(map(parse_time, map(_CREATED, tag.items))))
                if tag.items else TagHistory(_intern(tag.tag), [], [])
                for tag in status.tags
            ]
        except ValueError:
            raise _bad_item_time(status.tags) from None
    try:
        stream_created = parse_time(meta.creation_timestamp)
    except ValueError as err:
        raise Refused(f"metadata.creationTimestamp: invalid timestamp: {err}") from None
    namespace, name = _intern(meta.namespace), _intern(meta.name)
    rv = meta.resource_version
    stream = Stream(
        namespace,
        name,
        stream_created,
        rv if isinstance(rv, str) else "",
        (status.repository or "") if status is not None else "",
        tags,
    )
    return (namespace, name), stream


def _bad_item_time(tags: list[wire.Tag]) -> Refused:
    """The first history item whose time does not parse, named."""
    for tag_index, tag in enumerate(tags):
        for index, item in enumerate(tag.items or ()):
            try:
                parse_time(item.created)
            except ValueError as err:
                return Refused(f"status.tags[{tag_index}].items[{index}].created: invalid timestamp: {err}")
    raise AssertionError("a time failed to parse once only")  # parse_time is pure


# --- workloads and LimitRanges: their records, as decoded -------------------------------------------

def _record_reader(record_type: type) -> Reader:
    decode: Callable[[bytes], Any] = msgspec.json.Decoder(record_type).decode

    def read_record(raw: bytes) -> tuple[Identity, Any]:
        try:
            record = decode(raw)
        except msgspec.ValidationError as err:
            raise _refused(err) from None
        return project_record(record)

    return read_record


def project_record(record: Any) -> tuple[Identity, Any]:
    """A decoded workload or LimitRange, kept as it is, by its identity."""
    meta = record.metadata
    if not meta.namespace or not meta.name:
        raise Refused()  # the loader names it by its position
    return (meta.namespace, meta.name), record


# the record type of each workload resource
_RECORD_TYPES: dict[str, type] = {
    "pods": Pod,
    "replicationcontrollers": Controller,
    "deploymentconfigs": Controller,
    "replicasets": Controller,
    "deployments": Controller,
    "daemonsets": Controller,
    "statefulsets": Controller,
    "jobs": Controller,
    "cronjobs": CronJob,
    "builds": Build,
    "buildconfigs": Build,
    "limitranges": wire.LimitRange,
}
_RECORD_READERS = {record_type: _record_reader(record_type) for record_type in set(_RECORD_TYPES.values())}

# one reader per resource of pruneplan.kinds.KINDS
READERS: dict[str, Reader] = {
    "images": read_image,
    "imagestreams": read_stream,
    **{resource: _RECORD_READERS[record_type] for resource, record_type in _RECORD_TYPES.items()},
}


# --- a `kind: List`'s items, each by its `kind` ------------------------------------------------------
# Each kind's schema again, as a member of a union told apart by the item's `kind` (msgspec's
# tagged unions): an item decodes in one call, without reading its kind first. Any item this cannot
# read (a kind analyze does not read, a field of the wrong type, a refused object) sends the whole
# list back to the item-by-item path, which says what is wrong.

_SCHEMAS: dict[str, type] = {"images": wire.Image, "imagestreams": wire.ImageStream, **_RECORD_TYPES}
_PROJECTIONS: dict[str, Callable[[Any], tuple[Identity, Any]]] = {
    "images": project_image,
    "imagestreams": project_stream,
    **{resource: project_record for resource in _RECORD_TYPES},
}


def _list_item_type(kind: Kind) -> type:
    """The kind's schema, tagged with its `kind` (a subclass: the model reads it as the schema)."""
    return msgspec.defstruct(
        f"{kind.kind}Item", [], bases=(_SCHEMAS[kind.resource],), tag_field="kind", tag=kind.kind, gc=False
    )


_ITEM_TYPES = {kind.resource: _list_item_type(kind) for kind in KINDS}
_RESOURCE_OF = {item_type: resource for resource, item_type in _ITEM_TYPES.items()}
_decode_list_item = msgspec.json.Decoder(Union[tuple(_ITEM_TYPES.values())]).decode


def read_list_items(items: Iterable[bytes]) -> list[tuple[str, Identity, Any]] | None:
    """A `kind: List`'s items (each one's JSON) read by their `kind`: each one's resource, identity
    and model, in the list's order; None when an item must be read alone. An item's decoded
    schema is dropped as soon as its model is built, as on the item-by-item path."""
    read = []
    try:
        for item in items:
            decoded = _decode_list_item(item)
            resource = _RESOURCE_OF[type(decoded)]
            identity, kept = _PROJECTIONS[resource](decoded)
            read.append((resource, identity, kept))
    except (msgspec.DecodeError, RecursionError, Refused):
        return None
    return read
