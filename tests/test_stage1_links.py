"""Stage 1's accounting (analyze/decisions/survival.py): the links a stream's removals free, and the
images its history still names, equal upstream's counting written out plainly here: count each
manifest and blob over the stream's items (images that exist), then decrement per removed item in
order; a link goes with the decrement that reaches zero. Random streams repeat images across tags,
list missing images, and cross-use digests (a layer that is another image's manifest or config, a
layer listed twice, an empty layer name)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.model import Image, Stream, TagHistory
from pruneplan.analyze.decisions.survival import (
    NO_REMOVALS,
    Removals,
    named_images,
    repository_claims,
    surviving_images,
    unlinked,
)

DIGESTS = [f"sha256:{n:064d}" for n in range(10)]
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"


def make_image(name: str, layers: tuple[str, ...], config: str) -> Image:
    return Image(
        name=name, created=0.0, managed=True, media_type=SCHEMA2, reference="", layers=layers,
        layer_sizes=(), config=config, has_metadata=True, size=1, manifests=(),
    )


@st.composite
def streams(draw, name: str = "s"):
    """A stream, the images of the cluster, and which of its items are removed (per item)."""
    names = draw(st.lists(st.sampled_from(DIGESTS), min_size=1, max_size=6, unique=True))
    images = {
        n: make_image(
            n,
            tuple(draw(st.lists(st.sampled_from(DIGESTS + [""]), max_size=4))),
            draw(st.one_of(st.just(""), st.sampled_from(DIGESTS))),
        )
        for n in names
    }
    tags, removed = [], []
    for t in range(draw(st.integers(1, 3))):
        items = draw(st.lists(st.sampled_from(DIGESTS), min_size=1, max_size=5))  # some name no image: missing
        tags.append(TagHistory(f"t{t}", items, [0.0] * len(items)))
        removed.append([draw(st.booleans()) for _ in items])
    return Stream("ns", name, 0.0, "1", "", tags), images, removed


def removals_of(removed: list[list[bool]]) -> Removals:
    return {t: [i for i, gone in enumerate(flags) if gone] for t, flags in enumerate(removed) if any(flags)}


def unlinked_the_upstream_way(stream: Stream, images: dict[str, Image], removed: list[list[bool]]) -> tuple[list[str], list[str]]:
    present = [images[d] for tag in stream.tags for d in tag.images if d in images]
    manifests = Counter(image.name for image in present)
    blobs = Counter(blob for image in present for blob in image.blobs)
    manifest_links, layer_links = [], []
    for tag, flags in zip(stream.tags, removed):
        for digest, gone in zip(tag.images, flags):
            if not gone or digest not in images:
                continue
            image = images[digest]
            manifests[image.name] -= 1
            if manifests[image.name] == 0:
                manifest_links.append(image.name)
            for blob in image.blobs:
                blobs[blob] -= 1
                if blobs[blob] == 0:
                    layer_links.append(blob)
    return manifest_links, layer_links


def kept_the_plain_way(stream: Stream, removed: list[list[bool]]) -> list[str]:
    return [d for tag, flags in zip(stream.tags, removed) for d, gone in zip(tag.images, flags) if not gone]


@settings(max_examples=600, deadline=None)
@given(case=streams())
def test_freed_links_equal_upstreams_count_and_decrement(case) -> None:
    stream, images, removed = case
    links = unlinked(images, stream, removals_of(removed))
    assert (links.manifests, links.layers) == unlinked_the_upstream_way(stream, images, removed)


@settings(max_examples=300, deadline=None)
@given(case=streams())
def test_a_link_is_freed_only_if_nothing_that_stays_holds_it(case) -> None:
    stream, images, removed = case
    links = unlinked(images, stream, removals_of(removed))
    claims = repository_claims(images, kept_the_plain_way(stream, removed))
    assert claims.manifests.isdisjoint(links.manifests)
    assert claims.blobs.isdisjoint(links.layers)


@settings(max_examples=300, deadline=None)
@given(case=streams())
def test_the_images_a_history_still_names_are_those_of_the_items_left(case) -> None:
    stream, _, removed = case
    assert named_images(stream, removals_of(removed)) == kept_the_plain_way(stream, removed)
    assert named_images(stream) == [d for tag in stream.tags for d in tag.images]


@settings(max_examples=200, deadline=None)
@given(first=streams("a"), second=streams("b"), keep_second_whole=st.booleans())
def test_surviving_images_are_those_some_stream_still_names(first, second, keep_second_whole) -> None:
    (a, _, removed_a), (b, _, removed_b) = first, second
    histories = [(a, removals_of(removed_a)), (b, NO_REMOVALS if keep_second_whole else removals_of(removed_b))]
    expected = set(kept_the_plain_way(a, removed_a))
    expected |= {d for tag in b.tags for d in tag.images} if keep_second_whole else set(kept_the_plain_way(b, removed_b))
    assert surviving_images(histories) == expected


def test_removing_nothing_frees_nothing() -> None:
    image = make_image(DIGESTS[1], (DIGESTS[2],), DIGESTS[3])
    stream = Stream("ns", "s", 0.0, "1", "", [TagHistory("latest", [DIGESTS[1]], [0.0])])
    links = unlinked({DIGESTS[1]: image}, stream, NO_REMOVALS)
    assert (links.manifests, links.layers) == ([], [])


def test_an_item_naming_a_missing_image_frees_nothing_but_its_removal_counts() -> None:
    """A removed item whose image is gone frees no link, yet no longer names that digest."""
    stream = Stream("ns", "s", 0.0, "1", "", [TagHistory("latest", [DIGESTS[1], DIGESTS[2]], [0.0, 0.0])])
    links = unlinked({}, stream, {0: [1]})
    assert (links.manifests, links.layers) == ([], [])
    assert named_images(stream, {0: [1]}) == [DIGESTS[1]]
