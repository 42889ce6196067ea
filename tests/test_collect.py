"""`pruneplan collect` against the fake API through the real kubernetes client: paging,
content, header, the 410 restart, and the plan analyze makes from the dump."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from clirunner import run_cli
from fakeapi import SAMPLE_NOW, FakeAPI, sample_cluster
from pruneplan.kinds import KINDS
from pruneplan.projection import project

HTTP_DATE = "Sat, 28 Nov 2026 06:00:00 GMT"


@pytest.fixture
def api():
    with FakeAPI(date=HTTP_DATE) as server:
        server.add_all(sample_cluster())
        yield server



def read_dump(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def projected_source(api: FakeAPI, namespace: str | None = None) -> dict[str, list]:
    out = {}
    for kind in KINDS:
        objs = api.objects(kind.resource)
        if namespace and kind.namespaced:
            objs = [o for o in objs if o["metadata"]["namespace"] == namespace]
        out[kind.resource] = [project(kind.resource, o) for o in objs]
    return out


def collect(kubeconfig: str, out: Path, *extra: str):
    return run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, *extra)


def list_pages(api: FakeAPI, path: str) -> int:
    return len([r for r in api.requests_to(path + "$") if r.method == "GET"])


def test_multi_page_dump_equals_projected_source_objects(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json.gz"
    result = collect(kubeconfig, out, "--page-size", "3")
    assert result.code == 0, result.err
    dump = read_dump(out)
    # stderr is not a terminal: no progress, only the closing line (a CronJob's log keeps it)
    counts = {resource: len(objects) for resource, objects in dump["objects"].items()}
    kinds = ", ".join(f"{resource} {n:,}" for resource, n in counts.items() if n)
    assert result.err_lines == [f"wrote {out}: {sum(counts.values()):,} objects ({kinds})"]
    assert dump["objects"] == projected_source(api)
    # every kind really was paged: more than one request where there are more than 3 objects
    assert list_pages(api, "/api/v1/pods") == -(-len(api.objects("pods")) // 3) > 1
    for request in api.requests_to("/(api|apis)/.*"):
        if not request.path.endswith(("/version", "/cluster")):  # the singletons: one GET each, no list
            assert request.param("limit") == "3"


def test_every_list_follows_continue_tokens_to_the_end(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    assert collect(kubeconfig, out, "--page-size", "4").code == 0
    images = api.requests_to("/apis/image.openshift.io/v1/images$")
    total = len(api.objects("images"))
    assert len(images) == -(-total // 4)
    assert images[0].param("continue") is None
    assert all(r.param("continue") for r in images[1:])
    assert read_dump(out)["header"]["counts"]["images"] == total


def test_header_records_server_date_cluster_identity_and_counts(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    assert collect(kubeconfig, out).code == 0
    header = read_dump(out)["header"]
    assert header["formatVersion"] == 1
    assert header["collectedAt"] == "2026-11-28T06:00:00Z"  # the server's Date header
    assert header["cluster"] == {"apiServer": api.url, "clusterID": "9a5c1b7e-0000-4000-8000-00000000c1d0"}
    assert header["namespace"] is None
    assert header["counts"] == {k.resource: len(api.objects(k.resource)) for k in KINDS}
    assert header["tool"]["name"] == "pruneplan"


@pytest.mark.parametrize("status", [403, 404])
def test_cluster_id_is_null_when_clusterversion_is_not_readable(api, kubeconfig, tmp_path, status):
    api.fault("clusterversions/version", status)
    out = tmp_path / "dump.json"
    result = collect(kubeconfig, out)
    assert result.code == 0, result.err
    assert read_dump(out)["header"]["cluster"]["clusterID"] is None


def test_plain_kubernetes_without_clusterversion_gives_null_cluster_id(tmp_path):
    with FakeAPI() as api:
        api.remove_api("config.openshift.io/v1")
        out = tmp_path / "dump.json"
        assert collect(api.kubeconfig(str(tmp_path / "kc")), out).code == 0
        assert read_dump(out)["header"]["cluster"]["clusterID"] is None


def test_collected_at_falls_back_to_local_time_without_date_header(tmp_path, monkeypatch):
    with FakeAPI() as api:
        out = tmp_path / "dump.json"
        assert collect(api.kubeconfig(str(tmp_path / "kc")), out).code == 0
        collected = read_dump(out)["header"]["collectedAt"]
        assert collected.endswith("Z") and collected[:2] == "20"


def test_projection_drops_env_args_secrets_labels_and_other_annotations(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json.gz"
    assert collect(kubeconfig, out).code == 0
    text = gzip.decompress(out.read_bytes()).decode()
    for secret in ("hunter2-secret", "s3cr3t-arg", "ghp_secret", "last-applied-configuration", "leaked",
                   "managedFields", "labels", "volumeMounts", "pull-secret", "in-image-config",
                   "dockerImageSignatures", "podIP", "triggers", '"other"', "env", "args"):
        assert secret not in text, secret
    dump = read_dump(out)
    image = dump["objects"]["images"][0]
    assert image["metadata"]["annotations"] == {"openshift.io/image.managed": "true"}
    assert set(dump["objects"]["pods"][0]["spec"]["containers"][0]) == {"name", "image"}


def test_namespace_flag_lists_one_namespace_but_all_images(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    result = collect(kubeconfig, out, "-n", "team-1", "--page-size", "2")
    assert result.code == 0, result.err
    dump = read_dump(out)
    assert dump["header"]["namespace"] == "team-1"
    assert dump["objects"] == projected_source(api, namespace="team-1")
    assert api.requests_to("/api/v1/namespaces/team-1/pods$")
    assert not api.requests_to("^/api/v1/pods$")
    assert api.requests_to("^/apis/image.openshift.io/v1/images$")


def test_expired_continue_token_restarts_that_list_without_duplicates(api, kubeconfig, tmp_path):
    compacted = []

    def compact_once_on_second_page(request):
        if request.path == "/apis/image.openshift.io/v1/images" and request.param("continue") and not compacted:
            compacted.append(request.param("continue"))
            api.compact()

    api.hooks.append(compact_once_on_second_page)
    out = tmp_path / "dump.json"
    result = collect(kubeconfig, out, "--page-size", "5")
    assert result.code == 0, result.err
    assert read_dump(out)["objects"] == projected_source(api)
    images = api.requests_to("/apis/image.openshift.io/v1/images$")
    starts = [r for r in images if r.param("continue") is None]
    assert len(starts) == 2  # the first list, then one fresh list after the 410


def test_continue_token_expiring_every_time_ends_with_a_clear_error(api, kubeconfig, tmp_path):
    api.hooks.append(lambda r: api.compact() if r.path.endswith("/pods") and r.param("continue") else None)
    out = tmp_path / "dump.json"
    result = collect(kubeconfig, out, "--page-size", "2")
    assert result.code == 20
    assert result.err_lines == [result.err_lines[0]]
    assert result.err.startswith("error: cannot list /api/v1/pods: the continue token expired 6 times")
    assert not out.exists()


def test_retry_after_answers_are_retried(api, kubeconfig, tmp_path):
    api.fault("/api/v1/pods$", 429, times=2, headers={"Retry-After": "0"})
    out = tmp_path / "dump.json"
    result = collect(kubeconfig, out)
    assert result.code == 0, result.err
    assert read_dump(out)["header"]["counts"]["pods"] == len(api.objects("pods"))


def test_default_context_namespace_does_not_limit_the_collection(api, tmp_path):
    kubeconfig = api.kubeconfig(str(tmp_path / "kc"), namespace="team-0")
    out = tmp_path / "dump.json"
    assert collect(kubeconfig, out).code == 0
    assert read_dump(out)["header"]["namespace"] is None
    assert read_dump(out)["header"]["counts"]["pods"] == len(api.objects("pods"))


def test_context_flag_selects_the_kubeconfig_context(api, tmp_path):
    path = tmp_path / "kc"
    api.kubeconfig(str(path), context="good")
    doc = json.loads(path.read_text())
    doc["clusters"].append({"name": "bad", "cluster": {"server": "http://127.0.0.1:1"}})
    doc["users"].append({"name": "bad", "user": {"token": "x"}})
    doc["contexts"].append({"name": "bad", "context": {"cluster": "bad", "user": "bad"}})
    doc["current-context"] = "bad"
    path.write_text(json.dumps(doc))
    out = tmp_path / "dump.json"
    assert collect(str(path), out).code == 20
    result = collect(str(path), out, "--context", "good")
    assert result.code == 0, result.err


def test_kubeconfig_from_environment_is_used(api, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", api.kubeconfig(str(tmp_path / "kc")))
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out))
    assert result.code == 0, result.err


def test_plan_from_collected_dump_equals_plan_from_the_same_objects_as_a_list(api, kubeconfig, tmp_path):
    dump = tmp_path / "dump.json.gz"
    assert collect(kubeconfig, dump, "--page-size", "7").code == 0
    as_list = tmp_path / "cluster.json"
    items = [o for k in KINDS for o in api.objects(k.resource)]
    as_list.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))

    plans = {}
    for name, source in (("dump", dump), ("list", as_list)):
        plan = tmp_path / f"plan-{name}.json"
        result = run_cli("analyze", str(source), "-o", str(plan), "--now", SAMPLE_NOW, "-q")
        assert result.code == 0, result.err
        plans[name] = json.loads(plan.read_text())
    for plan in plans.values():
        plan.pop("source")
    assert plans["dump"] == plans["list"]
    # the sample is chosen so that the plan really decides things
    assert plans["dump"]["imageStreamUpdates"] and plans["dump"]["imageDeletions"]


def test_without_a_terminal_progress_is_a_line_at_each_interval_and_none_before():
    from pruneplan.collect.progress import Progress

    now = [0.0]
    pipe = io.StringIO()
    progress = Progress(pipe, interval=30.0, clock=lambda: now[0])
    with progress:
        progress.update("pods", 500)
        now[0] = 29.0
        progress.update("pods", 1000)
        assert pipe.getvalue() == ""  # a collect shorter than the interval says nothing here
        progress.done("pods", 1200)
        progress.update("images", 500)
        now[0] = 30.0
        progress.update("images", 1000)
        now[0] = 45.0
        progress.update("images", 1500)
        now[0] = 61.0
        progress.update("images", 1700)
    assert pipe.getvalue() == (
        "collect: 1 of 14 kinds listed, 2,200 objects; listing images (1,000 objects, 2 pages)\n"
        "collect: 1 of 14 kinds listed, 2,900 objects; listing images (1,700 objects, 4 pages)\n"
    )


def test_a_collection_of_some_kinds_counts_only_those_in_its_progress_lines(api, kubeconfig, tmp_path):
    from pruneplan.collect.client import connect
    from pruneplan.collect.collector import Options, collect as collect_objects
    from pruneplan.collect.progress import Progress

    pipe = io.StringIO()
    progress = Progress(pipe, interval=0.0)
    out = tmp_path / "some.json"
    transport = connect(kubeconfig, None, 30.0)
    try:
        result = collect_objects(transport, Options(output=str(out), resources=frozenset({"images", "imagestreams"})), pipe, progress)
    finally:
        transport.close()
    assert {resource for resource, n in result.counts.items()} == {"images", "imagestreams"}
    assert set(read_dump(out)["objects"]) == {"images", "imagestreams"}
    lines = pipe.getvalue().splitlines()
    assert lines and all(" of 2 kinds listed, " in line for line in lines)


def test_on_a_terminal_each_kind_shows_its_objects_and_pages_live():
    from pruneplan.collect.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    with Progress(tty) as progress:
        progress.update("pods", 500)
        progress.done("pods", 1200)
        progress.done("builds", 0, "API not available")
    shown = tty.getvalue()
    assert "pods" in shown and "1,200 objects, 1 page" in shown
    assert "builds" in shown and "0 objects, 0 pages (API not available)" in shown


@pytest.mark.parametrize("value", ["0", "-5", "x"])
def test_page_size_must_be_a_positive_integer(tmp_path, value):
    result = run_cli("collect", "-o", str(tmp_path / "d.json"), "--page-size", value, "--kubeconfig", "/nonexistent")
    assert result.code == 2
    assert len(result.err_lines) == 1 and result.err.startswith("error: ")


def test_empty_namespace_flag_is_refused(tmp_path):
    result = run_cli("collect", "-o", str(tmp_path / "d.json"), "-n", "")
    assert result.code == 2
    assert result.err == "error: -n/--namespace must not be empty\n"


def test_the_closing_line_counts_one_object_in_the_singular_and_names_only_kinds_it_found():
    from pruneplan.collect.command import collected_counts

    assert collected_counts({"images": 1, "pods": 0}) == "1 object (images 1)"
    assert collected_counts({"images": 1200, "pods": 3}) == "1,203 objects (images 1,200, pods 3)"
    assert collected_counts({"images": 0}) == "0 objects"
