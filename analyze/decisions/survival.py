"""What a removal frees, given what stays: the one accounting behind stage 1's links, stage 2's
images and blobs (docs/rules.md, "Stage 1: image stream history", "Stage 2: images", "The blobs
of an image") and execute's re-check of a plan against the live cluster.

Upstream counts every use, decrements per removal in order, and deletes what reaches zero. That
is the same as: a link or blob nothing that stays uses goes with the last removal that uses it.
The walks here go through the removals backwards against what stays, without counting.

Pure functions over the model. The items removed from a stream are given by their place in its
history, so analyze (its decisions) and execute (the approved part of a plan, on the live stream)
ask the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from types import MappingProxyType
from typing import Collection, Iterable, Iterator, Mapping, Sequence

from pruneplan.analyze.decisions.model import Image, Stream

# The items removed from a stream: for each tag that loses any (by its index in stream.tags), the
# indices of its removed items, ascending. Keyed by tag so that the many tags that lose nothing
# cost nothing.
Removals = Mapping[int, Sequence[int]]
NO_REMOVALS: Removals = MappingProxyType({})

MANIFEST = "manifest"
CONFIG = "config"
LAYER = "layer"

_LAYERS = attrgetter("layers")
_CONFIG = attrgetter("config")


def named_images(stream: Stream, removed: Removals = NO_REMOVALS) -> list[str]:
    """The images a stream's history names once the `removed` items are gone, in history order
    (an image named twice is listed twice)."""
    return _split(stream, removed)[0]


def _split(stream: Stream, removed: Removals) -> tuple[list[str], list[str]]:
    """The digests of the items that stay and of those removed, each in history order."""
    kept: list[str] = []
    gone: list[str] = []
    for t, tag in enumerate(stream.tags):
        images = tag.images
        start = 0
        for i in removed.get(t, ()):  # most tags lose nothing: no item is looked at one by one
            kept += images[start:i]
            gone.append(images[i])
            start = i + 1
        kept += images[start:] if start else images
    return kept, gone


def surviving_images(histories: Iterable[tuple[Stream, Removals]]) -> set[str]:
    """The images some stream still names after its removals (each stream with the items removed
    from it). Stage 2 may delete only the others."""
    used: set[str] = set()
    for stream, removed in histories:
        if removed:
            used.update(named_images(stream, removed))
        else:  # the usual stream: all of it, added in C
            for tag in stream.tags:
                used.update(tag.images)
    return used


@dataclass(slots=True)
class RepositoryClaims:
    """What the items that stay in a repository hold: the manifests they name (present images or
    not) and the layer and config blobs of those images."""

    manifests: set[str]
    blobs: set[str]


def repository_claims(images: Mapping[str, Image], kept: Iterable[str]) -> RepositoryClaims:
    """What the items naming `kept` hold in their repository."""
    manifests = set(kept)
    present: list[Image] = list(filter(None, map(images.get, manifests)))
    blobs = set(chain.from_iterable(map(_LAYERS, present)))
    blobs.update(filter(None, map(_CONFIG, present)))
    return RepositoryClaims(manifests, blobs)


def blob_holders(images: Mapping[str, Image], names: Iterable[str], digest: str) -> list[str]:
    """The images among `names` that use `digest` as a layer or config blob, sorted."""
    return sorted(name for name in set(names) if name in images and digest in images[name].blobs)


@dataclass(slots=True)
class Unlinked:
    """A repository's links freed by removing history items, in upstream's deletion order."""

    manifests: list[str]
    layers: list[str]  # layer and config blobs: both are layer links in the repository


def unlinked(images: Mapping[str, Image], stream: Stream, removed: Removals) -> Unlinked:
    """The manifest and layer links of the stream's repository that no item left after the
    `removed` items go needs, each at the last removal that uses it (upstream's order: items in
    history order, an image's layers then its config). Items naming no image free nothing."""
    kept, gone = _split(stream, removed)
    removals: list[Image] = list(filter(None, map(images.get, gone)))
    claims = repository_claims(images, kept)
    claimed_names, claimed = claims.manifests, claims.blobs
    manifests: list[str] = []
    blobs: list[str] = []
    for image in reversed(removals):
        name = image.name
        if name not in claimed_names:
            claimed_names.add(name)
            manifests.append(name)
        config = image.config
        if config and config not in claimed:  # image.blobs backwards: the config, then the layers
            claimed.add(config)
            blobs.append(config)
        for blob in reversed(image.layers):
            if blob not in claimed:
                claimed.add(blob)
                blobs.append(blob)
    manifests.reverse()
    blobs.reverse()
    return Unlinked(manifests, blobs)


def claimed_blobs(images: Mapping[str, Image], deleted: Collection[str]) -> set[str]:
    """Every blob an image that stays (every image but `deleted`) uses: its own manifest, its
    layers and its config."""
    claimed = images.keys() - deleted
    kept = [image for name, image in images.items() if name not in deleted]
    claimed.update(chain.from_iterable(map(_LAYERS, kept)))
    claimed.update(filter(None, map(_CONFIG, kept)))
    return claimed


def freed_blobs(images: Mapping[str, Image], deleted: Sequence[Image]) -> Iterator[tuple[str, list[str], list[str]]]:
    """Deleting `deleted` in order: each deleted image that frees blobs, with the blobs it frees
    and their kinds (layer, config, manifest) in upstream's order (its layers, its config, its
    manifest); the last deleted image first. A blob no image that stays uses goes with the last
    deleted image that uses it."""
    claimed = claimed_blobs(images, {image.name for image in deleted})
    claim = claimed.add
    for image in reversed(deleted):
        name = image.name
        found: list[tuple[str, str]] = []
        # this image's blob uses backwards: manifest, config, layers last to first
        if name not in claimed:
            claim(name)
            found.append((name, MANIFEST))
        config = image.config
        if config and config not in claimed:
            claim(config)
            found.append((config, CONFIG))
        for blob in reversed(image.layers):
            if blob not in claimed:
                claim(blob)
                found.append((blob, LAYER))
        if found:
            found.reverse()
            # yielded as found: the caller stores them at once (a dict of them all was slower)
            yield name, [blob for blob, _ in found], [kind for _, kind in found]
