"""`pruneplan execute`: options only; the work happens in execute.command."""

from __future__ import annotations

from typing import List, Optional

import typer


def execute_command(
    plan: str = typer.Argument(..., metavar="PLAN", help="The plan file (PLAN.sig beside it); - reads stdin (then --signature is needed)."),
    keys: List[str] = typer.Option([], "--key", metavar="PUB", help="Trusted public key (PEM); repeatable (the author's and an approver's)."),
    threshold: int = typer.Option(
        1, "--threshold", metavar="N",
        help="How many distinct trusted keys must have signed (PLAN.sig and the approvals); at most the number of --key.",
    ),
    approvals: Optional[str] = typer.Option(
        None, "--approvals", metavar="FILE", help="The plan's approval bundle, made by `pruneplan approve` (default: PLAN.approvals).",
    ),
    confirm: bool = typer.Option(False, "--confirm/--no-confirm", help="Really delete. Without it: a dry run."),
    kubeconfig: Optional[str] = typer.Option(
        None, "--kubeconfig", metavar="FILE", help="Kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or the pod's service account)."
    ),
    context: Optional[str] = typer.Option(None, "--context", metavar="NAME", help="Kubeconfig context to use (default: its current context)."),
    api_server_aliases: List[str] = typer.Option(
        [], "--api-server-alias", metavar="URL",
        help="Another URL of this cluster's API server; repeatable. Used only for a plan whose dump has no cluster ID: "
             "the plan's API server URL must then be the live one or an alias.",
    ),
    registry_url: Optional[str] = typer.Option(None, "--registry-url", metavar="URL", help="The registry's address; default: found from the newest managed image."),
    certificate_authority: Optional[str] = typer.Option(None, "--certificate-authority", metavar="FILE", help="Extra CA bundle for the registry."),
    force_insecure: bool = typer.Option(False, "--force-insecure/--no-force-insecure", help="Allow plain HTTP and skip TLS verification."),
    num_workers: str = typer.Option("5", "--num-workers", metavar="N", help="Parallel workers (below 1 means 5)."),
    max_requests_per_second: Optional[str] = typer.Option(
        None, "--max-requests-per-second", metavar="N",
        help="Send at most N requests a second to the registry, all workers and retries together "
             "(a number above 0, such as 20 or 0.5; default: no limit).",
    ),
    max_api_requests_per_second: Optional[str] = typer.Option(
        None, "--max-api-requests-per-second", metavar="N",
        help="Send at most N of the run's requests a second to the API server, all workers and retries together "
             "(a number above 0; default: no limit).",
    ),
    journal: Optional[str] = typer.Option(
        None, "--journal", metavar="FILE",
        help="Journal for resuming (default PLAN.journal). An existing directory DIR means DIR/<plan sha256>.journal.",
    ),
    registry_flavor: str = typer.Option(
        "openshift", "--registry-flavor", metavar="FLAVOR",
        help="openshift (blobs via /admin/blobs) or distribution (garbage-collect reclaims blobs).",
    ),
    restart_registry: bool = typer.Option(False, "--restart-registry/--no-restart-registry", help="Roll out the registry deployment afterwards."),
    allow_mostly_absent: bool = typer.Option(
        False, "--allow-mostly-absent/--no-allow-mostly-absent",
        help="Go on when nearly every registry deletion answers 404 (by default the run stops: wrong registry?).",
    ),
    skipped_exit_code: int = typer.Option(
        0, "--skipped-exit-code", metavar="N",
        help="Exit with N when the run completed but the re-check skipped planned actions (default 0, as oc).",
    ),
    require_pruner_suspended: bool = typer.Option(
        False, "--require-pruner-suspended/--no-require-pruner-suspended",
        help="Refuse to run (exit 16) while the cluster's automatic image pruner (ImagePruner cluster) is active, "
             "or when it cannot be read; without it, execute only warns.",
    ),
    progress_interval: float = typer.Option(
        30.0, "--progress-interval", min=1.0, metavar="SECONDS",
        help="When stderr is not a terminal, print a progress line on stderr every SECONDS (and at each stage's start "
             "and end); on a terminal, progress is shown live.",
    ),
    output_format: str = typer.Option("text", "--format", metavar="FORMAT", help="text or json (a report on stdout; the lines go to stderr)."),
    metrics_file: Optional[str] = typer.Option(
        None, "--metrics-file", metavar="FILE",
        help="Write the run's outcome to FILE in Prometheus' text format (for node_exporter's textfile collector), "
             "replacing it atomically, however the run ends.",
    ),
    signature: Optional[str] = typer.Option(None, "--signature", metavar="SIG", help="Signature file (default PLAN.sig)."),
    registry_storage: Optional[str] = typer.Option(
        None, "--registry-storage", metavar="DIR",
        help="For a hard-prune plan (analyze --hard), and required by one: the registry's storage root, the directory "
             "holding docker/ (the registry must be read-only).",
    ),
) -> int:
    """Verify a signed plan, re-check it against the live cluster, and replay what is still justified.

    Without --confirm it is a dry run: it reads the cluster (and the journal, if there is one)
    and prints what it would do. With --threshold N it runs only a plan signed by N distinct
    trusted keys: its author's PLAN.sig and the approvers' PLAN.approvals. It warns when the
    cluster's automatic image pruner is active; --require-pruner-suspended refuses instead.
    A hard-prune plan (analyze --hard) deletes from the registry's storage instead: it needs
    --registry-storage DIR and a registry made read-only first.

    \b
    Examples:
      # dry run: what would be deleted now
      pruneplan execute plan.json --key review-key.pub
      # four eyes: the author signed with analyze --sign-key, an approver adds a signature and the ticket
      pruneplan approve plan.json --key approver-key --annotation ticket=CHG-1234
      pruneplan execute plan.json --key author-key.pub --key approver-key.pub --threshold 2 --confirm
      # delete, then restart the registry to clear its blob cache
      pruneplan execute plan.json --key review-key.pub --confirm --restart-registry
      # in the cluster: one journal per plan in /state, exit 5 when the re-check skipped actions
      pruneplan execute /state/plan.json --key /trust/author-key.pub --key /trust/approver-key.pub --threshold 2 \\
          --confirm --journal=/state/ --skipped-exit-code=5
      # never beside the automatic pruner: refuse unless the ImagePruner is suspended (or absent)
      pruneplan execute plan.json --key review-key.pub --confirm --require-pruner-suspended
      # a plan without a cluster ID, collected through another URL of the same API server
      pruneplan execute plan.json --key review-key.pub --api-server-alias https://api.example:6443
      # gentle on a fragile registry and API server: at most 20 and 50 requests a second
      pruneplan execute plan.json --key review-key.pub --confirm --max-requests-per-second 20 \\
          --max-api-requests-per-second 50
      # for alerts: the run's outcome for node_exporter's textfile collector, written even when it fails
      pruneplan execute plan.json --key review-key.pub --confirm \\
          --metrics-file /var/lib/node_exporter/textfile/pruneplan.prom
      # a hard-prune plan, with the registry read-only: delete orphaned storage
      pruneplan execute hard-plan.json --key review-key.pub --registry-storage /registry --confirm
    """
    from pruneplan.policy import parse_int_flag

    from pruneplan.execute.command import ExecuteRequest, run
    from pruneplan.execute.ratelimit import parse_rate

    workers = parse_int_flag(num_workers, "--num-workers")  # oc reads it as Go does: 010 is 8
    registry_rate = parse_rate(max_requests_per_second, "--max-requests-per-second")
    api_rate = parse_rate(max_api_requests_per_second, "--max-api-requests-per-second")
    return run(ExecuteRequest(
        plan=plan, keys=keys, confirm=confirm, kubeconfig=kubeconfig, context=context, registry_url=registry_url,
        certificate_authority=certificate_authority, force_insecure=force_insecure,
        num_workers=workers if workers >= 1 else 5, journal=journal, registry_flavor=registry_flavor,
        restart_registry=restart_registry, output_format=output_format, signature=signature,
        api_server_aliases=api_server_aliases, skipped_exit_code=skipped_exit_code,
        allow_mostly_absent=allow_mostly_absent, threshold=threshold, approvals=approvals,
        require_pruner_suspended=require_pruner_suspended,
        registry_rate=registry_rate, api_rate=api_rate, progress_interval=progress_interval,
        metrics_file=metrics_file, registry_storage=registry_storage,
    ))


def register(app: typer.Typer) -> None:
    app.command("execute")(execute_command)
