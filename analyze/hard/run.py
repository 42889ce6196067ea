"""The `analyze --hard` job: read the dump and the storage inventory, refuse what a hard prune
cannot be decided from, decide, write (and sign) the plan, print."""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from typing import Optional

from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import EXIT_USAGE, FlagError, InputError, PrunePlanError
from pruneplan.files import STDOUT, input_path, printing_to_stdout, refuse_own_inputs
from pruneplan.hardplan import HardPrunePlan
from pruneplan.inventoryformat import Inventory, read_inventory_file
from pruneplan.planformat import SIGNATURE_SUFFIX
from pruneplan.policy import parse_duration_flag
from pruneplan.timefmt import LATEST, ZERO, format_time, parse_time, parse_user_time

from pruneplan.analyze.decisions.model import CONFIG_MEDIA_TYPES, Image
from pruneplan.analyze.hard.plan import dry_run_lines, hard_plan_for
from pruneplan.analyze.hard.rules import HardDecisions, decide_hard
from pruneplan.analyze.plan.closing import BANNER, GIB

DEFAULT_KEEP_YOUNGER_THAN = "60m"
READ_ONLY_PATCH = ("oc patch configs.imageregistry.operator.openshift.io/cluster --type=merge "
                   """-p '{"spec":{"readOnly":true}}'""")


@dataclass(slots=True)
class HardRequest:
    dump: str
    inventory: str
    output: str = "plan.json"
    now: Optional[str] = None
    keep_younger_than: Optional[str] = None
    valid_for: str = "168h"
    sign_key: Optional[str] = None
    quiet: bool = False


@dataclass(slots=True)
class HardInputs:
    """What a hard-prune decision is made from, read and checked."""

    loaded: LoadedInputs
    inventory: Inventory
    inventory_sha256: str  # of the inventory file's bytes
    now: float
    keep_younger_than_ns: int
    collected_at: Optional[float]

    def decide(self) -> HardDecisions:
        images: dict[str, Image] = {image.name: image for image in self.loaded.objects["images"]}
        return decide_hard(images, self.loaded.objects["imagestreams"], self.inventory, self.now,
                           self.keep_younger_than_ns, self.collected_at)


def parse_flags(now: Optional[str], keep_younger_than: Optional[str]) -> tuple[Optional[float], int]:
    """--now and --keep-younger-than, checked before any file is read."""
    at = parse_user_time(now, "--now") if now is not None else None
    younger = parse_duration_flag(keep_younger_than or DEFAULT_KEEP_YOUNGER_THAN, "--keep-younger-than")
    if younger < 0:
        raise FlagError(f"--keep-younger-than must not be negative, not {keep_younger_than}")
    return at, younger


def load_hard_inputs(dump: str, inventory_path: str, now: Optional[str], keep_younger_than: Optional[str]) -> HardInputs:
    """Read and check both inputs; InputError (exit 3) for a dump a hard prune cannot trust to
    name every Image and ImageStream of the cluster."""
    from pruneplan.analyze.decisions.inputs import load_inputs

    at, younger = parse_flags(now, keep_younger_than)
    loaded = load_inputs([input_path(dump)])
    refuse_partial_dump(dump, loaded)
    inventory, inventory_sha256 = read_inventory_file(inventory_path)
    collected = _collected_at(dump, loaded)
    if at is None:
        if collected is None:
            raise PrunePlanError(f"{dump} has no collection time; pass --now so the plan is reproducible", EXIT_USAGE)
        at = collected
    refuse_unknown_configs(dump, loaded.objects["images"])
    return HardInputs(loaded, inventory, inventory_sha256, at, younger, collected)


def _collected_at(dump: str, loaded: LoadedInputs) -> Optional[float]:
    text = loaded.collected_at
    if text is None:
        return None
    seconds = parse_time(text)
    if seconds == ZERO:
        raise InputError(f"{dump}: its collection time is the zero time")
    return seconds


def refuse_partial_dump(dump: str, loaded: LoadedInputs) -> None:
    """A namespaced dump, or a List (nothing says it holds every image and stream), would make
    every other repository look streamless and every blob unused."""
    if loaded.namespace is not None:
        raise InputError(
            f"{dump}: collected with -n {loaded.namespace}: a hard prune needs every namespace's image streams "
            "(collect the whole cluster)")
    if any(i.source != "dump" for i in loaded.inputs):
        raise InputError(
            f"{dump}: a `kind: List`, not a dump: nothing says it holds every Image and ImageStream of the cluster, "
            "which a hard prune needs (use `pruneplan collect`)")


def refuse_unknown_configs(dump: str, images: list[Image]) -> None:
    """An image of a media type with a config blob but without dockerImageMetadata: its config
    blob is unknown, and would look unused (upstream stops on such an image too)."""
    unknown = sorted(image.name for image in images if image.media_type in CONFIG_MEDIA_TYPES and not image.config)
    if unknown:
        more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
        raise InputError(f"{dump}: image {unknown[0]}{more} has no dockerImageMetadata.Id: its config blob is unknown, "
                         "so no blob can be judged unused")


def run_hard(request: HardRequest) -> None:
    valid_for = parse_duration_flag(request.valid_for, "--valid-for")
    if valid_for <= 0:
        raise FlagError("--valid-for must be greater than 0")
    parse_flags(request.now, request.keep_younger_than)  # a bad flag fails before a key or file is read
    from pruneplan.analyze.plan.writer import signer_for, write_plan_file

    sign = signer_for(request.sign_key, request.output)
    inputs = [input_path(request.dump), input_path(request.inventory), *([request.sign_key] if request.sign_key else [])]
    refuse_own_inputs([request.output, *([request.output + SIGNATURE_SUFFIX] if sign else [])], inputs)
    read = load_hard_inputs(request.dump, request.inventory, request.now, request.keep_younger_than)
    if read.now + valid_for / 1e9 > LATEST:
        raise FlagError(f"--valid-for {request.valid_for} from {format_time(read.now)} ends after the year 9999")
    problems = len(read.inventory.problems)
    if problems:
        print(f"warning: {request.inventory}: the inventory records {problems} problem(s) reading the storage; "
              "what it could not read is neither listed nor deleted", file=sys.stderr)
    decisions = read.decide()
    plan = hard_plan_for(decisions, read.loaded, read.inventory, read.inventory_sha256, read.now, read.keep_younger_than_ns, valid_for / 1e9)
    # the one writer of plans: it writes any plan document the plan format serialises
    write_plan_file(request.output, plan, sign, inputs)
    if not request.quiet:
        sys.stderr.write(BANNER + "\n")
    if not request.quiet and request.output != STDOUT:
        with printing_to_stdout("the dry-run lines", f"the plan was written to {request.output}"):
            sys.stdout.write("".join(f"{line}\n" for line in dry_run_lines(plan)))
            sys.stdout.flush()
    current = time.time()
    closing = [] if request.quiet else closing_lines(plan, request, bool(sign), current)
    if current >= plan.metadata.not_after_seconds:  # a warning, so -q keeps it
        closing.append(f"warning: the plan is already expired (valid until {plan.metadata.not_after}), so verify and execute "
                       "will refuse it; read the storage and the cluster again, or pass a longer --valid-for")
    sys.stderr.write("".join(f"{line}\n" for line in closing))


def _count(n: int, noun: str, nouns: str = "") -> str:
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


def closing_lines(plan: HardPrunePlan, request: HardRequest, signed: bool, current: float) -> list[str]:
    """What the plan deletes, how much it frees, until when it is valid, what to run next."""
    s = plan.summary
    where = "stdout" if request.output == STDOUT else request.output
    plan_arg = "PLAN" if request.output == STDOUT else shlex.quote(request.output)
    lines = [
        f"Hard-prune plan written to {where}" + (f", signature to {request.output}{SIGNATURE_SUFFIX}" if signed else ""),
        "  will delete:  " + ", ".join([
            _count(s.deleted_repositories, "repository", "repositories"),
            _count(s.deleted_manifest_links, "manifest link"), _count(s.deleted_layer_links, "layer link"),
            _count(s.deleted_uploads, "upload"), _count(s.deleted_blobs, "blob"),
        ]),
        f"  reclaimable:  {s.reclaimable_bytes / GIB:,.2f} GiB ({s.reclaimable_bytes:,} bytes)",
        f"  cutoff:       {plan.policy.cutoff}: content modified after it is kept "
        f"(--keep-younger-than {plan.policy.keep_younger_than} before the earliest of now and the two reads)",
    ]
    expired = current >= plan.metadata.not_after_seconds
    lines.append(f"  {'EXPIRED on: ' if expired else 'valid until:'}  {plan.metadata.not_after}")
    if expired:
        return lines
    dump, inventory = shlex.quote(request.dump), shlex.quote(request.inventory)
    key = "PUB" if not request.sign_key else shlex.quote(request.sign_key + ".pub")
    lines.append("Next:")
    if not signed:
        lines.append(f"  pruneplan analyze --hard {dump} {inventory} -o {plan_arg} --sign-key KEY    # execute replays only a signed plan")
    lines += [
        f"  pruneplan verify {plan_arg} --key {key}",
        f"  pruneplan explain --hard {dump} {inventory} TARGET    # why a blob, repository or link goes or stays",
        f"  {READ_ONLY_PATCH}    # execute needs the registry read-only",
        f"  pruneplan execute {plan_arg} --key {key} --registry-storage {shlex.quote(plan.source.inventory.root)}"
        "    # a dry run; --confirm deletes",
    ]
    return lines
