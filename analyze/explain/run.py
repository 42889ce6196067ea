"""The explain job: the policy (from the flags or from a plan), the analysis, each target's answers.

With --plan the analysis is the plan's: its policy and its "now", on the dump it was made from
(the dump's sha256 must be the plan's source.dumpSha256). Policy flags are then refused rather
than let override the plan: an answer that mixes the plan's decisions with other flags would
explain a plan nobody made.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import orjson

from pruneplan.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_USAGE, FlagError, PrunePlanError

from pruneplan.analyze.decisions.engine import Analysis, BuildGraphError
from pruneplan.analyze.explain.evidence import explain
from pruneplan.analyze.explain.reasons import Limits, named_limits
from pruneplan.analyze.explain.targets import resolve, split_arguments
from pruneplan.analyze.explain.text import render_runs
from pruneplan.analyze.policy_flags import PolicyFlags

FORMATS = ("text", "json")


@dataclass(slots=True)
class ExplainRequest:
    args: list[str]  # DUMP [DUMP...] TARGET [TARGET...]
    flags: PolicyFlags
    plan: str | None = None
    output_format: str = "text"


def run_explain(request: ExplainRequest) -> int:
    """Print the answers of every target found on stdout and one error line on stderr for each
    target that is not; the exit status is 1 when any target was not found."""
    if request.output_format not in FORMATS:
        raise PrunePlanError(f"--format must be text or json, not {request.output_format}", EXIT_USAGE)
    if request.plan is not None and request.flags.given():
        raise FlagError(
            f"{', '.join(request.flags.given())} cannot be given with --plan: explain takes the policy and now from the plan"
        )
    dumps, targets = split_arguments(request.args)
    try:
        analysis, limits = _from_plan(request.plan, dumps) if request.plan is not None else _from_flags(request.flags, dumps)
    except BuildGraphError as err:
        print(err.report(), file=sys.stderr)
        raise
    runs: list[tuple[int, str, list[dict[str, Any]]]] = []
    errors: list[str] = []
    for number, target in enumerate(targets, 1):
        try:
            answers = explain(analysis, resolve(analysis, target), limits)
        except PrunePlanError as err:
            errors.append(err.message)
            continue
        for answer in answers:
            answer["query"] = target
        runs.append((number, target, answers))
    if runs:
        if request.output_format == "json":
            flat = [answer for _, _, answers in runs for answer in answers]
            sys.stdout.write(orjson.dumps(flat, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
        else:
            sys.stdout.write(render_runs(runs, len(targets)))
    if errors:
        from pruneplan.cli import one_line

        sys.stdout.flush()
        sys.stderr.write("".join(f"error: {one_line(message)}\n" for message in errors))
        return EXIT_FAILURE
    return 0


def _from_flags(flags: PolicyFlags, dumps: list[str]) -> tuple[Analysis, Limits]:
    from pruneplan.analyze.run import AnalyzeRequest, decide

    request = AnalyzeRequest(inputs=dumps, output="", flags=flags, release_raw=False)  # LimitRanges' names are read below
    analysis, loaded, _, _ = decide(request)
    limits = named_limits(loaded.objects.get("limitranges", ()))
    loaded.release()
    return analysis, limits


def _from_plan(plan_path: str, dumps: list[str]) -> tuple[Analysis, Limits]:
    from pruneplan.analyze.decisions.engine import analyze
    from pruneplan.analyze.decisions.inputs import load_inputs
    from pruneplan.planmodel import Plan
    from pruneplan.files import input_path
    from pruneplan.signing import read_plan_bytes

    plan = Plan.from_bytes(read_plan_bytes(input_path(plan_path)), plan_path)  # exit 13 for anything that is not a valid plan
    loaded = load_inputs([input_path(name) for name in dumps])
    if loaded.dump_sha256 != plan.source.dump_sha256:
        given = "the dumps given" if len(dumps) > 1 else dumps[0]
        raise PrunePlanError(
            f"{plan_path} was made from the dump with sha256 {plan.source.dump_sha256}, "
            f"not from {given} (sha256 {loaded.dump_sha256})",
            EXIT_BAD_INPUT,
        )
    limits = named_limits(loaded.objects.get("limitranges", ()))
    return analyze(loaded, plan.policy.to_policy(), release_raw=True), limits
