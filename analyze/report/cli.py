"""`pruneplan report`: options only; the work happens in analyze/report/run.py (imported when called)."""

from __future__ import annotations

from typing import List, Optional

import typer

from pruneplan.analyze.report.defaults import DEFAULT_TOP


def report_command(
    plan: str = typer.Argument(..., metavar="PLAN", help="The plan file (plan.json, or a hard-prune plan from analyze --hard); - reads stdin."),
    output: str = typer.Option(
        "-", "--output", "-o", metavar="FILE", show_default=False,
        help="Where to write the report. Default: stdout ('-'), as Markdown unless --format html.",
    ),
    fmt: Optional[str] = typer.Option(
        None, "--format", metavar="FORMAT",
        help="md (Markdown for a ticket) or html (one self-contained file). Default: html when FILE ends in .html or .htm, else md.",
    ),
    dumps: Optional[List[str]] = typer.Option(
        None, "--dump", metavar="DUMP",
        help="The plan's dump (repeat for several inputs): adds tags and positions from the dump, the single-referrer list and attribution by image stream history. For a hard-prune plan: only compared with the plan's source dump.",
    ),
    keys: Optional[List[str]] = typer.Option(
        None, "--key", metavar="PUB", help="Trusted public key PEM to verify the plan's signature and approvals with; repeat for several."
    ),
    signature: Optional[str] = typer.Option(
        None, "--signature", metavar="SIG", help="Signature file. Default: PLAN.sig."
    ),
    threshold: int = typer.Option(
        1, "--threshold", metavar="N", help="How many distinct trusted keys must have signed (PLAN.sig and approvals) for the plan to show as verified."
    ),
    approvals: Optional[str] = typer.Option(
        None, "--approvals", metavar="FILE", help="The plan's approval bundle. Default: PLAN.approvals."
    ),
    now: Optional[str] = typer.Option(
        None, "--now", metavar="TIME", help="Check the plan's expiry at this time (RFC 3339) instead of the current time."
    ),
    top: int = typer.Option(
        DEFAULT_TOP, "--top", metavar="N",
        help="Rows in each table of namespaces, repositories, images, blobs, streams and single-referrer items; a cut table says how many more.",
    ),
) -> None:
    """Write a review of a plan for a change ticket: signatures, approvals, policy, source and what it will delete.

    Markdown goes to stdout unless -o FILE is given; -o review.html (or --format html) writes one
    self-contained HTML file. A signature that does not verify, too few trusted keys for
    --threshold, or valid signatures on an expired plan are shown at the top of the report and
    warned about on stderr; they are not errors. The Approvals section lists every signature
    (PLAN.sig and each approval) with its annotations. A hard-prune plan (analyze --hard) gets a
    report of its own: its dump and inventory, the cutoff, and the repositories, links, uploads and
    blobs it deletes from the registry's storage, largest first.

    \b
    Examples:
      # Markdown on stdout, to paste into a ticket
      pruneplan report plan.json --dump dump.json.gz --key review-key.pub
      # one self-contained HTML file to attach
      pruneplan report plan.json --dump dump.json.gz --key review-key.pub -o review.html
      # the five largest rows of each table, expiry checked at a given time
      pruneplan report plan.json --top 5 --now 2026-06-02T00:00:00Z -o review.md
      # four eyes: verified only when the author's and an approver's keys both signed
      pruneplan report plan.json --key author.pub --key approver.pub --threshold 2 -o review.md
      # a hard-prune plan, for the ticket of the read-only window
      pruneplan report hard-plan.json --key review-key.pub -o hard-review.html
    """
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
            threshold=threshold,
            approvals=approvals,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
