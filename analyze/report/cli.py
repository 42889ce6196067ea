"""`pruneplan report`: options only; the work happens in analyze.report_run (imported when called)."""

from __future__ import annotations

from typing import List, Optional

import typer


def report_command(
    plan: str = typer.Argument(..., metavar="PLAN", help="The plan file (plan.json)."),
    output: str = typer.Option(..., "--output", "-o", metavar="FILE", help="Where to write the report ('-' for stdout)."),
    fmt: Optional[str] = typer.Option(
        None, "--format", metavar="md|html", help="Markdown for a ticket, or one self-contained HTML file. Default: from FILE's extension (.html → html, else md)."
    ),
    dumps: Optional[List[str]] = typer.Option(
        None, "--dump", metavar="DUMP", help="The plan's dump (repeat for several inputs): enables the single-referrer list and attribution by image stream history."
    ),
    keys: Optional[List[str]] = typer.Option(
        None, "--key", metavar="PUB", help="Trusted public key PEM to verify the plan's signature with; repeat for several."
    ),
    signature: Optional[str] = typer.Option(None, "--signature", metavar="SIG", help="Signature file (default: PLAN.sig)."),
    now: Optional[str] = typer.Option(None, "--now", metavar="RFC3339", help="Check the plan's expiry at this time instead of the current time."),
    top: int = typer.Option(20, "--top", metavar="N", help="Rows in each ranked table (largest deletions, stream updates, single-referrer items)."),
) -> None:
    """Write a review of a plan for a change ticket: policy, source, counts, reclaimable bytes, signature."""
    from pruneplan.analyze.report.run import ReportRequest, run_report

    run_report(
        ReportRequest(
            plan=plan,
            output=output,
            format=fmt,
            dumps=list(dumps or []),
            keys=list(keys or []),
            signature=signature,
            now=now,
            top=top,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
