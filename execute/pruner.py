"""The cluster's automatic pruner, as execute sees it in the live snapshot.

The image registry operator turns the ImagePruner `cluster` into the CronJob
openshift-image-registry/image-pruner, which runs `oc adm prune images --confirm` on its schedule.
Two pruners working on the same image streams at once race each other (stream updates conflict,
one deletes what the other still counts), so execute says when that one is active, and with
--require-pruner-suspended refuses to run beside it. Pure logic: the state comes from the live
dump's header (pruneplan.clustersettings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pruneplan.clustersettings import ClusterSettings
from pruneplan.errors import EXIT_PRUNER_ACTIVE, PrunePlanError
from pruneplan.prunerpolicy import DEFAULT_SCHEDULE

# What the admin runs to stop and restart it (the operator then suspends its CronJob).
RESOURCE = "imagepruner.imageregistry.operator.openshift.io/cluster"
SUSPEND_COMMAND = f"""oc patch {RESOURCE} --type=merge -p '{{"spec":{{"suspend":true}}}}'"""
RESUME_COMMAND = f"""oc patch {RESOURCE} --type=merge -p '{{"spec":{{"suspend":false}}}}'"""

PrunerState = Literal["active", "suspended", "absent", "unknown"]


@dataclass(frozen=True)
class LivePruner:
    """Whether the automatic pruner runs now (pruneplan.prunerpolicy derives what it runs)."""

    state: PrunerState
    schedule: str | None = None  # as the ImagePruner sets it; None: the operator's default
    reason: str | None = None  # why the state is unknown: "forbidden" or "not recorded"

    def schedule_text(self) -> str:
        # quoted as JSON: a cluster's string never breaks the line it is shown in
        if self.schedule:
            return f"schedule {json.dumps(self.schedule)}"
        return f"schedule {json.dumps(DEFAULT_SCHEDULE)} (the operator's default)"

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"state": self.state}
        if self.state in ("active", "suspended"):
            document["schedule"] = self.schedule or DEFAULT_SCHEDULE
        if self.reason is not None:
            document["reason"] = self.reason
        return document


def live_pruner(settings: ClusterSettings | None) -> LivePruner:
    """The automatic pruner's state from a dump's cluster settings (None: a dump without them)."""
    if settings is None:
        return LivePruner("unknown", reason="not recorded")
    pruner = settings.image_pruner
    if pruner.state == "absent":
        return LivePruner("absent")
    if pruner.state == "forbidden":
        return LivePruner("unknown", reason="forbidden")
    spec = pruner.spec
    schedule = spec.schedule if spec is not None and spec.schedule else None
    suspended = spec is not None and spec.suspend is True  # unset is false: the operator runs it
    return LivePruner("suspended" if suspended else "active", schedule)


def _unknown_cause(pruner: LivePruner) -> str:
    if pruner.reason == "forbidden":
        return "this account may not read imagepruners/cluster (get on imagepruners.imageregistry.operator.openshift.io)"
    return "the live snapshot did not record the ImagePruner"


def warning(pruner: LivePruner) -> str | None:
    """The one stderr line execute prints about the automatic pruner, or None when there is
    nothing to say (suspended, or there is none)."""
    if pruner.state == "active":
        return (f"warning: the automatic image pruner is active (ImagePruner cluster, {pruner.schedule_text()}): "
                "it may prune the same image streams while this run does; suspend it first: " + SUSPEND_COMMAND)
    if pruner.state == "unknown":
        return (f"warning: cannot tell whether the automatic image pruner is active: {_unknown_cause(pruner)}; "
                "if it is, suspend it first: " + SUSPEND_COMMAND)
    return None


def check_suspended(pruner: LivePruner) -> None:
    """--require-pruner-suspended: refuse an active pruner, and one that cannot be checked."""
    if pruner.state == "active":
        raise PrunePlanError(
            f"the automatic image pruner is active (ImagePruner cluster, {pruner.schedule_text()}) and "
            f"--require-pruner-suspended is given; suspend it with {SUSPEND_COMMAND}, then run again",
            EXIT_PRUNER_ACTIVE,
        )
    if pruner.state == "unknown":
        raise PrunePlanError(
            f"--require-pruner-suspended cannot be checked: {_unknown_cause(pruner)}; grant the account "
            "that read, then run again",
            EXIT_PRUNER_ACTIVE,
        )
