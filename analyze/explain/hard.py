"""`explain --hard DUMP INVENTORY TARGET...`: the hard-prune decisions (analyze/hard) and each
target's answers (analyze/hard/explain.py), with the policy from the flags or from a hard plan."""

from __future__ import annotations

import sys
from typing import Any, Optional

import orjson

from pruneplan.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_USAGE, FlagError, PrunePlanError

from pruneplan.analyze.hard.explain import HardWorld, explain_hard, render_hard


def run_explain_hard(args: list[str], soft_only: list[str], now: Optional[str], keep_younger_than: Optional[str],
                     plan: Optional[str], output_format: str) -> int:
    """Print the answers of every target found on stdout, one error line on stderr for each one
    that is not; exit status 1 when any was not found."""
    if soft_only:
        raise FlagError(f"{', '.join(soft_only)} cannot be given with --hard: a hard prune takes only --now and --keep-younger-than")
    if plan is not None and (now is not None or keep_younger_than is not None):
        given = ", ".join(flag for flag, value in (("--now", now), ("--keep-younger-than", keep_younger_than)) if value is not None)
        raise FlagError(f"{given} cannot be given with --plan: explain takes the policy and now from the plan")
    if len(args) < 3:
        raise PrunePlanError("explain --hard needs a dump, an inventory and at least one target (DUMP INVENTORY TARGET...)", EXIT_USAGE)
    dump, inventory, targets = args[0], args[1], args[2:]
    from pruneplan.analyze.hard.run import load_hard_inputs

    expected = _plan_sources(plan) if plan is not None else None
    if expected is not None:
        now, keep_younger_than = expected["now"], expected["keepYoungerThan"]
    read = load_hard_inputs(dump, inventory, now, keep_younger_than)
    if expected is not None and plan is not None:
        _check_sources(plan, expected, dump, read.loaded.dump_sha256, inventory, read.inventory_sha256)
    world = HardWorld(read.decide(), {image.name: image for image in read.loaded.objects["images"]}, read.inventory)
    answers: list[dict[str, Any]] = []
    texts: list[str] = []
    errors: list[str] = []
    for number, target in enumerate(targets, 1):
        try:
            found = explain_hard(world, target)
        except PrunePlanError as err:
            errors.append(err.message)
            continue
        for answer in found:
            answer["query"] = target
        answers += found
        texts.append(render_hard(found) if len(targets) == 1 else f"== {target} ({number} of {len(targets)}) ==\n{render_hard(found)}")
    if answers:
        if output_format == "json":
            sys.stdout.write(orjson.dumps(answers, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")
        else:
            sys.stdout.write("\n".join(texts))
    if errors:
        from pruneplan.cli import one_line

        sys.stdout.flush()
        sys.stderr.write("".join(f"error: {one_line(message)}\n" for message in errors))
        return EXIT_FAILURE
    return 0


def _plan_sources(plan_path: str) -> dict[str, str]:
    from pruneplan.files import input_path
    from pruneplan.hardplan import HardPrunePlan
    from pruneplan.signing import read_plan_bytes

    plan = HardPrunePlan.from_bytes(read_plan_bytes(input_path(plan_path)), plan_path)  # exit 13 for anything else
    return {"now": plan.policy.now, "keepYoungerThan": plan.policy.keep_younger_than,
            "dump": plan.source.dump.sha256, "inventory": plan.source.inventory.sha256}


def _check_sources(plan: str, expected: dict[str, str], dump: str, dump_sha256: str, inventory: str, inventory_sha256: str) -> None:
    for what, path, sha256 in (("dump", dump, dump_sha256), ("inventory", inventory, inventory_sha256)):
        if expected[what] != sha256:
            raise PrunePlanError(f"{plan} was made from the {what} with sha256 {expected[what]}, not from {path} (sha256 {sha256})",
                                 EXIT_BAD_INPUT)
