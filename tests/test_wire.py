"""Decoding the objects of every input form: the collector's line layout, a whole dump document and a
`kind: List` give the same typed objects (or the same one error), and what they give is what the
dump format says, odd values included (null is "not set", odd layer sizes are no size, `Id: null`
is an empty Id, integers beyond 64 bits are read as doubles)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.engine import BuildGraphError
from pruneplan.analyze.decisions.inputs import load_inputs
from pruneplan.analyze.decisions.model import CONFIG_MEDIA_TYPES, Image, Stream, TagHistory
from pruneplan.analyze.decisions.referrers import analyze_references
from pruneplan.dumpformat import HEADER_KEY, STREAM_PREFIX
from pruneplan.errors import PrunePlanError
from pruneplan.kinds import BY_RESOURCE, KINDS
from pruneplan.timefmt import parse_time

FORMS = ("line-dump", "whole-dump", "list")
DIGESTS = st.sampled_from([f"sha256:{c * 64}" for c in "abcdef"])
# values of every JSON type, with the integers at the edges of 64 bits
ODD = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0, 7, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
    st.sampled_from([1.0, 2.5, 1e3]), st.sampled_from(["", "x", "é", "2026-01-01T00:00:00Z"]), st.just([]), st.just({}),
)
MEDIA = st.sampled_from([
    "", "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
HEADER = {"formatVersion": 1, "collectedAt": "2026-06-01T00:00:00Z", "cluster": {"apiServer": "https://a", "clusterID": "c"}}


def line_of(obj: Any) -> bytes:
    """An object as one JSON line (json, not orjson: orjson cannot write integers past 64 bits)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def write_form(directory: Path, form: str, resource: str, objects: list[Any]) -> Path:
    """`objects` of `resource` in one input form, each object's JSON as line_of writes it."""
    lines = [line_of(obj) for obj in objects]
    if form == "line-dump":
        path = directory / "dump.json"
        body = b",\n".join(lines)
        path.write_bytes(STREAM_PREFIX + b"\n" + line_of(resource) + b":[\n" + body + b"\n]\n},\n" + HEADER_KEY + line_of(HEADER) + b"}\n")
    elif form == "whole-dump":
        path = directory / "whole.json"
        path.write_bytes(b'{"apiVersion":"pruneplan.io/v1","kind":"ClusterDump","header":' + line_of(HEADER)
                         + b',"objects":{' + line_of(resource) + b":[" + b",".join(lines) + b"]}}")
    else:
        kind = line_of(BY_RESOURCE[resource].kind)
        items = [b'{"kind":' + kind + (b"," + line[1:] if line != b"{}" else b"}") for line in lines]
        path = directory / "list.json"
        path.write_bytes(b'{"apiVersion":"v1","kind":"List","items":[' + b",".join(items) + b"]}")
    return path


def load_each_form(resource: str, objects: list[Any]) -> list[Any]:
    """Per form: (objects kept, duplicates, refusals) or the one error, without the file's name."""
    outcomes = []
    with tempfile.TemporaryDirectory() as directory:
        for form in FORMS:
            path = write_form(Path(directory), form, resource, objects)
            try:
                loaded = load_inputs([str(path)])
            except BuildGraphError as err:
                outcomes.append(("error", err.notes[0]))
            except PrunePlanError as err:
                outcomes.append(("error", err.message.removeprefix(f"{path}: ")))
            else:
                refused = [(r.resource, r.identity, r.error.message) for r in loaded.refused]
                outcomes.append((loaded.objects[resource], loaded.duplicates, refused))
    return outcomes


def load_alike(resource: str, objects: list[Any]) -> Any:
    """What every form gives, asserted to be the same."""
    first, *others = load_each_form(resource, objects)
    for form, outcome in zip(FORMS[1:], others):
        assert outcome == first, form
    return first


# --- Images --------------------------------------------------------------------------------------

LAYER = "sha256:" + "b" * 64


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
        "dockerImageLayers": st.lists(st.one_of(layer, st.builds(lambda d, v: {"name": d, "size": v}, DIGESTS, ODD), ODD), max_size=4),
        "dockerImageManifests": st.lists(st.one_of(st.fixed_dictionaries({"digest": st.one_of(DIGESTS, DIGESTS, ODD)}), ODD), max_size=2),
        "dockerImageMetadata": st.fixed_dictionaries({}, optional={"Id": st.one_of(DIGESTS, ODD), "Size": st.one_of(st.integers(0, 10**9), ODD)}),
    }
    for key, usual in fields.items():
        if draw(st.booleans()):
            obj[key] = value(usual)
    return obj


GO_TYPES = {str: "string", bool: "bool", list: "array", int: "number", float: "number", dict: "object"}


def as_read(value: Any) -> Any:
    """A JSON number as the format reads it: an integer beyond 64 bits is the nearest double."""
    return float(value) if type(value) is int and not -(2**63) <= value <= 2**64 - 1 else value


def expected_image(obj: dict) -> Image | set[str]:
    """The format's reading of an Image (docs/dump-format.md, docs/rules.md), written out apart:
    its model, or every error it may be refused with (one of them is named)."""
    name = obj["metadata"]["name"]
    if not isinstance(name, str) or not name:
        return {"images[0]: metadata.name is required"}
    where = f"image {name}"
    errors: set[str] = set()

    def string(key: str) -> str:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            errors.add(f"{where}: {key} must be a string")
        return value if isinstance(value, str) else ""

    def entries(key: str, field: str) -> tuple[str, ...]:
        value = obj.get(key)
        if value is not None and not isinstance(value, list):
            errors.add(f"{where}: {key} must be a list")
            return ()
        for index, entry in enumerate(value or ()):
            if not isinstance(entry, dict) or not isinstance(entry.get(field), str):
                errors.add(f"{where}: {key}[{index}].{field} must be a string")
        return tuple(entry[field] for entry in value or () if isinstance(entry, dict) and isinstance(entry.get(field), str))

    annotations = obj["metadata"].get("annotations")
    if annotations is not None and not isinstance(annotations, dict):
        errors.add(f"{where}: metadata.annotations must be an object")
    media_type, reference = string("dockerImageManifestMediaType"), string("dockerImageReference")
    layers = entries("dockerImageLayers", "name")
    children = entries("dockerImageManifests", "digest")
    raw_layers = obj.get("dockerImageLayers")
    # kept as given: the model judges a size when it is read (expected_layer_sizes), but a negative number is refused
    sizes = tuple(layer.get("size") for layer in raw_layers or () if isinstance(layer, dict)) if isinstance(raw_layers, list) else ()
    for index, layer in enumerate(raw_layers if isinstance(raw_layers, list) else ()):
        if isinstance(layer, dict) and type(layer.get("size")) in (int, float) and layer["size"] < 0:
            errors.add(f"{where}: dockerImageLayers[{index}].size must not be negative")
    metadata = obj.get("dockerImageMetadata")
    image_id, size = "", 0
    fail = f"failed to read image metadata for {name}: json: cannot unmarshal"
    if metadata is not None and not isinstance(metadata, dict):
        errors.add(f"{fail} {GO_TYPES[type(metadata)]} into Go value of type docker10.DockerImage")
    elif metadata is not None:
        image_id = metadata.get("Id", "")
        image_id = "" if image_id is None else image_id
        size = as_read(metadata.get("Size", 0))
        size = 0 if size is None else size
        if not isinstance(image_id, str):
            errors.add(f"{fail} {GO_TYPES[type(image_id)]} into Go struct field DockerImage.Id of type string")
        elif type(size) is not int and not (type(size) is float and size.is_integer()):
            errors.add(f"{fail} {GO_TYPES[type(size)]} into Go struct field DockerImage.Size of type int64")
    try:
        created = parse_time(obj["metadata"].get("creationTimestamp"))
    except ValueError as err:
        errors.add(f"{where}: metadata.creationTimestamp: invalid timestamp: {err}")
    if errors:
        return errors
    has_metadata = metadata is not None
    config = image_id if has_metadata and media_type in CONFIG_MEDIA_TYPES else ""
    managed = isinstance(annotations, dict) and annotations.get("openshift.io/image.managed") == "true"
    return Image(name, created, managed, media_type, reference, layers, sizes, config, has_metadata, int(size), children)


def expected_layer_sizes(obj: dict) -> dict[str, int]:
    """Each layer's size: an integer read exactly (not beyond 64 bits, not a bool), the largest
    if a layer is listed twice."""
    sizes: dict[str, int] = {}
    for layer in obj.get("dockerImageLayers") or ():
        size = as_read(layer.get("size"))
        if type(size) is int:
            sizes[layer["name"]] = max(size, sizes.get(layer["name"], size))
    return sizes


@settings(max_examples=400, deadline=None)
@given(images())
def test_every_form_reads_an_image_as_the_format_says(obj):
    outcome = load_alike("images", [obj])
    expected = expected_image(obj)
    if isinstance(expected, Image):
        assert outcome == ([expected], 0, [])
        (image,) = outcome[0]
        sizes = expected_layer_sizes(obj)
        assert {layer: image.layer_size(layer) for layer in image.layers} == {layer: sizes.get(layer) for layer in image.layers}
        assert image.layer_sizes_by_digest() == sizes
    else:
        assert outcome[0] == "error" and outcome[1] in expected, (outcome, expected)


def test_a_usual_image_is_read_into_the_model():
    obj = usual_image()
    layer, config = "sha256:" + "b" * 64, "sha256:" + "c" * 64
    image = Image(obj["metadata"]["name"], parse_time("2026-05-31T11:26:10Z"), True, obj["dockerImageManifestMediaType"],
                  obj["dockerImageReference"], (layer,), (12,), config, True, 99, ())
    assert load_alike("images", [obj]) == ([image], 0, [])
    assert image.blobs == (layer, config)


@pytest.mark.parametrize(
    ("change", "read"),
    [
        (lambda o: o["metadata"].update(annotations=None), lambda i: not i.managed),
        (lambda o: o["metadata"].update(annotations={"openshift.io/image.managed": 1}), lambda i: not i.managed),
        (lambda o: o.update(dockerImageLayers=None, dockerImageManifestMediaType=None), lambda i: i.layers == () and i.media_type == ""),
        (lambda o: o["dockerImageLayers"][0].update(size=2**64), lambda i: i.layer_size(LAYER) is None),
        (lambda o: o["dockerImageLayers"][0].update(size=2**64 - 1), lambda i: i.layer_size(LAYER) == 2**64 - 1),
        (lambda o: o["dockerImageLayers"][0].update(size=True), lambda i: i.layer_size(LAYER) is None),
        (lambda o: o["dockerImageLayers"][0].update(size=12.0), lambda i: i.layer_size(LAYER) is None),
        (lambda o: o["dockerImageLayers"][0].update(size="12"), lambda i: i.layer_size(LAYER) is None),
        (lambda o: o["dockerImageLayers"][0].pop("size"), lambda i: i.layer_size(LAYER) is None),
        (lambda o: o["dockerImageMetadata"].update(Id=None), lambda i: i.has_metadata and i.config == ""),
        (lambda o: o["dockerImageMetadata"].update(Size=None), lambda i: i.size == 0),
        (lambda o: o["dockerImageMetadata"].update(Size=1e3), lambda i: i.size == 1000),
        (lambda o: o["dockerImageMetadata"].update(Size=2**64 + 1), lambda i: i.size == 2**64),
        (lambda o: o.update(dockerImageMetadata=None), lambda i: not i.has_metadata and i.metadata_unreadable),
        (lambda o: o["metadata"].update(uid="é"), lambda i: i.name == "sha256:" + "a" * 64),
        (lambda o: o["metadata"].update(creationTimestamp=None), lambda i: i.created == parse_time(None)),
        (lambda o: o.update(unread=[1e308, "x" * 3, {"deep": [[[]]]}]), lambda i: i.reference),
    ],
)
def test_odd_values_are_read_as_the_format_says(change, read):
    obj = usual_image()
    change(obj)
    (image,), duplicates, refused = load_alike("images", [obj])
    assert read(image) and (duplicates, refused) == (0, [])


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda o: o["metadata"].update(name=""), "images[0]: metadata.name is required"),
        (lambda o: o.update(metadata=[]), "images[0]: metadata is required"),
        (lambda o: o["metadata"].update(creationTimestamp="yesterday"),
         'image sha256:aaa: metadata.creationTimestamp: invalid timestamp: "yesterday": not an RFC 3339 time such as 2026-01-31T12:00:00Z'),
        (lambda o: o["metadata"].update(creationTimestamp=5),
         "image sha256:aaa: metadata.creationTimestamp: invalid timestamp: expected an RFC 3339 string, found a number"),
        (lambda o: o.update(dockerImageLayers={}), "image sha256:aaa: dockerImageLayers must be a list"),
        (lambda o: o["dockerImageLayers"].append("sha256:x"), "image sha256:aaa: dockerImageLayers[1].name must be a string"),
        (lambda o: o["dockerImageLayers"][0].pop("name"), "image sha256:aaa: dockerImageLayers[0].name must be a string"),
        (lambda o: o["dockerImageLayers"][0].update(size=-(2**63)), "image sha256:aaa: dockerImageLayers[0].size must not be negative"),
        (lambda o: o["dockerImageLayers"][0].update(size=-(2**63) - 1), "image sha256:aaa: dockerImageLayers[0].size must not be negative"),
        (lambda o: o["dockerImageLayers"][0].update(size=-0.5), "image sha256:aaa: dockerImageLayers[0].size must not be negative"),
        (lambda o: o.update(dockerImageManifests=[{"digest": None}]), "image sha256:aaa: dockerImageManifests[0].digest must be a string"),
        (lambda o: o.update(dockerImageReference=["x"]), "image sha256:aaa: dockerImageReference must be a string"),
        (lambda o: o["dockerImageMetadata"].update(Size="12"),
         "failed to read image metadata for sha256:aaa: json: cannot unmarshal string into Go struct field DockerImage.Size of type int64"),
        (lambda o: o["dockerImageMetadata"].update(Size=True),
         "failed to read image metadata for sha256:aaa: json: cannot unmarshal bool into Go struct field DockerImage.Size of type int64"),
        (lambda o: o["dockerImageMetadata"].update(Id=7),
         "failed to read image metadata for sha256:aaa: json: cannot unmarshal number into Go struct field DockerImage.Id of type string"),
        (lambda o: o.update(dockerImageMetadata=[]),
         "failed to read image metadata for sha256:aaa: json: cannot unmarshal array into Go value of type docker10.DockerImage"),
    ],
)
def test_a_bad_image_field_is_one_error_naming_the_image_and_the_field(change, error):
    obj = usual_image()
    change(obj)
    assert load_alike("images", [obj]) == ("error", error.replace("sha256:aaa", "sha256:" + "a" * 64))


def test_the_first_object_of_a_name_is_kept_and_a_later_one_is_not_read():
    first, second, bad = usual_image(), usual_image(), usual_image()
    second["dockerImageReference"] = "other"
    bad["dockerImageLayers"] = "not read: the first of its name wins"
    other = usual_image()
    other["metadata"]["name"] = "sha256:" + "d" * 64
    kept, duplicates, refused = load_alike("images", [first, second, other, bad])
    assert [image.name for image in kept] == [first["metadata"]["name"], other["metadata"]["name"]]
    assert kept[0].reference == first["dockerImageReference"]
    assert (duplicates, refused) == (2, [])


# --- ImageStreams --------------------------------------------------------------------------------

def usual_stream() -> dict:
    return {
        "metadata": {"namespace": "ns", "name": "app", "uid": "u", "resourceVersion": "42", "creationTimestamp": "2026-04-29T06:28:19Z"},
        "status": {
            "dockerImageRepository": "image-registry.openshift-image-registry.svc:5000/ns/app",
            "tags": [{"tag": "latest", "items": [
                {"created": "2026-05-31T11:35:36Z", "image": "sha256:" + "a" * 64, "dockerImageReference": "r", "generation": 3},
                {"created": "2026-05-30T11:35:36Z", "image": "sha256:" + "b" * 64},
            ]}],
        },
    }


@st.composite
def streams(draw):
    """ImageStream objects that are mostly well formed, with any field possibly odd."""
    def value(usual):
        return draw(st.one_of(usual, ODD)) if draw(st.integers(0, 5)) == 0 else draw(usual)

    meta = {"namespace": value(st.sampled_from(["ns", "other"])), "name": value(st.sampled_from(["app", "db"]))}
    for key, usual in (("creationTimestamp", st.sampled_from(["2026-01-01T00:00:00Z", "yesterday"])),
                       ("resourceVersion", st.sampled_from(["1", "42"]))):
        if draw(st.booleans()):
            meta[key] = value(usual)
    obj = {"metadata": meta}
    item = st.fixed_dictionaries({"image": DIGESTS}, optional={
        "created": st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", "", "soon"]), "generation": st.integers(0, 9)})
    tag = st.fixed_dictionaries({"tag": st.sampled_from(["latest", "v1"])}, optional={
        "items": st.one_of(st.lists(st.one_of(item, item, item, ODD), max_size=3), ODD)})
    if draw(st.booleans()):
        status = {}
        if draw(st.booleans()):
            status["dockerImageRepository"] = value(st.just("registry/ns/app"))
        if draw(st.booleans()):
            status["tags"] = value(st.lists(st.one_of(tag, tag, st.fixed_dictionaries({"tag": ODD}), ODD), max_size=3))
        obj["status"] = value(st.just(status))
    return obj


def expected_stream(obj: dict) -> Stream | set[str]:
    """The format's reading of an ImageStream, written out apart: its model, or every error it
    may be refused with (one of them is named)."""
    meta = obj["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    if not isinstance(name, str) or not name:
        return {"imagestreams[0]: metadata.name is required"}
    if not isinstance(namespace, str) or not namespace:
        return {f"imagestreams[0] ({name}): metadata.namespace is required"}
    where = f"imagestream {namespace}/{name}"
    errors: set[str] = set()
    status = obj.get("status")
    if status is not None and not isinstance(status, dict):
        return {f"{where}: status must be an object"}
    status = status or {}
    repository = status.get("dockerImageRepository")
    if repository is not None and not isinstance(repository, str):
        errors.add(f"{where}: status.dockerImageRepository must be a string")
    tags = status.get("tags")
    if tags is not None and not isinstance(tags, list):
        errors.add(f"{where}: status.tags must be a list")
        tags = []
    histories = []
    for t_index, tag in enumerate(tags or ()):
        if not isinstance(tag, dict) or not isinstance(tag.get("tag"), str):
            errors.add(f"{where}: status.tags[{t_index}].tag must be a string")
            continue
        items = tag.get("items")
        if items is not None and not isinstance(items, list):
            errors.add(f"{where}: status.tags[{t_index}].items must be a list")
            continue
        history = TagHistory(tag["tag"], [], [])
        for i_index, item in enumerate(items or ()):
            field = f"status.tags[{t_index}].items[{i_index}]"
            if not isinstance(item, dict) or not isinstance(item.get("image"), str):
                errors.add(f"{where}: {field}.image must be a string")
                continue
            try:
                history.created.append(parse_time(item.get("created")))
            except ValueError as err:
                errors.add(f"{where}: {field}.created: invalid timestamp: {err}")
            history.images.append(item["image"])
        histories.append(history)
    try:
        created = parse_time(meta.get("creationTimestamp"))
    except ValueError as err:
        errors.add(f"{where}: metadata.creationTimestamp: invalid timestamp: {err}")
    if errors:
        return errors
    rv = meta.get("resourceVersion")
    return Stream(namespace, name, created, rv if isinstance(rv, str) else "", repository or "", histories)


@settings(max_examples=400, deadline=None)
@given(streams())
def test_every_form_reads_an_image_stream_as_the_format_says(obj):
    outcome = load_alike("imagestreams", [obj])
    expected = expected_stream(obj)
    if isinstance(expected, Stream):
        assert outcome == ([expected], 0, [])
    else:
        assert outcome[0] == "error" and outcome[1] in expected, (outcome, expected)


def test_a_usual_image_stream_is_read_into_the_model():
    obj = usual_stream()
    history = TagHistory("latest", ["sha256:" + "a" * 64, "sha256:" + "b" * 64],
                         [parse_time("2026-05-31T11:35:36Z"), parse_time("2026-05-30T11:35:36Z")])
    stream = Stream("ns", "app", parse_time("2026-04-29T06:28:19Z"), "42", obj["status"]["dockerImageRepository"], [history])
    assert load_alike("imagestreams", [obj]) == ([stream], 0, [])


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        (lambda o: o["metadata"].update(namespace=""), "imagestreams[0] (app): metadata.namespace is required"),
        (lambda o: o["status"]["tags"][0]["items"][0].update(created="soon"),
         'imagestream ns/app: status.tags[0].items[0].created: invalid timestamp: "soon": not an RFC 3339 time such as 2026-01-31T12:00:00Z'),
        (lambda o: o["status"]["tags"][0].update(tag=None), "imagestream ns/app: status.tags[0].tag must be a string"),
        (lambda o: o["status"]["tags"].append(None), "imagestream ns/app: status.tags[1].tag must be a string"),
        (lambda o: o["status"]["tags"][0]["items"].append([]), "imagestream ns/app: status.tags[0].items[2].image must be a string"),
        (lambda o: o["status"].update(tags={}), "imagestream ns/app: status.tags must be a list"),
        (lambda o: o.update(status="x"), "imagestream ns/app: status must be an object"),
        (lambda o: o["metadata"].update(resourceVersion=7), lambda s: s.resource_version == ""),
        (lambda o: o["status"]["tags"][0]["items"][0].update(created=None), lambda s: s.tags[0].created[0] == parse_time(None)),
        (lambda o: o.update(status=None), lambda s: s.tags == [] and s.repository == ""),
    ],
)
def test_odd_and_bad_image_stream_fields(change, outcome):
    obj = usual_stream()
    change(obj)
    loaded = load_alike("imagestreams", [obj])
    if isinstance(outcome, str):
        assert loaded == ("error", outcome)
    else:
        assert outcome(loaded[0][0]) and loaded[1:] == (0, [])


# --- JSON itself ---------------------------------------------------------------------------------

DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(("form", "message"), [("line-dump", "invalid JSON at line 3: "), ("whole-dump", "invalid JSON: "),
                                               ("list", "invalid JSON: ")])
@pytest.mark.parametrize("bad", ["deep", "utf8", "infinite"])
def test_malformed_json_anywhere_in_an_object_is_one_error(tmp_path, form, message, bad):
    obj = usual_image()
    obj["dockerImageLayers"][0]["size"] = "SIZE"
    path = write_form(tmp_path, form, "images", [obj])
    faults = {"deep": DEEP.encode(), "utf8": b'"\xff"', "infinite": b"1e400"}  # a size is decoded, so 1e400 is read
    path.write_bytes(path.read_bytes().replace(b'"SIZE"', faults[bad]))
    with pytest.raises(PrunePlanError) as err:
        load_inputs([str(path)])
    assert err.value.message.startswith(f"{path}: {message}") and "\n" not in err.value.message


@pytest.mark.parametrize("form", FORMS)
def test_a_number_beyond_a_double_in_a_field_never_read_is_accepted(tmp_path, form):
    path = write_form(tmp_path, form, "images", [{**usual_image(), "unread": "NUMBER"}])
    path.write_bytes(path.read_bytes().replace(b'"NUMBER"', b"1e400"))
    assert len(load_inputs([str(path)]).objects["images"]) == 1


# --- workloads: every form gives the same records -------------------------------------------------

THRESHOLD = parse_time("2026-01-01T00:00:00Z")
WORKLOADS = sorted(k.resource for k in KINDS if k.resource not in ("images", "imagestreams", "limitranges"))
REFERENCES = st.sampled_from([
    "image-registry.openshift-image-registry.svc:5000/ns/app@sha256:" + "a" * 64,
    "image-registry.openshift-image-registry.svc:5000/ns/app:v1",
    "quay.io/team/tool:1.0", "nginx", " ", "", "UPPER/Case:bad", "registry.io/ns/app@sha256:short",
])


def _odd_or(draw, usual):
    """Mostly the usual value: an object has many fields, and most objects should be well formed."""
    return draw(st.one_of(usual, ODD)) if draw(st.integers(0, 15)) == 0 else draw(usual)


@st.composite
def pod_specs(draw):
    usual = st.one_of(st.builds(dict, name=st.sampled_from(["app", "init", ""]), image=REFERENCES),
                      st.builds(dict, image=REFERENCES), st.just({"name": "no-image"}))
    odd = st.one_of(ODD, ODD.map(lambda v: {"image": v}), ODD.map(lambda v: {"name": v, "image": "nginx"}), st.just({"name": "x"}))
    spec = {}
    for key in ("initContainers", "containers"):
        if key == "containers" or draw(st.booleans()):  # a pod spec has containers; init containers sometimes
            count = draw(st.integers(1, 3))
            spec[key] = _odd_or(draw, st.just([_odd_or(draw, usual) if draw(st.integers(0, 7)) else draw(odd) for _ in range(count)]))
    return _odd_or(draw, st.just(spec))


@st.composite
def workloads(draw):
    """(resource, object): pods, controllers, cron jobs and builds, mostly well formed."""
    resource = draw(st.sampled_from(WORKLOADS))
    meta = {"namespace": _odd_or(draw, st.sampled_from(["ns", "team-a"])), "name": _odd_or(draw, st.sampled_from(["w", "w-1"]))}
    if draw(st.booleans()):
        meta["creationTimestamp"] = _odd_or(draw, st.sampled_from(["2025-06-01T00:00:00Z", "2026-06-01T00:00:00Z", "yesterday"]))
    obj: dict = {"metadata": meta}
    if resource == "pods":
        obj["spec"] = draw(pod_specs())
        if draw(st.integers(0, 3)):
            status = {"phase": _odd_or(draw, st.sampled_from(["Running", "Pending", "Succeeded"]))} if draw(st.integers(0, 3)) else {}
            obj["status"] = _odd_or(draw, st.just(status))
    elif resource in ("builds", "buildconfigs"):
        source = st.fixed_dictionaries({}, optional={
            "kind": st.sampled_from(["DockerImage", "ImageStreamTag", "ImageStreamImage", "Git", ""]),
            "name": st.sampled_from(["app:v1", "app@sha256:" + "a" * 64, "app", "quay.io/team/tool:1.0", "a:b:c"]),
            "namespace": st.sampled_from(["other", ""]),
        })
        strategy = {}
        for key in ("sourceStrategy", "dockerStrategy", "customStrategy"):
            if draw(st.booleans()):
                options = {"from": _odd_or(draw, source)} if draw(st.integers(0, 3)) else {}
                strategy[key] = _odd_or(draw, st.just(options))
        obj["spec"] = _odd_or(draw, st.just({"strategy": _odd_or(draw, st.just(strategy))}))
    else:
        template = {"template": _odd_or(draw, st.builds(lambda spec: {"spec": spec}, pod_specs()))}
        obj["spec"] = _odd_or(draw, st.just({"jobTemplate": {"spec": template}} if resource == "cronjobs" else template))
    return resource, obj


def references_of(resource: str, objects: list) -> Any:
    """Per form: the references the records give, or the error that refuses them."""
    outcomes = []
    for outcome in load_each_form(resource, objects):
        if outcome[0] == "error":
            outcomes.append(outcome)
            continue
        records, _, refused = outcome
        if refused:
            outcomes.append(("refused", refused))
            continue
        try:
            refs = analyze_references({resource: records}, threshold=THRESHOLD, ignore_invalid_refs=False)
        except PrunePlanError as err:
            outcomes.append(("error", err.message))
        else:
            outcomes.append((refs.used_tags, refs.used_images, refs.bad, refs.warnings))
    return outcomes


@settings(max_examples=300, deadline=None)
@given(workloads())
def test_every_form_gives_a_workload_the_same_references_or_the_same_refusal(case):
    resource, obj = case
    first, *others = references_of(resource, [obj])
    assert others == [first] * len(others)


@pytest.mark.parametrize("resource", WORKLOADS)
def test_a_usual_workload_protects_what_it_names(resource):
    spec = {"containers": [{"name": "app", "image": "image-registry.openshift-image-registry.svc:5000/ns/app:v1"}]}
    obj: dict = {"metadata": {"namespace": "ns", "name": "w", "uid": "u", "creationTimestamp": "2026-06-01T00:00:00Z"}}
    if resource == "pods":
        obj.update(spec=spec, status={"phase": "Running"})
    elif resource in ("builds", "buildconfigs"):
        obj["spec"] = {"strategy": {"sourceStrategy": {"from": {"kind": "ImageStreamTag", "name": "app:v1"}}}}
    elif resource == "cronjobs":
        obj["spec"] = {"jobTemplate": {"spec": {"template": {"spec": spec}}}}
    else:
        obj["spec"] = {"template": {"spec": spec}}
    outcomes = references_of(resource, [obj])
    assert [list(outcome[0]) for outcome in outcomes] == [[("ns", "app", "v1")]] * len(FORMS)


def test_a_pod_whose_status_is_not_an_object_is_refused():
    """Upstream cannot decode such a pod; reading it as "no phase" dropped what it pins."""
    pod = {"metadata": {"namespace": "ns", "name": "p", "creationTimestamp": "2026-06-01T00:00:00Z"}, "status": "odd",
           "spec": {"containers": [{"name": "app", "image": "image-registry.openshift-image-registry.svc:5000/ns/app:v1"}]}}
    assert references_of("pods", [pod]) == [("refused", [("pods", ("ns", "p"), "pod ns/p: status must be an object")])] * len(FORMS)
