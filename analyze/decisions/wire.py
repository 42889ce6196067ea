"""Dump lines of Images, ImageStreams and workloads decoded straight into what analyze keeps
(the model, the workload records of analyze/decisions/workloads.py), reading only the fields the rules read.

msgspec decodes a line against the schemas below in C and skips every other field (uid,
layer media types, an item's reference and generation, ...) without building Python objects for
them: at 100k images an image's parse and model take 7.5 us instead of 9.7 us through orjson's
dicts. It is an accelerator only. Whatever it
does not accept (a type the schema does not expect, a bad timestamp, a missing name, a number
outside int64, any non-ASCII byte) returns None, and the caller reads the line the general way
(orjson and `model.load_image` / `load_stream`), which words the error or takes the odd value.
So a line a decoder accepts gives the model the general path gives (tests/test_wire.py).

One difference stays: JSON syntax of the skipped fields is checked, but a number too large for a
double in a field the rules never read (orjson refuses it as infinity) is accepted.
"""

from __future__ import annotations

import sys
from operator import attrgetter
from typing import Annotated, Any, Callable

import msgspec

from pruneplan.timefmt import parse_time

from pruneplan.analyze.decisions.model import Image, Stream, TagHistory, image_of
from pruneplan.analyze.decisions.workloads import RECORD_TYPES

# orjson reads integers up to 2**64 - 1 as int and larger ones as float; msgspec reads any size.
# Bounds beyond int64 cannot be declared, so larger values go to the general path.
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _ImageMeta(msgspec.Struct, gc=False):
    name: str
    creation_timestamp: str | None = msgspec.field(default=None, name="creationTimestamp")
    annotations: dict[str, str] | None = None


class _Layer(msgspec.Struct, gc=False):
    name: str
    size: _Int64 | None = None


class _Child(msgspec.Struct, gc=False):
    digest: str


class _DockerMetadata(msgspec.Struct, gc=False):
    # upstream's DockerImage fields the rules read; `Id: null` is not a string: general path
    id: str = msgspec.field(default="", name="Id")
    size: _Int64 = msgspec.field(default=0, name="Size")


class _Image(msgspec.Struct, gc=False):
    metadata: _ImageMeta
    reference: str | None = msgspec.field(default=None, name="dockerImageReference")
    media_type: str | None = msgspec.field(default=None, name="dockerImageManifestMediaType")
    layers: list[_Layer] | None = msgspec.field(default=None, name="dockerImageLayers")
    manifests: list[_Child] | None = msgspec.field(default=None, name="dockerImageManifests")
    docker_metadata: _DockerMetadata | None = msgspec.field(default=None, name="dockerImageMetadata")


class _StreamMeta(msgspec.Struct, gc=False):
    namespace: str
    name: str
    creation_timestamp: str | None = msgspec.field(default=None, name="creationTimestamp")
    resource_version: str | None = msgspec.field(default=None, name="resourceVersion")


class _Item(msgspec.Struct, gc=False):
    image: str
    created: str | None = None


class _Tag(msgspec.Struct, gc=False):
    tag: str
    items: list[_Item] | None = None


class _StreamStatus(msgspec.Struct, gc=False):
    repository: str | None = msgspec.field(default=None, name="dockerImageRepository")
    tags: list[_Tag] | None = None


class _Stream(msgspec.Struct, gc=False):
    metadata: _StreamMeta
    status: _StreamStatus | None = None


_decode_image = msgspec.json.Decoder(_Image).decode
_decode_stream = msgspec.json.Decoder(_Stream).decode
_intern = sys.intern
_NAME = attrgetter("name")
_SIZE = attrgetter("size")
_DIGEST = attrgetter("digest")
_IMAGE = attrgetter("image")
_CREATED = attrgetter("created")


def decode_image_line(line: bytes) -> tuple[str, Image] | None:
    """(name, model) of one Image line, or None: read it the general way."""
    if not line.isascii():  # orjson rejects invalid UTF-8 anywhere; msgspec only where it decodes
        return None
    try:
        wire = _decode_image(line)
        created = parse_time(wire.metadata.creation_timestamp)
    except (msgspec.DecodeError, ValueError, RecursionError):  # deep nesting: orjson words it
        return None
    meta = wire.metadata
    if not meta.name:
        return None  # the general path names the object by its position
    name = _intern(meta.name)
    raw_layers = wire.layers
    if raw_layers:  # map() with C callables: no Python frame per layer
        layers = tuple(map(_intern, map(_NAME, raw_layers)))
        sizes: tuple[int | None, ...] = tuple(map(_SIZE, raw_layers))
    else:
        layers = sizes = ()
    children = tuple(map(_intern, map(_DIGEST, wire.manifests))) if wire.manifests else ()
    media_type = wire.media_type or ""
    docker = wire.docker_metadata
    has_metadata = docker is not None
    image_id, size = (docker.id, docker.size) if docker is not None else ("", 0)
    return name, image_of(
        name, created, meta.annotations, media_type, wire.reference or "", layers, sizes, has_metadata, image_id, size, children
    )


def decode_stream_line(line: bytes) -> tuple[tuple[str, str], Stream] | None:
    """((namespace, name), model) of one ImageStream line, or None: read it the general way."""
    if not line.isascii():
        return None
    try:
        wire = _decode_stream(line)
        meta = wire.metadata
        created = parse_time(meta.creation_timestamp)
        status = wire.status
        tags = [
            TagHistory(
                _intern(tag.tag),
                list(map(_intern, map(_IMAGE, tag.items))) if tag.items else [],
                list(map(parse_time, map(_CREATED, tag.items))) if tag.items else [],
            )
            for tag in status.tags
        ] if status is not None and status.tags else []
    except (msgspec.DecodeError, ValueError, RecursionError):  # deep nesting: orjson words it
        return None
    if not meta.namespace or not meta.name:
        return None  # the general path names the object by its position
    stream = Stream(
        _intern(meta.namespace),
        _intern(meta.name),
        created,
        meta.resource_version or "",
        (status.repository or "") if status is not None else "",
        tags,
    )
    return (meta.namespace, meta.name), stream


def _workload_line_decoder(record_type: type) -> "Callable[[bytes], tuple[tuple[str, str], Any] | None]":
    decode: Callable[[bytes], Any] = msgspec.json.Decoder(record_type).decode

    def decode_workload_line(line: bytes) -> tuple[tuple[str, str], Any] | None:
        """((namespace, name), record) of one workload line, or None: read it the general way."""
        if not line.isascii():
            return None
        try:
            record = decode(line)
        except (msgspec.DecodeError, RecursionError):
            return None
        meta = record.metadata
        if not meta.namespace or not meta.name:
            return None  # the general path names the object by its position
        return (meta.namespace, meta.name), record

    return decode_workload_line


# a decoder per record type, shared by the resources of that type
_WORKLOAD_DECODERS = {record_type: _workload_line_decoder(record_type) for record_type in set(RECORD_TYPES.values())}
WORKLOAD_LINE_LOADERS = {resource: _WORKLOAD_DECODERS[record_type] for resource, record_type in RECORD_TYPES.items()}
