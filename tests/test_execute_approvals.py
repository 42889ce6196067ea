"""Four eyes in execute: `--threshold N` runs only a plan signed by N distinct trusted keys (the
author's PLAN.sig and the approvals of PLAN.approvals), names each counted key and what its
approval says in the header, and refuses anything less before the first request to the cluster."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from clirunner import Result, run_cli
from execute_env import Env, load

NO_REGISTRY = "--prune-registry=false"


def keygen(env: Env, name: str) -> tuple[str, str]:
    private = str(env.tmp / name)
    result = run_cli("keygen", private)
    assert result.code == 0, result.err
    return private, private + ".pub"


def approve(plan: Path, key: str, *annotations: str) -> None:
    args = [a for pair in annotations for a in ("--annotation", pair)]
    result = run_cli("approve", str(plan), "--key", key, *args)
    assert result.code == 0, result.err


def execute(env: Env, plan: Path, keys: list[str], *flags: str) -> Result:
    trusted = [a for key in keys for a in ("--key", key)]
    return run_cli("execute", str(plan), *trusted, "--kubeconfig", env.kubeconfig, *flags)


def refused_before_any_request(env: Env, run) -> Result:
    """Run `run`; assert the fake API saw no request at all while it ran."""
    before = len(env.api.requests)
    result = run()
    assert env.api.requests[before:] == []
    assert result.out == ""
    return result


def short_of(threshold: int, signers: list[str]) -> str:
    return (f"error: {len(signers)} of the {threshold} required trusted keys signed this plan (signed by {', '.join(signers)}); "
            "an approver adds a signature with `pruneplan approve PLAN --key KEY`")


def test_a_plan_approved_with_a_ticket_by_a_second_key_runs_with_threshold_2_and_the_header_names_both(env):
    approver, approver_pub = keygen(env, "approver")
    plan = env.plan(NO_REGISTRY)
    approve(plan, approver, "ticket=CHG-1234", "approver=bob", "time=2026-12-06T09:00:00Z", "comment=seen by the team")
    sha = hashlib.sha256(plan.read_bytes()).hexdigest()

    dry = execute(env, plan, [env.pub, approver_pub], "--threshold", "2")
    assert dry.code == 0, dry.err
    assert dry.err_lines[:3] == [
        f"Plan: {plan} sha256:{sha}, signed by 2 distinct trusted key(s), threshold 2",
        f"Signed: {plan}.sig, key {env.pub}",
        # a value with spaces is quoted, so it cannot pass for another annotation
        f"Signed: {plan}.approvals, approval 1, key {approver_pub}; "
        'approver=bob comment="seen by the team" ticket=CHG-1234 time=2026-12-06T09:00:00Z',
    ]
    assert dry.err_lines[3].startswith("Cluster: ")
    assert env.writes() == []

    run = execute(env, plan, [env.pub, approver_pub], "--threshold", "2", "--confirm", "--format", "json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["threshold"] == 2
    assert report["signatures"] == [
        {"source": f"{plan}.sig", "key": env.pub, "annotations": {}},
        {"source": f"{plan}.approvals, approval 1", "key": approver_pub,
         "annotations": {"approver": "bob", "comment": "seen by the team", "ticket": "CHG-1234", "time": "2026-12-06T09:00:00Z"}},
    ]
    planned = [d["name"] for d in load(plan)["imageDeletions"]]
    assert planned and all(env.api.get("images", name) is None for name in planned)


def test_the_plan_without_its_approval_is_refused_with_exit_10_naming_the_authors_key_and_no_request(env):
    _, approver_pub = keygen(env, "approver")
    plan = env.plan(NO_REGISTRY)
    result = refused_before_any_request(env, lambda: execute(env, plan, [env.pub, approver_pub], "--threshold", "2", "--confirm"))
    assert result.code == 10
    assert result.err_lines == [short_of(2, [env.pub])]


def test_an_approval_by_an_untrusted_key_does_not_count_and_is_listed_as_not_counted(env):
    approver, approver_pub = keygen(env, "approver")
    stranger, _ = keygen(env, "stranger")
    plan = env.plan(NO_REGISTRY)
    approve(plan, stranger, "ticket=CHG-1")
    refused = refused_before_any_request(env, lambda: execute(env, plan, [env.pub, approver_pub], "--threshold", "2", "--confirm"))
    assert refused.code == 10
    assert refused.err_lines == [short_of(2, [env.pub])]

    approve(plan, approver, "ticket=CHG-1")  # the trusted approver's, after the stranger's
    accepted = execute(env, plan, [env.pub, approver_pub], "--threshold", "2")
    assert accepted.code == 0, accepted.err
    header = accepted.err_lines[:4]
    assert header[1] == f"Signed: {plan}.sig, key {env.pub}"
    assert header[2].startswith(f"Signed: {plan}.approvals, approval 2, key {approver_pub}; ticket=CHG-1 time=")
    assert header[3].startswith(f"Not counted: {plan}.approvals, approval 1: does not verify with any trusted key (keyid sha256:")


def test_two_approvals_by_one_key_count_once(env):
    approver, approver_pub = keygen(env, "approver")
    _, third_pub = keygen(env, "third")
    plan = env.plan(NO_REGISTRY)
    approve(plan, approver, "ticket=CHG-1")
    approve(plan, approver, "ticket=CHG-2")
    result = refused_before_any_request(
        env, lambda: execute(env, plan, [env.pub, approver_pub, third_pub], "--threshold", "3", "--confirm"))
    assert result.code == 10
    assert result.err_lines == [short_of(3, [env.pub, approver_pub])]


def test_an_approval_whose_annotation_was_edited_in_the_bundle_does_not_verify(env):
    approver, approver_pub = keygen(env, "approver")
    plan = env.plan(NO_REGISTRY)
    approve(plan, approver, "ticket=CHG-1")
    bundle_path = Path(f"{plan}.approvals")
    bundle = json.loads(bundle_path.read_text())
    statement = json.loads(base64.b64decode(bundle["approvals"][0]["payload"]))
    statement["annotations"]["ticket"] = "CHG-9999"  # another change ticket, same signature
    bundle["approvals"][0]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    bundle_path.write_text(json.dumps(bundle))
    result = refused_before_any_request(env, lambda: execute(env, plan, [env.pub, approver_pub], "--threshold", "2", "--confirm"))
    assert result.code == 10
    assert result.err_lines == [short_of(2, [env.pub])]


def test_a_threshold_above_the_number_of_trusted_keys_is_a_usage_error(env):
    approver, approver_pub = keygen(env, "approver")
    plan = env.plan(NO_REGISTRY)
    approve(plan, approver, "ticket=CHG-1")
    result = refused_before_any_request(env, lambda: execute(env, plan, [env.pub, approver_pub], "--threshold", "3", "--confirm"))
    assert result.code == 2
    assert result.err_lines == ["error: --threshold 3 needs at least 3 distinct trusted keys (--key), not 2"]


def test_a_malformed_approval_bundle_is_refused_with_exit_11(env):
    _, approver_pub = keygen(env, "approver")
    plan = env.plan(NO_REGISTRY)
    Path(f"{plan}.approvals").write_text('{"apiVersion": "pruneplan.io/v1", "kind": "ApprovalBundle"')
    result = refused_before_any_request(env, lambda: execute(env, plan, [env.pub, approver_pub], "--threshold", "2", "--confirm"))
    assert result.code == 11
    assert len(result.err_lines) == 1 and result.err.startswith(f"error: approvals {plan}.approvals is not an approval bundle")


def test_approvals_kept_elsewhere_are_read_from_the_approvals_option(env):
    approver, approver_pub = keygen(env, "approver")
    plan = env.plan(NO_REGISTRY)
    approve(plan, approver, "ticket=CHG-1")
    elsewhere = env.tmp / "CHG-1.approvals"
    Path(f"{plan}.approvals").rename(elsewhere)
    result = execute(env, plan, [env.pub, approver_pub], "--threshold", "2", "--approvals", str(elsewhere))
    assert result.code == 0, result.err
    assert result.err_lines[2].startswith(f"Signed: {elsewhere}, approval 1, key {approver_pub}; ticket=CHG-1 time=")


def test_a_plan_from_stdin_with_a_threshold_needs_its_approvals_named(env):
    _, approver_pub = keygen(env, "approver")
    plan = env.plan(NO_REGISTRY)
    result = refused_before_any_request(env, lambda: run_cli(
        "execute", "-", "--signature", f"{plan}.sig", "--key", env.pub, "--key", approver_pub, "--threshold", "2",
        "--kubeconfig", env.kubeconfig))
    assert result.code == 2
    assert result.err_lines == ["error: execute - reads the plan from stdin: name its approvals with --approvals FILE"]
