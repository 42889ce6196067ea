"""The compact in-memory model the rules read, projected from dump objects while loading.

Only the fields the rules read (docs/rules.md) survive; digests and names are interned because the same digest
appears in many images, items and references. Type errors in fields the rules read become one-line
InputErrors naming the object and the field.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from fractions import Fraction
from operator import itemgetter, methodcaller
from typing import Any

from pruneplan.errors import InputError, PrunePlanError
from pruneplan.goduration import go_quote
from pruneplan.projection import MANAGED_ANNOTATION
from pruneplan.timefmt import parse_time

from pruneplan.analyze.decisions.quantity import parse_quantity

MEDIA_DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPES = frozenset({MEDIA_DOCKER_V2, MEDIA_OCI_MANIFEST})
LIST_MEDIA_TYPES = frozenset({MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX})
IMAGE_LIMIT_TYPE = "openshift.io/Image"

_intern = sys.intern


@dataclass(slots=True)
class Image:
    name: str
    created: float
    managed: bool
    media_type: str
    reference: str
    layers: tuple[str, ...]  # in order, duplicates kept (each occurrence counts)
    layer_sizes: tuple[int | None, ...]  # dockerImageLayers[].size, aligned with layers (a tuple: dicts cost 5x)
    config: str  # dockerImageMetadata.Id when the media type has a config, else ""
    has_metadata: bool  # dockerImageMetadata decodes to a DockerImage
    size: int  # dockerImageMetadata.Size
    manifests: tuple[str, ...]  # children of a manifest list

    @property
    def is_list(self) -> bool:
        """A manifest list or index, as upstream tells one: by its media type alone. An image
        with children but no list media type still needs metadata (upstream stops without it)."""
        return self.media_type in LIST_MEDIA_TYPES

    @property
    def metadata_unreadable(self) -> bool:
        """Upstream's getImageBlobs fails for a single-manifest image without metadata (docs/rules.md, "The blobs of an image")."""
        return not self.has_metadata and not self.is_list

    def layer_sizes_by_digest(self) -> dict[str, int]:
        """Each layer's size as this image lists it (the largest, should it list a digest twice)."""
        # returned only when no size is None (checked next), so the values are ints
        sizes: dict[str, int] = dict(zip(self.layers, self.layer_sizes))  # type: ignore[arg-type]
        if len(sizes) == len(self.layers) and None not in self.layer_sizes:
            return sizes  # the usual case, built in C: each layer once, with its size
        sizes = {}
        for layer, size in zip(self.layers, self.layer_sizes):
            if size is None:
                continue
            known = sizes.get(layer)
            if known is None or size > known:
                sizes[layer] = size
        return sizes

    def layer_size(self, digest: str) -> int | None:
        """layer_sizes_by_digest().get(digest), without a dict for the usual layer listed once."""
        layers = self.layers
        if layers.count(digest) == 1:
            return self.layer_sizes[layers.index(digest)]
        return self.layer_sizes_by_digest().get(digest)

    @property
    def blobs(self) -> tuple[str, ...]:
        """Layer and config blobs in upstream's order (not the manifest blob)."""
        if self.config:
            return self.layers + (self.config,)
        return self.layers


@dataclass(slots=True)
class TagHistory:
    tag: str
    images: list[str]  # items[].image, newest first
    created: list[float]  # items[].created


@dataclass(slots=True)
class Stream:
    namespace: str
    name: str
    created: float
    resource_version: str
    repository: str  # status.dockerImageRepository
    tags: list[TagHistory]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _where(resource: str, obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{resource} {ns}/{meta.get('name')}" if ns else f"{resource} {meta.get('name')}"


def _time(obj: dict[str, Any], value: Any, resource: str, field: str) -> float:
    try:
        return parse_time(value)
    except ValueError as err:
        raise InputError(f"{_where(resource, obj)}: {field}: invalid timestamp: {err}") from None


def _str(obj: dict[str, Any], value: Any, resource: str, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{_where(resource, obj)}: {field} must be a string")
    return value


def _object(obj: dict[str, Any], value: Any, resource: str, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{_where(resource, obj)}: {field} must be an object")
    return value


def _list(obj: dict[str, Any], value: Any, resource: str, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{_where(resource, obj)}: {field} must be a list")
    return value


class MetadataError(PrunePlanError):
    """dockerImageMetadata that upstream's decoder refuses: upstream cannot build its pruner and
    changes nothing (the analysis reports it as a failed graph build)."""


_GO_JSON_TYPES = {str: "string", bool: "bool", list: "array", int: "number", float: "number", dict: "object"}


def _decode_metadata(obj: dict[str, Any], name: str, raw: Any) -> tuple[bool, str, int]:
    """library-go ImageWithMetadata: (decoded?, Id, Size). A JSON type error fails the graph build."""
    if raw is None:
        return False, "", 0
    if not isinstance(raw, dict):
        kind = _GO_JSON_TYPES.get(type(raw), "value")
        raise MetadataError(
            f"failed to read image metadata for {name}: json: cannot unmarshal {kind} into Go value of type docker10.DockerImage"
        )
    image_id = raw.get("Id", "")
    size = raw.get("Size", 0)
    if image_id is None:
        image_id = ""
    if size is None:
        size = 0
    if not isinstance(image_id, str):
        kind = _GO_JSON_TYPES.get(type(image_id), "value")
        raise MetadataError(
            f"failed to read image metadata for {name}: json: cannot unmarshal {kind} into Go struct field DockerImage.Id of type string"
        )
    if isinstance(size, bool) or not isinstance(size, (int, float)) or (isinstance(size, float) and not size.is_integer()):
        kind = _GO_JSON_TYPES.get(type(size), "value")
        raise MetadataError(
            f"failed to read image metadata for {name}: json: cannot unmarshal {kind} into Go struct field DockerImage.Size of type int64"
        )
    return True, image_id, int(size)


def image_of(
    name: str,
    created: float,
    annotations: dict[str, Any] | None,
    media_type: str,
    reference: str,
    layers: tuple[str, ...],
    sizes: tuple[int | None, ...],
    has_metadata: bool,
    image_id: str,
    size: int,
    children: tuple[str, ...],
) -> Image:
    """The model from an Image's decoded fields, whichever reader decoded them: what the rules
    read is derived here (the managed annotation, the config blob: dockerImageMetadata.Id, for
    a media type that has a config)."""
    config = _intern(image_id) if has_metadata and image_id and media_type in CONFIG_MEDIA_TYPES else ""
    # positional: the field order of Image
    return Image(
        name,
        created,
        annotations is not None and annotations.get(MANAGED_ANNOTATION) == "true",
        _intern(media_type),
        reference,
        layers,
        sizes,
        config,
        has_metadata,
        size,
        children,
    )


_NAME = itemgetter("name")
_DIGEST = itemgetter("digest")
_SIZE = itemgetter("size")  # a layer without a size: KeyError, and the checked path
_INT_ONLY = frozenset({int})


def _int_or_none(value: Any) -> int | None:
    return value if type(value) is int else None  # bool is not a size


def load_image(obj: dict[str, Any]) -> Image:
    """The model of one Image. Well-formed objects take the fast path; anything it trips over is
    read again by the checked path, which names the bad field."""
    try:
        return _load_image_fast(obj)
    except (TypeError, KeyError, AttributeError):
        return _load_image_checked(obj)


def _load_image_fast(obj: dict[str, Any]) -> Image:
    meta = obj["metadata"]
    name = _intern(meta["name"])
    annotations = meta.get("annotations")
    media_type = obj.get("dockerImageManifestMediaType") or ""
    reference = obj.get("dockerImageReference") or ""
    raw_layers = obj.get("dockerImageLayers")
    raw_children = obj.get("dockerImageManifests")
    if (
        type(media_type) is not str
        or type(reference) is not str
        or (annotations is not None and type(annotations) is not dict)
        or (raw_layers is not None and type(raw_layers) is not list)
        or (raw_children is not None and type(raw_children) is not list)
    ):
        raise TypeError
    # map() with C callables: no Python frame per layer (they are millions in a big dump)
    if raw_layers:
        layers = tuple(map(_intern, map(_NAME, raw_layers)))
        sizes = tuple(map(_SIZE, raw_layers))
        if not set(map(type, sizes)) <= _INT_ONLY:  # null or odd sizes (a bool is not a size)
            sizes = tuple([_int_or_none(size) for size in sizes])
    else:
        layers = sizes = ()
    children = tuple(map(_intern, map(_DIGEST, raw_children))) if raw_children else ()
    raw_metadata = obj.get("dockerImageMetadata")
    if type(raw_metadata) is dict and type(image_id := raw_metadata.get("Id", "")) is str and type(size := raw_metadata.get("Size", 0)) is int:
        has_metadata = True  # the usual well-formed metadata, decoded inline
    else:
        has_metadata, image_id, size = _decode_metadata(obj, name, raw_metadata)
    try:
        created = parse_time(meta.get("creationTimestamp"))
    except ValueError:
        raise TypeError from None  # the checked path words the error
    return image_of(name, created, annotations, media_type, reference, layers, sizes, has_metadata, image_id, size, children)


def _load_image_checked(obj: dict[str, Any]) -> Image:
    meta = obj["metadata"]
    name = _intern(meta["name"])
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InputError(f"{_where('image', obj)}: metadata.annotations must be an object")
    media_type = _str(obj, obj.get("dockerImageManifestMediaType"), "image", "dockerImageManifestMediaType")
    layers: list[str] = []
    sizes: list[int | None] = []
    for index, layer in enumerate(_list(obj, obj.get("dockerImageLayers"), "image", "dockerImageLayers")):
        if not isinstance(layer, dict) or not isinstance(layer.get("name"), str):
            raise InputError(f"{_where('image', obj)}: dockerImageLayers[{index}].name must be a string")
        layers.append(_intern(layer["name"]))
        sizes.append(_int_or_none(layer.get("size")))
    children: list[str] = []
    for index, child in enumerate(_list(obj, obj.get("dockerImageManifests"), "image", "dockerImageManifests")):
        if not isinstance(child, dict) or not isinstance(child.get("digest"), str):
            raise InputError(f"{_where('image', obj)}: dockerImageManifests[{index}].digest must be a string")
        children.append(_intern(child["digest"]))
    has_metadata, image_id, size = _decode_metadata(obj, name, obj.get("dockerImageMetadata"))
    return image_of(
        name,
        _time(obj, meta.get("creationTimestamp"), "image", "metadata.creationTimestamp"),
        annotations,
        media_type,
        _str(obj, obj.get("dockerImageReference"), "image", "dockerImageReference"),
        tuple(layers),
        tuple(sizes),
        has_metadata,
        image_id,
        size,
        tuple(children),
    )


def load_stream(obj: dict[str, Any]) -> Stream:
    meta = obj["metadata"]
    status = obj.get("status") or {}
    if not isinstance(status, dict):
        raise InputError(f"{_where('imagestream', obj)}: status must be an object")
    tags: list[TagHistory] = []
    for t_index, tag in enumerate(_list(obj, status.get("tags"), "imagestream", "status.tags")):
        if not isinstance(tag, dict) or not isinstance(tag.get("tag"), str):
            raise InputError(f"{_where('imagestream', obj)}: status.tags[{t_index}].tag must be a string")
        items = _list(obj, tag.get("items"), "imagestream", f"status.tags[{t_index}].items")
        try:  # map() with C callables, no Python frame per item; anything odd: the checked loop
            images = list(map(_intern, map(_IMAGE, items)))
            created = list(map(parse_time, map(_CREATED, items)))
        except (KeyError, TypeError, AttributeError, ValueError):
            images, created = _tag_items_checked(obj, t_index, items)
        tags.append(TagHistory(_intern(tag["tag"]), images, created))
    rv = meta.get("resourceVersion")
    return Stream(
        namespace=_intern(meta["namespace"]),
        name=_intern(meta["name"]),
        created=_time(obj, meta.get("creationTimestamp"), "imagestream", "metadata.creationTimestamp"),
        resource_version=rv if isinstance(rv, str) else "",
        repository=_str(obj, status.get("dockerImageRepository"), "imagestream", "status.dockerImageRepository"),
        tags=tags,
    )


_IMAGE = itemgetter("image")
_CREATED = methodcaller("get", "created")


def _tag_items_checked(obj: dict[str, Any], t_index: int, items: list[Any]) -> tuple[list[str], list[float]]:
    images: list[str] = []
    created: list[float] = []
    for i_index, item in enumerate(items):
        field = f"status.tags[{t_index}].items[{i_index}]"
        if not isinstance(item, dict) or not isinstance(item.get("image"), str):
            raise InputError(f"{_where('imagestream', obj)}: {field}.image must be a string")
        images.append(_intern(item["image"]))
        created.append(_time(obj, item.get("created"), "imagestream", f"{field}.created"))
    return images, created


def load_limits(objs: list[dict[str, Any]]) -> dict[str, list[Fraction]]:
    """openshift.io/Image max storage values per namespace (docs/rules.md, "Over-size mode")."""
    limits: dict[str, list[Fraction]] = {}
    for obj in objs:
        meta = obj["metadata"]
        spec = _object(obj, obj.get("spec"), "limitrange", "spec")
        for index, limit in enumerate(_list(obj, spec.get("limits"), "limitrange", "spec.limits")):
            field = f"spec.limits[{index}]"
            limit = _object(obj, limit, "limitrange", field)  # a null entry: Go's zero LimitRangeItem
            if _str(obj, limit.get("type"), "limitrange", f"{field}.type") != IMAGE_LIMIT_TYPE:
                continue
            maximum = _object(obj, limit.get("max"), "limitrange", f"{field}.max")
            if "storage" not in maximum:
                continue
            try:
                value = parse_quantity(maximum["storage"])
            except ValueError as err:
                raise InputError(
                    f"{_where('limitrange', obj)}: spec.limits[{index}].max.storage {go_quote(str(maximum['storage']))}: {err}"
                ) from None
            limits.setdefault(meta["namespace"], []).append(value)
    return limits
