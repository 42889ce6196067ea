"""The fresh hard decisions of execute's re-check: analyze/hard's rules over the live API's Image
objects and image streams and the storage as it is now, with now = the live time."""

from __future__ import annotations

from pruneplan.dumpformat import LoadedInputs
from pruneplan.goduration import parse_go_duration
from pruneplan.inventoryformat import Inventory
from pruneplan.timefmt import parse_time

from pruneplan.analyze.hard.rules import decide_hard
from pruneplan.analyze.hard.run import refuse_unknown_configs

from pruneplan.execute.hard.recheck import Deletions


def fresh_deletions(loaded: LoadedInputs, inventory: Inventory, now: float, keep_younger_than: str) -> Deletions:
    """What the rules delete now, with the plan's keep-younger-than (`loaded`: a whole-cluster
    snapshot, as analyze/decisions/inputs.py loads it)."""
    live = loaded.objects.get("images", [])
    # an image whose config blob is unknown would make that blob look unused: stop, as analyze --hard does
    refuse_unknown_configs("the live cluster", live)
    images = {image.name: image for image in live}
    collected = loaded.collected_at
    decisions = decide_hard(images, loaded.objects.get("imagestreams", []), inventory, now,
                            parse_go_duration(keep_younger_than), None if collected is None else parse_time(collected))
    return Deletions(
        repositories=frozenset(decisions.removed_repositories),
        manifest_links=frozenset((repository, digest) for repository, digest, _ in decisions.manifest_link_deletions),
        layer_links=frozenset(decisions.layer_link_deletions),
        uploads=frozenset((repository, upload.uuid) for repository, upload in decisions.upload_deletions),
        blobs=frozenset(decisions.deleted_blobs),
    )
