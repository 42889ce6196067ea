"""`pruneplan keygen` and `pruneplan verify` (docs/signing.md).

Only option declarations live here; pruneplan.signing (and with it the cryptography package) is
imported inside the command bodies so that `pruneplan --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from .planmodel import Plan
    from .signing import VerifiedHardPlan, VerifiedPlan


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
    threshold: Annotated[
        int, typer.Option("--threshold", metavar="N", help="How many distinct trusted keys must have signed (PLAN.sig and approvals).")
    ] = 1,
    approvals: Annotated[
        Optional[str], typer.Option("--approvals", metavar="FILE", help="The plan's approval bundle (default: PLAN.approvals).")
    ] = None,
) -> None:
    """Check a plan's signatures, format and expiry, then summarise what it would do.

    \b
    Examples:
      pruneplan verify plan.json --key review-key.pub
      # trust either of two reviewers' keys; check the expiry at the planned execution time
      pruneplan verify plan.json --key alice.pub --key bob.pub --now 2026-12-07T02:00:00Z
      # four eyes: the author's and an approver's signatures, each by its own key
      pruneplan verify plan.json --key author.pub --key approver.pub --threshold 2
    """
    from .errors import FlagError
    from .files import STDIN, input_path, printing_to_stdout
    from .signing import VerifiedPlan, verify_plan
    from .timefmt import parse_user_time

    if plan == STDIN and signature is None:
        raise FlagError("verify - reads the plan from stdin: name its signature file with --signature SIG")
    at = parse_user_time(now, "--now") if now is not None else None
    verified = verify_plan(input_path(plan), keys or [], sig_path=signature, now=at, threshold=threshold,
                           approvals_path=approvals, accept_hard=True)
    with printing_to_stdout("the summary", "the plan verified"):
        for line in summary_lines(verified) if isinstance(verified, VerifiedPlan) else hard_summary_lines(verified):
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
        _verified_line(verified),
        f"plan sha256:  {verified.sha256}",
        f"signed by:    {verified.key_path}",
        f"created:      {_value(metadata.created_at)}",
        f"not after:    {_value(metadata.not_after)}",
        f"cluster:      {_value(cluster and cluster.api_server)} (clusterID {_value(cluster and cluster.cluster_id)})",
        f"dump sha256:  {_value(source.dump_sha256)}",
        "policy:       " + ", ".join(f"{key}={_value(policy[key])}" for key in sorted(policy) if key != "sources"),
        *(["  from:       " + ", ".join(f"{flag}={origin}" for flag, origin in sorted(plan.policy.sources.items()))]
          if plan.policy.sources else []),
        *pruner_lines(plan),
        f"counts:       {counts}",
        f"summary:      {_value(summary['text'])}",
        *signature_lines(verified),
    ]


def _verified_line(verified: VerifiedPlan | VerifiedHardPlan) -> str:
    counted = [check for check in verified.signatures if check.counted]
    if len(verified.signatures) == 1:  # a single detached signature: the words it always had
        return f"verified: {verified.signature_path} is a valid signature of the plan"
    return (f"verified: {len(counted)} distinct trusted key(s) signed the plan "
            f"(threshold {verified.threshold}), of {len(verified.signatures)} signature(s)")


def hard_summary_lines(verified: VerifiedHardPlan) -> list[str]:
    """summary_lines for a hard-prune plan (pruneplan.hardplan)."""
    from .hardplan import describe_lines

    return [
        _verified_line(verified),
        f"plan sha256:  {verified.sha256}",
        f"signed by:    {verified.key_path}",
        *describe_lines(verified.plan),
        *signature_lines(verified),
    ]


def pruner_lines(plan: Plan) -> list[str]:
    """The cluster's automatic pruner as the plan's dump saw it, and where the plan's policy
    differs from what it runs; nothing for a plan of a dump without cluster settings."""
    from .prunerpolicy import policy_differences

    pruner = plan.source.automatic_pruner
    if pruner is None:
        return []
    if pruner.state == "absent":
        return ["automatic:    no ImagePruner cluster (no automatic pruner)"]
    if pruner.flags is None:
        return [f"automatic:    ImagePruner cluster not known ({pruner.state} to the collector)"]
    flags = pruner.flags.flag_values()
    sources = plan.policy.sources or {}
    differences = policy_differences(plan.policy.flag_values(), flags)
    return [
        f"automatic:    ImagePruner cluster found: schedule {pruner.schedule}, "
        + ("suspended" if pruner.suspended else "not suspended"),
        "  flags:      " + " ".join(f"{flag}={_value(value)}" for flag, value in flags.items())
        + f" loglevel={pruner.flags.loglevel}"
        + (f" registry-url={pruner.flags.registry_url}" if pruner.flags.registry_url else ""),
        *[f"  differs:    {flag}: plan {_value(ours)}" + (f" ({sources[flag]})" if flag in sources else "")
          + f", automatic pruner {_value(theirs)}" for flag, ours, theirs in differences],
        *([] if differences else ["  same policy as the plan"]),
    ]


def signature_lines(verified: VerifiedPlan | VerifiedHardPlan) -> list[str]:
    """Each signature: where, valid or not, counted or not, by which trusted key, what it says.
    A bundle's text (annotations, a keyid) is anyone's: its control characters are escaped, so a
    newline in it cannot make a line of its own."""
    from .cli import one_line

    lines = [f"signatures:   {sum(c.counted for c in verified.signatures)} counted, threshold {verified.threshold}"]
    for check in verified.signatures:
        state = ("valid, counted" if check.counted else f"valid, {check.problem}") if check.valid else f"NOT valid: {check.problem}"
        said = " ".join(f"{key}={value}" for key, value in sorted(check.annotations.items()))
        line = f"  {check.source}: {state}" + (f"; key {check.key}" if check.key else "") + (f"; {said}" if said else "")
        lines.append(one_line(line))
    return lines


def approve(
    plan: Annotated[str, typer.Argument(metavar="PLAN", help="The plan to approve (plan.json).")],
    key: Annotated[
        Optional[str], typer.Option("--key", metavar="KEY", help="Your private key (PEM): sign the approval with it.")
    ] = None,
    annotations: Annotated[
        Optional[list[str]],
        typer.Option("--annotation", metavar="KEY=VALUE", help="Signed with the approval (ticket, approver, comment); repeatable. "
                     "time is added when signing with --key unless given."),
    ] = None,
    approvals: Annotated[
        Optional[str], typer.Option("--approvals", metavar="FILE", help="The approval bundle to add to (default: PLAN.approvals).")
    ] = None,
    signing_input: Annotated[
        Optional[str], typer.Option("--signing-input", metavar="FILE", help="Only write the bytes to sign, for OpenSSL or cosign; - for stdout.")
    ] = None,
    signature: Annotated[
        Optional[str], typer.Option("--signature", metavar="SIG", help="Add a signature made outside pruneplan over --signing-input's bytes (DER or base64).")
    ] = None,
    public_key: Annotated[
        Optional[str], typer.Option("--public-key", metavar="PUB", help="The public key of --signature's signer: it must verify before the approval is added.")
    ] = None,
) -> None:
    """Approve a plan: add a signature over the plan and your annotations to PLAN.approvals.

    Each approval is a DSSE envelope whose statement names the plan by its sha256 and holds the
    annotations, so neither can be changed nor moved to another plan. `verify` and `execute`
    count distinct trusted keys against --threshold.

    \b
    Examples:
      # the approver signs, binding the change ticket into the signature
      pruneplan approve plan.json --key approver-key --annotation ticket=CHG-1234 --annotation approver=bob
      # with OpenSSL: write the bytes, sign them, attach the signature
      pruneplan approve plan.json --annotation ticket=CHG-1234 --annotation time=2026-12-06T09:00:00Z --signing-input approval.bin
      openssl dgst -sha256 -sign approver-key -out approval.sig approval.bin
      pruneplan approve plan.json --annotation ticket=CHG-1234 --annotation time=2026-12-06T09:00:00Z \\
          --signature approval.sig --public-key approver-key.pub
    """
    from .approvals import parse_annotations
    from .approve import ApproveRequest, approve as add_approval
    from .files import printing_to_stdout, write_or_fail

    request = ApproveRequest(
        plan=plan, annotations=parse_annotations(annotations or []), key=key, signature=signature,
        public_key=public_key, signing_input=signing_input, approvals=approvals,
    )
    result = add_approval(request)
    if isinstance(result, bytes):
        assert signing_input is not None
        write_or_fail(signing_input, result, 0o644, replace=True, inputs=[plan])
        if signing_input != "-":
            print(f"wrote the bytes to sign to {signing_input}", file=sys.stderr)
        return
    said = " ".join(f"{k}={v}" for k, v in sorted(result.annotations.items()))
    with printing_to_stdout("the approval", f"the approval was added to {result.approvals_path}"):
        typer.echo(f"approved: plan sha256 {result.plan_sha256} by key {result.key_id}" + (f"; {said}" if said else ""))
        typer.echo(f"{result.approvals_path}: {result.count} approval(s)"
                   + (f"; removed {result.dropped} of another plan" if result.dropped else ""))


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)
    app.command("approve")(approve)
    app.command("verify")(verify)
