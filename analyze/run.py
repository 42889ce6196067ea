"""The analyze job: validate flags, load inputs, decide, write (and sign) the plan, print."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import EXIT_FAILURE, AggregateError, FlagError, InputError, PrunePlanError
from pruneplan.files import STDOUT, input_path, printing_to_stdout, refuse_own_inputs
from pruneplan.planformat import SIGNATURE_SUFFIX
from pruneplan.policy import Policy, build_policy, parse_duration_flag
from pruneplan.goduration import format_go_duration
from pruneplan.prunerpolicy import PrunerSpecError, automatic_pruner, merged_flags, refusal
from pruneplan.timefmt import LATEST, ZERO, format_time, parse_time, parse_user_time

from pruneplan.analyze.decisions.engine import Analysis, BuildGraphError, analyze
from pruneplan.analyze.decisions.inputs import load_inputs
from pruneplan.analyze.plan.closing import BANNER, Written, closing_block, expiry_warning
from pruneplan.analyze.plan.writer import signer_for, write_plan
from pruneplan.analyze.policy_flags import PolicyFlags


@dataclass(slots=True)
class AnalyzeRequest:
    inputs: list[str]
    output: str
    flags: PolicyFlags = field(default_factory=PolicyFlags)
    policy_from_cluster: bool = False
    valid_for: str = "168h"
    sign_key: str | None = None
    quiet: bool = False
    confirm: bool = False  # refused: analyze deletes nothing
    release_raw: bool = True  # the plan needs only the counts of the raw objects


def resolve_now(request_now: str | None, loaded: LoadedInputs) -> float:
    if request_now is not None:
        return parse_user_time(request_now, "--now")
    collected = loaded.collected_at
    if collected is None:
        missing = next(i.path for i in loaded.inputs if i.collected_at is None)
        raise PrunePlanError(
            f"{missing} has no collection time; pass --now so the plan is reproducible", EXIT_FAILURE
        )
    try:
        now = parse_time(collected)
    except ValueError:
        raise PrunePlanError(f"dump collection time {collected!r} is not an RFC 3339 time", 3) from None
    if now == ZERO:
        raise PrunePlanError(f"dump collection time {collected} is the zero time; pass --now so the plan is reproducible", 3)
    return now


def policy_of(values: dict[str, Any], sources: dict[str, str], now: float) -> Policy:
    """upstream's validation of the flags' values (None: not given), with where each came from."""
    all_images, ignore, registry = values["all"], values["ignore-invalid-refs"], values["prune-registry"]
    policy = build_policy(
        now=now,
        keep_tag_revisions=None if values["keep-tag-revisions"] is None else str(values["keep-tag-revisions"]),
        keep_younger_than=values["keep-younger-than"],
        prune_over_size_limit=values["prune-over-size-limit"],
        all_images=True if all_images is None else all_images,
        namespace=values["namespace"],
        ignore_invalid_refs=bool(ignore),
        prune_registry=True if registry is None else registry,
    )
    return policy.with_sources(sources)


def cluster_policy(request: AnalyzeRequest, loaded: LoadedInputs, now: float) -> Policy:
    """--policy-from-cluster: the automatic pruner's flags, those given on the command line
    overriding them; InputError when the dump cannot say what the automatic pruner runs."""
    settings = loaded.cluster_settings
    dump = next((i.path for i in loaded.inputs if i.settings is not None), loaded.inputs[0].path)
    try:
        pruner = None if settings is None else automatic_pruner(settings)
    except PrunerSpecError as err:
        raise InputError(f"{dump}: {err}") from None
    given = request.flags.by_oc_name()
    why = refusal(pruner, given)
    if why is not None:
        names = ", ".join(i.path for i in loaded.inputs)
        raise InputError(f"{names if settings is None else dump}: {why}")
    values, sources = merged_flags(given, pruner)
    try:
        return policy_of(values, sources, now)
    except FlagError as err:
        raise FlagError(f"{err} (with --policy-from-cluster, the automatic pruner gives --keep-tag-revisions "
                        "and --keep-younger-than)") from None


def decide(request: AnalyzeRequest) -> tuple[Analysis, LoadedInputs, Policy, float]:
    """Everything but output: usable by explain and execute."""
    if request.flags.now is not None:
        parse_user_time(request.flags.now, "--now")  # a bad --now fails before any file is read
    # the command line's flags are checked before any file is read (with the automatic pruner's
    # flags they are checked again, below)
    values, sources = merged_flags(request.flags.by_oc_name(), None)
    policy = policy_of(values, sources, 0.0)
    valid_for = parse_duration_flag(request.valid_for, "--valid-for")
    if valid_for <= 0:
        raise FlagError("--valid-for must be greater than 0")
    loaded = load_inputs([input_path(name) for name in request.inputs])  # the model is built while reading
    now = resolve_now(request.flags.now, loaded)
    policy = cluster_policy(request, loaded, now) if request.policy_from_cluster else policy.with_now(now)
    if policy.keep_younger_than is not None and policy.threshold < ZERO:
        raise FlagError(
            f"--keep-younger-than {format_go_duration(policy.keep_younger_than)} before {format_time(policy.now)} "
            "starts before the year 1"
        )
    if policy.now + valid_for / 1e9 > LATEST:
        raise FlagError(f"--valid-for {request.valid_for} from {format_time(policy.now)} ends after the year 9999")
    return analyze(loaded, policy, release_raw=request.release_raw), loaded, policy, valid_for / 1e9


def run_analyze(request: AnalyzeRequest) -> None:
    if request.confirm:
        raise FlagError(
            "analyze never deletes anything: it writes a plan; to delete, run "
            "`pruneplan execute PLAN --key PUB --confirm` with the signed plan"
        )
    sign = signer_for(request.sign_key, request.output)
    inputs = [*map(input_path, request.inputs), *([request.sign_key] if request.sign_key else [])]
    refuse_own_inputs([request.output, *([request.output + SIGNATURE_SUFFIX] if sign else [])], inputs)
    try:
        analysis, loaded, _, valid_for = decide(request)
    except BuildGraphError as err:
        print(err.report(), file=sys.stderr)
        raise
    for name, count in sorted(loaded_notes(loaded).items()):
        print(f"note: {name}: {count}", file=sys.stderr)
    # the plan on stdout (-o -) is not mixed with the dry-run lines: they are left out, as with -q
    dry_run = not request.quiet and request.output != STDOUT
    result = write_plan(request.output, analysis, loaded, valid_for, dry_run=dry_run, sign=sign, inputs=inputs)
    # the banner heads the run's output, as upstream's "Dry run enabled" line does; not before:
    # a refused input stays one error line
    # one write: printed a line at a time, stderr (unbuffered) made two system calls per line
    notes = ([] if request.quiet else [BANNER]) + analysis.log()
    if notes:
        sys.stderr.write("\n".join(notes) + "\n")
    with printing_to_stdout("the dry-run lines", f"the plan was written to {request.output}"):
        result.dry_run.print_to(sys.stdout)
        sys.stdout.flush()  # the dry-run lines before the closing block, when both go to one terminal
    written = Written(
        plan_path=request.output,
        signature_path=request.output + SIGNATURE_SUFFIX if sign else None,
        public_key=_public_key_beside(request.sign_key),
        inputs=tuple(request.inputs),
        now_given=request.flags.now is not None,
    )
    current = time.time()
    closing = [] if request.quiet else closing_block(result.plan, written, current)
    warning = expiry_warning(result.plan, written, current)  # a warning, so -q keeps it
    sys.stderr.write("".join(f"{line}\n" for line in [*closing, *([warning] if warning else [])]))
    if analysis.errors:
        raise AggregateError(analysis.errors)


def _public_key_beside(sign_key: str | None) -> str | None:
    """KEY.pub, the public key `pruneplan keygen KEY` wrote beside the signing key, if it is there."""
    if not sign_key or not os.path.isfile(sign_key + ".pub"):
        return None
    return sign_key + ".pub"


def loaded_notes(loaded: LoadedInputs) -> dict[str, int]:
    notes = {f"ignored objects of kind {kind}": n for kind, n in loaded.ignored_kinds.items()}
    if loaded.duplicates:
        notes["objects given more than once (kept the first)"] = loaded.duplicates
    return notes
