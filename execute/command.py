"""The body of `pruneplan execute`: refuse, re-check, act, report. Imported only when it runs.

Order matters for safety: every refusal (flags, signature, expiry, plan version, journal of
another plan, wrong cluster, live references that do not parse, an active automatic pruner
with --require-pruner-suspended) happens before the first write to the cluster or the registry.
Once the plan and the cluster are accepted, a header on stderr says which plan, which keys signed
it (with what each approval says), which cluster and which journal.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import orjson

from pruneplan import errors
from pruneplan.errors import EXIT_USAGE, AggregateError, PrunePlanError
from pruneplan.files import STDIN, input_path, is_terminal
from pruneplan.signing import SignatureCheck, VerifiedHardPlan, VerifiedPlan, check_threshold, verify_plan

from pruneplan.execute.metrics import RunFacts, exit_status, previous_last_success, refused_plan, write_metrics_or_warn

if TYPE_CHECKING:  # imported where they run: the kubernetes client takes a while to import
    from kubernetes.client import Configuration

    from pruneplan.collect.client import KubeTransport
    from pruneplan.execute.journal import Journal

REGISTRY_NAMESPACE = "openshift-image-registry"
REGISTRY_DEPLOYMENT = "image-registry"
# Connections kept open per host, for the API server and for the registry: each worker uses one at
# a time, and a pool smaller than the workers makes urllib3 discard and reopen connections.
POOL_MARGIN = 2


class FailedRun(AggregateError):
    """The errors of a run: one is an ordinary error line; several are each on a line of their
    own, then one `error:` line with their count (a log's last line tells how the run ended)."""

    def lines(self) -> list[str]:
        if len(self.errors) == 1:
            return super().lines()
        return [*self.errors, f"error: {len(self.errors)} errors in this run (listed above); "
                              "a rerun with the same journal retries what failed"]


@dataclass
class ExecuteRequest:
    plan: str
    keys: list[str]
    confirm: bool = False
    kubeconfig: str | None = None
    context: str | None = None
    registry_url: str | None = None
    certificate_authority: str | None = None
    force_insecure: bool = False
    num_workers: int = 5
    journal: str | None = None
    registry_flavor: str = "openshift"
    restart_registry: bool = False
    output_format: str = "text"
    signature: str | None = None
    request_timeout: float = 30.0
    api_server_aliases: list[str] = field(default_factory=list)
    skipped_exit_code: int = 0
    allow_mostly_absent: bool = False
    threshold: int = 1  # distinct trusted keys that must have signed (PLAN.sig and approvals)
    approvals: str | None = None  # the approval bundle; default PLAN.approvals
    require_pruner_suspended: bool = False  # refuse unless the automatic pruner is suspended or absent
    registry_rate: float | None = None  # requests a second to the registry, all workers together; None: no limit
    api_rate: float | None = None  # the same for the run's API requests (not the snapshot's reads)
    metrics_file: str | None = None  # the run's outcome in Prometheus' text format, written however it ends
    progress_interval: float = 30.0  # seconds between progress lines when stderr is not a terminal
    registry_storage: str | None = None  # a hard-prune plan's storage root (required for one, refused for a soft plan)


def validate_skipped_exit_code(code: int) -> None:
    """--skipped-exit-code must not be mistaken for another of pruneplan's statuses."""
    taken = sorted({value for name, value in vars(errors).items() if name.startswith("EXIT_")})
    if not 0 <= code <= 255 or code in taken:
        raise PrunePlanError(
            f"--skipped-exit-code must be 0 (the default) or a status from 1 to 255 that pruneplan does not use "
            f"for anything else (not {', '.join(map(str, taken))}), not {code}",
            EXIT_USAGE,
        )


def _annotation_text(annotations: dict[str, str]) -> str:
    """`key=value ...`, a value quoted when it has spaces or control characters, so that an
    annotation can neither run into the next one nor start a line of its own in the log."""
    def shown(value: str) -> str:
        plain = value and value.isprintable() and '"' not in value and not any(c.isspace() for c in value)
        return value if plain else json.dumps(value)
    return " ".join(f"{key}={shown(value)}" for key, value in sorted(annotations.items()))


def signature_lines(verified: VerifiedPlan | VerifiedHardPlan) -> list[str]:
    """One line per counted signature (its key and what it says), then one per signature that did
    not count (without its annotations: an untrusted signer's words are not repeated)."""
    lines = []
    for check in verified.signatures:
        if check.counted:
            said = _annotation_text(check.annotations)
            lines.append(f"Signed: {check.source}, key {check.key}" + (f"; {said}" if said else ""))
    for check in verified.signatures:
        if not check.counted:  # a problem may quote a bundle's keyid, which anyone could have written
            problem = check.problem if check.problem.isprintable() else json.dumps(check.problem)
            lines.append(f"Not counted: {check.source}: {problem}")
    return lines


def counted_signatures(verified: VerifiedPlan | VerifiedHardPlan) -> list[SignatureCheck]:
    return [check for check in verified.signatures if check.counted]


def header_lines(verified: VerifiedPlan | VerifiedHardPlan, plan_path: str, cluster: str, journal: str | None, journal_exists: bool) -> list[str]:
    """What execute says before it starts: which plan, verified by which keys, which cluster, when."""
    meta = verified.plan.metadata
    if journal is None:
        journal_line = "Journal: none read (a dry run without a journal)"
    else:
        journal_line = f"Journal: {journal}" + ("" if journal_exists else " (new)")
    if verified.threshold == 1 and len(verified.signatures) <= 1:  # one detached signature: its words as they were
        trust = [f"Plan: {plan_path} sha256:{verified.sha256}, verified with key {verified.key_path}"]
    else:
        trust = [f"Plan: {plan_path} sha256:{verified.sha256}, signed by {len(counted_signatures(verified))} "
                 f"distinct trusted key(s), threshold {verified.threshold}",
                 *signature_lines(verified)]
    return [
        *trust,
        f"Cluster: {cluster}",
        f"Created: {meta.created_at}, expires: {meta.not_after}",
        journal_line,
    ]


def write_json(document: dict[str, Any]) -> None:
    """The JSON report on stdout, as bytes when stdout has a buffer: one copy of a report that
    lists every action, not three (bytes, str, str with its newline)."""
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (a test's capture)
        sys.stdout.write(data.decode())
        return
    sys.stdout.flush()
    buffer.write(data)
    buffer.flush()



def snapshot(transport: Any, namespace: str | None, resources: frozenset[str] | None = None) -> Any:
    """Collect the live cluster (`resources` only, when given) into a private temporary dump and
    load it back, as analyze loads a dump."""
    from pruneplan.analyze.decisions.inputs import load_inputs
    from pruneplan.collect.collector import Options, collect
    from pruneplan.collect.progress import Progress

    directory = tempfile.mkdtemp(prefix="pruneplan-execute-")
    path = os.path.join(directory, "live.json.gz")
    try:
        collect(transport, Options(output=path, namespace=namespace, resources=resources), sys.stderr, Progress(sys.stderr, label="re-check listing"))
        return load_inputs([path])
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(directory)


def start_run(request: ExecuteRequest, verified: VerifiedPlan | VerifiedHardPlan,
              also_say: tuple[str, ...] = ()) -> tuple[Journal | None, Configuration, KubeTransport]:
    """What a run of either kind of plan does first, after the plan is verified: its journal
    (a dry run reads an existing one, to leave out what is done, and never creates one), the
    live cluster checked against the plan's (exit 15), and the run's header on stderr, with
    `also_say`'s lines after it."""
    from pruneplan.collect.client import KubeTransport, load_configuration
    from pruneplan.collect.collector import cluster_identity
    from pruneplan.execute.identity import check_cluster
    from pruneplan.execute.journal import Journal, journal_path

    path = journal_path(request.journal, request.plan, verified.sha256)
    journal_exists = os.path.lexists(path)
    journal = Journal(path, verified.sha256) if request.confirm or journal_exists else None
    config = load_configuration(request.kubeconfig, request.context)
    transport = KubeTransport(config, request.request_timeout)
    _, cluster_id = cluster_identity(transport)
    matched = check_cluster(verified.plan.source.cluster, config.host, cluster_id, request.api_server_aliases)
    header = header_lines(verified, request.plan, matched, journal.path if journal else None, journal_exists)
    sys.stderr.write("".join(f"{line}\n" for line in (*header, *also_say)))
    return journal, config, transport


def run(request: ExecuteRequest) -> int:
    """The run; with --metrics-file, its outcome is written however it ends (a refusal, a failure,
    an interruption), after the run's own output and without hiding the run's own error."""
    if request.metrics_file == STDIN:  # stdout carries the run's own product
        raise PrunePlanError("--metrics-file needs a file: stdout carries the run's output", EXIT_USAGE)
    facts = RunFacts(started=time.time(), dry_run=not request.confirm)
    if request.metrics_file is not None:
        facts.last_success = previous_last_success(request.metrics_file)
    try:
        facts.exit_code = _run(request, facts)
        return facts.exit_code
    except BaseException as err:
        facts.exit_code = exit_status(err)
        facts.plan = facts.plan or refused_plan(err)  # an expired plan's times
        raise
    finally:
        if request.metrics_file is not None:
            facts.ended = time.time()
            write_metrics_or_warn(request.metrics_file, facts)


def _run(request: ExecuteRequest, facts: RunFacts) -> int:
    from pruneplan.analyze.decisions.engine import BuildGraphError, analyze

    from pruneplan.execute.identity import validate_aliases
    from pruneplan.execute.pruner import check_suspended, live_pruner, warning
    from pruneplan.execute.ratelimit import limiter_for
    from pruneplan.execute.registry_setup import RegistrySetup, validate_flags
    from pruneplan.execute.progress import display as progress_display
    from pruneplan.execute.runner import Executor

    if request.registry_flavor not in ("openshift", "distribution"):
        raise PrunePlanError(f"--registry-flavor must be openshift or distribution, not {request.registry_flavor}", EXIT_USAGE)
    if request.output_format not in ("text", "json"):
        raise PrunePlanError(f"--format must be text or json, not {request.output_format}", EXIT_USAGE)
    if not request.keys:
        raise PrunePlanError("execute needs at least one trusted --key", EXIT_USAGE)
    validate_flags(request.registry_url, request.certificate_authority, request.force_insecure)
    validate_aliases(request.api_server_aliases)
    validate_skipped_exit_code(request.skipped_exit_code)
    # a threshold the trusted keys cannot reach is a usage error, found before the plan is read
    check_threshold(request.threshold, request.keys)
    if request.plan == STDIN and request.signature is None:
        raise PrunePlanError("execute - reads the plan from stdin: name its signature file with --signature SIG", EXIT_USAGE)
    if request.plan == STDIN and request.threshold > 1 and request.approvals is None:
        raise PrunePlanError("execute - reads the plan from stdin: name its approvals with --approvals FILE", EXIT_USAGE)
    checked = verify_plan(input_path(request.plan), request.keys, request.signature, threshold=request.threshold,
                          approvals_path=request.approvals, accept_hard=True)
    if isinstance(checked, VerifiedHardPlan):  # deletes from the registry's storage: execute/hard
        from pruneplan.execute.hard.command import run_hard

        facts.plan = checked.plan  # verified: its times are in the metrics however the run ends
        return run_hard(request, replace(checked, raw=b""), facts)
    if request.registry_storage is not None:
        raise PrunePlanError("--registry-storage is for a hard-prune plan (written by `pruneplan analyze --hard`); "
                             f"{request.plan} is a plan of `pruneplan analyze`: run it without --registry-storage", EXIT_USAGE)
    verified = checked
    # the plan's bytes served the signature checks; the run keeps the decoded plan only (a plan
    # of a hundred thousand actions is tens of megabytes)
    verified = replace(verified, raw=b"")
    plan = verified.plan  # every field validated: a malformed plan was refused (exit 13) above
    facts.plan = plan
    policy = plan.policy.to_policy()
    journal, config, transport = start_run(request, verified)

    try:
        loaded = snapshot(transport, policy.namespace)  # unreadable image metadata fails as the analysis does
        fresh = analyze(loaded, policy.with_now(time.time()))
    except BuildGraphError as err:  # upstream's report and words; nothing was sent
        print(err.report(), file=sys.stderr)
        raise

    # the live state, read by the snapshot; said (or refused) before anything is changed
    pruner = live_pruner(loaded.cluster_settings)
    if request.require_pruner_suspended:
        check_suspended(pruner)
    said = warning(pruner)
    if said:
        print(said, file=sys.stderr)

    registry = None
    out = sys.stderr if request.output_format == "json" else sys.stdout
    if not request.confirm:
        print("Dry run enabled - no modifications will be made. Add --confirm to remove images", file=sys.stderr)
    # what upstream logs while it prunes (missing images, unreadable metadata), as analyze prints it
    log = fresh.log()
    if log:
        sys.stderr.write("".join(f"{line}\n" for line in log))
    connections = request.num_workers + POOL_MARGIN
    if not policy.prune_registry:
        print("Only API objects will be removed.  No modifications to the image registry will be made.", file=out)
    elif request.confirm:
        registry = RegistrySetup(
            config=config,
            registry_url=request.registry_url,
            ca_bundle=request.certificate_authority,
            force_insecure=request.force_insecure,
            flavor=request.registry_flavor,
            connections=connections,
            limiter=limiter_for(request.registry_rate),
        ).connect(loaded)
    # the snapshot's objects have served (the analysis, the pruner, the registry's host): on a big
    # cluster they are most of the memory, and the run does not read them
    loaded.release()

    from pruneplan.execute.kubeapi import KubeApi

    api = KubeApi(config, timeout=request.request_timeout, connections=connections,
                  limiter=limiter_for(request.api_rate)) if request.confirm else None
    executor = Executor(
        api, registry, journal, out, confirm=request.confirm, prune_registry=policy.prune_registry,
        workers=request.num_workers, registry_url=getattr(registry, "base_url", ""),
        absent_check=not request.allow_mostly_absent,
        show_progress=progress_display(request.progress_interval, is_terminal(sys.stderr)),
    )
    facts.report = executor.report  # filled as the run goes: a run that stops still counts what it did
    try:
        report = executor.run(plan, fresh)  # opens the journal before the first change
    finally:
        if journal is not None:
            journal.close()
    report.errors += fresh.errors  # stage 2 halted by unreadable metadata: no image was deleted
    for skip in report.skipped:
        print(f"Skipped: {skip.action}: {skip.reason}", file=out)
    print(f"Summary: {report.summary_line()}", file=out)
    if report.deferred_blobs:
        print(
            f"{report.deferred_blobs} blob(s) are left for the registry's garbage collector: stop the registry, run "
            "`registry garbage-collect CONFIG` (never with --delete-untagged), start it again.",
            file=out,
        )
    changed_registry = report.counts.deletedBlobs + report.counts.deletedLayerLinks + report.counts.deletedManifestLinks
    if request.confirm and request.restart_registry and api is not None and not changed_registry:
        # a rerun with nothing left to do (or a run whose registry deletions all failed) changed
        # no blob the registry may have cached: a restart would only interrupt pulls
        print("Registry not restarted: this run deleted nothing in the registry", file=out)
    elif request.confirm and request.restart_registry and api is not None:
        when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        outcome = api.restart_deployment(REGISTRY_NAMESPACE, REGISTRY_DEPLOYMENT, when)
        if outcome.done:
            print(f"Restarted deployment {REGISTRY_NAMESPACE}/{REGISTRY_DEPLOYMENT} to clear the registry's blob cache", file=out)
        else:
            report.errors.append(f"failed to restart the registry: {outcome.message}")
    if request.output_format == "json":
        signed = [{"source": c.source, "key": c.key, "annotations": c.annotations} for c in counted_signatures(verified)]
        document = {"planSha256": verified.sha256, "key": verified.key_path, "threshold": verified.threshold,
                    "signatures": signed, "automaticPruner": pruner.to_json(), **report.to_json()}
        write_json(document)
    return run_status(request, report.errors, len(report.skipped))


def run_status(request: ExecuteRequest, errors: list[str], skipped: int) -> int:
    """How a run of either kind of plan ends once it has acted: FailedRun for its errors, else
    --skipped-exit-code when the re-check skipped planned actions (said on stderr), else 0."""
    if errors:
        raise FailedRun(errors)
    if skipped and request.skipped_exit_code:
        print(f"{skipped} planned action(s) skipped by the re-check: exit status "
              f"{request.skipped_exit_code} (--skipped-exit-code)", file=sys.stderr)
        return request.skipped_exit_code
    return 0
