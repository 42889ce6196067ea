"""collect records the cluster's own pruning settings in the dump's header: the ImagePruner
`cluster`, the registry operator's Config `cluster` and the cluster Image config; each may be
absent or forbidden, and a dump without them (an older collector's) still loads."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from pruneplan.analyze.decisions.inputs import load_inputs

from builders import as_dump, write_json
from clirunner import run_cli
from fakeapi import FakeAPI, sample_cluster, status_body

PRUNER_PATH = r"/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster$"
EVERY_FIELD = {
    "schedule": "15 3 * * 6",
    "suspend": True,
    "keepTagRevisions": 5,
    "keepYoungerThanDuration": "96h",
    "keepYoungerThan": 3600000000000,
    "ignoreInvalidImageReferences": True,
    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    "successfulJobsHistoryLimit": 2,
    "failedJobsHistoryLimit": 4,
    "logLevel": "Debug",
    "nodeSelector": {"node-role.kubernetes.io/infra": ""},  # not what the dump keeps
}


def pruner(spec: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ImagePruner", "apiVersion": "imageregistry.operator.openshift.io/v1", "metadata": {"name": "cluster"},
            "spec": spec, "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Ready",
                                                      "message": "Pruner CronJob has been created",
                                                      "lastTransitionTime": "2026-11-01T00:00:00Z"}]}}


def registry_config(state: str = "Managed", read_only: bool = False) -> dict[str, Any]:
    return {"kind": "Config", "apiVersion": "imageregistry.operator.openshift.io/v1", "metadata": {"name": "cluster"},
            "spec": {"managementState": state, "readOnly": read_only, "storage": {"s3": {"bucket": "secret-bucket"}}}}


def image_config(hostname: str) -> dict[str, Any]:
    return {"kind": "Image", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "cluster"},
            "status": {"internalRegistryHostname": hostname}}


def collect(api: FakeAPI, tmp_path: Path, *flags: str) -> dict[str, Any]:
    out = tmp_path / "dump.json.gz"
    done = run_cli("collect", "-o", str(out), "--kubeconfig", api.kubeconfig(str(tmp_path / "kubeconfig")), *flags)
    assert done.code == 0, done.err
    return json.loads(gzip.decompress(out.read_bytes()))["header"]


@pytest.fixture
def api():
    with FakeAPI() as server:
        server.add_all(sample_cluster())
        yield server


def test_every_setting_the_operator_reads_is_recorded_and_nothing_else(api: FakeAPI, tmp_path: Path) -> None:
    api.add(pruner(EVERY_FIELD))
    api.add(registry_config("Managed", read_only=True))
    api.add(image_config("image-registry.openshift-image-registry.svc:5000"))
    settings = collect(api, tmp_path)["clusterSettings"]
    kept = {key: value for key, value in EVERY_FIELD.items() if key != "nodeSelector"}
    assert settings["imagePruner"] == {
        "state": "found", "spec": kept,
        "conditions": [{"type": "Available", "status": "True", "reason": "Ready", "message": "Pruner CronJob has been created",
                        "lastTransitionTime": "2026-11-01T00:00:00Z"}],
    }
    assert settings["registryConfig"] == {"state": "found", "managementState": "Managed", "readOnly": True}
    assert settings["imageConfig"] == {"state": "found", "internalRegistryHostname": "image-registry.openshift-image-registry.svc:5000"}


def test_a_pruner_with_nothing_set_is_found_with_an_empty_spec(api: FakeAPI, tmp_path: Path) -> None:
    api.add(pruner({}))
    settings = collect(api, tmp_path)["clusterSettings"]
    assert settings["imagePruner"]["state"] == "found" and settings["imagePruner"]["spec"] == {}


def test_a_cluster_without_them_records_each_as_absent(api: FakeAPI, tmp_path: Path) -> None:
    settings = collect(api, tmp_path)["clusterSettings"]
    assert settings == {"imagePruner": {"state": "absent"}, "registryConfig": {"state": "absent"},
                        "imageConfig": {"state": "absent"}}


def test_a_forbidden_read_is_recorded_and_not_fatal(api: FakeAPI, tmp_path: Path) -> None:
    api.add(pruner({"suspend": False}))
    api.fault(PRUNER_PATH, 403, body=status_body(403, 'imagepruners.imageregistry.operator.openshift.io "cluster" is forbidden'))
    settings = collect(api, tmp_path)["clusterSettings"]
    assert settings["imagePruner"] == {"state": "forbidden"}


def test_another_failure_to_read_them_fails_the_collection(api: FakeAPI, tmp_path: Path) -> None:
    api.fault(PRUNER_PATH, 500, body=status_body(500, "etcd is unhappy"), times=10)
    out = tmp_path / "dump.json.gz"
    done = run_cli("collect", "-o", str(out), "--kubeconfig", api.kubeconfig(str(tmp_path / "kubeconfig")))
    assert done.code == 20
    assert done.err_lines[-1].startswith("error: cannot read imagepruners/cluster: etcd is unhappy (HTTP 500)")
    assert not out.exists()


def test_a_field_of_the_wrong_type_from_the_server_is_a_cluster_error(api: FakeAPI, tmp_path: Path) -> None:
    api.add(pruner({"keepTagRevisions": "three"}))
    done = run_cli("collect", "-o", str(tmp_path / "dump.json"), "--kubeconfig", api.kubeconfig(str(tmp_path / "kubeconfig")))
    assert done.code == 20
    assert done.err_lines[-1] == "error: imagepruners/cluster: spec.keepTagRevisions must be an integer or null, not a string"


def test_redaction_replaces_the_registry_hostname_and_keeps_the_policy(api: FakeAPI, tmp_path: Path) -> None:
    api.add(pruner({"keepTagRevisions": 5}))
    api.add(image_config("image-registry.openshift-image-registry.svc:5000"))
    settings = collect(api, tmp_path, "--redact")["clusterSettings"]
    hostname = settings["imageConfig"]["internalRegistryHostname"]
    assert "openshift-image-registry" not in hostname and hostname.endswith(".redacted:5000")
    assert settings["imagePruner"]["spec"] == {"keepTagRevisions": 5}


def test_the_loaded_dump_carries_them_typed(api: FakeAPI, tmp_path: Path) -> None:
    api.add(pruner({"schedule": "0 1 * * *", "keepYoungerThanDuration": "2h"}))
    collect(api, tmp_path)
    settings = load_inputs([str(tmp_path / "dump.json.gz")]).cluster_settings
    assert settings is not None
    assert settings.image_pruner.spec is not None and settings.image_pruner.spec.schedule == "0 1 * * *"
    assert settings.registry_config.state == "absent"


def test_a_dump_without_them_loads_and_says_none(tmp_path: Path) -> None:
    dump = write_json(tmp_path / "old.json", as_dump([], collected_at="2026-06-01T00:00:00Z"))
    assert load_inputs([str(dump)]).cluster_settings is None
    assert run_cli("analyze", str(dump), "-o", str(tmp_path / "plan.json"), "-q").code == 0


@pytest.mark.parametrize("settings, words", [
    ({"imagePruner": {"state": "found"}}, "header.clusterSettings.registryConfig is missing"),
    ({"imagePruner": {"state": "maybe"}, "registryConfig": {"state": "absent"}, "imageConfig": {"state": "absent"}},
     "header.clusterSettings.imagePruner.state cannot be 'maybe'"),
    ({"imagePruner": {"state": "found", "spec": {"suspend": "yes"}}, "registryConfig": {"state": "absent"},
      "imageConfig": {"state": "absent"}}, "header.clusterSettings.imagePruner.spec.suspend must be a boolean or null, not a string"),
])
def test_a_malformed_record_in_the_header_is_refused_with_exit_3(tmp_path: Path, settings: dict, words: str) -> None:
    document = as_dump([], collected_at="2026-06-01T00:00:00Z")
    document["header"]["clusterSettings"] = settings
    dump = write_json(tmp_path / "bad.json", document)
    done = run_cli("analyze", str(dump), "-o", str(tmp_path / "plan.json"))
    assert done.code == 3
    assert done.err_lines == [f"error: {dump}: {words}"]
