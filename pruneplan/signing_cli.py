"""`pruneplan keygen` and `pruneplan verify` (docs/signing.md).

Only option declarations live here; pruneplan.signing (and with it the cryptography package) is
imported inside the command bodies so that `pruneplan --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from .signing import VerifiedPlan


def keygen(
    key: Annotated[
        str, typer.Argument(metavar="KEY", help="Path of the private key to write; the public key goes to KEY.pub.")
    ],
    # A plain string checked by generate_key, so a wrong value is a one-line error like any other.
    key_type: Annotated[
        str, typer.Option("--type", metavar="ecdsa-p256|ed25519", help="Key algorithm.")
    ] = "ecdsa-p256",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
) -> None:
    """Generate a signing key pair (private key PEM with mode 0600, public key PEM).

    \b
    Examples:
      # once per reviewer: review-key (keep it private) and review-key.pub (share it)
      pruneplan keygen review-key
      pruneplan keygen review-key --type ed25519
    """
    from .files import printing_to_stdout
    from .signing import generate_key

    private_path, public_path = generate_key(key, key_type, force=force)
    with printing_to_stdout("the key paths", "the keys were written"):
        typer.echo(f"private key: {private_path}")
        typer.echo(f"public key:  {public_path}")


def verify(
    plan: Annotated[str, typer.Argument(metavar="PLAN", help="The plan file (plan.json); - reads stdin (then --signature is needed).")],
    keys: Annotated[
        Optional[list[str]],
        typer.Option("--key", metavar="PUB", help="Trusted public key PEM; repeat to trust several keys."),
    ] = None,
    signature: Annotated[
        Optional[str], typer.Option("--signature", metavar="SIG", help="Signature file (default: PLAN.sig).")
    ] = None,
    now: Annotated[
        Optional[str], typer.Option("--now", metavar="TIME", help="Check expiry at this RFC 3339 time instead of the current time.")
    ] = None,
) -> None:
    """Check a plan's signature, format and expiry, then summarise what it would do.

    \b
    Examples:
      pruneplan verify plan.json --key review-key.pub
      # trust either of two reviewers' keys; check the expiry at the planned execution time
      pruneplan verify plan.json --key alice.pub --key bob.pub --now 2026-12-07T02:00:00Z
    """
    from .errors import FlagError
    from .files import STDIN, input_path, printing_to_stdout
    from .signing import verify_plan
    from .timefmt import parse_user_time

    if plan == STDIN and signature is None:
        raise FlagError("verify - reads the plan from stdin: name its signature file with --signature SIG")
    at = parse_user_time(now, "--now") if now is not None else None
    verified = verify_plan(input_path(plan), keys or [], sig_path=signature, now=at)
    with printing_to_stdout("the summary", "the plan verified"):
        for line in summary_lines(verified):
            typer.echo(line)


def _value(value: Any) -> str:
    if value is None:  # the plan's null: a flag not given, an identity not known
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def summary_lines(verified: VerifiedPlan) -> list[str]:
    plan = verified.plan  # validated in full by verify_plan
    metadata, source = plan.metadata, plan.source
    policy, summary = plan.policy.to_dict(), plan.summary.to_dict()
    cluster = source.cluster
    counts = ", ".join(f"{key}={_value(summary[key])}" for key in sorted(summary) if key != "text")
    return [
        f"verified: {verified.signature_path} is a valid signature of the plan",
        f"plan sha256:  {verified.sha256}",
        f"signed by:    {verified.key_path}",
        f"created:      {_value(metadata.created_at)}",
        f"not after:    {_value(metadata.not_after)}",
        f"cluster:      {_value(cluster and cluster.api_server)} (clusterID {_value(cluster and cluster.cluster_id)})",
        f"dump sha256:  {_value(source.dump_sha256)}",
        "policy:       " + ", ".join(f"{key}={_value(policy[key])}" for key in sorted(policy)),
        f"counts:       {counts}",
        f"summary:      {_value(summary['text'])}",
    ]


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)
    app.command("verify")(verify)
