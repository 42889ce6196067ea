"""The hard-prune rules (docs/rules.md, "Hard pruning"): what of a registry's storage no Image
object or image stream accounts for. Pure: the caller reads the dump, the inventory and the clock.

`decide_hard` looks at every repository, link, upload and blob of the inventory once and records
each deletion with its reason; explain asks the same decisions (and the helpers below) why a
thing is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional

from pruneplan.hardplan import UPLOAD_UUID_RE, hard_cutoff
from pruneplan.inventoryformat import Blob, Inventory, Repository, Upload
from pruneplan.timefmt import parse_time

from pruneplan.analyze.decisions.model import Image, Stream

# why a repository is removed whole
INVALID_NAME = "invalid-name"
NO_IMAGE_STREAM = "no-image-stream"
# why a manifest link is deleted
NOT_AN_IMAGE = "not-an-image"
NOT_IN_STREAM_HISTORY = "not-in-stream-history"
# why a layer link is deleted
BLOB_DELETED = "blob-deleted"

# why a manifest link is kept
IN_STREAM_HISTORY = "in-stream-history"
CHILD_OF_KEPT_LIST = "child-of-kept-list"
YOUNG = "young"
UNKNOWN_AGE = "unknown-age"  # its blob is not in the inventory

# A namespace is a DNS label; an image stream's name one path segment of at most 253 characters
# (a repository name's components never hold '/' or '%', so only the length can fail).
NAMESPACE_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
MAX_STREAM_NAME = 253

# a blob digest -> YOUNG or UNKNOWN_AGE when deleting it (or a link to it) must wait, else None
_Young = Callable[[str], Optional[str]]


@dataclass(frozen=True, slots=True)
class Use:
    """One way an Image object accounts for a blob: as its manifest, a layer, its config, or a
    child manifest its list names."""

    image: str
    role: str  # manifest, layer, config, child


@dataclass(slots=True)
class KeptRepository:
    """A repository that stays. `stream` is its image stream; None when it has none (or an
    invalid name) and stays only for its young content: `young` names it (`manifest link
    sha256:..`, `layer link sha256:..`, `upload UUID`), `would_be` is the reason it would have
    been removed for."""

    stream: Optional[Stream]
    young: list[str] = field(default_factory=list)
    would_be: str = ""


@dataclass(slots=True)
class HardDecisions:
    cutoff: float
    removed_repositories: dict[str, str]  # name -> reason
    kept_repositories: dict[str, KeptRepository]
    manifest_link_deletions: list[tuple[str, str, str]]  # (repository, digest, reason), sorted
    kept_manifest_links: dict[tuple[str, str], str]  # (repository, digest) -> why kept
    layer_link_deletions: list[tuple[str, str]]  # (repository, digest), sorted
    upload_deletions: list[tuple[str, Upload]]  # (repository, upload), sorted
    kept_uploads: dict[tuple[str, str], str]  # (repository, uuid) -> young, unknown-age, unsafe-name
    blob_deletions: list[Blob]  # sorted by digest
    deleted_blobs: set[str]
    accounted: set[str]  # every digest an Image object accounts for (rule 1)
    kept_by_link: set[str]  # digests of manifest links kept in kept repositories

    _sets: Optional[dict[str, set[tuple[str, str]]]] = None

    @property
    def reclaimable_bytes(self) -> int:
        return sum(blob.size for blob in self.blob_deletions) + sum(upload.size for _, upload in self.upload_deletions)

    # What execute asks of fresh decisions, entry by entry of a plan: does this one still go?

    def deletes_repository(self, name: str) -> bool:
        return name in self.removed_repositories

    def deletes_manifest_link(self, repository: str, digest: str) -> bool:
        return (repository, digest) in self._set("manifest")

    def deletes_layer_link(self, repository: str, digest: str) -> bool:
        return (repository, digest) in self._set("layer")

    def deletes_upload(self, repository: str, uuid: str) -> bool:
        return (repository, uuid) in self._set("upload")

    def deletes_blob(self, digest: str) -> bool:
        return digest in self.deleted_blobs

    def _set(self, which: str) -> set[tuple[str, str]]:
        if self._sets is None:
            self._sets = {
                "manifest": {(repository, digest) for repository, digest, _ in self.manifest_link_deletions},
                "layer": set(self.layer_link_deletions),
                "upload": {(repository, upload.uuid) for repository, upload in self.upload_deletions},
            }
        return self._sets[which]


def uses_of(image: Image) -> Iterable[Use]:
    """Every blob an Image object accounts for (rule 1): its manifest, its layers, its config
    (schema 2 and OCI), and each child manifest of a manifest list."""
    yield Use(image.name, "manifest")
    for layer in image.layers:
        yield Use(layer, "layer")
    if image.config:
        yield Use(image.config, "config")
    for child in image.manifests:
        yield Use(child, "child")


def accounted_digests(images: Iterable[Image]) -> set[str]:
    digests: set[str] = set()
    for image in images:
        digests.add(image.name)
        digests.update(image.layers)
        if image.config:
            digests.add(image.config)
        digests.update(image.manifests)
    return digests


def accounting_images(digest: str, images: Iterable[Image]) -> list[Use]:
    """The Image objects that account for `digest`, each with the role it has there (`image` is
    the Image object's name here), sorted."""
    found = set()
    for image in images:
        for use in uses_of(image):
            if use.image == digest:
                found.add(Use(image.name, use.role))
    return sorted(found, key=lambda use: (use.image, use.role))


def repository_verdict(name: str, streams: Mapping[tuple[str, str], Stream]) -> tuple[Optional[Stream], str]:
    """The repository's image stream, or None and why the repository would be removed."""
    parts = name.split("/")
    if len(parts) != 2 or not NAMESPACE_RE.fullmatch(parts[0]) or len(parts[1]) > MAX_STREAM_NAME:
        return None, INVALID_NAME
    stream = streams.get((parts[0], parts[1]))
    return (stream, "") if stream is not None else (None, NO_IMAGE_STREAM)


def history_entry(stream: Optional[Stream], digest: str) -> Optional[tuple[str, int]]:
    """The first (tag, index) of the stream's status history naming `digest`, else None."""
    if stream is None:
        return None
    for tag in stream.tags:
        if digest in tag.images:
            return tag.tag, tag.images.index(digest)
    return None


def decide_hard(
    images: Mapping[str, Image],
    streams: Iterable[Stream],
    inventory: Inventory,
    now: float,
    keep_younger_than_ns: int,
    collected_at: Optional[float] = None,
) -> HardDecisions:
    """The hard-prune decisions for `inventory` given the cluster's Image objects (by name) and
    ImageStreams. The cutoff is pruneplan.hardplan.hard_cutoff of `now`, `collected_at` (the
    dump's collection time; None: not known) and the inventory's readAt."""
    cutoff = hard_cutoff(now, collected_at, parse_time(inventory.header.read_at), keep_younger_than_ns)
    by_key = {(stream.namespace, stream.name): stream for stream in streams}
    blobs = {blob.digest: blob for blob in inventory.blobs}

    def young(digest: str) -> Optional[str]:
        """YOUNG or UNKNOWN_AGE for a blob deletion must not touch, else None."""
        blob = blobs.get(digest)
        if blob is None:
            return UNKNOWN_AGE
        return YOUNG if parse_time(blob.modified) > cutoff else None

    accounted = accounted_digests(images.values())
    decisions = HardDecisions(cutoff, {}, {}, [], {}, [], [], {}, [], set(), accounted, set())
    kept: list[Repository] = []
    for repository in inventory.repositories:
        stream, reason = repository_verdict(repository.name, by_key)
        if stream is not None:
            decisions.kept_repositories[repository.name] = KeptRepository(stream)
            kept.append(repository)
            continue
        holding = _young_content(repository, young, cutoff)
        if holding:
            decisions.kept_repositories[repository.name] = KeptRepository(None, holding, reason)
            kept.append(repository)
        else:
            decisions.removed_repositories[repository.name] = reason
    for repository in kept:
        _decide_manifest_links(repository, decisions.kept_repositories[repository.name].stream, images, young, decisions)
        _decide_uploads(repository, cutoff, decisions)
    decisions.kept_by_link = {digest for (_, digest) in decisions.kept_manifest_links}
    for blob in inventory.blobs:
        digest = blob.digest
        if digest in accounted or digest in decisions.kept_by_link or parse_time(blob.modified) > cutoff:
            continue
        decisions.blob_deletions.append(blob)
        decisions.deleted_blobs.add(digest)
    for repository in kept:
        for digest in repository.layers:
            if digest in decisions.deleted_blobs:
                decisions.layer_link_deletions.append((repository.name, digest))
    decisions.manifest_link_deletions.sort()
    decisions.layer_link_deletions.sort()
    decisions.upload_deletions.sort(key=lambda pair: (pair[0], pair[1].uuid))
    return decisions


def _young_content(repository: Repository, young: _Young, cutoff: float) -> list[str]:
    """What keeps a streamless repository: links to young (or unlisted) blobs, young uploads."""
    found = [f"manifest link {d}" for d in repository.manifests if young(d)]
    found += [f"layer link {d}" for d in repository.layers if young(d)]
    found += [f"upload {u.uuid}" for u in repository.uploads if u.started_at is None or parse_time(u.started_at) > cutoff]
    return found


def _decide_manifest_links(
    repository: Repository, stream: Optional[Stream], images: Mapping[str, Image], young: _Young, decisions: HardDecisions,
) -> None:
    """Rule 3 for one kept repository: kept by the stream's history, by age, then as a child of
    a kept manifest list (a list's children may be anywhere in the repository's links)."""
    name = repository.name
    kept = decisions.kept_manifest_links
    candidates: dict[str, str] = {}
    lists: list[str] = []
    named = {digest for tag in stream.tags for digest in tag.images} if stream is not None else set()
    for digest in repository.manifests:
        if digest in images and digest in named:
            kept[(name, digest)] = IN_STREAM_HISTORY
        elif (age := young(digest)) is not None:
            kept[(name, digest)] = age
        else:
            candidates[digest] = NOT_IN_STREAM_HISTORY if digest in images else NOT_AN_IMAGE
            continue
        lists.append(digest)
    while lists:  # children of kept lists, and theirs
        image = images.get(lists.pop())
        for child in image.manifests if image is not None else ():
            if child in candidates:
                del candidates[child]
                kept[(name, child)] = CHILD_OF_KEPT_LIST
                lists.append(child)
    decisions.manifest_link_deletions += [(name, digest, reason) for digest, reason in candidates.items()]


def _decide_uploads(repository: Repository, cutoff: float, decisions: HardDecisions) -> None:
    """Rule 5: an upload started before the cutoff goes; one of unknown age, or whose name could
    not be a plan's, stays."""
    for upload in repository.uploads:
        key = (repository.name, upload.uuid)
        if upload.started_at is None:
            decisions.kept_uploads[key] = UNKNOWN_AGE
        elif parse_time(upload.started_at) > cutoff:
            decisions.kept_uploads[key] = YOUNG
        elif not UPLOAD_UUID_RE.fullmatch(upload.uuid):
            decisions.kept_uploads[key] = "unsafe-name"
        else:
            decisions.upload_deletions.append((repository.name, upload))
