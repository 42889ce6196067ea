"""The line decoders of Images and ImageStreams: a line they take gives the model the general path
gives; anything else they leave to the general path, which words the error or reads the odd value."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.model import load_image, load_stream
from pruneplan.analyze.decisions.wire import decode_image_line, decode_stream_line
from pruneplan.dumpformat import _identity, load_inputs
from pruneplan.errors import InputError, PrunePlanError
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


def assert_taken_as_the_general_path_reads_it(decode, load, resource: str, obj: dict) -> None:
    """The general path: orjson, load_inputs' identity check, then the model's loader."""
    line = line_of(obj)
    taken = decode(line)
    try:
        raw = orjson.loads(line)
        general = (_identity(raw, "dump", resource, 0), load(raw))
    except PrunePlanError:
        assert taken is None, "a line the general path refuses must be left to it, to word the error"
        return
    if taken is not None:
        assert taken == general


@settings(max_examples=500, deadline=None)
@given(images())
def test_a_taken_line_gives_the_general_paths_model(obj):
    assert_taken_as_the_general_path_reads_it(decode_image_line, load_image, "images", obj)


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
            status["tags"] = value(st.lists(st.one_of(tag, tag, st.fixed_dictionaries({"tag": ODD})), max_size=3))
        obj["status"] = value(st.just(status))
    return obj


@settings(max_examples=500, deadline=None)
@given(streams())
def test_a_taken_stream_line_gives_the_general_paths_model(obj):
    assert_taken_as_the_general_path_reads_it(decode_stream_line, load_stream, "imagestreams", obj)


def test_a_usual_stream_line_is_taken():
    obj = usual_stream()
    assert decode_stream_line(line_of(obj)) == (("ns", "app"), load_stream(obj))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda o: o["metadata"].update(namespace=""), "no namespace: the general path names it by position"),
        (lambda o: o["status"]["tags"][0]["items"][0].update(created="soon"), "a bad timestamp: the general path words it"),
        (lambda o: o["status"]["tags"][0].update(tag=None), "a tag must be a string"),
        (lambda o: o["metadata"].update(resourceVersion=7), "the general path reads it as none"),
        (lambda o: o["status"].update(tags={}), "tags must be a list"),
    ],
)
def test_stream_lines_the_decoder_leaves_to_the_general_path(change, why):
    obj = usual_stream()
    change(obj)
    assert decode_stream_line(line_of(obj)) is None, why


@pytest.mark.parametrize("decode", [decode_image_line, decode_stream_line])
def test_deeply_nested_json_in_a_skipped_field_is_left_to_the_general_path(decode):
    deep = b"[" * 5000 + b"]" * 5000
    line = b'{"metadata":{"namespace":"ns","name":"sha256:' + b"a" * 64 + b'"},"skipped":' + deep + b"}"
    assert decode(line) is None


def test_a_dump_with_deeply_nested_json_fails_with_one_line_naming_the_line(tmp_path):
    path = write_dump(tmp_path / "d.json", {"images": [usual_image()]})
    deep = b"[" * 5000 + b"]" * 5000
    path.write_bytes(path.read_bytes().replace(b'"uid":"u"', b'"uid":' + deep))
    with pytest.raises(InputError, match="invalid JSON at line 3") as err:
        load_inputs([str(path)], transforms={"images": load_image}, line_loaders={"images": decode_image_line})
    assert "\n" not in str(err.value)


# --- workloads: a taken line gives the references its dict gives ---------------------------------

from pruneplan.analyze.decisions.referrers import analyze_references  # noqa: E402
from pruneplan.analyze.decisions.wire import WORKLOAD_LINE_LOADERS  # noqa: E402
from pruneplan.timefmt import parse_time  # noqa: E402

THRESHOLD = parse_time("2026-01-01T00:00:00Z")
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


def _metadata(draw, timestamps: bool = False) -> dict:
    meta = {"namespace": _odd_or(draw, st.sampled_from(["ns", "team-a"])), "name": _odd_or(draw, st.sampled_from(["w", "w-1"]))}
    if timestamps and draw(st.booleans()):
        meta["creationTimestamp"] = _odd_or(draw, st.sampled_from(["2025-06-01T00:00:00Z", "2026-06-01T00:00:00Z", "yesterday"]))
    return meta


@st.composite
def workloads(draw):
    """(resource, object): pods, controllers, cron jobs and builds, mostly well formed."""
    resource = draw(st.sampled_from(sorted(WORKLOAD_LINE_LOADERS)))
    obj: dict = {"metadata": _metadata(draw, timestamps=resource == "pods")}
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


def references_of(resource: str, objects: list) -> tuple:
    try:
        refs = analyze_references({resource: objects}, threshold=THRESHOLD, ignore_invalid_refs=False)
    except InputError as err:
        return ("error", err.message)
    return refs.used_tags, refs.used_images, refs.bad, refs.warnings


@settings(max_examples=800, deadline=None)
@given(workloads())
def test_a_taken_workload_line_gives_the_references_of_its_dict(case):
    resource, obj = case
    line = line_of(obj)
    taken = WORKLOAD_LINE_LOADERS[resource](line)
    raw = orjson.loads(line)
    try:
        identity = _identity(raw, "dump", resource, 0)
    except InputError:
        assert taken is None, "an object without a namespace and name is left to the general path"
        return
    if taken is not None:
        key, record = taken
        assert key == identity
        assert references_of(resource, [record]) == references_of(resource, [raw])


@pytest.mark.parametrize("resource", sorted(WORKLOAD_LINE_LOADERS))
def test_a_usual_workload_line_is_taken_and_protects_what_its_dict_protects(resource):
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
    taken = WORKLOAD_LINE_LOADERS[resource](line_of(obj))
    assert taken is not None and taken[0] == ("ns", "w")
    used_tags = references_of(resource, [taken[1]])[0]
    assert list(used_tags) == [("ns", "app", "v1")]
    assert references_of(resource, [taken[1]]) == references_of(resource, [obj])


def test_a_pod_whose_status_is_not_an_object_is_refused():
    """Upstream cannot decode such a pod; reading it as "no phase" dropped what it pins."""
    pod = {"metadata": {"namespace": "ns", "name": "p", "creationTimestamp": "2026-06-01T00:00:00Z"}, "status": "odd",
           "spec": {"containers": [{"name": "app", "image": "image-registry.openshift-image-registry.svc:5000/ns/app:v1"}]}}
    assert WORKLOAD_LINE_LOADERS["pods"](line_of(pod)) is None  # left to the general path, which words the error
    assert references_of("pods", [pod]) == ("error", "pod ns/p: status must be an object")
