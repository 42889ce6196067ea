"""`explain --hard`'s answers: whether a blob, a repository or a link goes in a hard prune, and
the evidence (docs/explain.md, "Hard pruning"). Pure: from the decisions and their inputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from pruneplan.errors import PrunePlanError
from pruneplan.inventoryformat import Blob, Inventory, Repository
from pruneplan.timefmt import format_time, parse_time

from pruneplan.analyze.decisions.model import Image
from pruneplan.analyze.hard.rules import (
    BLOB_DELETED,
    CHILD_OF_KEPT_LIST,
    IN_STREAM_HISTORY,
    INVALID_NAME,
    NO_IMAGE_STREAM,
    NOT_AN_IMAGE,
    NOT_IN_STREAM_HISTORY,
    UNKNOWN_AGE,
    YOUNG,
    HardDecisions,
    KeptRepository,
    accounting_images,
    history_entry,
)

Answer = dict[str, Any]
MIN_PREFIX = 6  # hex digits of a digest prefix, as the soft explain takes them
_HEX = re.compile(r"[0-9a-f]+")

_REPOSITORY_WORDS = {
    INVALID_NAME: "its name is not <namespace>/<name> of a name an image stream can have",
    NO_IMAGE_STREAM: "no image stream of that namespace and name exists",
}


@dataclass(slots=True)
class HardWorld:
    """The decisions and what they were made from."""

    decisions: HardDecisions
    images: Mapping[str, Image]
    inventory: Inventory
    repositories: dict[str, Repository] = field(init=False)
    blobs: dict[str, Blob] = field(init=False)

    def __post_init__(self) -> None:
        self.repositories = {r.name: r for r in self.inventory.repositories}
        self.blobs = {b.digest: b for b in self.inventory.blobs}

    @property
    def cutoff(self) -> str:
        return format_time(self.decisions.cutoff) or ""

    def repository(self, name: str) -> Optional[Repository]:
        return self.repositories.get(name)


def explain_hard(world: HardWorld, target: str) -> list[Answer]:
    """The answers for one target: `repo@digest` (its manifest link, its layer link, or both),
    a repository name, or a blob digest (or a unique prefix of one)."""
    repository, at, digest = target.partition("@")
    if at:
        return _links(world, repository, _digest(world, digest, target))
    if "/" in target and ":" not in target:
        return [_repository(world, target)]
    return [_blob(world, _digest(world, target, target))]


def _digest(world: HardWorld, text: str, target: str) -> str:
    """`text` as a whole digest of the inventory (a blob, or a link's target), or the one digest
    a prefix of at least MIN_PREFIX hex digits names."""
    known = set(world.blobs)
    for repository in world.inventory.repositories:
        known.update(repository.manifests)
        known.update(repository.layers)
    if text in known:
        return text
    algorithm, _, digits = text.rpartition(":")
    if not _HEX.fullmatch(digits):
        raise PrunePlanError(f"{target}: not a digest, a repository or REPOSITORY@DIGEST of the inventory")
    if len(digits) < MIN_PREFIX:
        raise PrunePlanError(f"{target}: a digest prefix needs at least {MIN_PREFIX} hex digits")
    matches = sorted(d for d in known if (d.startswith(text) if algorithm else d.rpartition(":")[2].startswith(digits)))
    if not matches:
        raise PrunePlanError(f"{target}: the inventory holds no blob or link of that digest")
    if len(matches) > 1:
        raise PrunePlanError(f"{target} is ambiguous: {len(matches)} digests of the inventory start with it: {', '.join(matches[:3])}")
    return matches[0]


def _reason(rule: str, text: str) -> Answer:
    return {"rule": rule, "text": text}


def _age(world: HardWorld, digest: str) -> str:
    blob = world.blobs.get(digest)
    if blob is None:
        return "the inventory lists no such blob: its age is unknown"
    side = "after" if parse_time(blob.modified) > world.decisions.cutoff else "not after"
    return f"modified {blob.modified}, {side} the cutoff {world.cutoff}"


# --- blobs ----------------------------------------------------------------------------------------


def _blob(world: HardWorld, digest: str) -> Answer:
    decisions = world.decisions
    blob = world.blobs.get(digest)
    answer: Answer = {"type": "blob", "target": digest, "cutoff": world.cutoff}
    if blob is None:
        answer.update(verdict="absent", reasons=[_reason("not-in-storage", "the inventory lists no such blob: nothing to delete")])
        return answer
    answer.update(size=blob.size, modified=blob.modified)
    uses = accounting_images(digest, world.images.values()) if digest in decisions.accounted else []
    answer["accountedFor"] = [{"image": use.image, "as": use.role} for use in uses]
    kept_links = sorted(f"{repo}@{d}" for (repo, d) in decisions.kept_manifest_links if d == digest)
    answer["keptManifestLinks"] = kept_links
    if digest in decisions.deleted_blobs:
        answer["verdict"] = "deleted"
        answer["reasons"] = [_reason("unused", "no Image object accounts for it, no kept manifest link names it, "
                                               f"and it is not young ({_age(world, digest)})")]
        return answer
    reasons = [_reason("accounted-for", f"Image {use.image} names it as its {_ROLE_WORDS[use.role]}") for use in uses]
    reasons += [_reason("kept-manifest-link", f"the kept manifest link {link} names it") for link in kept_links]
    if parse_time(blob.modified) > decisions.cutoff:
        reasons.append(_reason(YOUNG, _age(world, digest)))
    answer.update(verdict="kept", reasons=reasons)
    return answer


_ROLE_WORDS = {"manifest": "manifest", "layer": "layer", "config": "config", "child": "manifest list's child manifest"}


# --- repositories ---------------------------------------------------------------------------------


def _repository(world: HardWorld, name: str) -> Answer:
    repository = world.repository(name)
    if repository is None:
        raise PrunePlanError(f"{name}: the inventory holds no such repository")
    decisions = world.decisions
    answer: Answer = {
        "type": "repository", "target": name, "cutoff": world.cutoff,
        "manifestLinks": len(repository.manifests), "layerLinks": len(repository.layers), "uploads": len(repository.uploads),
    }
    removed = decisions.removed_repositories.get(name)
    if removed is not None:
        answer.update(verdict="deleted", reasons=[_reason(removed, _REPOSITORY_WORDS[removed] + "; nothing in it is young, "
                                                                     "so it is removed whole with its links and uploads")])
        return answer
    kept: KeptRepository = decisions.kept_repositories[name]
    if kept.stream is not None:
        answer.update(verdict="kept", stream=kept.stream.key,
                      reasons=[_reason("image-stream", f"the image stream {kept.stream.key} exists")])
    else:
        answer.update(verdict="kept", stream=None, youngContent=list(kept.young), reasons=[
            _reason("young-content", f"{_REPOSITORY_WORDS[kept.would_be]}, but it holds young content "
                                     f"(after the cutoff {world.cutoff}, or of unknown age): {', '.join(kept.young)}"),
        ])
    answer["deleting"] = {
        "manifestLinks": sum(1 for repo, _, _ in decisions.manifest_link_deletions if repo == name),
        "layerLinks": sum(1 for repo, _ in decisions.layer_link_deletions if repo == name),
        "uploads": sum(1 for repo, _ in decisions.upload_deletions if repo == name),
    }
    return answer


# --- links ----------------------------------------------------------------------------------------


def _links(world: HardWorld, name: str, digest: str) -> list[Answer]:
    repository = world.repository(name)
    if repository is None:
        raise PrunePlanError(f"{name}@{digest}: the inventory holds no repository {name}")
    answers = []
    if digest in repository.manifests:
        answers.append(_manifest_link(world, repository, digest))
    if digest in repository.layers:
        answers.append(_layer_link(world, repository, digest))
    if not answers:
        raise PrunePlanError(f"{name}@{digest}: the repository {name} has no manifest or layer link to {digest}")
    return answers


def _with_repository(world: HardWorld, answer: Answer, name: str) -> bool:
    """When the link goes with its repository: say so in `answer`."""
    removed = world.decisions.removed_repositories.get(name)
    if removed is None:
        return False
    answer.update(verdict="deleted", reasons=[_reason(removed, f"the repository {name} is removed whole: {_REPOSITORY_WORDS[removed]}")])
    return True


def _manifest_link(world: HardWorld, repository: Repository, digest: str) -> Answer:
    name = repository.name
    answer: Answer = {"type": "manifest-link", "target": f"{name}@{digest}", "cutoff": world.cutoff}
    if _with_repository(world, answer, name):
        return answer
    decisions = world.decisions
    stream = decisions.kept_repositories[name].stream
    kept = decisions.kept_manifest_links.get((name, digest))
    if kept is None:
        deleted = next(reason for repo, d, reason in decisions.manifest_link_deletions if (repo, d) == (name, digest))
        where = f"the image stream {stream.key}" if stream is not None else f"{name}, which has no image stream,"
        text = {
            NOT_AN_IMAGE: f"no Image object {digest} exists, and its blob is not young ({_age(world, digest)})",
            NOT_IN_STREAM_HISTORY: f"the Image object exists, but no tag history of {where} names it, no kept manifest "
                                   f"list of the repository names it, and its blob is not young ({_age(world, digest)})",
        }[deleted]
        answer.update(verdict="deleted", reasons=[_reason(deleted, text)])
        return answer
    if kept == IN_STREAM_HISTORY:
        tag, index = history_entry(stream, digest) or ("", 0)
        text = f"Image {digest} is item {index} of tag {tag} in the history of the image stream {stream.key if stream else ''}"
    elif kept == CHILD_OF_KEPT_LIST:
        parents = sorted(d for (repo, d) in decisions.kept_manifest_links
                         if repo == name and digest in (world.images[d].manifests if d in world.images else ()))
        text = f"a child of the manifest list {', '.join(parents)}, whose link in {name} is kept"
    else:  # young, or of unknown age
        text = _age(world, digest)
    answer.update(verdict="kept", reasons=[_reason(kept, text)])
    return answer


def _layer_link(world: HardWorld, repository: Repository, digest: str) -> Answer:
    name = repository.name
    answer: Answer = {"type": "layer-link", "target": f"{name}@{digest}", "cutoff": world.cutoff}
    if _with_repository(world, answer, name):
        return answer
    blob = _blob(world, digest)
    if blob["verdict"] == "deleted":
        answer.update(verdict="deleted", reasons=[_reason(BLOB_DELETED, f"its blob is deleted: {blob['reasons'][0]['text']}")])
    elif blob["verdict"] == "absent":
        answer.update(verdict="kept", reasons=[_reason(UNKNOWN_AGE, "the inventory lists no such blob: only a deleted blob's links go")])
    else:
        answer.update(verdict="kept", reasons=[_reason("blob-kept", f"its blob stays: {r['text']}") for r in blob["reasons"]])
    return answer


# --- text -----------------------------------------------------------------------------------------


def render_hard(answers: list[Answer]) -> str:
    lines: list[str] = []
    for answer in answers:
        lines.append(f"{answer['type']} {answer['target']}: {answer['verdict'].upper()}")
        if answer["type"] == "blob" and "size" in answer:
            lines.append(f"  {answer['size']:,} bytes, modified {answer['modified']}; cutoff {answer['cutoff']}")
        if answer["type"] == "repository":
            lines.append(f"  {answer['manifestLinks']} manifest link(s), {answer['layerLinks']} layer link(s), "
                         f"{answer['uploads']} upload(s)")
            deleting = answer.get("deleting")
            if deleting:
                lines.append(f"  deleting in it: {deleting['manifestLinks']} manifest link(s), {deleting['layerLinks']} "
                             f"layer link(s), {deleting['uploads']} upload(s)")
        reasons = answer["reasons"]
        label = "kept because" if answer["verdict"] == "kept" else "because"
        lines.append(f"  {label} ({len(reasons)} reason{'' if len(reasons) == 1 else 's'}):" if len(reasons) != 1 else f"  {label}:")
        lines.extend(f"    - {reason['rule']}: {reason['text']}" for reason in reasons)
    return "\n".join(lines) + "\n"
