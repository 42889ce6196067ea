"""What collect tolerates (exactly upstream's list errors), what it refuses, and that a failure
or an interruption never leaves a dump under the output name."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from clirunner import run_cli
from fakeapi import FakeAPI, make_cert, sample_cluster, status_body

REPO = Path(__file__).resolve().parents[1]




def read_dump(path: Path) -> dict:
    return json.loads(path.read_bytes())


def leftovers(directory: Path) -> list[str]:
    """Files a failed run may have left: temp dumps, spools, maps."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".pruneplan") or "dump" in p.name)


def assert_failed_cleanly(result, out: Path, code: int = 20) -> None:
    assert result.code == code, result.err
    assert len(result.err_lines) == 1, result.err
    assert result.err.startswith("error: ")
    assert "Traceback" not in result.err
    assert not out.exists()
    assert leftovers(out.parent) == []


# -- tolerated, as upstream ----------------------------------------------------------------

@pytest.mark.parametrize("resource,path", [
    ("builds", "/apis/build.openshift.io/v1/builds"),
    ("buildconfigs", "/apis/build.openshift.io/v1/buildconfigs"),
    ("deploymentconfigs", "/apis/apps.openshift.io/v1/deploymentconfigs"),
])
def test_not_found_is_tolerated_for_openshift_build_and_dc_apis(api, kubeconfig, tmp_path, resource, path):
    api.fault(path + "$", 404, body=status_body(404, "the server could not find the requested resource"))
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert result.code == 0, result.err
    assert [line.split(":")[0] for line in result.err_lines] == [f"wrote {out}"]  # no warning, the closing line
    dump = read_dump(out)
    assert dump["objects"][resource] == []
    assert dump["header"]["counts"][resource] == 0
    assert dump["header"]["counts"]["pods"] == len(api.objects("pods"))


def test_cluster_without_build_and_apps_openshift_apis_is_collected(api, kubeconfig, tmp_path):
    api.remove_api("build.openshift.io/v1")
    api.remove_api("apps.openshift.io/v1")
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert result.code == 0, result.err
    counts = read_dump(out)["header"]["counts"]
    assert counts["builds"] == counts["buildconfigs"] == counts["deploymentconfigs"] == 0
    assert counts["imagestreams"] == len(api.objects("imagestreams"))


@pytest.mark.parametrize("resource", ["daemonsets", "deployments", "replicasets"])
def test_forbidden_apps_kinds_print_upstreams_warning_and_continue(api, kubeconfig, tmp_path, resource):
    message = f'{resource}.apps is forbidden: User "system:serviceaccount:ops:pruner" cannot list resource "{resource}" in API group "apps" at the cluster scope'
    api.fault(f"/apis/apps/v1/{resource}$", 403, body=status_body(403, message))
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert result.code == 0, result.err
    assert result.err_lines[:2] == [f"Failed to list {resource}: {message}", " - * Make sure to update clusterRoleBindings."]
    assert result.err_lines[2].startswith(f"wrote {out}: ") and len(result.err_lines) == 3
    dump = read_dump(out)
    assert dump["objects"][resource] == []
    assert dump["header"]["counts"]["statefulsets"] == len(api.objects("statefulsets"))


def test_forbidden_on_a_later_page_of_a_tolerated_kind_leaves_it_empty(api, kubeconfig, tmp_path):
    api.fault(r"/apis/apps/v1/deployments\?.*continue=", 403, body=status_body(403, "deployments.apps is forbidden"))
    for n in range(5):
        api.add({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"namespace": "extra", "name": f"d{n}"}, "spec": {}})
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--page-size", "2")
    assert result.code == 0, result.err
    assert read_dump(out)["objects"]["deployments"] == []


# -- fatal ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path,status", [
    ("/api/v1/pods", 403),  # pods: no tolerance at all
    ("/apis/apps/v1/statefulsets", 403),  # apps/v1, but upstream tolerates only ds/deploy/rs
    ("/apis/apps/v1/daemonsets", 404),  # daemonsets tolerate Forbidden, not NotFound
    ("/apis/build.openshift.io/v1/builds", 403),  # builds tolerate NotFound, not Forbidden
    ("/apis/image.openshift.io/v1/images", 404),
    ("/apis/image.openshift.io/v1/imagestreams", 500),
    ("/api/v1/limitranges", 500),
    ("/apis/batch/v1/cronjobs", 429),
    ("/apis/config.openshift.io/v1/clusterversions/version", 500),
])
def test_errors_upstream_does_not_tolerate_abort_without_a_dump(api, kubeconfig, tmp_path, path, status):
    api.fault(path, status, times=None)
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert_failed_cleanly(result, out)
    assert f"(HTTP {status})" in result.err


def test_forbidden_pods_message_names_the_kind_and_the_servers_reason(api, kubeconfig, tmp_path):
    message = 'pods is forbidden: User "dev" cannot list resource "pods" in API group "" at the cluster scope'
    api.fault("/api/v1/pods", 403, body=status_body(403, message))
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert_failed_cleanly(result, out)
    assert result.err == f"error: cannot list pods: {message} (HTTP 403)\n"


def test_failure_on_a_later_page_leaves_no_partial_dump(api, kubeconfig, tmp_path):
    api.fault(r"/apis/image.openshift.io/v1/images\?.*continue=", 500)
    out = tmp_path / "dump.json.gz"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--page-size", "4")
    assert_failed_cleanly(result, out)


def test_failure_keeps_an_earlier_dump_under_the_output_name_untouched(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    out.write_text("previous dump")
    api.fault("/api/v1/pods", 500)
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert result.code == 20
    assert out.read_text() == "previous dump"


def test_wrong_token_is_a_one_line_credentials_error(api, tmp_path):
    kubeconfig = api.kubeconfig(str(tmp_path / "kc"), token="expired")
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert_failed_cleanly(result, out)
    assert "Unauthorized (HTTP 401)" in result.err


def test_unreachable_api_server_is_a_one_line_error(api, tmp_path):
    kubeconfig = api.kubeconfig(str(tmp_path / "kc"), server="http://127.0.0.1:1")
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert_failed_cleanly(result, out)
    assert result.err == "error: cannot connect to the API server at http://127.0.0.1:1: connection refused\n"


def test_untrusted_tls_certificate_is_a_one_line_error(tmp_path):
    cert, key = make_cert(str(tmp_path))
    with FakeAPI(tls=(cert, key)) as api:
        kubeconfig = api.kubeconfig(str(tmp_path / "kc"))  # no CA: the self-signed cert is untrusted
        out = tmp_path / "dump.json"
        result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
        assert_failed_cleanly(result, out)
        assert result.err.startswith(f"error: TLS failure talking to the API server at {api.url}: ")
        assert "certificate verify failed" in result.err
        assert not api.requests  # nothing was sent over an unverified connection


def test_tls_with_the_clusters_ca_works(tmp_path):
    cert, key = make_cert(str(tmp_path))
    with FakeAPI(tls=(cert, key)) as api:
        api.add_all(sample_cluster())
        kubeconfig = api.kubeconfig(str(tmp_path / "kc"), ca_file=cert)
        out = tmp_path / "dump.json"
        result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
        assert result.code == 0, result.err
        assert read_dump(out)["header"]["cluster"]["apiServer"] == api.url


def test_server_that_never_answers_times_out_with_one_line(api, kubeconfig, tmp_path):
    api.fault("/api/v1/pods", None, times=None, delay=5.0)
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--request-timeout", "0.2")
    assert_failed_cleanly(result, out)
    assert "did not answer in time (0.2s)" in result.err


def test_connection_dropped_mid_collection_is_a_one_line_error(api, kubeconfig, tmp_path):
    api.fault("/apis/batch/v1/jobs", None, times=None, drop=True)
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert_failed_cleanly(result, out)


def test_answer_that_is_not_json_is_a_one_line_error(api, kubeconfig, tmp_path):
    api.fault("/api/v1/pods", 200, body=b"<html>proxy login</html>")
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert_failed_cleanly(result, out)
    assert "invalid JSON" in result.err


def test_missing_kubeconfig_file_is_reported(tmp_path):
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", str(tmp_path / "nope"))
    assert_failed_cleanly(result, out)
    assert result.err == f"error: kubeconfig {tmp_path / 'nope'}: no such file\n"


def test_unknown_context_is_reported(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--context", "other")
    assert_failed_cleanly(result, out)
    assert "other" in result.err


def test_no_kubeconfig_and_not_in_a_cluster_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out))
    assert_failed_cleanly(result, out)
    assert "no kubeconfig found" in result.err


def test_unwritable_output_directory_fails_before_contacting_the_cluster(api, kubeconfig, tmp_path):
    out = tmp_path / "missing-dir" / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert result.code == 4
    assert result.err.startswith(f"error: cannot write {out}")
    assert not api.requests


# -- in-cluster service account ------------------------------------------------------------

def test_in_cluster_service_account_is_used_without_a_kubeconfig(tmp_path, monkeypatch):
    from pruneplan.collect import client as collect_client

    cert, key = make_cert(str(tmp_path))
    token = tmp_path / "token"
    token.write_text("sa-token")
    with FakeAPI(tls=(cert, key), token="sa-token") as api:
        api.add_all(sample_cluster())
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api.port))
        monkeypatch.setattr(collect_client, "SERVICE_TOKEN_FILE", str(token))
        monkeypatch.setattr(collect_client, "SERVICE_CA_FILE", cert)
        out = tmp_path / "dump.json"
        result = run_cli("collect", "-o", str(out))
        assert result.code == 0, result.err
        header = read_dump(out)["header"]
        assert header["cluster"]["apiServer"] == f"https://127.0.0.1:{api.port}"
        assert header["counts"]["pods"] == len(api.objects("pods"))
        assert api.requests[0].headers["authorization"].lower() == "bearer sa-token"


# -- interruption --------------------------------------------------------------------------

def run_and_signal(api: FakeAPI, kubeconfig: str, out: Path, signum: int) -> subprocess.CompletedProcess:
    """Start collect in a child process, stop it with `signum` while it waits for a page."""
    reached = threading.Event()
    release = threading.Event()

    def hold_second_image_page(request):
        if request.path.endswith("/images") and request.param("continue"):
            reached.set()
            release.wait(30)

    api.hooks.append(hold_second_image_page)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-m", "pruneplan.cli", "collect", "-o", str(out), "--kubeconfig", kubeconfig, "--page-size", "3"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert reached.wait(60), "collect never reached the second page of images"
        child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def test_ctrl_c_mid_list_leaves_no_partial_dump(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json.gz"
    done = run_and_signal(api, kubeconfig, out, signal.SIGINT)
    assert done.returncode == 130
    assert done.stderr == "error: interrupted\n"
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_sigterm_mid_list_leaves_no_partial_dump(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    done = run_and_signal(api, kubeconfig, out, signal.SIGTERM)
    assert done.returncode == 143
    assert done.stderr == "error: terminated\n"
    assert not out.exists()
    assert leftovers(tmp_path) == []
