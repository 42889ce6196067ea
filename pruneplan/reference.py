"""Docker image references as upstream reads them (docs/rules.md, "Image references").

Shared knowledge: analyze decides with it, collect's redaction keeps references parseable with it,
execute finds the registry host with it.

The grammar is library-go's fork of docker/distribution's reference package, followed by
library-go's split into registry / namespace / name. Error texts are upstream's. Components are
written without the empty-separator alternation of the original regex, which is the same
language but cannot backtrack exponentially in Python's engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .goduration import go_quote

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)

NAME_TOTAL_LENGTH_MAX = 255
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidReference(ValueError):
    """A reference upstream refuses; str() is upstream's message."""


@dataclass(frozen=True, slots=True)
class ImageReference:
    registry: str
    namespace: str
    name: str
    tag: str
    digest: str


def _validate_digest(digest: str) -> None:
    algorithm, _, hex_part = digest.partition(":")
    expected = _DIGEST_HEX_LENGTH.get(algorithm)
    if expected is None:
        raise InvalidReference("unsupported digest algorithm")
    if len(hex_part) != expected:
        raise InvalidReference("invalid checksum digest length")


def match_reference(spec: str) -> tuple[str, str, str]:
    """The grammar alone: (name with its host, tag, digest); InvalidReference with upstream's text."""
    match = _REFERENCE.fullmatch(spec)
    if match is None:
        if spec == "":
            raise InvalidReference("repository name must have at least one component")
        if _REFERENCE.fullmatch(spec.lower()) is not None:
            raise InvalidReference("repository name must be lowercase")
        raise InvalidReference("invalid reference format")
    full_name, tag, digest = match.group(1), match.group(2) or "", match.group(3) or ""
    if len(full_name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")
    if digest:
        _validate_digest(digest)
    return full_name, tag, digest


def parse_reference(spec: str) -> ImageReference:
    """Parse like library-go's reference.Parse; raise InvalidReference with upstream's text."""
    full_name, tag, digest = match_reference(spec)
    slash = full_name.find("/")
    registry_only = slash == -1 and ("." in full_name or full_name.startswith("localhost"))
    if registry_only:
        # library-go keeps the whole reference as the registry; it has no name, so the pruner
        # ignores it anyway.
        return ImageReference(spec, "", "", "", digest)
    if slash == -1 or (":" not in full_name[:slash] and "." not in full_name[:slash] and full_name[:slash] != "localhost"):
        registry, rest = "", full_name
    else:
        registry, rest = full_name[:slash], full_name[slash + 1 :]
    namespace = ""
    inner = rest.find("/")
    if inner != -1:
        namespace, rest = rest[:inner], rest[inner + 1 :]
    return ImageReference(registry, namespace, rest, tag, digest)


def parse_image_stream_image_name(value: str) -> tuple[str, str]:
    """imageutil.ParseImageStreamImageName: `name@id` (the id is not validated as a digest)."""
    parts = value.split("@", 2)
    if len(parts) != 2:
        raise InvalidReference(f"expected exactly one @ in the isimage name {go_quote(value)}")
    name, image_id = parts
    if not name or not image_id:
        raise InvalidReference(f"image stream image name {go_quote(value)} must have a name and ID")
    return name, image_id


def parse_image_stream_tag_name(value: str) -> tuple[str, str]:
    """imageutil.ParseImageStreamTagName: `name:tag`, no default tag."""
    if "@" in value:
        raise InvalidReference(f"{go_quote(value)} is an image stream image, not an image stream tag")
    parts = value.split(":", 2)
    if len(parts) != 2:
        raise InvalidReference(f"expected exactly one : delimiter in the istag {go_quote(value)}")
    name, tag = parts
    if not name or not tag:
        raise InvalidReference(f"image stream tag name {go_quote(value)} must have a name and a tag")
    return name, tag
