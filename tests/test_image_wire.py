"""The image line decoder: a line it takes gives the model the general path gives; anything else
it leaves to the general path, which words the error or reads the odd value."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyze.image_wire import decode_image_line
from analyze.model import load_image
from pruneplan.dumpformat import load_inputs
from pruneplan.errors import PrunePlanError
from test_dumpformat import write_dump

DIGESTS = st.sampled_from([f"sha256:{c * 64}" for c in "abcdef"])
# values of every JSON type, with the integers at orjson's and msgspec's edges
ODD = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0, 7, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
    st.sampled_from([1.0, 2.5, 1e3]), st.sampled_from(["", "x", "é", "2026-01-01T00:00:00Z"]), st.just([]), st.just({}),
)
MEDIA = st.sampled_from([
    "", "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


def usual_image() -> dict:
    return {
        "metadata": {"name": "sha256:" + "a" * 64, "uid": "u", "creationTimestamp": "2026-05-31T11:26:10Z",
                     "annotations": {"openshift.io/image.managed": "true"}},
        "dockerImageReference": "image-registry.openshift-image-registry.svc:5000/ns/app@sha256:" + "a" * 64,
        "dockerImageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "dockerImageLayers": [{"name": "sha256:" + "b" * 64, "size": 12, "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"}],
        "dockerImageMetadata": {"kind": "DockerImage", "Id": "sha256:" + "c" * 64, "Size": 99, "Created": "2026-05-31T11:05:50Z"},
    }


@st.composite
def images(draw):
    """Image objects that are mostly well formed, with any field possibly odd."""
    def value(usual):
        return draw(st.one_of(usual, ODD)) if draw(st.integers(0, 5)) == 0 else draw(usual)

    meta = {"name": value(DIGESTS)}
    for key, usual in (("creationTimestamp", st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00", "yesterday"])),
                       ("annotations", st.sampled_from([{}, {"openshift.io/image.managed": "true"}, {"openshift.io/image.managed": 1}]))):
        if draw(st.booleans()):
            meta[key] = value(usual)
    obj = {"metadata": meta}
    layer = st.fixed_dictionaries({"name": DIGESTS}, optional={"size": st.integers(0, 10**9), "mediaType": st.just("m")})
    fields = {
        "dockerImageManifestMediaType": MEDIA,
        "dockerImageReference": st.sampled_from(["", "registry.io/ns/app@sha256:" + "a" * 64]),
        "dockerImageLayers": st.lists(st.one_of(layer, st.builds(lambda d, v: {"name": d, "size": v}, DIGESTS, ODD)), max_size=4),
        "dockerImageManifests": st.lists(st.fixed_dictionaries({"digest": st.one_of(DIGESTS, DIGESTS, ODD)}), max_size=2),
        "dockerImageMetadata": st.fixed_dictionaries({}, optional={"Id": st.one_of(DIGESTS, ODD), "Size": st.one_of(st.integers(0, 10**9), ODD)}),
    }
    for key, usual in fields.items():
        if draw(st.booleans()):
            obj[key] = value(usual)
    return obj


def line_of(obj: dict) -> bytes:
    """The object as one dump line (json, not orjson: orjson cannot write integers past 64 bits)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@settings(max_examples=500, deadline=None)
@given(images())
def test_a_taken_line_gives_the_general_paths_model(obj):
    line = line_of(obj)
    taken = decode_image_line(line)
    name = obj["metadata"]["name"]
    if not isinstance(name, str) or not name:
        assert taken is None, "load_inputs refuses an object without a name before any model"
        return
    try:
        general = load_image(orjson.loads(line))
    except PrunePlanError:
        assert taken is None, "a line the general path refuses must be left to it, to word the error"
        return
    if taken is not None:
        assert taken == (general.name, general)


def test_a_usual_image_line_is_taken():
    obj = usual_image()
    assert decode_image_line(line_of(obj)) == (obj["metadata"]["name"], load_image(obj))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda o: o["metadata"].update(name=""), "no name: the general path names it by position"),
        (lambda o: o["metadata"].update(creationTimestamp="yesterday"), "a bad timestamp: the general path words it"),
        (lambda o: o["dockerImageLayers"][0].update(size=2**64), "orjson reads it as a float"),
        (lambda o: o["dockerImageLayers"][0].update(size=True), "a bool is not a size"),
        (lambda o: o["dockerImageMetadata"].update(Id=None), "null Id: the general path decides"),
        (lambda o: o["metadata"].update(uid="é"), "non-ASCII: only orjson checks UTF-8 everywhere"),
    ],
)
def test_lines_the_decoder_leaves_to_the_general_path(change, why):
    obj = usual_image()
    change(obj)
    assert decode_image_line(line_of(obj)) is None, why


def test_line_loaders_keep_first_of_duplicates_and_leave_refused_lines_to_the_transform(tmp_path):
    good = usual_image()
    odd = usual_image()
    odd["metadata"]["name"] = "sha256:" + "d" * 64
    odd["dockerImageLayers"][0]["size"] = 12345678901  # made 2**64 below: left by the decoder
    second = usual_image()
    second["dockerImageReference"] = "other"  # a duplicate name: the first one is kept
    path = write_dump(tmp_path / "d.json", {"images": [good, odd, second]})
    path.write_bytes(path.read_bytes().replace(b"12345678901", str(2**64).encode()))
    odd["dockerImageLayers"][0]["size"] = 2**64
    odd_model = load_image(orjson.loads(line_of(odd)))  # orjson reads a float: no size
    taken: list[bytes] = []

    def loader(line: bytes):
        result = decode_image_line(line)
        if result is not None:
            taken.append(line)
        return result

    loaded = load_inputs([str(path)], transforms={"images": load_image}, line_loaders={"images": loader})
    assert loaded.objects["images"] == [load_image(good), odd_model]
    assert loaded.objects["images"][1].layer_sizes == (None,)
    assert loaded.duplicates == 1
    assert len(taken) == 2  # the first and the duplicate
