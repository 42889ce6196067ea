"""deploy/: the manifests parse, bind the right roles, and run as deploy/README.md walks through
them: the Job's and the CronJob's exact container args run in the in-cluster environment (service
account token and CA files, KUBERNETES_SERVICE_HOST/PORT) against the fake API and a real
registry, each volume a directory, and the README's `oc cp` / `oc create configmap` steps copy
the files where the pods read them, and its `oc patch` suspends and resumes the automatic pruner
(the ImagePruner `cluster`), without which the CronJob refuses to run. The hard pruning window
(deploy/README.md's last section) is walked the same way in the registry's namespace: the
registry's claim is a real registry's storage, mounted read-only by the inventory Job (the test
checks nothing under a read-only mount changes) and read-write by the execute Job only."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shlex
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import typer
import yaml

from clirunner import Result, run_cli
from execute_world import build_world
from fakeapi import FakeAPI
from pruneplan.cli import build_app, rewrite_bool_flags
from registry_harness import CertAuthority, RegistryServer, build_image

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
NAMESPACE = "pruneplan"
REGISTRY_NAMESPACE = "openshift-image-registry"  # the hard pruning Jobs run beside the registry
REGISTRY_CLAIM = "image-registry-storage"  # the registry operator's claim: deploy/ does not create it
HARD_WINDOW = "Hard pruning window"  # the README's section for hard pruning
HARD_JOBS = {"pruneplan-collect-inventory", "pruneplan-execute-hard"}
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # where a pod finds its service account
REGISTRY_SERVICE_URL = "https://image-registry.openshift-image-registry.svc:5000"
REGISTRY_DEPLOYMENT = {
    "kind": "Deployment", "apiVersion": "apps/v1",
    "metadata": {"namespace": "openshift-image-registry", "name": "image-registry"},
    "spec": {"template": {"metadata": {"labels": {"app": "registry"}},
                          "spec": {"containers": [{"name": "registry", "image": "quay.io/openshift/registry"}]}}},
}


# the automatic pruner as the registry operator creates it: active, daily at midnight
IMAGE_PRUNER = {
    "kind": "ImagePruner", "apiVersion": "imageregistry.operator.openshift.io/v1",
    "metadata": {"name": "cluster"}, "spec": {"schedule": "0 0 * * *", "suspend": False},
}
# what the README's `oc patch TYPE/NAME` may name, and where the API serves it
PATCHABLE = {
    "imagepruner.imageregistry.operator.openshift.io": "/apis/imageregistry.operator.openshift.io/v1/imagepruners",
    "configs.imageregistry.operator.openshift.io": "/apis/imageregistry.operator.openshift.io/v1/configs",
}
# the registry operator's Config as a cluster has it: the registry accepts pushes
REGISTRY_CONFIG = {
    "kind": "Config", "apiVersion": "imageregistry.operator.openshift.io/v1", "metadata": {"name": "cluster"},
    "spec": {"managementState": "Managed", "readOnly": False},
}


def documents(path: Path | None = None) -> list[dict]:
    docs = []
    for file in [path] if path else sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(file.read_text()) if d]
    return docs


def one(kind: str, name: str) -> dict:
    (found,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_spec(doc: dict) -> dict:
    """The pod a Pod, Job or CronJob runs."""
    if doc["kind"] == "Pod":
        return doc["spec"]
    spec = doc["spec"]
    return (spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec["template"])["spec"]


def container_args() -> list[list[str]]:
    found = []
    for doc in documents():
        if doc["kind"] in ("Job", "CronJob"):
            found += [c["args"] for c in pod_spec(doc)["containers"]]
    return found


def test_pruner_is_bound_to_system_image_pruner_and_collector_is_read_only():
    docs = documents()
    bindings = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRoleBinding"}
    assert bindings["pruneplan-pruner"]["roleRef"]["name"] == "system:image-pruner"
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "pruneplan-collector")
    verbs = {verb for rule in role["rules"] for verb in rule["verbs"]}
    assert verbs <= {"get", "list"}
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert {"images", "imagestreams", "pods", "cronjobs", "buildconfigs", "limitranges", "clusterversions"} <= resources


def test_job_and_cronjob_run_commands_the_cli_accepts():
    command = typer.main.get_command(build_app())
    args_seen = container_args()
    assert {args[0] for args in args_seen} == {"collect", "execute"}
    for args in args_seen:
        sub = command.commands[args[0]]
        # parse only: make_context validates every option without running the command
        sub.make_context(args[0], rewrite_bool_flags(args[1:]))


def test_cronjob_executes_for_real_with_two_trusted_keys_and_a_journal_per_plan_on_the_volume():
    cronjob = one("CronJob", "pruneplan-execute")
    (container,) = pod_spec(cronjob)["containers"]
    args = container["args"]
    assert "--confirm" in args
    assert "--journal=/state/" in args  # a directory: DIR/<plan sha256>.journal
    volumes = {v["name"]: v for v in pod_spec(cronjob)["volumes"]}
    state = next(m for m in container["volumeMounts"] if m["mountPath"] == "/state")
    assert "persistentVolumeClaim" in volumes[state["name"]] and not state.get("readOnly")
    # four eyes: both keys of the trust ConfigMap, the author's and the approver's, must have signed
    assert "--threshold=2" in args
    trust = next(m for m in container["volumeMounts"] if volumes[m["name"]].get("configMap", {}).get("name") == "pruneplan-trust")
    keys = [a.removeprefix("--key=") for a in args if a.startswith("--key=")]
    assert len(set(keys)) == 2 and all(k.startswith(trust["mountPath"] + "/") for k in keys)
    (created,) = [tokens for tokens in readme_commands() if tokens[:4] == ["oc", "create", "configmap", "pruneplan-trust"]]
    assert sorted(k.rsplit("/", 1)[1] for k in keys) == sorted(o.removeprefix("--from-file=") for o in created[4:])


def named(kind: str) -> set[tuple[str, str]]:
    """(namespace, name) of every object of `kind` that deploy/ creates."""
    return {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in documents() if d["kind"] == kind}


def test_every_pod_uses_volumes_a_service_account_and_a_configmap_of_its_own_namespace_that_deploy_creates():
    claims, accounts = named("PersistentVolumeClaim"), named("ServiceAccount")
    created = {(namespace, tokens[3]) for namespace, tokens in namespaced_commands() if tokens[:3] == ["oc", "create", "configmap"]}
    pods = [d for d in documents() if d["kind"] in ("Pod", "Job", "CronJob")]
    assert {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in pods} == {
        (NAMESPACE, "pruneplan-files"), (NAMESPACE, "pruneplan-collect"), (NAMESPACE, "pruneplan-execute"),
        (REGISTRY_NAMESPACE, "pruneplan-hard-files"), (REGISTRY_NAMESPACE, "pruneplan-collect-inventory"),
        (REGISTRY_NAMESPACE, "pruneplan-execute-hard"),
    }
    for doc in pods:
        spec, namespace = pod_spec(doc), doc["metadata"]["namespace"]
        assert (namespace, spec["serviceAccountName"]) in accounts
        # what OpenShift's restricted profile asks for, so no pod is refused or warned about
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert all(c["securityContext"]["allowPrivilegeEscalation"] is False for c in spec["containers"])
        for volume in spec["volumes"]:
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                # a pod mounts only claims of its own namespace; the registry's is the operator's
                assert (namespace, claim) in claims or (namespace, claim) == (REGISTRY_NAMESPACE, REGISTRY_CLAIM)
            else:
                assert (namespace, volume["configMap"]["name"]) in created
    assert claims == {(NAMESPACE, "pruneplan-files"), (REGISTRY_NAMESPACE, "pruneplan-hard-files")}
    users = [line.split()[1] for line in (DEPLOY / "Containerfile").read_text().splitlines() if line.startswith("USER ")]
    assert users[-1] not in ("0", "root")  # runAsNonRoot needs the image to say so


# -- deploy/README.md, run against the fake cluster -----------------------------------------------

def readme_sections() -> list[tuple[str, list[str]]]:
    """(heading, shell command lines) of each `## ` section of deploy/README.md."""
    text = (DEPLOY / "README.md").read_text()
    sections = []
    for chunk in text.split("\n## ")[1:]:
        heading, _, body = chunk.partition("\n")
        lines: list[str] = []
        for block in body.split("```sh\n")[1:]:
            lines += [line for line in block.split("```")[0].splitlines() if line.strip()]
        sections.append((heading, lines))
    return sections


def readme_commands() -> list[list[str]]:
    """Every command line of the README as words, `-n pruneplan` taken out of oc's."""
    commands = []
    for _, lines in readme_sections():
        for line in lines:
            tokens = shlex.split(line, comments=True)
            if tokens[:3] == ["oc", "-n", NAMESPACE]:
                tokens = ["oc", *tokens[3:]]
            commands.append(tokens)
    return commands


def without_namespace(tokens: list[str]) -> tuple[str, list[str]]:
    """(namespace, the command without `-n NAMESPACE`): oc's `-n`, pruneplan's when none is given."""
    if tokens[:2] == ["oc", "-n"]:
        return tokens[2], ["oc", *tokens[3:]]
    return NAMESPACE, tokens


def namespaced_commands() -> list[tuple[str, list[str]]]:
    """Every command line of the README as (namespace, words without `-n NAMESPACE`)."""
    return [without_namespace(shlex.split(line, comments=True)) for _, lines in readme_sections() for line in lines]


def hard_window_lines() -> list[str]:
    (lines,) = [lines for heading, lines in readme_sections() if heading == HARD_WINDOW]
    return lines


class FakeCluster:
    """What the manifests run in, mapped onto the test's directories: every PersistentVolumeClaim
    and ConfigMap a directory, the pod's service account directory (token, ca.crt and OpenShift's
    service-ca.crt), the fake API as the in-cluster API server, the real registry as the
    registry's service. Pods run as the manifests say, with their paths mapped."""

    def __init__(self, tmp: Path, api: FakeAPI, registry_url: str, registry_ca: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp, self.api, self.registry_url = tmp, api, registry_url
        self.admin = tmp / "admin"  # the administrator's working directory
        self.admin.mkdir()
        self.service_account = tmp / "serviceaccount"
        self.service_account.mkdir()
        assert api.token and api.ca_file
        (self.service_account / "token").write_text(api.token)
        shutil.copy(api.ca_file, self.service_account / "ca.crt")
        shutil.copy(registry_ca, self.service_account / "service-ca.crt")
        from kubernetes.config import incluster_config

        from pruneplan.collect import client

        monkeypatch.setenv(incluster_config.SERVICE_HOST_ENV_NAME, "127.0.0.1")
        monkeypatch.setenv(incluster_config.SERVICE_PORT_ENV_NAME, str(api.port))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("HOME", str(tmp / "home"))  # no ~/.kube/config: the service account it is
        sa_paths = {SA_DIR: self.service_account}
        monkeypatch.setattr(client, "SERVICE_TOKEN_FILE", self._map(incluster_config.SERVICE_TOKEN_FILENAME, sa_paths))
        monkeypatch.setattr(client, "SERVICE_CA_FILE", self._map(incluster_config.SERVICE_CERT_FILENAME, sa_paths))
        monkeypatch.chdir(self.admin)
        self.claims: dict[str, Path] = {}  # claims that are a directory of their own (the registry's storage)
        self.running: set[str] = set()  # pods up (the files pods)
        self.applied: set[str] = set()
        self.logs: dict[str, Result] = {}

    def volume_dir(self, volume: dict[str, Any]) -> Path:
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            path = self.claims.get(claim) or self.tmp / "pvc" / claim
        else:
            path = self.tmp / "configmap" / volume["configMap"]["name"]
        path.mkdir(parents=True, exist_ok=True)
        return path

    def mounts(self, spec: dict[str, Any]) -> dict[str, Path]:
        (container,) = spec["containers"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: self.volume_dir(volumes[m["name"]]) for m in container.get("volumeMounts", [])}
        return {**mounts, SA_DIR: self.service_account}

    @staticmethod
    def _map(value: str, mounts: dict[str, Path]) -> str:
        for mount in sorted(mounts, key=len, reverse=True):
            if value == mount or value.startswith(mount + "/"):
                return str(mounts[mount]) + value[len(mount):]
        return value

    def pod_args(self, spec: dict[str, Any]) -> list[str]:
        """The container's args as the pod would see its files, mapped to the test's directories."""
        (container,) = spec["containers"]
        mounts = self.mounts(spec)
        mapped = []
        for arg in container["args"]:
            name, eq, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
            value = self.registry_url if value == REGISTRY_SERVICE_URL else self._map(value, mounts)
            mapped.append(f"{name}{eq}{value}")
        return mapped

    def run_pod(self, doc: dict[str, Any]) -> Result:
        """Run the pod's command; whatever it mounts read-only must be left as it was."""
        spec = pod_spec(doc)
        (container,) = spec["containers"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        read_only = [self.volume_dir(volumes[m["name"]]) for m in container.get("volumeMounts", []) if m.get("readOnly")]
        before = [tree_state(path) for path in read_only]
        result = run_cli(*self.pod_args(spec))
        assert [tree_state(path) for path in read_only] == before, f"{doc['metadata']['name']} wrote to a read-only mount"
        return result

    def files_pod_path(self, pod: str, path: str) -> Path:
        assert pod in self.running, f"oc cp to the pod {pod}, which is not running"
        mapped = self._map(path, self.mounts(pod_spec(one("Pod", pod))))
        assert mapped != path, f"{path} is on no volume of the pod {pod}"
        return Path(mapped)

    def oc(self, tokens: list[str]) -> None:
        verb = tokens[1]
        if verb == "apply":
            for doc in documents(DEPLOY.parent / tokens[3]):  # `oc apply -f deploy/X.yaml`, this checkout's
                name = doc["metadata"]["name"]
                self.applied.add(name)
                if doc["kind"] == "Job":
                    self.logs[name] = result = self.run_pod(doc)
                    assert result.code == 0, f"Job {name}: {result.err}"
                elif doc["kind"] == "Pod":
                    self.running.add(name)
        elif verb == "cp":
            source, target = tokens[2:4]
            if ":" in source:
                shutil.copy(self.files_pod_path(*source.split(":", 1)), self.admin / target)
            else:
                shutil.copy(self.admin / source, self.files_pod_path(*target.split(":", 1)))
        elif tokens[1:3] == ["create", "configmap"]:
            directory = self.volume_dir({"configMap": {"name": tokens[3]}})
            for option in tokens[4:]:
                shutil.copy(self.admin / option.removeprefix("--from-file="), directory)
        elif tokens[1:3] == ["create", "job"]:
            name, source = tokens[3], tokens[4].removeprefix("--from=cronjob/")
            assert source in self.applied, f"job from cronjob {source}, which was not applied"
            self.logs[name] = self.run_pod(one("CronJob", source))
        elif verb == "logs":
            name = tokens[2].removeprefix("job/")
            result = self.logs[name]
            assert result.code == 0, f"Job {name}: exit {result.code}\n{result.err}"
        elif verb == "patch":
            self.patch(tokens[2], tokens[3:])
        elif verb == "delete" and tokens[2] == "pod":
            self.running.discard(tokens[3])
        else:
            # `rollout status`: the fake API's Deployments are rolled out the moment they change
            assert verb in ("wait", "delete", "get", "rollout"), f"the test does not know `{shlex.join(tokens)}`"

    def patch(self, target: str, options: list[str]) -> None:
        """`oc patch TYPE/NAME --type=merge -p JSON`: a merge patch sent to the API as oc sends it."""
        kind, _, name = target.partition("/")
        assert kind in PATCHABLE and name, f"the test does not know `oc patch {target}`"
        assert "--type=merge" in options and "-p" in options, f"the test does not know `oc patch {shlex.join(options)}`"
        body = options[options.index("-p") + 1]
        with requests.Session() as session:
            session.trust_env = False  # straight to the fake API, never through a proxy
            answer = session.patch(
                f"{self.api.url}{PATCHABLE[kind]}/{name}", data=body, timeout=30, verify=self.api.ca_file,
                headers={"Authorization": f"Bearer {self.api.token}", "Content-Type": "application/merge-patch+json"},
            )
        assert answer.status_code == 200, f"oc patch {target}: HTTP {answer.status_code} {answer.text}"

    def run(self, line: str) -> None:
        _, tokens = without_namespace(shlex.split(line, comments=True))  # each object's name is unique here
        if tokens[0] == "oc":
            self.oc(tokens)
        elif tokens[:2] == ["rm", "-f"]:
            for name in tokens[2:]:
                (self.admin / name).unlink(missing_ok=True)
        else:
            assert tokens[0] == "pruneplan", f"the test does not know `{line}`"
            result = run_cli(*tokens[1:])
            assert result.code == 0, f"{line}: exit {result.code}\n{result.err}"


def tree_state(root: Path) -> list[tuple[str, int, float, str]]:
    """Every file and directory under `root`: path, size, modification time, content sha256."""
    state = []
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        state.append((str(path.relative_to(root)), info.st_size, info.st_mtime, content))
    return state


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ca = CertAuthority(tmp_path / "registry-ca")
    registry = RegistryServer(tmp_path / "registry", tls=ca.issue()).start()
    api = FakeAPI().start()
    try:
        _, objects = build_world(registry.api(), registry.host)
        api.add_all([*objects, REGISTRY_DEPLOYMENT, IMAGE_PRUNER])
        yield FakeCluster(tmp_path, api, registry.url, ca.ca_file, monkeypatch)
    finally:
        api.stop()
        registry.stop()


RUN_NOW = "Run now"  # the heading of the step that runs the CronJob's Job


def run_sections(cluster: FakeCluster, *, every_cycle_only: bool, until: str = "", leave_out=lambda line: False) -> None:
    """The README's sections in order (those before the first heading containing `until`, if
    given), each command line but those `leave_out` picks."""
    for heading, lines in readme_sections():
        if until and until in heading:
            return
        if heading.startswith("1. Build") or heading == HARD_WINDOW:
            continue  # podman: the image is this checkout; hard pruning is walked on its own
        if every_cycle_only and "(every cycle" not in heading:
            continue
        for line in lines:
            if not leave_out(line):
                cluster.run(line)


def approval_annotations() -> list[str]:
    """The annotations the README's `pruneplan approve` of the (soft) plan signs."""
    (approve,) = [tokens for tokens in readme_commands() if tokens[:3] == ["pruneplan", "approve", "plan.json"]]
    return [value for option, value in zip(approve, approve[1:]) if option == "--annotation"]


def test_the_deploy_readme_walks_from_the_namespace_to_a_pruned_cluster_in_cluster(cluster: FakeCluster):
    run_sections(cluster, every_cycle_only=False)
    volume = cluster.volume_dir({"persistentVolumeClaim": {"claimName": "pruneplan-files"}})
    plan_bytes = (volume / "plan.json").read_bytes()
    assert plan_bytes == (cluster.admin / "plan.json").read_bytes()
    # the collect Job wrote the dump in the cluster, as the in-cluster API server named it
    dump = cluster.admin / "dump.json.gz"
    assert dump.read_bytes() == (volume / "dump.json.gz").read_bytes()
    plan = json.loads(plan_bytes)
    assert plan["source"]["cluster"]["apiServer"] == f"https://127.0.0.1:{cluster.api.port}"
    deleted = [d["name"] for d in plan["imageDeletions"]]
    assert deleted and all(cluster.api.get("images", name) is None for name in deleted)
    out = cluster.logs["pruneplan-execute-now"].out
    assert "Summary: deleted" in out and "Restarted deployment openshift-image-registry/image-registry" in out
    assert sorted(p.name for p in volume.glob("*.journal")) == [hashlib.sha256(plan_bytes).hexdigest() + ".journal"]
    # the log's header names both signers, and what the approver signed with the approval
    header = cluster.logs["pruneplan-execute-now"].err_lines
    trust = cluster.volume_dir({"configMap": {"name": "pruneplan-trust"}})
    assert f"Signed: {volume}/plan.json.sig, key {trust}/author-key.pub" in header
    (approved,) = [line for line in header if line.startswith(f"Signed: {volume}/plan.json.approvals, approval 1, key {trust}/approver-key.pub; ")]
    assert approval_annotations() and all(annotation in approved.split() for annotation in approval_annotations())


def test_a_newly_approved_plan_runs_with_a_journal_of_its_own(cluster: FakeCluster):
    run_sections(cluster, every_cycle_only=False)
    volume = cluster.volume_dir({"persistentVolumeClaim": {"claimName": "pruneplan-files"}})
    first = hashlib.sha256((volume / "plan.json").read_bytes()).hexdigest()
    run_sections(cluster, every_cycle_only=True)  # collect, fetch, review, approve, run again
    second = hashlib.sha256((volume / "plan.json").read_bytes()).hexdigest()
    assert first != second
    assert sorted(p.name for p in volume.glob("*.journal")) == sorted([f"{first}.journal", f"{second}.journal"])
    assert cluster.logs["pruneplan-execute-now"].code == 0


def test_the_cronjob_refuses_a_plan_the_approver_did_not_approve_and_changes_nothing(cluster: FakeCluster):
    def approval(line: str) -> bool:  # the approve step, the check of it, the copy of its bundle
        return "pruneplan approve" in line or "--threshold" in line or "cp plan.json.approvals" in line

    run_sections(cluster, every_cycle_only=False, until=RUN_NOW, leave_out=approval)
    volume = cluster.volume_dir({"persistentVolumeClaim": {"claimName": "pruneplan-files"}})
    assert (volume / "plan.json.sig").exists() and not (volume / "plan.json.approvals").exists()
    before = len(cluster.api.requests)
    cluster.oc(["oc", "create", "job", "pruneplan-execute-now", "--from=cronjob/pruneplan-execute"])
    result = cluster.logs["pruneplan-execute-now"]
    assert result.code == 10
    trust = cluster.volume_dir({"configMap": {"name": "pruneplan-trust"}})
    assert result.err_lines == [
        f"error: 1 of the 2 required trusted keys signed this plan (signed by {trust}/author-key.pub); "
        "an approver adds a signature with `pruneplan approve PLAN --key KEY`"
    ]
    assert cluster.api.requests[before:] == []
    assert list(volume.glob("*.journal")) == []


def pruner_patch(suspend: bool) -> str:
    """The README's `oc patch` line that sets the ImagePruner's spec.suspend to `suspend`."""
    wanted = {"spec": {"suspend": suspend}}
    (line,) = [line for _, lines in readme_sections() for line in lines
               if line.startswith("oc patch ") and json.loads(shlex.split(line)[-1]) == wanted]
    return line


def test_the_readme_suspends_the_automatic_pruner_for_the_cycle_and_resumes_it_at_the_end(cluster: FakeCluster):
    headings = [heading for heading, _ in readme_sections()]
    suspend_step, resume_step = (next(i for i, (_, lines) in enumerate(readme_sections()) if pruner_patch(flag) in lines)
                                 for flag in (True, False))
    collect_step = next(i for i, heading in enumerate(headings) if "Collect" in heading)
    run_step = next(i for i, heading in enumerate(headings) if RUN_NOW in heading)
    assert suspend_step < collect_step < run_step < resume_step
    assert all("(every cycle" in headings[i] for i in (suspend_step, resume_step))
    run_sections(cluster, every_cycle_only=False)
    assert cluster.logs["pruneplan-execute-now"].code == 0
    assert cluster.api.get("imagepruners", "cluster")["spec"] == {"schedule": "0 0 * * *", "suspend": False}


def test_the_cronjob_refuses_while_the_automatic_pruner_is_active_and_runs_once_it_is_suspended(cluster: FakeCluster):
    (container,) = pod_spec(one("CronJob", "pruneplan-execute"))["containers"]
    assert "--require-pruner-suspended" in container["args"]
    suspend = pruner_patch(True)
    run_sections(cluster, every_cycle_only=False, until=RUN_NOW, leave_out=lambda line: line == suspend)
    volume = cluster.volume_dir({"persistentVolumeClaim": {"claimName": "pruneplan-files"}})
    before = len(cluster.api.requests)
    cluster.oc(["oc", "create", "job", "pruneplan-execute-now", "--from=cronjob/pruneplan-execute"])
    refused = cluster.logs["pruneplan-execute-now"]
    assert refused.code == 16
    assert refused.err_lines[-1] == (
        'error: the automatic image pruner is active (ImagePruner cluster, schedule "0 0 * * *") and '
        f"--require-pruner-suspended is given; suspend it with {suspend}, then run again"
    )
    assert [r.method for r in cluster.api.requests[before:] if r.method not in ("GET", "HEAD")] == []
    assert list(volume.glob("*.journal")) == []
    cluster.run(suspend)  # the README's step, as the admin runs it
    cluster.oc(["oc", "create", "job", "pruneplan-execute-now", "--from=cronjob/pruneplan-execute"])
    result = cluster.logs["pruneplan-execute-now"]
    assert result.code == 0, result.err
    assert "Summary: deleted" in result.out and not any("automatic image pruner" in line for line in result.err_lines)
    deleted = [d["name"] for d in json.loads((volume / "plan.json").read_text())["imageDeletions"]]
    assert deleted and all(cluster.api.get("images", name) is None for name in deleted)


# -- hard pruning: the registry's storage ---------------------------------------------------------

def registry_mounts(doc: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(volumeMount, volume) of each mount of the registry's claim in the pod `doc` runs."""
    spec = pod_spec(doc)
    volumes = {v["name"]: v for v in spec["volumes"]}
    return [(mount, volumes[mount["name"]]) for container in spec["containers"] for mount in container.get("volumeMounts", [])
            if volumes[mount["name"]].get("persistentVolumeClaim", {}).get("claimName") == REGISTRY_CLAIM]


def test_the_inventory_job_mounts_the_registry_storage_read_only_and_writes_to_its_own_volume():
    job = one("Job", "pruneplan-collect-inventory")
    assert job["metadata"]["namespace"] == REGISTRY_NAMESPACE  # a claim is mounted only in its namespace
    spec = pod_spec(job)
    (container,) = spec["containers"]
    assert container["args"] == ["collect", "--registry-storage", "/registry", "-o", "/out/inventory.json.gz"]
    ((mount, volume),) = registry_mounts(job)
    assert mount["mountPath"] == "/registry" and mount["readOnly"] is True
    assert volume["persistentVolumeClaim"]["readOnly"] is True
    volumes = {v["name"]: v for v in spec["volumes"]}
    (out,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/out"]
    assert volumes[out["name"]]["persistentVolumeClaim"]["claimName"] == "pruneplan-hard-files" and not out.get("readOnly")
    assert spec["automountServiceAccountToken"] is False  # it reads files, never the API


def test_only_the_hard_execute_job_mounts_the_registry_storage_read_write():
    writers = [doc["metadata"]["name"] for doc in documents() if doc["kind"] in ("Pod", "Job", "CronJob")
               for mount, volume in registry_mounts(doc)
               if not mount.get("readOnly") or not volume["persistentVolumeClaim"].get("readOnly")]
    assert writers == ["pruneplan-execute-hard"]
    job = one("Job", "pruneplan-execute-hard")
    (container,) = pod_spec(job)["containers"]
    args = container["args"]
    ((mount, _),) = registry_mounts(job)
    assert f"--registry-storage={mount['mountPath']}" in args
    assert args[:2] == ["execute", "/state/hard-plan.json"] and "--confirm" in args and "--journal=/state/" in args
    # four eyes, with the keys of the trust ConfigMap the README creates in the registry's namespace
    assert "--threshold=2" in args
    keys = sorted(a.removeprefix("--key=/trust/") for a in args if a.startswith("--key="))
    (created,) = [tokens for namespace, tokens in namespaced_commands()
                  if namespace == REGISTRY_NAMESPACE and tokens[:4] == ["oc", "create", "configmap", "pruneplan-trust"]]
    assert keys == sorted(option.removeprefix("--from-file=") for option in created[4:])
    assert pod_spec(job)["serviceAccountName"] == "pruneplan-hard" and job["spec"]["backoffLimit"] == 0


def test_the_hard_window_commands_are_ones_the_cli_accepts():
    command = typer.main.get_command(build_app())
    lines = [shlex.split(line, comments=True) for line in hard_window_lines()]
    pruneplan = [tokens[1:] for tokens in lines if tokens[0] == "pruneplan"]
    assert [args[0] for args in pruneplan] == ["analyze", "report", "approve", "verify"]
    assert "--hard" in pruneplan[0]
    for args in pruneplan:
        command.commands[args[0]].make_context(args[0], rewrite_bool_flags(args[1:]))
    applied = [tokens[-1] for tokens in lines if tokens[:2] == ["oc", "apply"]]
    assert all((DEPLOY.parent / path).is_file() for path in applied)


def test_the_hard_window_is_read_only_from_before_the_inventory_until_after_execute():
    from pruneplan.execute.hard.readonly import LEAVE_READ_ONLY, SET_READ_ONLY

    lines = hard_window_lines()

    def at(text: str) -> int:
        (index,) = [i for i, line in enumerate(lines) if line == text or line.startswith(text + " ")]
        return index

    # the very commands execute names when it refuses, or when it ends
    set_read_only, leave_read_only = at(SET_READ_ONLY), at(LEAVE_READ_ONLY)
    rollouts = [i for i, line in enumerate(lines) if "rollout status deployment/image-registry" in line]
    inventory, dump = at("oc apply -f deploy/hard-collect-job.yaml"), at("oc apply -f deploy/collect-job.yaml")
    analyze, execute = at("pruneplan analyze --hard"), at("oc apply -f deploy/hard-execute-job.yaml")
    assert set_read_only < rollouts[0] < inventory < dump < analyze < execute < leave_read_only < rollouts[1]
    assert lines[-1] == lines[rollouts[1]]  # the window ends with the registry accepting pushes again


@pytest.fixture
def hard_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The deploy fixture's cluster, plus an old image in a repository no image stream names, and
    the registry operator's Config: the registry's claim is the real registry's storage."""
    ca = CertAuthority(tmp_path / "registry-ca")
    registry = RegistryServer(tmp_path / "registry", tls=ca.issue()).start()
    api = FakeAPI().start()
    try:
        _, objects = build_world(registry.api(), registry.host)
        orphan = build_image(2, rng=random.Random(11))
        registry.api().push_image("ns9/gone", orphan, tag="v1")
        old = time.time() - 2 * 86400  # all of it pushed long before the window (keep-younger-than)
        for path in registry.root.rglob("*"):
            os.utime(path, (old, old), follow_symlinks=False)
        api.add_all([*objects, REGISTRY_DEPLOYMENT, IMAGE_PRUNER, REGISTRY_CONFIG])
        cluster = FakeCluster(tmp_path, api, registry.url, ca.ca_file, monkeypatch)
        cluster.claims[REGISTRY_CLAIM] = registry.root
        yield cluster, registry, orphan
    finally:
        api.stop()
        registry.stop()


def test_the_inventory_job_reads_a_real_registry_storage_and_leaves_it_unchanged(hard_cluster):
    cluster, registry, orphan = hard_cluster
    result = cluster.run_pod(one("Job", "pruneplan-collect-inventory"))  # checks the read-only mount is untouched
    assert result.code == 0, result.err
    assert result.out == ""
    from pruneplan.inventoryformat import read_inventory

    files = cluster.volume_dir({"persistentVolumeClaim": {"claimName": "pruneplan-hard-files"}})
    inventory = read_inventory(str(files / "inventory.json.gz"))
    assert "ns9/gone" in [repository.name for repository in inventory.repositories]
    assert {blob.digest for blob in orphan.blobs} <= {blob.digest for blob in inventory.blobs}


def test_the_hard_window_walks_from_read_only_to_a_pruned_storage_and_back(hard_cluster):
    cluster, registry, orphan = hard_cluster
    (once,) = [lines for heading, lines in readme_sections() if heading.startswith("2.")]
    for line in once:  # keys, namespace, service accounts
        cluster.run(line)
    for line in hard_window_lines():
        cluster.run(line)
    files = cluster.volume_dir({"persistentVolumeClaim": {"claimName": "pruneplan-hard-files"}})
    plan = json.loads((files / "hard-plan.json").read_bytes())
    assert plan["kind"] == "HardPrunePlan"
    assert {"repository": "ns9/gone", "reason": "no-image-stream"} in plan["repositoryDeletions"]
    # the orphan's repository and its own blobs are gone from the storage; the kept images still pull
    assert not (registry.root / "docker/registry/v2/repositories/ns9/gone").exists()
    assert not any(registry.blob_exists_on_disk(blob.digest) for blob in orphan.blobs)
    log = cluster.logs["pruneplan-execute-hard"]
    assert log.code == 0, log.err
    # the registry was left read-only by the window's end no more
    assert cluster.api.get("configs", "cluster")["spec"]["readOnly"] is False
    assert (files / f"{hashlib.sha256((files / 'hard-plan.json').read_bytes()).hexdigest()}.journal").exists()
