"""deploy/: the manifests parse, bind the right roles, and run commands our CLI accepts."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml

from pruneplan.cli import build_app, rewrite_bool_flags

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def documents() -> list[dict]:
    docs = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def container_args() -> list[list[str]]:
    found = []
    for doc in documents():
        spec = doc.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template")
        if template:
            found += [c["args"] for c in template["spec"]["containers"]]
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


def test_cronjob_executes_for_real_with_a_trusted_key_and_a_journal():
    execute_args = next(a for a in container_args() if a[0] == "execute")
    assert "--confirm" in execute_args
    assert any(a.startswith("--key=") for a in execute_args)
    assert any(a.startswith("--journal=") for a in execute_args)
