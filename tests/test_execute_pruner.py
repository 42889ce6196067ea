"""execute and the cluster's automatic pruner (the ImagePruner `cluster`, which the registry
operator runs as a CronJob): an active one is warned about on one stderr line before any write, a
pruner that cannot be read is said to be unknown, and --require-pruner-suspended refuses both
(exit 16) before any request that changes anything. --format json carries the pruner's state."""

from __future__ import annotations

import json

import pytest

from execute_env import load
from fakeapi import status_body

NO_REGISTRY = "--prune-registry=false"
PRUNER_PATH = r"/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster$"
SUSPEND = """oc patch imagepruner.imageregistry.operator.openshift.io/cluster --type=merge -p '{"spec":{"suspend":true}}'"""
ACTIVE_WARNING = ('warning: the automatic image pruner is active (ImagePruner cluster, schedule "0 0 * * *"): '
                  f"it may prune the same image streams while this run does; suspend it first: {SUSPEND}")
FORBIDDEN_WARNING = ("warning: cannot tell whether the automatic image pruner is active: this account may not read "
                     "imagepruners/cluster (get on imagepruners.imageregistry.operator.openshift.io); "
                     f"if it is, suspend it first: {SUSPEND}")


def add_pruner(env, spec: dict) -> None:
    env.api.add({"kind": "ImagePruner", "apiVersion": "imageregistry.operator.openshift.io/v1",
                 "metadata": {"name": "cluster"}, "spec": spec})


def forbid_pruner(env) -> None:
    env.api.fault(PRUNER_PATH, 403, times=None,
                  body=status_body(403, 'imagepruners.imageregistry.operator.openshift.io "cluster" is forbidden'))


def pruner_lines(result) -> list[str]:
    return [line for line in result.err_lines if "automatic image pruner" in line]


def deletions(env) -> list[str]:
    return [path for method, path in env.writes() if method == "DELETE"]


def planned(plan) -> int:
    count = len(load(plan)["imageDeletions"])
    assert count  # the sample cluster's plan deletes images: a run that deletes none is noticed
    return count


def test_an_active_pruner_is_warned_about_with_its_schedule_and_the_suspend_command_before_any_deletion(env):
    add_pruner(env, {"schedule": "0 0 * * *", "suspend": False})
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--confirm", "--format", "json")
    assert result.code == 0, result.err
    assert pruner_lines(result) == [ACTIVE_WARNING]
    # json sends upstream's lines to stderr: the warning comes before the first of them
    first_deletion = next(i for i, line in enumerate(result.err_lines) if line.startswith("Deleting "))
    assert result.err_lines.index(ACTIVE_WARNING) < first_deletion
    assert json.loads(result.out)["automaticPruner"] == {"state": "active", "schedule": "0 0 * * *"}
    assert len(deletions(env)) == planned(plan)  # a warning, not a refusal


def test_a_pruner_without_a_schedule_or_suspend_is_active_on_the_operators_default_schedule(env):
    add_pruner(env, {})
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--format", "json")
    assert result.code == 0, result.err
    assert pruner_lines(result) == [ACTIVE_WARNING.replace('"0 0 * * *"', '"0 0 * * *" (the operator\'s default)')]
    assert json.loads(result.out)["automaticPruner"] == {"state": "active", "schedule": "0 0 * * *"}


def test_a_schedule_with_a_newline_stays_on_the_warnings_one_line(env):
    add_pruner(env, {"schedule": "0 3 * * *\nerror: forged"})
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan)
    assert result.code == 0, result.err
    (line,) = pruner_lines(result)
    assert 'schedule "0 3 * * *\\nerror: forged"' in line
    assert "error: forged" not in result.err_lines


@pytest.mark.parametrize("spec, state", [({"schedule": "0 0 * * *", "suspend": True}, "suspended"), (None, "absent")])
def test_a_suspended_pruner_or_none_at_all_is_not_mentioned(env, spec, state):
    if spec is not None:
        add_pruner(env, spec)
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--confirm", "--format", "json")
    assert result.code == 0, result.err
    assert pruner_lines(result) == []
    expected = {"state": state, **({"schedule": "0 0 * * *"} if spec else {})}
    assert json.loads(result.out)["automaticPruner"] == expected


def test_a_pruner_that_may_not_be_read_is_said_to_be_unknown_and_the_run_goes_on(env):
    add_pruner(env, {"suspend": False})
    plan = env.plan(NO_REGISTRY)
    forbid_pruner(env)
    result = env.execute(plan, "--confirm", "--format", "json")
    assert result.code == 0, result.err
    assert pruner_lines(result) == [FORBIDDEN_WARNING]
    assert json.loads(result.out)["automaticPruner"] == {"state": "unknown", "reason": "forbidden"}
    assert len(deletions(env)) == planned(plan)


@pytest.mark.parametrize("confirm", [["--confirm"], []], ids=["confirmed", "dry-run"])
def test_require_pruner_suspended_refuses_an_active_pruner_with_exit_16_and_no_mutating_request(env, confirm):
    add_pruner(env, {"schedule": "30 1 * * *", "suspend": False})
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, *confirm, "--require-pruner-suspended")
    assert result.code == 16
    assert [line for line in result.err_lines if line.startswith(("error:", "warning:"))] == [
        'error: the automatic image pruner is active (ImagePruner cluster, schedule "30 1 * * *") and '
        f"--require-pruner-suspended is given; suspend it with {SUSPEND}, then run again"
    ]
    assert result.err_lines[-1].startswith("error: ")
    assert env.writes() == [] and result.out == ""
    assert not (env.tmp / "plan.json.journal").exists()


def test_require_pruner_suspended_refuses_a_pruner_it_may_not_read(env):
    plan = env.plan(NO_REGISTRY)
    forbid_pruner(env)
    result = env.execute(plan, "--confirm", "--require-pruner-suspended")
    assert result.code == 16
    assert result.err_lines[-1] == (
        "error: --require-pruner-suspended cannot be checked: this account may not read imagepruners/cluster "
        "(get on imagepruners.imageregistry.operator.openshift.io); grant the account that read, then run again"
    )
    assert env.writes() == [] and result.out == ""


def test_require_pruner_suspended_runs_once_the_pruner_is_suspended(env):
    add_pruner(env, {"schedule": "0 0 * * *", "suspend": False})
    plan = env.plan(NO_REGISTRY)
    assert env.execute(plan, "--confirm", "--require-pruner-suspended").code == 16
    pruner = env.api.get("imagepruners", "cluster")
    env.api.remove("imagepruners", "cluster")
    env.api.add({**pruner, "spec": {**pruner["spec"], "suspend": True}})
    result = env.execute(plan, "--confirm", "--require-pruner-suspended")
    assert result.code == 0, result.err
    assert pruner_lines(result) == []
    assert len(deletions(env)) == planned(plan)


def test_require_pruner_suspended_runs_on_a_cluster_without_a_pruner(env):
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--confirm", "--require-pruner-suspended")
    assert result.code == 0, result.err
    assert len(deletions(env)) == planned(plan)


def test_the_pruner_refusal_status_cannot_be_taken_by_skipped_exit_code(env):
    result = env.execute(env.tmp / "plan.json", "--skipped-exit-code", "16")
    assert result.code == 2
    assert len(result.err_lines) == 1 and "16" in result.err.split("not ")[-1]
