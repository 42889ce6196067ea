"""The body of `pruneplan execute` for a hard-prune plan (docs/execute.md, "Hard-prune plans").

Called by execute.command once the plan's signatures and expiry are verified. Every refusal comes
before the first deletion: no --registry-storage or one that is not a registry's storage, the
journal of another plan, another cluster, a registry that is not read-only. Then the storage and
the API are read afresh, the rules decide again with now = the live time, and only what the plan
lists and the fresh decisions still delete is deleted. How to leave read-only mode is said once
the registry was found read-only, however the run ends.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

from pruneplan.errors import EXIT_USAGE, PrunePlanError

from pruneplan.execute.hard.deleter import DryRunDeleter, StorageDeleter
from pruneplan.execute.hard.readonly import LEAVE_READ_ONLY, check_read_only
from pruneplan.execute.hard.recheck import held, planned_actions, recheck

if TYPE_CHECKING:
    from pruneplan.signing import VerifiedHardPlan

    from pruneplan.execute.command import ExecuteRequest
    from pruneplan.execute.metrics import RunFacts

# options of a soft run that mean nothing for a hard one: refused rather than ignored
SOFT_ONLY = (
    ("registry_url", "--registry-url"),
    ("certificate_authority", "--certificate-authority"),
    ("restart_registry", "--restart-registry"),
    ("require_pruner_suspended", "--require-pruner-suspended"),
)


def check_hard_flags(request: ExecuteRequest) -> str:
    """The storage root of a hard run (exit 2 without one, or with a soft run's option)."""
    for attribute, flag in SOFT_ONLY:
        if getattr(request, attribute):
            raise PrunePlanError(f"{flag} is for a plan written by `pruneplan analyze`, not for a hard-prune plan", EXIT_USAGE)
    if not request.registry_storage:
        raise PrunePlanError(
            "a hard-prune plan deletes from the registry's storage: give its root with --registry-storage DIR "
            "(the directory that holds docker/, /registry in the registry's pod)",
            EXIT_USAGE,
        )
    return request.registry_storage


def run_hard(request: ExecuteRequest, verified: VerifiedHardPlan, facts: RunFacts) -> int:
    """The hard run, after the plan's signatures and expiry: its exit status. `facts` gets the
    replay's report as soon as it exists, so the metrics count what a run that stops had done."""
    plan = verified.plan
    from pruneplan.collect.storage import read_storage, storage_base

    from pruneplan.execute.command import run_status, snapshot, start_run, write_json
    from pruneplan.execute.hard.fresh import fresh_deletions
    from pruneplan.execute.hard.replay import Replay

    root = check_hard_flags(request)
    storage_base(root)  # a directory that is not a registry's storage is refused now (exit 3)
    journal, _, transport = start_run(request, verified, (f"Storage: {root}",))
    check_read_only(transport)

    out = sys.stderr if request.output_format == "json" else sys.stdout
    try:
        if not request.confirm:
            print("Dry run enabled - no modifications will be made. Add --confirm to delete from the storage", file=sys.stderr)
        now = time.time()
        inventory = read_storage(root, now)  # the storage as it is now; its problems are the plan's business
        # every namespace (a stream elsewhere accounts for content too); the rules read only these
        loaded = snapshot(transport, None, frozenset({"images", "imagestreams"}))
        fresh = fresh_deletions(loaded, inventory, now, plan.policy.keep_younger_than)
        loaded.release()
        checked = recheck(planned_actions(plan), fresh, held(inventory))
        deleter = StorageDeleter(root) if request.confirm else DryRunDeleter(root)
        replay = Replay(deleter, journal, out, sys.stderr, inventory)
        facts.report = replay.report
        try:
            report = replay.run(checked)
        finally:
            if journal is not None:
                journal.close()
        for line in report.summary_lines():
            print(line, file=out)
        if request.output_format == "json":
            write_json({"planSha256": verified.sha256, "key": verified.key_path, "kind": plan.kind, **report.to_json()})
        return run_status(request, report.errors, len(report.skipped))
    finally:  # said however the run ends: the registry stays read-only until the admin changes it
        print(f"The registry is still read-only: once you are done, leave read-only mode with {LEAVE_READ_ONLY}",
              file=sys.stderr)
