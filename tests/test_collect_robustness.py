"""Never a traceback from collect (and from execute's loading of the kubeconfig): a broken
kubeconfig, a timeout that is no number of seconds, objects of the wrong shape from the server,
and a redaction map that cannot be written are each one `error:` line, with nothing left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from clirunner import run_cli
from execute_env import make_env
from fakeapi import sha




def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".pruneplan") or "dump" in p.name)


def assert_one_error_line(result, code: int) -> None:
    assert result.code == code, result.err
    assert len(result.err_lines) == 1, result.err
    assert result.err.startswith("error: ")
    assert "Traceback" not in result.err


def assert_failed_cleanly(result, out: Path, code: int = 20) -> None:
    assert_one_error_line(result, code)
    assert not out.exists()
    assert leftovers(out.parent) == []


# -- the kubeconfig ------------------------------------------------------------------------

GOOD_REST = (
    "contexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a\n"
    "users: [{name: u, user: {token: t}}]\n"
)
BROKEN_KUBECONFIGS = {
    "yaml-syntax": ("clusters: [\n  - server: : x\n", "invalid YAML at line 2, column 3"),
    "tab-indent": ("clusters:\n\t- name: c\n", "invalid YAML at line 2, column 1"),
    "undefined-alias": ("clusters: *nowhere\n", "invalid YAML at line 1, column 11"),
    "nul-byte": ("clusters: []\n\x00\n", "invalid YAML"),
    "server-a-number": ("clusters: [{name: c, cluster: {server: 5}}]\n" + GOOD_REST, "cannot load the client configuration"),
    "user-a-string": (
        "contexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: oops}]\n",
        "cannot load the client configuration",
    ),
    "deeply-nested": ("clusters: " + "[" * 5000 + "]" * 5000 + "\n", "cannot load the client configuration"),
}


@pytest.mark.parametrize("name", BROKEN_KUBECONFIGS)
def test_broken_kubeconfig_is_one_error_line_for_collect(tmp_path, name):
    text, expected = BROKEN_KUBECONFIGS[name]
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", str(path))
    assert_failed_cleanly(result, out)
    assert result.err.startswith("error: cannot load the client configuration: ")
    assert expected in result.err


def test_yaml_error_names_the_kubeconfig_file(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(BROKEN_KUBECONFIGS["yaml-syntax"][0])
    result = run_cli("collect", "-o", str(tmp_path / "dump.json"), "--kubeconfig", str(path))
    assert result.err == (
        f"error: cannot load the client configuration: {path}: invalid YAML at line 2, column 3: "
        "expected the node content, but found '-'\n"
    )


@pytest.mark.parametrize("name", ["yaml-syntax", "user-a-string"])
def test_broken_kubeconfig_is_one_error_line_for_execute(api, tmp_path, name):
    env = make_env(api, tmp_path)
    plan = env.plan("--prune-registry=false")
    broken = tmp_path / "broken-kubeconfig"
    broken.write_text(BROKEN_KUBECONFIGS[name][0])
    before = len(api.requests)
    result = run_cli("execute", str(plan), "--key", env.pub, "--kubeconfig", str(broken))
    assert_one_error_line(result, 20)
    assert result.err.startswith("error: cannot load the client configuration: ")
    assert len(api.requests) == before


# -- --request-timeout -----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e300"])
def test_request_timeout_that_is_not_a_usable_number_of_seconds_is_a_bad_flag(api, kubeconfig, tmp_path, value):
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--request-timeout", value)
    assert_failed_cleanly(result, out, code=2)
    assert result.err.startswith("error: Invalid value for '--request-timeout': ")
    assert not api.requests


def test_request_timeout_of_a_day_is_accepted(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--request-timeout", "86400")
    assert result.code == 0, result.err


# -- objects of the wrong shape ------------------------------------------------------------------

def _obj(kind: str, api_version: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "apiVersion": api_version, "metadata": {"namespace": "team-0", "name": name}, **fields}


MALFORMED = [
    (_obj("ImageStream", "image.openshift.io/v1", "odd", status=["x"]), "imagestream team-0/odd: status must be an object"),
    (_obj("Build", "build.openshift.io/v1", "odd", spec=[{"strategy": {}}]), "build team-0/odd: spec must be an object"),
    (_obj("LimitRange", "v1", "odd", spec="limits"), "limitrange team-0/odd: spec must be an object"),
    (_obj("ImageStream", "image.openshift.io/v1", "odd", status={"tags": "latest"}),
     "imagestream team-0/odd: status.tags must be a list"),
    (_obj("ImageStream", "image.openshift.io/v1", "odd", status={"tags": [None]}),
     "imagestream team-0/odd: status.tags[0] must be an object"),
    (_obj("ImageStream", "image.openshift.io/v1", "odd", status={"tags": [{"tag": "v1", "items": [sha("x"), None]}]}),
     "imagestream team-0/odd: status.tags[0].items[0] must be an object"),
    (_obj("Pod", "v1", "odd", spec={"containers": "nginx"}), "pod team-0/odd: spec.containers must be a list"),
    (_obj("Pod", "v1", "odd", spec={"initContainers": [None]}), "pod team-0/odd: spec.initContainers[0] must be an object"),
    (_obj("Pod", "v1", "odd", spec={}, status="Running"), "pod team-0/odd: status must be an object"),
    (_obj("Deployment", "apps/v1", "odd", spec={"template": ["x"]}), "deployment team-0/odd: spec.template must be an object"),
    (_obj("CronJob", "batch/v1", "odd", spec={"jobTemplate": {"spec": {"template": {"spec": 7}}}}),
     "cronjob team-0/odd: spec.jobTemplate.spec.template.spec must be an object"),
    (_obj("BuildConfig", "build.openshift.io/v1", "odd", spec={"strategy": {"dockerStrategy": {"from": "nginx"}}}),
     "buildconfig team-0/odd: spec.strategy.dockerStrategy.from must be an object"),
    (_obj("LimitRange", "v1", "odd", spec={"limits": [None, "x"]}), "limitrange team-0/odd: spec.limits[1] must be an object"),
    ({"kind": "Image", "apiVersion": "image.openshift.io/v1", "metadata": {"name": sha("odd")}, "dockerImageLayers": "x"},
     f"image {sha('odd')}: dockerImageLayers must be a list"),
    ({"kind": "Image", "apiVersion": "image.openshift.io/v1", "metadata": {"name": sha("odd"), "annotations": ["x"]}},
     f"image {sha('odd')}: metadata.annotations must be an object"),
]


@pytest.mark.parametrize("obj,message", MALFORMED, ids=[m for _, m in MALFORMED])
@pytest.mark.parametrize("redact", [False, True], ids=["plain", "redacted"])
def test_object_of_the_wrong_shape_aborts_naming_the_object_and_the_field(api, kubeconfig, tmp_path, obj, message, redact):
    api.add(obj)
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, *(["--redact"] if redact else []))
    assert_failed_cleanly(result, out)
    assert result.err == f"error: {message}\n"
    assert not Path(f"{out}.redaction-map.json").exists()


def test_null_limit_is_skipped_as_go_reads_it(api, kubeconfig, tmp_path):
    api.add(_obj("LimitRange", "v1", "nulls", spec={"limits": [None, {"type": "openshift.io/Image", "max": {"storage": "1Gi"}}]}))
    out = tmp_path / "dump.json"
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig)
    assert result.code == 0, result.err
    [stored] = [r for r in json.loads(out.read_text())["objects"]["limitranges"] if r["metadata"]["name"] == "nulls"]
    assert stored["spec"] == {"limits": [{"type": "openshift.io/Image", "max": {"storage": "1Gi"}}]}


# -- the redaction map -----------------------------------------------------------------------

def test_redaction_map_path_that_is_a_folder_fails_before_contacting_the_cluster(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    folder = Path(f"{out}.redaction-map.json")
    folder.mkdir()
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--redact")
    assert_one_error_line(result, 4)
    assert result.err == f"error: cannot write {folder}: Is a directory\n"
    assert not out.exists() and folder.is_dir() and not any(folder.iterdir())
    assert leftovers(tmp_path) == [folder.name]
    assert not api.requests


def test_redaction_map_path_that_becomes_a_folder_mid_collection_leaves_neither_file(api, kubeconfig, tmp_path):
    out = tmp_path / "dump.json"
    folder = Path(f"{out}.redaction-map.json")

    def make_the_folder(request) -> None:
        if request.path.endswith("/images") and not folder.exists():
            folder.mkdir()

    api.hooks.append(make_the_folder)
    result = run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--redact")
    assert_one_error_line(result, 4)
    assert result.err.startswith(f"error: cannot write {folder}: ")
    assert not out.exists() and folder.is_dir() and not any(folder.iterdir())
    assert leftovers(tmp_path) == [folder.name]


def test_a_failing_exec_credential_plugin_is_one_error_line_not_a_logged_one(api, tmp_path):
    """The client's loader logs the plugin's failure on the root logger and goes on without
    credentials; collect says it in one error line and contacts nothing."""
    kubeconfig = tmp_path / "kubeconfig"
    server = api.kubeconfig(str(tmp_path / "base-kubeconfig"))
    config = yaml.safe_load(Path(server).read_text())
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "/bin/false",
                                           "interactiveMode": "Never"}}
    kubeconfig.write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "pruneplan.cli", "collect", "--kubeconfig", str(kubeconfig),
                           "-o", str(tmp_path / "dump.json")], capture_output=True, text=True, check=False, timeout=120)
    lines = done.stderr.splitlines()
    assert done.returncode == 20 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error: cannot load the client configuration: the kubeconfig's exec credential plugin failed: ")
    assert not (tmp_path / "dump.json").exists()
    assert not api.requests
