"""`pruneplan execute`: options only; the work happens in execute.command."""

from __future__ import annotations

from typing import List, Optional

import typer


def execute_command(
    plan: str = typer.Argument(..., metavar="PLAN", help="The plan file (PLAN.sig beside it)."),
    keys: List[str] = typer.Option([], "--key", metavar="PUB", help="Trusted public key (PEM); repeatable."),
    confirm: bool = typer.Option(False, "--confirm/--no-confirm", help="Really delete. Without it: a dry run."),
    kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig"),
    context: Optional[str] = typer.Option(None, "--context"),
    registry_url: Optional[str] = typer.Option(None, "--registry-url", help="The registry's address; default: found from the newest managed image."),
    certificate_authority: Optional[str] = typer.Option(None, "--certificate-authority", metavar="CA", help="Extra CA bundle for the registry."),
    force_insecure: bool = typer.Option(False, "--force-insecure/--no-force-insecure", help="Allow plain HTTP and skip TLS verification."),
    num_workers: str = typer.Option("5", "--num-workers", metavar="N", help="Parallel workers (below 1 means 5)."),
    journal: Optional[str] = typer.Option(None, "--journal", metavar="FILE", help="Journal for resuming (default PLAN.journal)."),
    registry_flavor: str = typer.Option("openshift", "--registry-flavor", help="openshift (blobs via /admin/blobs) or distribution (garbage-collect reclaims blobs)."),
    restart_registry: bool = typer.Option(False, "--restart-registry/--no-restart-registry", help="Roll out the registry deployment afterwards."),
    output_format: str = typer.Option("text", "--format", help="text or json"),
    signature: Optional[str] = typer.Option(None, "--signature", metavar="SIG", help="Signature file (default PLAN.sig)."),
) -> None:
    """Verify a signed plan, re-check it against the live cluster, and replay what is still justified."""
    from pruneplan.policy import parse_int_flag

    from pruneplan.execute.command import ExecuteRequest, run

    workers = parse_int_flag(num_workers, "--num-workers")  # oc reads it as Go does: 010 is 8
    run(ExecuteRequest(
        plan=plan, keys=keys, confirm=confirm, kubeconfig=kubeconfig, context=context, registry_url=registry_url,
        certificate_authority=certificate_authority, force_insecure=force_insecure,
        num_workers=workers if workers >= 1 else 5, journal=journal, registry_flavor=registry_flavor,
        restart_registry=restart_registry, output_format=output_format, signature=signature,
    ))


def register(app: typer.Typer) -> None:
    app.command("execute")(execute_command)
