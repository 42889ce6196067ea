"""Upstream's words for each action, as `oc adm prune images` prints them: the dry run, execute's
log and the reasons a planned action is skipped all say them the same way, from here.

The block functions make a line per digest with one join (a dry run has a line per blob)."""

from __future__ import annotations

from typing import Sequence

_LAYER_LINK = "Deleting layer link "
_MANIFEST_LINK = "Deleting manifest link "
_BLOB = "Deleting blob "
_IN_REPOSITORY = " in repository "


def _block(prefix: str, items: Sequence[str], suffix: str) -> str:
    """prefix + item + suffix + newline for each item, joined in C."""
    if not items:
        return ""
    return prefix + (suffix + "\n" + prefix).join(items) + suffix + "\n"


def deleting_layer_link(digest: str, repository: str) -> str:
    return f"{_LAYER_LINK}{digest}{_IN_REPOSITORY}{repository}"


def deleting_manifest_link(digest: str, repository: str) -> str:
    return f"{_MANIFEST_LINK}{digest}{_IN_REPOSITORY}{repository}"


def deleting_items(count: int, repository: str) -> str:
    return f"Deleting {count} items from image stream {repository}"


def deleting_blob(digest: str) -> str:
    return f"{_BLOB}{digest}"


def deleting_image(name: str) -> str:
    return f"Deleting image {name}"


def layer_link_block(digests: Sequence[str], repository: str) -> str:
    """deleting_layer_link lines for `digests`, each ending with a newline."""
    return _block(_LAYER_LINK, digests, _IN_REPOSITORY + repository)


def manifest_link_block(digests: Sequence[str], repository: str) -> str:
    return _block(_MANIFEST_LINK, digests, _IN_REPOSITORY + repository)


def blob_block(digests: Sequence[str]) -> str:
    return _block(_BLOB, digests, "")
