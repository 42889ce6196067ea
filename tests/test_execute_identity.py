"""Which cluster a plan is for: its ClusterVersion clusterID, whatever URL reaches the API server;
only a plan without a cluster ID falls back to the API server URL (and --api-server-alias). Every
refusal is exit 15, one line, before any write."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone


from clirunner import run_cli
from execute_env import load
from fakeapi import FakeAPI, sample_cluster

NO_REGISTRY = "--prune-registry=false"



def through_localhost(env) -> str:
    """A kubeconfig that reaches the same fake API as `localhost` (the dump records 127.0.0.1)."""
    return env.api.kubeconfig(str(env.tmp / "localhost.kubeconfig"), server=f"https://localhost:{env.api.port}")


def execute_via(env, kubeconfig: str, plan, *flags: str):
    return run_cli("execute", str(plan), "--key", env.pub, "--kubeconfig", kubeconfig, *flags)


def set_cluster_id(api: FakeAPI, cluster_id: str | None) -> None:
    version = api.get("clusterversions", "version")
    api.remove("clusterversions", "version")
    api.add({**version, "spec": {"clusterID": cluster_id} if cluster_id else {}})


def image_deletions(env) -> list[str]:
    return [path for method, path in env.writes() if method == "DELETE"]


def test_a_plan_collected_through_one_url_runs_through_another_url_of_the_same_cluster(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    assert doc["source"]["cluster"]["apiServer"] == env.api.url  # https://127.0.0.1:PORT
    result = execute_via(env, through_localhost(env), plan, "--confirm")
    assert result.code == 0, result.err
    assert f"Cluster: cluster ID {doc['source']['cluster']['clusterID']} (as in the plan)" in result.err_lines
    assert len(image_deletions(env)) == len(doc["imageDeletions"])


def test_a_plan_for_another_cluster_id_is_refused_with_no_mutating_request(env):
    plan = env.plan(NO_REGISTRY)
    planned_id = load(plan)["source"]["cluster"]["clusterID"]
    set_cluster_id(env.api, "another-cluster")
    result = env.execute(plan, "--confirm")  # the very URL the plan records: the ID still decides
    assert result.code == 15
    assert result.err_lines == [
        f"error: the plan was made for cluster ID {planned_id}, but this cluster's ID is another-cluster; "
        "check --kubeconfig and --context, or make a plan from a dump of this cluster"
    ]
    assert env.writes() == []
    assert result.out == ""


def test_a_live_cluster_whose_id_cannot_be_read_is_refused_with_no_mutating_request(env):
    plan = env.plan(NO_REGISTRY)
    env.api.fault("/apis/config.openshift.io/v1/clusterversions/version$", 403, times=None)
    result = env.execute(plan, "--confirm")
    assert result.code == 15
    assert len(result.err_lines) == 1 and "this cluster has no cluster ID execute can read" in result.err
    assert "read access to clusterversions" in result.err
    assert env.writes() == []


def test_a_plan_without_cluster_id_through_another_url_is_refused_and_runs_with_an_alias(env):
    set_cluster_id(env.api, None)
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    assert doc["source"]["cluster"]["clusterID"] is None
    localhost = through_localhost(env)
    refused = execute_via(env, localhost, plan, "--confirm")
    assert refused.code == 15
    assert refused.err_lines == [
        f"error: the plan was made for the API server at {env.api.url} and its dump has no cluster ID, but this is "
        f"https://localhost:{env.api.port}; if both are the same API server, add --api-server-alias {env.api.url}"
    ]
    assert env.writes() == []
    unrelated = execute_via(env, localhost, plan, "--confirm", "--api-server-alias", "https://api.elsewhere:6443")
    assert unrelated.code == 15 and env.writes() == []

    result = execute_via(env, localhost, plan, "--confirm", "--api-server-alias", env.api.url + "/")
    assert result.code == 0, result.err
    assert (f"Cluster: API server https://localhost:{env.api.port}, the plan's {env.api.url} by --api-server-alias "
            "(the plan's dump has no cluster ID)") in result.err_lines
    assert len(image_deletions(env)) == len(doc["imageDeletions"])


def test_a_plan_without_cluster_id_runs_through_the_url_it_was_collected_from(env):
    set_cluster_id(env.api, None)
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    assert f"Cluster: API server {env.api.url} (as in the plan, whose dump has no cluster ID)" in result.err_lines


def test_a_plan_made_from_a_list_is_refused_with_no_mutating_request(env):
    items = [o for o in sample_cluster() if o["kind"] != "ClusterVersion"]
    listing = env.tmp / "list.json"
    listing.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))
    plan = env.tmp / "plan.json"
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    made = run_cli("analyze", str(listing), "-o", str(plan), "--now", now, "--sign-key", env.key, "-q", NO_REGISTRY)
    assert made.code == 0, made.err
    assert load(plan)["source"]["cluster"] is None
    result = env.execute(plan, "--confirm", "--api-server-alias", env.api.url)
    assert result.code == 15
    assert len(result.err_lines) == 1
    assert result.err.startswith("error: the plan names no cluster") and "pruneplan collect" in result.err
    assert env.writes() == []


def test_an_alias_that_is_not_a_url_is_a_usage_error(env):
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--api-server-alias", "api.example:6443")
    assert result.code == 2
    assert result.err_lines == [
        "error: --api-server-alias must be an API server URL such as https://api.example:6443, not 'api.example:6443'"
    ]
    assert env.writes() == []


def test_execute_starts_with_a_header_naming_plan_key_cluster_validity_and_journal(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()
    result = env.execute(plan)
    assert result.code == 0, result.err
    assert result.err_lines[:4] == [
        f"Plan: {plan} sha256:{sha}, verified with key {env.pub}",
        f"Cluster: cluster ID {doc['source']['cluster']['clusterID']} (as in the plan)",
        f"Created: {doc['metadata']['createdAt']}, expires: {doc['metadata']['notAfter']}",
        "Journal: none read (a dry run without a journal)",
    ]
    assert "Plan:" not in result.out  # stdout carries upstream's lines only
