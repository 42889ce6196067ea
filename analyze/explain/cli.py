"""`pruneplan explain`: options only; the analysis runs inside the command."""

from __future__ import annotations

from typing import List, Optional

import typer


def explain_command(
    args: List[str] = typer.Argument(..., metavar="DUMP... TARGET", help="Dump/List files, then an image digest, a blob digest or ns/name:tag."),
    now: Optional[str] = typer.Option(None, "--now", help="Analysis time (RFC 3339). Default: the dump's collection time."),
    keep_tag_revisions: Optional[str] = typer.Option(None, "--keep-tag-revisions", metavar="N"),
    keep_younger_than: Optional[str] = typer.Option(None, "--keep-younger-than", metavar="DURATION"),
    prune_over_size_limit: Optional[bool] = typer.Option(None, "--prune-over-size-limit/--no-prune-over-size-limit"),
    all_images: bool = typer.Option(True, "--all/--no-all"),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n"),
    ignore_invalid_refs: bool = typer.Option(False, "--ignore-invalid-refs/--no-ignore-invalid-refs"),
    prune_registry: bool = typer.Option(True, "--prune-registry/--no-prune-registry"),
    output_format: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Explain why an image, an image stream tag or a blob is kept or pruned: the rule, the referrers and the path that keeps it."""
    import sys

    import orjson

    from pruneplan.errors import EXIT_USAGE, PrunePlanError

    from pruneplan.analyze.decisions.engine import BuildGraphError
    from pruneplan.analyze.explain.evidence import explain, render_text
    from pruneplan.analyze.run import AnalyzeRequest, decide

    if len(args) < 2:
        raise PrunePlanError("explain needs at least one dump and a target", EXIT_USAGE)
    if output_format not in ("text", "json"):
        raise PrunePlanError(f"--format must be text or json, not {output_format}", EXIT_USAGE)
    request = AnalyzeRequest(
        inputs=args[:-1], output="", now=now, keep_tag_revisions=keep_tag_revisions,
        keep_younger_than=keep_younger_than, prune_over_size_limit=prune_over_size_limit, all_images=all_images,
        namespace=namespace, ignore_invalid_refs=ignore_invalid_refs, prune_registry=prune_registry,
    )
    try:
        analysis = decide(request)[0]
    except BuildGraphError as err:
        print(err.report(), file=sys.stderr)
        raise
    answers = explain(analysis, args[-1])
    if output_format == "json":
        sys.stdout.write(orjson.dumps(answers, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
    else:
        sys.stdout.write(render_text(answers))


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_command)
