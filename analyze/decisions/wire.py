"""The schemas Images, ImageStreams and LimitRanges decode against: the fields the rules read, as
the JSON gives them (analyze/decisions/inputs.py projects them into the model the rules use).

msgspec decodes an object against these in C and skips every other field (uid, layer media
types, an item's reference and generation, ...) without building Python objects for them. A
field declared `Any` takes any JSON type, where the rules are lenient (a layer's size, a
resource version, the managed annotation) or where the error is upstream's and worded after
decoding (dockerImageMetadata's Id and Size, timestamps); a field of another declared type
refuses the object, and `null` is "not set", as Go decodes it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from pruneplan.analyze.decisions.workloads import Meta


class ImageMeta(msgspec.Struct, gc=False):
    name: str
    creation_timestamp: Any = msgspec.field(default=None, name="creationTimestamp")
    annotations: dict[str, Any] | None = None


class Layer(msgspec.Struct, gc=False):
    name: str
    size: Any = None  # an int (as JSON parsers read it), else no size


class Child(msgspec.Struct, gc=False):
    digest: str


class DockerMetadata(msgspec.Struct, gc=False):
    # upstream's DockerImage fields the rules read; their types are checked in upstream's words
    id: Any = msgspec.field(default="", name="Id")
    size: Any = msgspec.field(default=0, name="Size")


class Image(msgspec.Struct, gc=False):
    metadata: ImageMeta
    reference: str | None = msgspec.field(default=None, name="dockerImageReference")
    media_type: str | None = msgspec.field(default=None, name="dockerImageManifestMediaType")
    layers: list[Layer] | None = msgspec.field(default=None, name="dockerImageLayers")
    manifests: list[Child] | None = msgspec.field(default=None, name="dockerImageManifests")
    docker_metadata: DockerMetadata | None = msgspec.field(default=None, name="dockerImageMetadata")


class StreamMeta(msgspec.Struct, gc=False):
    namespace: str
    name: str
    creation_timestamp: Any = msgspec.field(default=None, name="creationTimestamp")
    resource_version: Any = msgspec.field(default=None, name="resourceVersion")  # a string, else none


class TagItem(msgspec.Struct, gc=False):
    image: str
    created: Any = None


class Tag(msgspec.Struct, gc=False):
    tag: str
    items: list[TagItem] | None = None


class StreamStatus(msgspec.Struct, gc=False):
    repository: str | None = msgspec.field(default=None, name="dockerImageRepository")
    tags: list[Tag] | None = None


class ImageStream(msgspec.Struct, gc=False):
    metadata: StreamMeta
    status: StreamStatus | None = None


class Limit(msgspec.Struct, gc=False):
    type: str | None = None
    max: Any = None  # read (and its type checked) only for an image limit


class LimitSpec(msgspec.Struct, gc=False):
    limits: list[Limit | None] | None = None  # a null limit is Go's zero LimitRangeItem


class LimitRange(msgspec.Struct, gc=False):
    metadata: Meta
    spec: LimitSpec | None = None
