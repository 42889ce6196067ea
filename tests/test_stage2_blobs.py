"""Stage 2's freed blobs (analyze/decisions/survival.py, and through it analyze's stage 2) equal
upstream's counting, written out plainly here: count every image's layers, config and manifest,
then decrement per deleted image in order; a blob is freed by the decrement that reaches zero.
Random images share, repeat and cross-use digests (a layer that is another image's manifest or
its own config) to reach the odd cases."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.model import Image
from pruneplan.analyze.decisions.rules import DELETE_UNREFERENCED, prune_images
from pruneplan.analyze.decisions.survival import claimed_blobs, freed_blobs
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


def uses(image: Image) -> list[tuple[str, str]]:
    """An image's blob uses, in upstream's order: its layers, its config, its manifest."""
    config = [(image.config, "config")] if image.config else []
    return [(layer, "layer") for layer in image.layers] + config + [(image.name, "manifest")]


def counted_the_upstream_way(images: dict[str, Image], deleted: list[str]) -> dict[str, list[tuple[str, str]]]:
    counts: Counter[str] = Counter(blob for image in images.values() for blob, _ in uses(image))
    freed: dict[str, list[tuple[str, str]]] = {}
    for name in deleted:
        for blob, kind in uses(images[name]):
            counts[blob] -= 1
            if counts[blob] == 0:
                freed.setdefault(name, []).append((blob, kind))
    return freed


@settings(max_examples=400, deadline=None)
@given(case=image_sets(), order=st.randoms(use_true_random=False))
def test_freed_blobs_equal_upstreams_count_and_decrement(case, order) -> None:
    images, used = case
    deleted = sorted(set(images) - used)
    order.shuffle(deleted)  # any order of deletion: each blob goes with the last deleted user
    got = {name: list(zip(blobs, kinds)) for name, blobs, kinds in freed_blobs(images, [images[n] for n in deleted])}
    assert got == counted_the_upstream_way(images, deleted)


@settings(max_examples=300, deadline=None)
@given(case=image_sets())
def test_what_stays_claims_every_blob_an_image_left_uses(case) -> None:
    images, used = case
    deleted = set(images) - used
    expected = {blob for name in used for blob, _ in uses(images[name])}
    assert claimed_blobs(images, deleted) == expected


@settings(max_examples=300, deadline=None)
@given(case=image_sets())
def test_stage2_deletes_the_unused_images_and_their_freed_blobs(case) -> None:
    images, used = case
    policy = build_policy(now=1.0e9, keep_tag_revisions=None, keep_younger_than="0s", prune_over_size_limit=None)
    stage2 = prune_images(images, used, set(), policy)
    deleted = [name for name, outcome in stage2.outcomes.items() if outcome.rule == DELETE_UNREFERENCED]
    assert deleted == sorted(set(images) - used)
    expected = counted_the_upstream_way(images, deleted)
    got = {name: list(zip(stage2.outcomes[name].blobs, stage2.outcomes[name].blob_kinds)) for name in deleted}
    assert got == {name: expected.get(name, []) for name in deleted}
