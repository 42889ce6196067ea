"""What must never reach a dump, a plan, `verify`'s summary or a report: credentials in the API
server's URL, names in its path (with --redact), and the content of a field of the wrong shape."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from clirunner import run_cli
from execute_env import make_env
from fakeapi import SAMPLE_NOW, FakeAPI, sample_cluster, sha
from pruneplan.collect.redact import Redactor, restore, restore_text

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "admin", "hunter2-pw"
PROXY_PATH = ("k8s", "clusters", "c-7xk2q")  # a Rancher-style proxy path: it names the cluster


@pytest.fixture
def api():
    with FakeAPI(date="Sat, 28 Nov 2026 06:00:00 GMT") as server:
        server.add_all(sample_cluster())
        yield server


def with_credentials(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{USER}:{PASSWORD}@{rest}"


def serve_under_proxy_path(api: FakeAPI) -> None:
    """Have the fake answer under /k8s/clusters/NAME, as a proxy in front of the API would."""

    def strip_prefix(request) -> None:
        if tuple(request.segments[: len(PROXY_PATH)]) == PROXY_PATH:
            del request.segments[: len(PROXY_PATH)]
            request.path = request.path[len("/" + "/".join(PROXY_PATH)) :]

    api.hooks.append(strip_prefix)


def collect(kubeconfig: str, out: Path, *extra: str) -> None:
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, *extra)
    assert result.code == 0, result.err


def raw_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode()


# -- credentials in the API server's URL ---------------------------------------------------

def test_credentials_in_the_kubeconfig_server_url_never_reach_the_dump(api, tmp_path):
    kubeconfig = api.kubeconfig(str(tmp_path / "kc"), server=with_credentials(api.url))
    out = tmp_path / "dump.json"
    collect(kubeconfig, out)
    assert json.loads(out.read_text())["header"]["cluster"]["apiServer"] == api.url
    assert PASSWORD not in out.read_text() and f"{USER}:" not in out.read_text()
    assert all("authorization" not in r.headers or r.headers["authorization"].startswith("Bearer ") for r in api.requests)


def test_credentials_in_the_kubeconfig_server_url_never_reach_error_messages(api, tmp_path):
    api.fault("/api/v1/pods", None, times=None, delay=5.0)
    kubeconfig = api.kubeconfig(str(tmp_path / "kc"), server=with_credentials(api.url))
    result = run_cli("collect", "-o", str(tmp_path / "dump.json"), "--kubeconfig", kubeconfig, "--request-timeout", "0.2")
    assert result.code == 20
    assert result.err == f"error: the API server at {api.url} did not answer in time (0.2s)\n"


def test_execute_matches_the_plan_to_the_cluster_when_the_kubeconfig_url_has_credentials(tmp_path):
    with FakeAPI() as api:  # the server's own date: the plan must not have expired
        api.add_all(sample_cluster())
        env = make_env(api, tmp_path)
        env.kubeconfig = api.kubeconfig(str(tmp_path / "kc-with-credentials"), server=with_credentials(api.url))
        plan = env.plan("--prune-registry=false")
        assert PASSWORD not in plan.read_text()
        result = env.execute(plan)
    assert result.code == 0, result.err
    assert PASSWORD not in result.out + result.err


def test_a_plan_from_an_older_dump_with_credentials_in_its_url_drops_them(tmp_path):
    doc = json.loads(gzip.decompress((REPO / "fixtures" / "example-dump.json.gz").read_bytes()))
    server = doc["header"]["cluster"]["apiServer"]
    doc["header"]["cluster"]["apiServer"] = with_credentials(server)
    dump, plan, key = tmp_path / "old-dump.json", tmp_path / "plan.json", tmp_path / "key"
    dump.write_text(json.dumps(doc))
    assert run_cli("keygen", str(key)).code == 0
    analyzed = run_cli("analyze", str(dump), "-o", str(plan), "--sign-key", str(key), "-q")
    assert analyzed.code == 0, analyzed.err
    assert json.loads(plan.read_text())["source"]["cluster"]["apiServer"] == server
    verified = run_cli("verify", str(plan), "--key", f"{key}.pub", "--now", doc["header"]["collectedAt"])
    assert verified.code == 0, verified.err
    assert server in verified.out
    report = tmp_path / "review.html"
    reported = run_cli("report", str(plan), "-o", str(report), "--dump", str(dump), "--key", f"{key}.pub",
                       "--now", doc["header"]["collectedAt"])
    assert reported.code == 0, reported.err
    for text in (plan.read_text(), verified.out + verified.err, reported.out + reported.err, report.read_text()):
        assert PASSWORD not in text and f"{USER}:" not in text


# -- --redact: the whole URL -------------------------------------------------------------------

@pytest.mark.parametrize("url,kept", [
    (f"https://{USER}:{PASSWORD}@api.example.com:6443/k8s/clusters/c-7xk2q", ("https://", ".redacted:6443/")),
    ("https://api.example.com/k8s/clusters/c-7xk2q/?team=payments#frag", ("https://", ".redacted/")),
    (f"{USER}:{PASSWORD}@api.example.com:6443", (".redacted:6443",)),
])
def test_redacted_api_server_url_keeps_no_host_path_or_credentials(url, kept):
    redactor = Redactor(b"k" * 32)
    out = redactor.url(url)
    for word in ("api.example.com", "example", "k8s", "clusters", "c-7xk2q", "payments", "frag", USER, PASSWORD):
        assert word not in out, (word, out)
    assert all(part in out for part in kept)
    assert restore_text(out, redactor.mapping) == url.replace(f"{USER}:{PASSWORD}@", "")
    assert not any(PASSWORD in original for original in redactor.mapping.values())


def test_redacted_dump_hides_the_api_servers_path_and_credentials(api, tmp_path):
    serve_under_proxy_path(api)
    server = api.url + "/" + "/".join(PROXY_PATH)
    kubeconfig = api.kubeconfig(str(tmp_path / "kc"), server=with_credentials(server))
    out = tmp_path / "dump.json.gz"
    collect(kubeconfig, out, "--redact")
    text = raw_text(out)
    for word in (*PROXY_PATH, "127.0.0.1", USER, PASSWORD):
        assert word not in text, word
    mapping_file = Path(f"{out}.redaction-map.json")
    assert PASSWORD not in mapping_file.read_text()
    mapping = json.loads(mapping_file.read_text())["pseudonyms"]
    header = json.loads(text)["header"]
    assert restore(header["cluster"]["apiServer"], mapping) == server


# -- a field of the wrong shape keeps only its type ----------------------------------------------

SECRET_TEXT = "DB_PASSWORD=s3cr3t-in-metadata"


def image_with_metadata(metadata: Any) -> dict[str, Any]:
    name = sha("odd-metadata")
    return {"kind": "Image", "apiVersion": "image.openshift.io/v1", "metadata": {"name": name},
            "dockerImageReference": f"registry.example.com/team/app@{name}",
            "dockerImageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "dockerImageMetadata": metadata}


@pytest.mark.parametrize("metadata,kept,go_type", [
    (SECRET_TEXT, "", "string"),
    ([SECRET_TEXT, {"Env": [SECRET_TEXT]}], [], "array"),
    (12345678, 0, "number"),
    (True, False, "bool"),
])
@pytest.mark.parametrize("redact", [False, True], ids=["plain", "redacted"])
def test_image_metadata_of_the_wrong_type_keeps_only_its_type_in_the_dump(api, tmp_path, metadata, kept, go_type, redact):
    image = api.add(image_with_metadata(metadata))
    out = tmp_path / "dump.json"
    collect(api.kubeconfig(str(tmp_path / "kc")), out, *(["--redact"] if redact else []))
    assert SECRET_TEXT not in out.read_text() and "12345678" not in out.read_text()
    [stored] = [i for i in json.loads(out.read_text())["objects"]["images"] if i["metadata"]["name"] == image["metadata"]["name"]]
    assert stored["dockerImageMetadata"] == kept and type(stored["dockerImageMetadata"]) is type(kept)
    # analyze still fails the graph build exactly as upstream does for that type
    result = run_cli("analyze", str(out), "-o", str(tmp_path / "plan.json"), "--now", SAMPLE_NOW, "-q")
    assert result.code == 1
    assert (f"failed to read image metadata for {image['metadata']['name']}: json: cannot unmarshal {go_type} "
            "into Go value of type docker10.DockerImage") in result.err


def test_kept_fields_holding_objects_keep_only_their_type_and_analyze_still_refuses_them(api, tmp_path):
    api.add({"kind": "Pod", "apiVersion": "v1", "metadata": {"namespace": "team-0", "name": "odd"},
             "spec": {"containers": [{"name": "c", "image": {"pullSecret": SECRET_TEXT}}]}, "status": {"phase": "Running"}})
    out = tmp_path / "dump.json"
    collect(api.kubeconfig(str(tmp_path / "kc")), out)
    assert SECRET_TEXT not in out.read_text()
    [pod] = [p for p in json.loads(out.read_text())["objects"]["pods"] if p["metadata"]["name"] == "odd"]
    assert pod["spec"]["containers"] == [{"name": "c", "image": {}}]
    result = run_cli("analyze", str(out), "-o", str(tmp_path / "plan.json"), "--now", SAMPLE_NOW, "-q")
    assert result.code == 3
    assert result.err == "error: pod team-0/odd: spec.containers[0].image must be a string\n"
