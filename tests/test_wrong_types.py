"""A field the rules read holding the wrong JSON type is refused, never read as "not set": the
referrer would be dropped and the plan would delete the image it pins (docs/dump-format.md,
"Errors"). Every input form refuses it alike: exit 3, one line naming the object and the field,
no plan. A well-typed object, however odd, still protects its image."""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pruneplan.analyze.decisions.inputs import load_inputs
from builders import REGISTRY, as_dump, as_list, digest, image, pod, stream, write_json, write_line_dump
from clirunner import run_cli
from pruneplan.kinds import BY_KIND

NOW = "2026-06-01T00:00:00Z"
FLAGS = ("--now", NOW, "--keep-tag-revisions=1")
PINNED = digest(1)  # revision 2 of ns/app:latest: kept only because a referrer pins it
PIN = f"{REGISTRY}/ns/app@{PINNED}"
FORMS = ("list", "whole-dump", "line-dump")


def cluster() -> list[dict[str, Any]]:
    return [image(digest(2)), image(PINNED), stream("ns", "app", {"latest": [digest(2), PINNED]})]


def analyze(tmp_path, form: str, items: list[dict[str, Any]]):
    """(result, plan or None) of `pruneplan analyze` over `items` written in `form`."""
    if form == "list":
        source = write_json(tmp_path / "in.json", as_list(items))
    elif form == "whole-dump":  # also the shape execute's live snapshot is read through
        source = write_json(tmp_path / "dump.json", as_dump(items, collected_at=NOW))
    else:
        source = write_line_dump(tmp_path / "dump.json.gz", items)
    plan = tmp_path / "plan.json"
    result = run_cli("analyze", str(source), "-o", str(plan), *FLAGS)
    return result, (json.loads(plan.read_text()) if plan.exists() else None)


def deleted_images(plan: dict[str, Any]) -> set[str]:
    return {entry["name"] for entry in plan["imageDeletions"]}


# --- referrers that pin PINNED, well typed ----------------------------------------------------

def _spec(image_text: str = PIN) -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": image_text}]}


def _controller(kind: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        return {"kind": kind, "apiVersion": BY_KIND[kind].api_version, "metadata": {"namespace": "ns", "name": "web"},
                "spec": {"template": {"spec": _spec()}}}
    return build


def _pod() -> dict[str, Any]:
    return pod("ns", "web", [PIN], created=NOW)


def _cronjob() -> dict[str, Any]:
    return {"kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"namespace": "ns", "name": "web"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": _spec()}}}}}


def _build(kind: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        return {"kind": kind, "apiVersion": "build.openshift.io/v1", "metadata": {"namespace": "ns", "name": "web"},
                "spec": {"strategy": {"type": "Source", "sourceStrategy": {
                    "from": {"kind": "ImageStreamImage", "name": f"app@{PINNED}", "namespace": "ns"}}}}}
    return build


def _limit_range() -> dict[str, Any]:
    return {"kind": "LimitRange", "apiVersion": "v1", "metadata": {"namespace": "ns", "name": "limits"},
            "spec": {"limits": [{"type": "openshift.io/Image", "max": {"storage": "1Gi"}}]}}


REFERRERS: dict[str, Callable[[], dict[str, Any]]] = {
    "Pod": _pod,
    **{kind: _controller(kind) for kind in ("ReplicationController", "DeploymentConfig", "ReplicaSet", "Deployment",
                                            "DaemonSet", "StatefulSet", "Job")},
    "CronJob": _cronjob,
    "Build": _build("Build"),
    "BuildConfig": _build("BuildConfig"),
}
WORDS = {"Pod": "pod", "ReplicationController": "replicationcontroller", "DeploymentConfig": "deploymentconfig",
         "ReplicaSet": "replicaset", "Deployment": "deployment", "DaemonSet": "daemonset", "StatefulSet": "statefulset",
         "Job": "job", "CronJob": "cronjob", "Build": "build", "BuildConfig": "buildconfig"}
TEMPLATE = {"CronJob": "spec.jobTemplate.spec.template.spec"}


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path (`spec.containers.0.image`), list indexes as numbers."""
    keys = path.split(".")
    node: Any = obj
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _field(path: str) -> str:
    """The field as messages name it: `spec.containers.0.image` is `spec.containers[0].image`."""
    out = ""
    for key in path.split("."):
        out += f"[{key}]" if key.isdigit() else (f".{key}" if out else key)
    return out


def _pod_spec_cases(kind: str, spec: str) -> list[tuple[str, str, Any, str]]:
    return [
        (kind, spec, "pod spec", "an object"),
        (kind, spec, ["containers"], "an object"),
        (kind, f"{spec}.containers", PIN, "a list"),
        (kind, f"{spec}.containers", {"name": "app", "image": PIN}, "a list"),
        (kind, f"{spec}.initContainers", {}, "a list"),
        (kind, f"{spec}.containers.0", PIN, "an object"),
        (kind, f"{spec}.containers.0", None, "an object"),
        (kind, f"{spec}.containers.0.image", 5, "a string"),
        (kind, f"{spec}.containers.0.image", [PIN], "a string"),
        (kind, f"{spec}.containers.0.name", 7, "a string"),
    ]


# (kind, dotted path, wrong value, what it must be)
CASES: list[tuple[str, str, Any, str]] = [
    *_pod_spec_cases("Pod", "spec"),
    ("Pod", "spec", [], "an object"),
    ("Pod", "spec", True, "an object"),
    ("Pod", "status", "Running", "an object"),
    ("Pod", "status", ["Running"], "an object"),
    ("Pod", "status.phase", 1, "a string"),
    ("Pod", "status.phase", True, "a string"),
    ("Pod", "status.phase", {"name": "Running"}, "a string"),
    ("Pod", "metadata.creationTimestamp", 1780272000, "a string"),
    ("Pod", "metadata.creationTimestamp", {}, "a string"),
    *_pod_spec_cases("Deployment", "spec.template.spec"),
    ("Deployment", "spec", "x", "an object"),
    ("Deployment", "spec", [], "an object"),
    ("Deployment", "spec.template", "x", "an object"),
    ("Deployment", "spec.template", 0, "an object"),
    *[(kind, "spec.template.spec", [], "an object")
      for kind in ("ReplicationController", "DeploymentConfig", "ReplicaSet", "DaemonSet", "StatefulSet", "Job")],
    *[(kind, "spec.template", "x", "an object")
      for kind in ("ReplicationController", "DeploymentConfig", "ReplicaSet", "DaemonSet", "StatefulSet", "Job")],
    ("ReplicationController", "spec.template.spec.containers.0.image", False, "a string"),
    ("Job", "spec.template.spec.containers", "x", "a list"),
    ("CronJob", "spec", "x", "an object"),
    ("CronJob", "spec.jobTemplate", "x", "an object"),
    ("CronJob", "spec.jobTemplate.spec", 3, "an object"),
    ("CronJob", "spec.jobTemplate.spec.template", [], "an object"),
    ("CronJob", "spec.jobTemplate.spec.template.spec", "x", "an object"),
    ("CronJob", "spec.jobTemplate.spec.template.spec.containers", {}, "a list"),
    ("CronJob", "spec.jobTemplate.spec.template.spec.containers.0.image", 1.5, "a string"),
    *[(kind, path, value, must)
      for kind in ("BuildConfig", "Build")
      for path, value, must in (
          ("spec", "x", "an object"),
          ("spec.strategy", "Source", "an object"),
          ("spec.strategy.sourceStrategy", "x", "an object"),
          ("spec.strategy.sourceStrategy", [], "an object"),
          ("spec.strategy.sourceStrategy.from", f"app@{PINNED}", "an object"),
          ("spec.strategy.sourceStrategy.from.kind", 1, "a string"),
          ("spec.strategy.sourceStrategy.from.name", [f"app@{PINNED}"], "a string"),
          ("spec.strategy.sourceStrategy.from.namespace", {}, "a string"),
          # a later strategy is type-checked too, though the first one is the one read
          ("spec.strategy.dockerStrategy", "x", "an object"),
          ("spec.strategy.customStrategy", {"from": "x"}, None),
      )],
]


def _message(kind: str, path: str, must: str | None, value: Any) -> str:
    if must is None:  # the case sets a parent; the message names the deepest wrong field
        return f"{WORDS[kind]} ns/web: {_field(path)}.from must be an object"
    return f"{WORDS[kind]} ns/web: {_field(path)} must be {must}"


def _case_id(case: tuple[str, str, Any, str]) -> str:
    kind, path, value, _ = case
    return f"{kind}-{path}={type(value).__name__}"


def _wrong(kind: str, path: str, value: Any) -> dict[str, Any]:
    obj = REFERRERS[kind]()
    _set(obj, path, copy.deepcopy(value))
    return obj


def test_each_referrer_well_typed_protects_the_image_it_pins_and_without_it_the_image_is_deleted(tmp_path):
    """The control: the cases below are meaningful only if dropping the referrer deletes PINNED."""
    result, plan = analyze(tmp_path, "list", cluster())
    assert result.code == 0 and PINNED in deleted_images(plan)
    for kind, build in REFERRERS.items():
        for form in FORMS:
            result, plan = analyze(tmp_path, form, cluster() + [build()])
            assert result.code == 0, (kind, form, result.err)
            assert PINNED not in deleted_images(plan), (kind, form)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_a_field_of_the_wrong_type_is_refused_with_one_line_naming_the_object_and_field(tmp_path, form, case):
    kind, path, value, must = case
    result, plan = analyze(tmp_path, form, cluster() + [_wrong(kind, path, value)])
    assert (result.code, result.err_lines, plan) == (3, [f"error: {_message(kind, path, must, value)}"], None)


def write_form(tmp_path, form: str, items: list[dict[str, Any]]):
    if form == "list":
        return write_json(tmp_path / "in.json", as_list(items))
    if form == "whole-dump":
        return write_json(tmp_path / "dump.json", as_dump(items, collected_at=NOW))
    return write_line_dump(tmp_path / "dump.json.gz", items)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_every_input_form_loads_a_wrong_type_into_the_same_refusal(tmp_path, case):
    """Loading keeps the refused workload, named, until the analysis reaches its kind."""
    kind, path, value, must = case
    refusals = []
    for form in FORMS:
        loaded = load_inputs([str(write_form(tmp_path, form, cluster() + [_wrong(kind, path, value)]))])
        assert loaded.objects[BY_KIND[kind].resource] == [], form
        refusals.append([(r.resource, r.identity, r.error.message) for r in loaded.refused])
    assert refusals == [[(BY_KIND[kind].resource, ("ns", "web"), _message(kind, path, must, value))]] * len(FORMS)


@pytest.mark.parametrize("form", FORMS)
def test_a_wrong_type_outside_the_namespace_of_a_namespaced_run_is_never_read(tmp_path, form):
    """With -n the analysis reads no workload of another namespace, so its types do not matter
    (upstream lists that namespace's objects only)."""
    elsewhere = _wrong("Deployment", "spec.template.spec.containers.0.image", 5)
    elsewhere["metadata"]["namespace"] = "other"
    source = write_form(tmp_path, form, cluster() + [elsewhere])
    plan = tmp_path / "plan.json"
    result = run_cli("analyze", str(source), "-o", str(plan), *FLAGS, "-n", "ns")
    assert result.code == 0, result.err
    result = run_cli("analyze", str(source), "-o", str(plan), *FLAGS)
    assert result.err_lines == ["error: deployment other/web: spec.template.spec.containers[0].image must be a string"]


@pytest.mark.parametrize("form", FORMS)
def test_a_duplicate_of_a_wrong_type_is_not_read(tmp_path, form):
    """The first object of an identity wins; a later one of the same identity is skipped unread."""
    result, plan = analyze(tmp_path, form, cluster() + [_pod(), _wrong("Pod", "spec.containers.0.image", 5)])
    assert result.code == 0, result.err
    assert PINNED not in deleted_images(plan)
    assert "note: objects given more than once (kept the first): 1" in result.err_lines


def test_a_pod_too_old_to_count_is_still_refused_for_a_wrong_type(tmp_path):
    old = pod("ns", "web", [PIN], phase="Succeeded", created="2025-01-01T00:00:00Z")
    old["spec"]["containers"][0]["image"] = 5
    for form in FORMS:
        result, plan = analyze(tmp_path, form, cluster() + [old])
        assert (result.code, result.err_lines, plan) == (3, ["error: pod ns/web: spec.containers[0].image must be a string"], None)


# LimitRanges have no line decoder: every form reads them as dicts
LIMIT_CASES = [
    ("spec", "x", "spec must be an object"),
    ("spec.limits", {}, "spec.limits must be a list"),
    ("spec.limits.0", "openshift.io/Image", "spec.limits[0] must be an object"),
    ("spec.limits.0.type", 5, "spec.limits[0].type must be a string"),
    ("spec.limits.0.max", "1Gi", "spec.limits[0].max must be an object"),
]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("path", "value", "message"), LIMIT_CASES, ids=[c[0] for c in LIMIT_CASES])
def test_a_limit_range_field_of_the_wrong_type_is_refused(tmp_path, form, path, value, message):
    limits = _limit_range()
    _set(limits, path, value)
    result, plan = analyze(tmp_path, form, cluster() + [limits])
    assert (result.code, result.err_lines, plan) == (3, [f"error: limitrange ns/limits: {message}"], None)


# --- well typed but odd: read as before, never refused -----------------------------------------

def _odd_but_well_typed() -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    def edit(kind: str, change: Callable[[dict[str, Any]], None]) -> Callable[[], dict[str, Any]]:
        def build() -> dict[str, Any]:
            obj = REFERRERS[kind]()
            change(obj)
            return obj
        return build

    def extra_containers(obj):
        obj["spec"]["containers"] += [{"name": "blank", "image": ""}, {"name": "spaces", "image": "  "}, {"image": None},
                                      {"name": None, "image": "nginx"}, {}]
        obj["spec"]["initContainers"] = None

    def unknown_phase(obj):
        obj["status"]["phase"] = "SomethingNew"  # counts by age: created at NOW, not before T

    return [
        ("empty and null images beside the pinning one", edit("Pod", extra_containers)),
        ("an unknown phase, young", edit("Pod", unknown_phase)),
        ("status null, young", edit("Pod", lambda o: o.update(status=None))),
        ("no status, young", edit("Pod", lambda o: o.pop("status"))),
        ("an empty status, young", edit("Pod", lambda o: o.update(status={}))),
        ("a null phase, young", edit("Pod", lambda o: o["status"].update(phase=None))),
        ("a template with extra fields", edit("Deployment", lambda o: o["spec"].update(replicas=0, paused=True))),
        ("null init containers", edit("StatefulSet", lambda o: o["spec"]["template"]["spec"].update(initContainers=None))),
        ("a null from namespace", edit("BuildConfig",
                                       lambda o: o["spec"]["strategy"]["sourceStrategy"]["from"].update(namespace=None))),
        ("null later strategies", edit("Build", lambda o: o["spec"]["strategy"].update(dockerStrategy=None, customStrategy=None))),
        ("a jenkins strategy of any shape", edit("Build", lambda o: o["spec"]["strategy"].update(jenkinsPipelineStrategy="x"))),
    ]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("why", "build"), _odd_but_well_typed(), ids=[c[0] for c in _odd_but_well_typed()])
def test_a_well_typed_but_odd_referrer_still_protects_its_image(tmp_path, form, why, build):
    result, plan = analyze(tmp_path, form, cluster() + [build()])
    assert result.code == 0, result.err
    assert PINNED not in deleted_images(plan), why


def test_an_unknown_build_source_kind_is_a_warning_not_an_error(tmp_path):
    bc = _build("BuildConfig")()
    bc["spec"]["strategy"]["sourceStrategy"]["from"] = {"kind": "Git", "name": "repo"}
    for form in FORMS:
        result, plan = analyze(tmp_path, form, cluster() + [bc])
        assert result.code == 0 and plan is not None
        assert "warning: buildconfig/web namespace=ns: ignoring unrecognized source location Git/repo" in result.err_lines


# Any well-typed pinning object: optional fields absent, null or set, with fields the rules never
# read of any type. None of it may be refused, and the image stays protected.
ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=3),
                        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
                        max_leaves=4)


@st.composite
def well_typed_referrers(draw) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(REFERRERS)))
    obj = REFERRERS[kind]()
    maybe_null = st.sampled_from(["absent", "null", "set"])

    def optional(parent: dict[str, Any], key: str, value: Any) -> None:
        choice = draw(maybe_null)
        if choice == "absent":
            parent.pop(key, None)
        else:
            parent[key] = None if choice == "null" else value

    obj[draw(st.sampled_from(["replicas", "x-unread", "selector"]))] = draw(ANY_JSON)  # never read
    if kind in ("Build", "BuildConfig"):
        strategy = obj["spec"]["strategy"]
        optional(strategy, "dockerStrategy", {"from": {"kind": "DockerImage", "name": "quay.io/x/y:1"}})
        optional(strategy, "customStrategy", {})
        strategy["type"] = draw(ANY_JSON)  # not read
        optional(strategy["sourceStrategy"], "env", draw(ANY_JSON))
        return obj
    spec = obj["spec"] if kind == "Pod" else obj["spec"]["template"]["spec"] if kind != "CronJob" else \
        obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    optional(spec, "initContainers", [{"name": draw(st.sampled_from(["", "init"])), "image": draw(st.sampled_from(["", " ", "nginx"]))}])
    container = spec["containers"][0]
    optional(container, "name", "app")
    container["args"] = draw(ANY_JSON)  # not read
    if kind == "Pod":
        obj["metadata"]["creationTimestamp"] = NOW  # young: counts in any phase
        optional(obj, "status", {"phase": draw(st.sampled_from(["Running", "Pending", "Succeeded", "Failed", ""]))})
    return obj


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(well_typed_referrers(), st.sampled_from(FORMS))
def test_any_well_typed_referrer_is_accepted_and_protects_its_image(tmp_path, obj, form):
    result, plan = analyze(tmp_path, form, cluster() + [obj])
    assert result.code == 0, result.err
    assert PINNED not in deleted_images(plan)
