"""Stage 2's freed blobs (analyze/decisions/rules.py) equal upstream's counting, written out plainly here:
count every image's layers, config and manifest, then decrement per deleted image in order; a
blob is freed by the decrement that reaches zero. Random images share, repeat and cross-use
digests (a layer that is another image's manifest or its own config) to reach the odd cases."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.model import Image
from pruneplan.analyze.decisions.rules import DELETE_UNREFERENCED, prune_images
from pruneplan.policy import build_policy

DIGESTS = [f"sha256:{n:064d}" for n in range(12)]
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"


@st.composite
def image_sets(draw):
    names = draw(st.lists(st.sampled_from(DIGESTS), min_size=1, max_size=8, unique=True))
    images = {}
    for name in names:
        layers = tuple(draw(st.lists(st.sampled_from(DIGESTS), max_size=5)))
        config = draw(st.one_of(st.just(""), st.sampled_from(DIGESTS)))
        images[name] = Image(
            name=name, created=0.0, managed=True, media_type=SCHEMA2, reference="", layers=layers,
            layer_sizes=(1,) * len(layers), config=config, has_metadata=True, size=1, manifests=(),
        )
    used = set(draw(st.lists(st.sampled_from(names), max_size=len(names))))
    return images, used


def counted_the_upstream_way(images: dict[str, Image], deleted: list[str]) -> dict[str, list[tuple[str, str]]]:
    counts: Counter[str] = Counter()
    for image in images.values():
        counts[image.name] += 1
        counts.update(image.layers)
        if image.config:
            counts[image.config] += 1
    freed: dict[str, list[tuple[str, str]]] = {}
    for name in deleted:
        image = images[name]
        uses = [(layer, "layer") for layer in image.layers]
        uses += [(image.config, "config")] if image.config else []
        uses += [(name, "manifest")]
        freed[name] = []
        for blob, kind in uses:
            counts[blob] -= 1
            if counts[blob] == 0:
                freed[name].append((blob, kind))
    return freed


@settings(max_examples=400, deadline=None)
@given(case=image_sets())
def test_freed_blobs_equal_upstreams_count_and_decrement(case) -> None:
    images, used = case
    policy = build_policy(now=1.0e9, keep_tag_revisions=None, keep_younger_than="0s", prune_over_size_limit=None)
    stage2 = prune_images(images, used, set(), policy)
    deleted = [name for name, outcome in stage2.outcomes.items() if outcome.rule == DELETE_UNREFERENCED]
    assert deleted == sorted(set(images) - used)
    expected = counted_the_upstream_way(images, deleted)
    got = {name: list(zip(stage2.outcomes[name].blobs, stage2.outcomes[name].blob_kinds)) for name in deleted}
    assert got == expected
