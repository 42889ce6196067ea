"""`pruneplan explain`: options only; the work happens in analyze/explain/run.py (imported when called)."""

from __future__ import annotations

from typing import List, Optional

import typer


def explain_command(
    args: List[str] = typer.Argument(
        ..., metavar="DUMP... TARGET...",
        help="Dump or `kind: List` files, then one or more targets: an image or blob digest (or a unique prefix of one, "
             "at least 6 hex digits), or ns/name:tag. With --hard: DUMP INVENTORY, then targets: a blob digest, a "
             "repository (ns/name) or REPOSITORY@DIGEST (its manifest or layer link).",
    ),
    plan: Optional[str] = typer.Option(
        None, "--plan", metavar="PLAN",
        help="Explain this plan's decisions: take its policy and now (no analysis flag may be given with it); "
             "the dump must be the one it was made from.",
    ),
    now: Optional[str] = typer.Option(None, "--now", metavar="TIME", help="Analysis time (RFC 3339). Default: the dump's collection time."),
    keep_tag_revisions: Optional[str] = typer.Option(
        None, "--keep-tag-revisions", metavar="N", help="Number of revisions of a tag kept, as analyze's flag (default 3)."
    ),
    keep_younger_than: Optional[str] = typer.Option(
        None, "--keep-younger-than", metavar="DURATION", help="Minimum age of an image to be pruned, as a Go duration, as analyze's flag (default 60m)."
    ),
    prune_over_size_limit: Optional[bool] = typer.Option(
        None, "--prune-over-size-limit/--no-prune-over-size-limit",
        help="Prune images over their namespace's LimitRange instead of by age and revisions, as analyze's flag.",
    ),
    all_images: Optional[bool] = typer.Option(
        None, "--all/--no-all", help="Images imported from external registries are candidates too, as analyze's flag (default true)."
    ),
    namespace: Optional[str] = typer.Option(
        None, "--namespace", "-n", metavar="NAMESPACE", help="Only this namespace's image streams; no image or blob is deleted, as analyze's flag."
    ),
    ignore_invalid_refs: Optional[bool] = typer.Option(
        None, "--ignore-invalid-refs/--no-ignore-invalid-refs", help="Ignore invalid image references instead of failing, as analyze's flag."
    ),
    prune_registry: Optional[bool] = typer.Option(
        None, "--prune-registry/--no-prune-registry", help="Registry deletions too (false: only API objects), as analyze's flag (default true)."
    ),
    output_format: str = typer.Option("text", "--format", metavar="FORMAT", help="text or json."),
    hard: bool = typer.Option(
        False, "--hard", help="Explain analyze --hard's decisions on a dump and a storage inventory; with --plan, a hard plan's."
    ),
) -> None:
    """Explain why images, image stream tags or blobs are kept or pruned.

    For each target: the rule that decides it, every reason that keeps it (each referrer, each
    tag and position within --keep-tag-revisions, its age, its size against a LimitRange) and
    the path through the reference graph that keeps it. Positions count from 0 (the newest).

    \b
    Examples:
      # why is this image kept? (a unique digest prefix is enough)
      pruneplan explain dump.json.gz sha256:0a1b2c
      # every history item of a tag, and two images, in one run
      pruneplan explain dump.json.gz myns/app:v2 sha256:0a1b2c 3d4e5f
      # explain a plan's decisions with its own flags and time
      pruneplan explain --plan plan.json dump.json.gz myns/app:v2
      # as JSON, with the flags analyze was given
      pruneplan explain dump.json.gz sha256:0a1b2c --keep-tag-revisions=5 --format json
      # a hard prune: why does this blob, repository or manifest link go or stay?
      pruneplan explain --hard dump.json.gz inventory.json.gz sha256:0a1b2c myns/app myns/app@sha256:3d4e5f
    """
    if hard:
        from pruneplan.analyze.explain.hard import run_explain_hard
        from pruneplan.analyze.explain.run import FORMATS
        from pruneplan.errors import EXIT_USAGE, PrunePlanError

        if output_format not in FORMATS:
            raise PrunePlanError(f"--format must be text or json, not {output_format}", EXIT_USAGE)
        soft_only = {
            "--keep-tag-revisions": keep_tag_revisions, "--prune-over-size-limit": prune_over_size_limit, "--all": all_images,
            "--namespace": namespace, "--ignore-invalid-refs": ignore_invalid_refs, "--prune-registry": prune_registry,
        }
        code = run_explain_hard(args, [flag for flag, value in soft_only.items() if value is not None], now, keep_younger_than,
                                plan, output_format)
        if code:
            raise typer.Exit(code)
        return
    from pruneplan.analyze.explain.run import ExplainRequest, run_explain
    from pruneplan.analyze.policy_flags import PolicyFlags

    flags = PolicyFlags(
        now=now, keep_tag_revisions=keep_tag_revisions, keep_younger_than=keep_younger_than,
        prune_over_size_limit=prune_over_size_limit, all_images=all_images, namespace=namespace,
        ignore_invalid_refs=ignore_invalid_refs, prune_registry=prune_registry,
    )
    code = run_explain(ExplainRequest(args=args, flags=flags, plan=plan, output_format=output_format))
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_command)
