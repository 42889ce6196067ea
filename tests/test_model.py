"""The image model as loading builds it: bad fields are named, and a layer's size is the one the
image lists (the largest, should it list a digest twice)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.inputs import load_inputs
from pruneplan.analyze.decisions.model import Image
from pruneplan.errors import InputError


def load_image(obj: dict) -> Image:
    """The model of one Image, loaded from a `kind: List` holding it."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "list.json"
        path.write_text(json.dumps({"kind": "List", "items": [{"kind": "Image", **obj}]}))
        (image,) = load_inputs([str(path)]).objects["images"]
    return image


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
def test_bad_fields_are_named(field, value, message):
    name = "sha256:" + "a" * 64
    with pytest.raises(InputError) as err:
        load_image({"metadata": {"name": name}, field: value})
    assert err.value.message == f"image {name}: {message}"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["sha256:a", "sha256:b", "sha256:c"]), st.one_of(st.none(), st.integers(0, 99))), max_size=5),
       st.sampled_from(["sha256:a", "sha256:b", "sha256:d"]))
def test_a_layers_size_is_the_one_the_image_lists_the_largest_if_listed_twice(layers, digest):
    image = load_image({
        "metadata": {"name": "sha256:" + "f" * 64},
        "dockerImageLayers": [{"name": name} if size is None else {"name": name, "size": size} for name, size in layers],
    })
    assert image.layers == tuple(name for name, _ in layers)
    sizes = [size for name, size in layers if name == digest and size is not None]
    assert image.layer_size(digest) == (max(sizes) if sizes else None)
    assert image.layer_size(digest) == image.layer_sizes_by_digest().get(digest)
