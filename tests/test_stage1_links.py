"""Stage 1's deleted links (analyze/decisions/rules.py `_unlinked`) equal upstream's counting, written out
plainly here: count each manifest and blob over the stream's items (images that exist), then
decrement per removed item in order; a link goes with the decrement that reaches zero. Random
streams repeat images across tags, list missing images, and cross-use digests (a layer that is
another image's manifest or config, a layer listed twice, an empty layer name)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.model import Image, Stream, TagHistory
from pruneplan.analyze.decisions.rules import KEEP_WITHIN_REVISIONS, REMOVE_BEYOND_REVISIONS, StreamOutcome, _unlinked

DIGESTS = [f"sha256:{n:064d}" for n in range(10)]
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"


@st.composite
def streams(draw):
    names = draw(st.lists(st.sampled_from(DIGESTS), min_size=1, max_size=6, unique=True))
    images = {
        name: Image(
            name=name, created=0.0, managed=True, media_type=SCHEMA2, reference="",
            layers=tuple(draw(st.lists(st.sampled_from(DIGESTS + [""]), max_size=4))), layer_sizes=(),
            config=draw(st.one_of(st.just(""), st.sampled_from(DIGESTS))), has_metadata=True, size=1, manifests=(),
        )
        for name in names
    }
    tags, rules = [], []
    for t in range(draw(st.integers(1, 3))):
        items = draw(st.lists(st.sampled_from(DIGESTS), min_size=1, max_size=5))  # some name no image: missing
        tags.append(TagHistory(f"t{t}", items, [0.0] * len(items)))
        rules.append([draw(st.sampled_from([KEEP_WITHIN_REVISIONS, REMOVE_BEYOND_REVISIONS])) for _ in items])
    return Stream("ns", "s", 0.0, "1", "", tags), images, rules


def unlinked_the_upstream_way(stream: Stream, images: dict[str, Image], removed: list[Image]) -> tuple[list[str], list[str]]:
    present = [images[d] for tag in stream.tags for d in tag.images if d in images]
    manifests = Counter(image.name for image in present)
    blobs = Counter(blob for image in present for blob in image.blobs)
    manifest_links, layer_links = [], []
    for image in removed:
        manifests[image.name] -= 1
        if manifests[image.name] == 0:
            manifest_links.append(image.name)
        for blob in image.blobs:
            blobs[blob] -= 1
            if blobs[blob] == 0:
                layer_links.append(blob)
    return manifest_links, layer_links


@settings(max_examples=600, deadline=None)
@given(case=streams())
def test_deleted_links_equal_upstreams_count_and_decrement(case) -> None:
    stream, images, rules = case
    removed = [
        images[d]
        for tag, tag_rules in zip(stream.tags, rules)
        for d, rule in zip(tag.images, tag_rules)
        if rule == REMOVE_BEYOND_REVISIONS and d in images
    ]
    outcome = StreamOutcome(stream, rules)
    _unlinked(stream, images, removed, outcome)
    assert (outcome.manifest_links, outcome.layer_links) == unlinked_the_upstream_way(stream, images, removed)
