"""The image model: the fast reading path and the checked one agree, and bad fields are named."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.model import _load_image_checked, _load_image_fast, load_image
from pruneplan.errors import InputError

DIGESTS = st.sampled_from([f"sha256:{c * 64}" for c in "abcdef"])
MEDIA = st.sampled_from([
    "", "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v1+prettyjws",
])


@st.composite
def images(draw):
    obj = {"metadata": {"name": draw(DIGESTS)}}
    if draw(st.booleans()):
        obj["metadata"]["creationTimestamp"] = draw(st.sampled_from([None, "2026-01-01T00:00:00Z"]))
    if draw(st.booleans()):
        obj["metadata"]["annotations"] = draw(st.sampled_from([None, {}, {"openshift.io/image.managed": "true"},
                                                                {"openshift.io/image.managed": "True"}]))
    if draw(st.booleans()):
        obj["dockerImageManifestMediaType"] = draw(MEDIA)
    if draw(st.booleans()):
        obj["dockerImageLayers"] = draw(st.one_of(st.none(), st.lists(st.fixed_dictionaries(
            {"name": DIGESTS}, optional={"size": st.one_of(st.integers(0, 10**9), st.booleans(), st.none())}), max_size=5)))
    if draw(st.booleans()):
        obj["dockerImageManifests"] = draw(st.one_of(st.none(), st.lists(st.fixed_dictionaries({"digest": DIGESTS}), max_size=3)))
    if draw(st.booleans()):
        obj["dockerImageMetadata"] = draw(st.one_of(st.none(), st.fixed_dictionaries(
            {}, optional={"Id": st.one_of(DIGESTS, st.just(""), st.none()), "Size": st.one_of(st.integers(0, 10**9), st.none())})))
    if draw(st.booleans()):
        obj["dockerImageReference"] = draw(st.sampled_from(["", "registry.io/ns/app@sha256:" + "a" * 64]))
    return obj


@settings(max_examples=300, deadline=None)
@given(images())
def test_fast_and_checked_paths_build_the_same_image(obj):
    try:
        fast = _load_image_fast(obj)
    except (TypeError, KeyError, AttributeError):  # load_image then takes the checked path
        assert any("size" not in layer for layer in obj.get("dockerImageLayers") or []), "only a layer without a size leaves the fast path"
    else:
        assert fast == _load_image_checked(obj)
    assert load_image(obj) == _load_image_checked(obj)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dockerImageLayers", {}, "dockerImageLayers must be a list"),
        ("dockerImageLayers", [{"size": 3}], "dockerImageLayers[0].name must be a string"),
        ("dockerImageLayers", [{"name": 7}], "dockerImageLayers[0].name must be a string"),
        ("dockerImageManifests", [{"digest": None}], "dockerImageManifests[0].digest must be a string"),
        ("dockerImageManifestMediaType", 5, "dockerImageManifestMediaType must be a string"),
        ("dockerImageReference", ["x"], "dockerImageReference must be a string"),
    ],
)
def test_bad_fields_are_named_whichever_path_meets_them(field, value, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_image({"metadata": {"name": "sha256:" + "a" * 64}, field: value})


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["sha256:a", "sha256:b", "sha256:c"]), st.one_of(st.none(), st.integers(0, 99))), max_size=5),
       st.sampled_from(["sha256:a", "sha256:b", "sha256:d"]))
def test_a_layers_size_is_the_one_the_image_lists_the_largest_if_listed_twice(layers, digest):
    image = load_image({
        "metadata": {"name": "sha256:" + "f" * 64},
        "dockerImageLayers": [{"name": name} if size is None else {"name": name, "size": size} for name, size in layers],
    })
    sizes = [size for name, size in layers if name == digest and size is not None]
    assert image.layer_size(digest) == (max(sizes) if sizes else None)
    assert image.layer_size(digest) == image.layer_sizes_by_digest().get(digest)
