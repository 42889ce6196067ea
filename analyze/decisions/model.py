"""The compact in-memory model the rules read, and upstream's checks of what it is made from.

Only the fields the rules read (docs/rules.md) survive. analyze/decisions/inputs.py builds it from
each object's decoded schema (analyze/decisions/wire.py), interning digests and names: the same
digest appears in many images, items and references.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

from pruneplan.errors import InputError, PrunePlanError
from pruneplan.goduration import go_quote

from pruneplan.analyze.decisions.quantity import parse_quantity
from pruneplan.analyze.decisions.wire import LimitRange

MEDIA_DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPES = frozenset({MEDIA_DOCKER_V2, MEDIA_OCI_MANIFEST})
LIST_MEDIA_TYPES = frozenset({MEDIA_DOCKER_LIST, MEDIA_OCI_INDEX})
IMAGE_LIMIT_TYPE = "openshift.io/Image"

# JSON integers are read exactly from -2**63 to 2**64 - 1 (int64 and uint64); beyond, as the
# nearest double, as a JSON parser with machine number types reads them
INT_MIN, INT_MAX = -(2**63), 2**64 - 1


def as_size(value: Any) -> int | None:
    """A layer size as the JSON gives it: an integer in range, else no size (a bool is not one)."""
    return value if type(value) is int and INT_MIN <= value <= INT_MAX else None


@dataclass(slots=True)
class Image:
    name: str
    created: float
    managed: bool
    media_type: str
    reference: str
    layers: tuple[str, ...]  # in order, duplicates kept (each occurrence counts)
    # dockerImageLayers[].size as the JSON gives each, aligned with layers (a tuple: dicts cost 5x). A size
    # is an integer within INT_MIN..INT_MAX, anything else (null, a bool, a float, ...) is no size:
    # judged when read (layer_size), as few are, not for each of the millions loaded
    layer_sizes: tuple[Any, ...]
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
        sizes: dict[str, int] = {}
        for layer, value in zip(self.layers, self.layer_sizes):
            size = as_size(value)
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
            return as_size(self.layer_sizes[layers.index(digest)])
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


class MetadataError(PrunePlanError):
    """dockerImageMetadata that upstream's decoder refuses: upstream cannot build its pruner and
    changes nothing (the analysis reports it as a failed graph build)."""


_GO_JSON_TYPES = {str: "string", bool: "bool", list: "array", int: "number", float: "number", dict: "object"}


def json_number(value: Any) -> Any:
    """A decoded JSON value, with an integer outside INT_MIN..INT_MAX as the nearest float."""
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        return float(value)
    return value


def metadata_not_an_object(name: str, json_type: type) -> MetadataError:
    """dockerImageMetadata of another JSON type than an object (`json_type`: the Python type
    such a value decodes to): upstream's decoder refuses it."""
    kind = _GO_JSON_TYPES.get(json_type, "value")
    return MetadataError(
        f"failed to read image metadata for {name}: json: cannot unmarshal {kind} into Go value of type docker10.DockerImage"
    )


def docker_metadata(name: str, image_id: Any, size: Any) -> tuple[str, int]:
    """library-go ImageWithMetadata's reading of dockerImageMetadata's Id and Size (absent or
    null: "" and 0). A JSON type error fails upstream's graph build: MetadataError."""
    if image_id is None:
        image_id = ""
    size = 0 if size is None else json_number(size)
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
    return image_id, int(size)


def load_limits(ranges: Iterable[LimitRange]) -> dict[str, list[Fraction]]:
    """openshift.io/Image max storage values per namespace (docs/rules.md, "Over-size mode")."""
    limits: dict[str, list[Fraction]] = {}
    for limit_range in ranges:
        spec = limit_range.spec
        if spec is None or not spec.limits:
            continue
        meta = limit_range.metadata
        for index, limit in enumerate(spec.limits):
            if limit is None or limit.type != IMAGE_LIMIT_TYPE:  # a null limit: Go's zero LimitRangeItem
                continue
            maximum = limit.max
            if maximum is None:
                continue
            if not isinstance(maximum, dict):
                raise InputError(f"limitrange {meta.namespace}/{meta.name}: spec.limits[{index}].max must be an object")
            if "storage" not in maximum:
                continue
            storage = json_number(maximum["storage"])
            try:
                value = parse_quantity(storage)
            except ValueError as err:
                raise InputError(
                    f"limitrange {meta.namespace}/{meta.name}: spec.limits[{index}].max.storage {go_quote(str(storage))}: {err}"
                ) from None
            limits.setdefault(meta.namespace, []).append(value)
    return limits
