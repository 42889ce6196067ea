"""The report job: read the plan, check its signature, re-run its analysis on the dump, render.

Failures to read the plan or the dump are one-line errors and leave no output file; a signature
that does not verify is not an error here: the report is still written and says so prominently
(a reviewer may be the one who has to find out that the plan is not the signed one).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from pruneplan.approvals import BUNDLE_SUFFIX
from pruneplan.files import STDOUT, InputTooLarge, input_path, read_input, write_or_fail
from pruneplan.errors import EXIT_BAD_INPUT, EXIT_UNKNOWN_PLAN, EXIT_USAGE, PrunePlanError
from pruneplan.planformat import MAX_PLAN, SIGNATURE_SUFFIX
from pruneplan.planmodel import Plan
from pruneplan.timefmt import parse_user_time

from pruneplan.hardplan import HARD_PLAN_KIND, plan_kind

from pruneplan.analyze.report.hard import HardReview
from pruneplan.analyze.report.review import DEFAULT_TOP, Review, build_review, expired_text
from pruneplan.analyze.report.signatures import check_threshold_flag, signature_status

FORMATS = ("md", "html")
AnyReview = Review | HardReview


@dataclass(slots=True)
class ReportRequest:
    plan: str
    output: str = STDOUT
    format: str | None = None
    dumps: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    signature: str | None = None
    now: str | None = None
    top: int = DEFAULT_TOP
    threshold: int = 1
    approvals: str | None = None


def resolve_format(requested: str | None, output: str) -> str:
    """--format wins; otherwise the output's extension (.html/.htm → html), else Markdown
    (stdout included)."""
    if requested is not None:
        if requested not in FORMATS:
            raise PrunePlanError(f'invalid argument "{requested}" for "--format" flag: choose md or html', EXIT_USAGE)
        return requested
    return "html" if output.lower().endswith((".html", ".htm")) else "md"


def read_plan(path: str) -> tuple[Plan, bytes]:
    """The plan, validated in full (exit 13 for a malformed one), and its bytes."""
    raw = read_plan_bytes(path)
    return Plan.from_bytes(raw, path), raw


def read_plan_bytes(path: str) -> bytes:
    """A plan's bytes, of whatever kind; read once (`-` is stdin), so that the signature is
    checked over the very bytes the report shows."""
    try:
        raw = read_input(path, MAX_PLAN)
    except InputTooLarge:
        raise PrunePlanError(f"{path}: larger than {MAX_PLAN >> 30} GiB: not a plan", EXIT_UNKNOWN_PLAN) from None
    except FileNotFoundError:
        raise PrunePlanError(f"{path}: no such file", EXIT_BAD_INPUT) from None
    except IsADirectoryError:
        raise PrunePlanError(f"{path}: is a directory, not a plan", EXIT_BAD_INPUT) from None
    except OSError as err:
        raise PrunePlanError(f"{path}: cannot read: {err.strerror or err}", EXIT_BAD_INPUT) from None
    return raw


def make_review(request: ReportRequest) -> AnyReview:
    """The review of the plan, by its kind: a hard-prune plan (HardPrunePlan) or a soft one."""
    if request.top < 1:
        raise PrunePlanError("--top must be at least 1", EXIT_USAGE)
    now = parse_user_time(request.now, "--now") if request.now is not None else None
    check_threshold_flag(request.threshold, request.keys)  # a bad command line, before any work
    path = input_path(request.plan)
    raw = read_plan_bytes(path)
    if plan_kind(raw) == HARD_PLAN_KIND:
        return make_hard_review(request, raw, path, now)
    plan = Plan.from_bytes(raw, path)
    analysis = None
    dumps: list[tuple[str, str]] = []
    dump_sha256 = None
    if request.dumps:
        # The engine (networkx) is only needed for the dump; plan-only reports stay light.
        from pruneplan.dumpformat import ObjectError
        from pruneplan.analyze.decisions.engine import BuildGraphError, analyze
        from pruneplan.analyze.decisions.inputs import load_inputs

        try:
            loaded = load_inputs([input_path(name) for name in request.dumps])
        except (ObjectError, BuildGraphError) as err:  # the dump reads, but the analysis cannot use an object
            raise _not_rerun(err) from None
        policy = plan.policy.to_policy()
        try:
            analysis = analyze(loaded, policy)
        except PrunePlanError as err:
            raise _not_rerun(err) from None
        dumps = [(i.path, i.sha256) for i in loaded.inputs]
        dump_sha256 = loaded.dump_sha256
    status = signature_status(request.plan, raw, request.keys, request.signature, now, request.threshold, request.approvals)
    return build_review(plan, raw, request.plan, status, analysis, dumps, dump_sha256, request.top)


def make_hard_review(request: ReportRequest, raw: bytes, path: str, now: float | None) -> HardReview:
    """A hard plan's review. It has no analysis to re-run: a --dump given is only compared
    with the plan's source dump (a warning when it is another)."""
    from pruneplan.hardplan import HardPrunePlan

    from pruneplan.analyze.report.hard import build_hard_review

    plan = HardPrunePlan.from_bytes(raw, path)
    dumps: list[tuple[str, str]] = []
    dump_sha256 = None
    if request.dumps:
        from pruneplan.analyze.decisions.inputs import load_inputs

        loaded = load_inputs([input_path(name) for name in request.dumps])  # a dump it refuses: one-line error
        dumps = [(i.path, i.sha256) for i in loaded.inputs]
        dump_sha256 = loaded.dump_sha256
    status = signature_status(request.plan, raw, request.keys, request.signature, now, request.threshold, request.approvals)
    return build_hard_review(plan, raw, request.plan, status, dumps, dump_sha256, request.top)


def _not_rerun(err: PrunePlanError) -> PrunePlanError:
    return PrunePlanError(f"cannot re-run the plan's analysis on the dump: {err.message}", err.exit_code)


def render(review: AnyReview, fmt: str) -> str:
    if isinstance(review, HardReview):
        from pruneplan.analyze.report.hardrender import render_hard_html, render_hard_markdown

        return render_hard_html(review) if fmt == "html" else render_hard_markdown(review)
    if fmt == "html":
        from pruneplan.analyze.report.html import render_html

        return render_html(review)
    from pruneplan.analyze.report.markdown import render_markdown

    return render_markdown(review)


def run_report(request: ReportRequest) -> None:
    fmt = resolve_format(request.format, request.output)
    review = make_review(request)
    text = render(review, fmt)
    for warning in review.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    status = review.signature
    if status.state == "failed":
        print(f"warning: signature NOT verified: {status.message}", file=sys.stderr)
    elif status.state == "expired":
        print(f"warning: signature {expired_text(status.key or '', status.not_after or '')}", file=sys.stderr)
    sig = request.signature or request.plan + SIGNATURE_SUFFIX
    bundle = request.approvals or request.plan + BUNDLE_SUFFIX
    write_report(request.output, text.encode("utf-8"), [request.plan, sig, bundle, *request.dumps, *request.keys])


def write_report(path: str, data: bytes, inputs: list[str] | None = None) -> None:
    """A failure leaves no partial report and an older one untouched; the usual umask mode.
    `-` is stdout (pruneplan.files); one of `inputs` (the files the report read) is refused."""
    write_or_fail(path, data, 0o666, replace=True, inputs=inputs or [])
