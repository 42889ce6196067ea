"""`pruneplan analyze`: options only; the work happens in analyze.run (imported when called)."""

from __future__ import annotations

from typing import List, Optional

import typer


def analyze_command(
    inputs: List[str] = typer.Argument(
        ..., metavar="DUMP...",
        help="Dump (.json or .json.gz), or `kind: List` JSON from `oc get -o json`; several are merged; - reads stdin. "
             "With --hard: exactly DUMP INVENTORY (a cluster-wide dump and `pruneplan collect --registry-storage`'s inventory).",
    ),
    output: str = typer.Option("plan.json", "--output", "-o", metavar="FILE", help="Where to write the plan; - writes it to stdout (without the dry-run lines)."),
    now: Optional[str] = typer.Option(None, "--now", metavar="TIME", help="Analysis time (RFC 3339). Default: the dump's collection time."),
    keep_tag_revisions: Optional[str] = typer.Option(
        None, "--keep-tag-revisions", metavar="N", help="Specify the number of image revisions for a tag in an image stream that will be preserved. (upstream default 3)"
    ),
    keep_younger_than: Optional[str] = typer.Option(
        None, "--keep-younger-than", metavar="DURATION", help="Specify the minimum age of an image and its referrers for it to be considered a candidate for pruning, as a Go duration (upstream default 60m)."
    ),
    prune_over_size_limit: Optional[bool] = typer.Option(
        None, "--prune-over-size-limit/--no-prune-over-size-limit", help="Specify if images which are exceeding LimitRanges in their namespace should be considered for pruning."
    ),
    all_images: Optional[bool] = typer.Option(None, "--all/--no-all", help="Include images that were imported from external registries as candidates for pruning (default true)."),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n", metavar="NAMESPACE", help="Prune only this namespace's image streams; no images or blobs are deleted."),
    ignore_invalid_refs: Optional[bool] = typer.Option(None, "--ignore-invalid-refs/--no-ignore-invalid-refs", help="Ignore invalid image references instead of failing (default false)."),
    prune_registry: Optional[bool] = typer.Option(None, "--prune-registry/--no-prune-registry", help="Plan registry deletions too (false: only API objects; default true)."),
    policy_from_cluster: bool = typer.Option(
        False, "--policy-from-cluster/--no-policy-from-cluster", help="Take every policy flag the cluster's automatic pruner (its ImagePruner `cluster`) gives from the dump; flags given here override them. Refused (exit 3) for a dump without an ImagePruner."
    ),
    valid_for: str = typer.Option("168h", "--valid-for", metavar="DURATION", help="How long the plan stays valid after its analysis time (Go duration)."),
    sign_key: Optional[str] = typer.Option(None, "--sign-key", metavar="KEY", help="Private key (PEM) to sign the plan with; writes PLAN.sig."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print neither upstream's dry-run lines nor the banner and closing summary (warnings and errors stay)."),
    confirm: bool = typer.Option(False, "--confirm/--no-confirm", hidden=True, help="Refused: analyze deletes nothing (execute --confirm does)."),
    hard: bool = typer.Option(
        False, "--hard", help="Plan a hard prune of the registry's storage (DUMP INVENTORY): repositories, links, uploads and "
                              "blobs no Image object or image stream accounts for (docs/rules.md, \"Hard pruning\")."
    ),
) -> None:
    """Decide offline, exactly as `oc adm prune images` would, and write a reviewable plan.

    Prints oc's dry-run lines on stdout, then on stderr what the plan will do, its files, until
    when it is valid and the commands to run next. Deletes nothing.

    \b
    Examples:
      # oc's defaults (keep 3 revisions per tag, images younger than 60m), signed
      pruneplan analyze dump.json.gz -o plan.json --sign-key review-key
      # the flags of `oc adm prune images`, with their defaults and spellings
      pruneplan analyze dump.json.gz --keep-tag-revisions=5 --keep-younger-than=96h --prune-over-size-limit
      # the policy of the cluster's automatic pruner, keeping 5 revisions instead of its own
      pruneplan analyze dump.json.gz --policy-from-cluster --keep-tag-revisions=5 -o plan.json
      # from `oc get ... -o json` (no collection time: --now is required)
      oc get is,images,pods,rc,dc,deploy,ds,rs,sts,jobs,cronjobs,bc,builds,limitranges -A -o json \\
        | pruneplan analyze - --now 2026-12-06T00:00:00Z -o plan.json
      # a hard prune of the storage: what no Image object or image stream accounts for
      pruneplan analyze --hard dump.json.gz inventory.json.gz -o hard-plan.json --sign-key review-key
    """
    if hard:
        from pruneplan.analyze.hard.cli import run_hard_command

        soft_only = {
            "--keep-tag-revisions": keep_tag_revisions is not None, "--prune-over-size-limit": prune_over_size_limit is not None,
            "--all": all_images is not None, "--namespace": namespace is not None,
            "--ignore-invalid-refs": ignore_invalid_refs is not None, "--prune-registry": prune_registry is not None,
            "--policy-from-cluster": policy_from_cluster, "--confirm": confirm,
        }
        run_hard_command(inputs, [flag for flag, given in soft_only.items() if given], output=output, now=now,
                         keep_younger_than=keep_younger_than, valid_for=valid_for, sign_key=sign_key, quiet=quiet)
        return
    from pruneplan.analyze.policy_flags import PolicyFlags
    from pruneplan.analyze.run import AnalyzeRequest, run_analyze

    run_analyze(
        AnalyzeRequest(
            inputs=inputs,
            output=output,
            flags=PolicyFlags(
                now=now,
                keep_tag_revisions=keep_tag_revisions,
                keep_younger_than=keep_younger_than,
                prune_over_size_limit=prune_over_size_limit,
                all_images=all_images,
                namespace=namespace,
                ignore_invalid_refs=ignore_invalid_refs,
                prune_registry=prune_registry,
            ),
            policy_from_cluster=policy_from_cluster,
            valid_for=valid_for,
            sign_key=sign_key,
            quiet=quiet,
            confirm=confirm,
        )
    )


def register(app: typer.Typer) -> None:
    from pruneplan.analyze.explain.cli import explain_command

    app.command("analyze")(analyze_command)
    app.command("explain")(explain_command)
