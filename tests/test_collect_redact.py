"""`collect --redact`: stable pseudonyms that keep references parseable and decisions equal."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.reference import (
    InvalidReference,
    parse_image_stream_image_name,
    parse_image_stream_tag_name,
    parse_reference,
)
from clirunner import run_cli
from pruneplan.collect.redact import RedactionError, Redactor, restore
from fakeapi import REGISTRY, SAMPLE_NOW, FakeAPI, sample_cluster, sha
from pruneplan.kinds import BY_KIND

KEY = b"k" * 32
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(KEY)


def parsed(ref: str):
    try:
        return parse_reference(ref)
    except InvalidReference:
        return None


# -- the pure redaction --------------------------------------------------------------------

def test_internal_registry_reference_keeps_shape_tag_and_digest(redactor):
    out = redactor.reference(f"{REGISTRY}/team-a/app:latest@{DIGEST}")
    host = redactor.host("image-registry.openshift-image-registry.svc")
    assert out == f"{host}:5000/{redactor.namespace('team-a')}/{redactor.name('app')}:latest@{DIGEST}"
    ref = parse_reference(out)
    assert (ref.tag, ref.digest) == ("latest", DIGEST)
    assert ref.registry.endswith(".redacted:5000")


def test_pseudonyms_are_lowercase_alphanumerics_and_hosts_stay_hosts(redactor):
    assert re.fullmatch(r"ns[0-9a-f]{16}", redactor.namespace("Team_A weird"))
    assert re.fullmatch(r"n[0-9a-f]{16}", redactor.name("My-App"))
    assert re.fullmatch(r"h[0-9a-f]{16}\.redacted:8443", redactor.host("LOCALHOST:8443"))


def test_same_name_same_pseudonym_everywhere_and_roles_apart(redactor):
    assert redactor.name("app") == redactor.name("app")
    assert redactor.namespace("app") != redactor.name("app")
    assert Redactor(KEY).name("app") == redactor.name("app")  # same key, same pseudonym
    assert Redactor(b"x" * 32).name("app") != redactor.name("app")


@pytest.mark.parametrize("ref", [
    "nginx", "nginx:1.25", "library/nginx", "docker.io/library/nginx:1.25",
    "localhost/app", "localhost:5000/ns/app", "registry.example.com", "registry.example.com:5000",
    "quay.io/org/sub/tool:1", "MyHost/ns/name", f"quay.io/org/tool@{DIGEST}", "a.b/c",
])
def test_reference_structure_is_kept(redactor, ref):
    before, after = parse_reference(ref), parse_reference(redactor.reference(ref))
    assert bool(before.registry) == bool(after.registry)
    assert bool(before.namespace) == bool(after.namespace)
    assert ("/" in before.name) == ("/" in after.name)
    assert bool(before.name) == bool(after.name)
    assert (before.tag, before.digest) == (after.tag, after.digest)


@pytest.mark.parametrize("ref", ["I am certainly a valid reference", "ns/UPPER", " nginx", "host/ns/app@sha256:abc",
                                 "host/ns/app@md5:" + "a" * 32, "a" * 300])
def test_unparsable_reference_stays_unparsable_and_maps_back(redactor, ref):
    assert parsed(ref) is None
    out = redactor.reference(ref)
    assert parsed(out) is None
    assert redactor.mapping[out] == ref
    assert out == redactor.reference(ref)


@pytest.mark.parametrize("ref", ["", "   "])
def test_blank_reference_is_left_alone(redactor, ref):
    assert redactor.reference(ref) == ref


_component = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?", fullmatch=True)
_host = st.one_of(
    st.from_regex(r"[a-zA-Z0-9]{1,6}\.[a-z]{2,4}(?::[0-9]{2,5})?", fullmatch=True),
    st.just("localhost"), st.just("localhost:5000"), st.from_regex(r"[a-z]{1,6}:[0-9]{2,4}", fullmatch=True),
)
_references = st.builds(
    lambda host, path, tag, digest: (f"{host}/" if host else "") + "/".join(path) + (f":{tag}" if tag else "") + (f"@{digest}" if digest else ""),
    st.one_of(st.none(), _host),
    st.lists(_component, min_size=1, max_size=4),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}", fullmatch=True)),
    st.one_of(st.none(), st.just(DIGEST), st.just("sha512:" + "c" * 128), st.just("sha256:" + "d" * 40)),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_references, st.text(max_size=30)))
def test_redaction_never_changes_how_analyze_reads_a_reference(ref):
    redactor = Redactor(KEY)
    out = redactor.reference(ref)
    before, after = parsed(ref), parsed(out)
    if not ref.strip():
        assert out == ref
        return
    assert (before is None) == (after is None)
    if before is not None:
        assert bool(before.registry) == bool(after.registry)
        assert bool(before.namespace) == bool(after.namespace)
        assert ("/" in before.name) == ("/" in after.name)
        assert (before.tag, before.digest) == (after.tag, after.digest)
        if before.namespace and "/" not in before.name:  # the only shape that protects a stream
            assert after.namespace == redactor.namespace(before.namespace)
            assert after.name == redactor.name(before.name)


def outcome(parse, value):
    try:
        return parse(value)
    except InvalidReference:
        return None


@pytest.mark.parametrize("value", ["app:v1", "app", "a:b:c", f"app@{DIGEST}", ":tag", "app:", "", "x@y@z", "app@id"])
def test_image_stream_tag_and_image_names_fail_or_parse_as_before(redactor, value):
    out = redactor.stream_name(value)
    for parse in (parse_image_stream_tag_name, parse_image_stream_image_name):
        before, after = outcome(parse, value), outcome(parse, out)
        assert (before is None) == (after is None)
        if before is not None:
            assert after == (redactor.name(before[0]), before[1])


def test_short_key_is_refused():
    with pytest.raises(RedactionError):
        Redactor(b"short")


def test_colliding_pseudonyms_are_refused(monkeypatch):
    import pruneplan.collect.redact as module

    monkeypatch.setattr(module, "HASH_CHARS", 0)  # every name hashes to the same pseudonym
    redactor = Redactor(KEY)
    redactor.name("a")
    with pytest.raises(RedactionError, match="collision"):
        redactor.name("b")


def test_build_sources_are_redacted_by_kind(redactor):
    obj = {"metadata": {"namespace": "team-a", "name": "b1"}, "spec": {"strategy": {
        "sourceStrategy": {"from": {"kind": "ImageStreamTag", "namespace": "team-b", "name": "web:v1"}},
        "dockerStrategy": {"from": {"kind": "DockerImage", "name": f"{REGISTRY}/team-b/web@{DIGEST}"}},
        "customStrategy": {"from": {"kind": "ImageStreamImage", "name": f"web@{DIGEST}"}},
        "type": "Source"}}}
    strategy = redactor.redact("builds", obj)["spec"]["strategy"]
    web = redactor.name("web")
    assert strategy["sourceStrategy"]["from"] == {"kind": "ImageStreamTag", "namespace": redactor.namespace("team-b"), "name": f"{web}:v1"}
    assert strategy["dockerStrategy"]["from"]["name"].endswith(f"/{redactor.namespace('team-b')}/{web}@{DIGEST}")
    assert strategy["customStrategy"]["from"]["name"] == f"{web}@{DIGEST}"
    assert obj["metadata"] == {"namespace": redactor.namespace("team-a"), "name": redactor.name("b1")}


def test_image_names_are_digests_and_stay(redactor):
    obj = {"metadata": {"name": DIGEST}, "dockerImageReference": f"{REGISTRY}/team-a/app@{DIGEST}"}
    out = redactor.redact("images", obj)
    assert out["metadata"]["name"] == DIGEST
    assert out["dockerImageReference"].endswith(f"/{redactor.namespace('team-a')}/{redactor.name('app')}@{DIGEST}")


# -- end to end ----------------------------------------------------------------------------

@pytest.fixture
def api():
    with FakeAPI(date="Sat, 28 Nov 2026 06:00:00 GMT") as server:
        server.add_all(sample_cluster())
        yield server



@pytest.fixture
def key_file(tmp_path) -> str:
    path = tmp_path / "redact.key"
    path.write_bytes(os.urandom(32).hex().encode())
    return str(path)


def originals(objects: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(names and namespaces, registry hosts) that must not survive redaction."""
    names: set[str] = set()
    hosts: set[str] = set()

    def refs(value: Any) -> None:
        if isinstance(value, str) and "/" in value:
            first = value.split("/")[0]
            if "." in first or ":" in first:
                hosts.add(first.split(":")[0])
            for part in value.split("@")[0].split("/")[1:]:
                names.add(part.split(":")[0])

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if key in ("image", "dockerImageReference", "dockerImageRepository", "publicDockerImageRepository") or (key == "name" and isinstance(child, str) and "/" in child):
                    refs(child)
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    for obj in objects:
        if BY_KIND.get(obj["kind"]) is None:
            continue
        meta = obj["metadata"]
        if obj["kind"] != "Image":
            names.add(meta["name"])
        if meta.get("namespace"):
            names.add(meta["namespace"])
        for spec in _pod_specs(obj):
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                names.add(container["name"])
        walk(obj)
    return names, hosts


def _pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "Pod":
        return [spec]
    if obj["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    template = spec.get("template")
    return [template["spec"]] if template else []


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]  # keys are schema, not data
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def analyze(tmp_path: Path, dump: Path, name: str, *extra: str) -> dict[str, Any]:
    plan = tmp_path / f"plan-{name}.json"
    result = run_cli("analyze", str(dump), "-o", str(plan), "--now", SAMPLE_NOW, "-q", *extra)
    assert result.code == 0, result.err
    return json.loads(plan.read_text())


def normalized(plan: dict[str, Any]) -> Any:
    """Drop what names the input file, and sort every list of objects (its order follows names)."""
    plan = dict(plan)
    source = dict(plan.pop("source"))
    source.pop("dumpSha256")
    source.pop("inputs")
    plan["source"] = source

    def sort(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: sort(v) for k, v in value.items()}
        if isinstance(value, list):
            items = [sort(v) for v in value]
            if items and all(isinstance(v, dict) for v in items):
                items.sort(key=lambda v: json.dumps(v, sort_keys=True))
            return items
        return value

    return sort(plan)


def test_redacted_dump_hides_every_name_and_host_and_plans_the_same(api, kubeconfig, key_file, tmp_path):
    plain, redacted = tmp_path / "plain.json", tmp_path / "redacted.json.gz"
    assert run_cli("collect", "-o", str(plain), "--kubeconfig", kubeconfig).code == 0
    result = run_cli("collect", "-o", str(redacted), "--kubeconfig", kubeconfig, "--redact", "--redact-key-file", key_file, "--page-size", "4")
    assert result.code == 0, result.err

    import gzip
    raw = gzip.decompress(redacted.read_bytes())
    doc = json.loads(raw)
    names, hosts = originals([o for r in api.resources.values() for o in api.objects(r.resource)])
    hosts.add("127.0.0.1")
    text = raw.decode()
    for host in hosts:
        assert host not in text, host
    tokens = {t for s in strings(doc) for t in re.split(r"[/:@]", s)}
    assert not names & tokens, sorted(names & tokens)
    assert "team-0" not in text and "team-1" not in text

    mapping_path = Path(str(redacted) + ".redaction-map.json")
    assert stat.S_IMODE(mapping_path.stat().st_mode) == 0o600
    mapping = json.loads(mapping_path.read_text())["pseudonyms"]
    assert {"team-0", "app", "image-registry.openshift-image-registry.svc", "127.0.0.1"} <= set(mapping.values())

    plan_plain = analyze(tmp_path, plain, "plain")
    plan_redacted = analyze(tmp_path, redacted, "redacted")
    assert plan_redacted != plan_plain
    assert normalized(restore(plan_redacted, mapping)) == normalized(plan_plain)
    assert plan_plain["imageStreamUpdates"] and plan_plain["imageDeletions"] and plan_plain["layerLinkDeletions"]


def test_same_key_file_gives_identical_redacted_dumps(api, kubeconfig, key_file, tmp_path):
    first, second = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    for out in (first, second):
        assert run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--redact-key-file", key_file).code == 0
    assert first.read_bytes() == second.read_bytes()


def test_without_a_key_file_each_run_uses_a_new_random_key(api, kubeconfig, tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        assert run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--redact").code == 0
    a, b = (json.loads(p.read_text())["objects"]["imagestreams"][0]["metadata"] for p in (first, second))
    assert a["namespace"] != b["namespace"]


def test_namespace_limited_redacted_dump_is_analyzed_with_the_pseudonym(api, kubeconfig, key_file, tmp_path):
    out = tmp_path / "ns.json"
    assert run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "-n", "team-1", "--redact-key-file", key_file).code == 0
    header = json.loads(out.read_text())["header"]
    mapping = json.loads(Path(str(out) + ".redaction-map.json").read_text())["pseudonyms"]
    assert mapping[header["namespace"]] == "team-1"
    plan = analyze(tmp_path, out, "ns", "-n", header["namespace"])
    assert {u["namespace"] for u in plan["imageStreamUpdates"]} == {header["namespace"]}


def test_failed_redacted_collection_leaves_neither_dump_nor_mapping(api, kubeconfig, tmp_path):
    api.fault(r"/apis/image.openshift.io/v1/images", 500)
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--redact")
    assert result.code == 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kubeconfig"]


@pytest.mark.parametrize("content,message", [(None, "cannot read redaction key file"), (b"short\n", "at least 16 bytes")])
def test_bad_key_file_is_a_usage_error(tmp_path, content, message):
    key = tmp_path / "key"
    if content is not None:
        key.write_bytes(content)
    result = run_cli("collect", "-o", str(tmp_path / "d.json"), "--redact-key-file", str(key))
    assert result.code == 2
    assert len(result.err_lines) == 1 and message in result.err


def test_dump_references_use_the_streams_pseudonyms(api, kubeconfig, key_file, tmp_path):
    out = tmp_path / "dump.json"
    assert run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--redact-key-file", key_file).code == 0
    doc = json.loads(out.read_text())
    streams = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in doc["objects"]["imagestreams"]}
    pod = next(p for p in doc["objects"]["pods"] if p["status"]["phase"] == "Running" and "initContainers" in p["spec"])
    ref = parse_reference(pod["spec"]["containers"][0]["image"])
    assert (ref.namespace, ref.name) in streams and ref.tag == "latest"
    digest = sha("team-0/app/latest/0")
    assert digest in {i["metadata"]["name"] for i in doc["objects"]["images"]}  # digests stay
