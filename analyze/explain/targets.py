"""Which dump files and which targets a command line names, and a digest prefix made whole.

A target may be a unique prefix of a digest the dump knows (an Image's name, a layer or config
blob, a digest a history item names): `sha256:0a1b2c` or `0a1b2c`, at least MIN_PREFIX hex
digits, as `git` and `docker` accept short ids.
"""

from __future__ import annotations

import os
import re

from pruneplan.errors import EXIT_USAGE, PrunePlanError

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.explain.evidence import is_istag, unknown_target

MIN_PREFIX = 6  # hex digits: 16.7 million values, enough to tell apart the images of a cluster
SHOWN = 3  # ambiguous matches named in the error
_HEX = re.compile(r"[0-9a-f]+")


def split_arguments(args: list[str]) -> tuple[list[str], list[str]]:
    """DUMP [DUMP...] TARGET [TARGET...]: the first argument is a dump, and so is each one after
    it that is an existing file, up to the first that is not; the rest (at least one) are targets."""
    if len(args) < 2:
        raise PrunePlanError("explain needs a dump and at least one target (DUMP TARGET...)", EXIT_USAGE)
    count = 1
    while count < len(args) - 1 and os.path.isfile(args[count]):
        count += 1
    return args[:count], args[count:]


def _known(analysis: Analysis, digest: str) -> bool:
    if digest in analysis.images or analysis.blob_users(digest):
        return True
    return any(digest in tag.images for stream in analysis.streams for tag in stream.tags)


def _digests(analysis: Analysis) -> set[str]:
    """Every digest a target can name: images, their layers and configs, history items' images."""
    found = set(analysis.images)
    for image in analysis.images.values():
        found.update(image.blobs)
    for stream in analysis.streams:
        for tag in stream.tags:
            found.update(tag.images)
    found.discard("")
    return found


def resolve(analysis: Analysis, target: str) -> str:
    """The target in full: an `ns/name:tag` or a known digest as it is, else the one digest the
    prefix names. PrunePlanError (exit 1) for a prefix too short, of no digest or of several."""
    if is_istag(target) or _known(analysis, target):
        return target
    algorithm, _, digits = target.rpartition(":")
    if not _HEX.fullmatch(digits):
        raise PrunePlanError(unknown_target(target))
    if len(digits) < MIN_PREFIX:
        raise PrunePlanError(f"{target}: a digest prefix needs at least {MIN_PREFIX} hex digits")
    if algorithm:
        matches = sorted(d for d in _digests(analysis) if d.startswith(target))
    else:
        matches = sorted(d for d in _digests(analysis) if d.rpartition(":")[2].startswith(digits))
    if not matches:
        raise PrunePlanError(unknown_target(target))
    if len(matches) > 1:
        more = f" and {len(matches) - SHOWN} more" if len(matches) > SHOWN else ""
        raise PrunePlanError(
            f"{target} is ambiguous: {len(matches)} digests of the dump start with it: {', '.join(matches[:SHOWN])}{more}"
        )
    return matches[0]
