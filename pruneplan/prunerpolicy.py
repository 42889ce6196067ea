"""The cluster's automatic pruner: what the image registry operator's CronJob
`openshift-image-registry/image-pruner` runs, derived from the dump's cluster settings
(pruneplan.clustersettings) as the operator derives it (docs/rules.md, "The automatic pruner").

Pure: no I/O. analyze takes its policy from it (--policy-from-cluster) and records it in the
plan; verify and report set it beside the plan's policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .clustersettings import ClusterSettings
from .goduration import format_go_duration, parse_go_duration

# The operator's defaults for an ImagePruner field left unset.
DEFAULT_SCHEDULE = "0 0 * * *"
DEFAULT_KEEP_TAG_REVISIONS = 3
DEFAULT_KEEP_YOUNGER_THAN = "1h0m0s"  # the operator writes "60m"; oc reads both alike
# The operator's logLevel to oc's --loglevel. Normal (and an unset or unknown level) would be 2,
# which the operator lowers to 1: at 2, oc prints every goroutine's stack on an error.
LOGLEVELS = {"Normal": 1, "Debug": 4, "Trace": 6, "TraceAll": 8}
DEFAULT_LOGLEVEL = 1

# The plan's policy flags, by oc's names, and where each value may come from.
POLICY_FLAGS = (
    "keep-tag-revisions", "keep-younger-than", "prune-over-size-limit", "all", "namespace",
    "ignore-invalid-refs", "prune-registry",
)
PRUNER_FLAGS = ("keep-tag-revisions", "keep-younger-than", "ignore-invalid-refs", "prune-registry")
FROM_FLAG = "flag"  # given on analyze's command line
FROM_PRUNER = "imagePruner"  # the ImagePruner (or the Image config, for prune-registry) sets it
FROM_PRUNER_DEFAULT = "imagePrunerDefault"  # the ImagePruner leaves it unset: the operator's default
FROM_DEFAULT = "default"  # not given: oc's default (or oc's "not given")
SOURCES = (FROM_FLAG, FROM_PRUNER, FROM_PRUNER_DEFAULT, FROM_DEFAULT)


@dataclass(frozen=True, slots=True)
class AutomaticPruner:
    """The automatic pruner as a dump saw it. Only `state` is set unless it is `found`."""

    state: str  # found, absent or forbidden (the ImagePruner `cluster`)
    schedule: str | None = None
    suspended: bool | None = None
    loglevel: int | None = None
    keep_tag_revisions: int | None = None
    keep_younger_than: str | None = None  # a Go duration, as Duration.String() writes it
    ignore_invalid_refs: bool | None = None
    prune_registry: bool | None = None  # None: the Image config was not read (absent, forbidden)
    registry_url: str | None = None
    image_config_state: str = "found"
    defaulted: tuple[str, ...] = ()  # the PRUNER_FLAGS the ImagePruner leaves to the operator

    @property
    def found(self) -> bool:
        return self.state == "found"

    def flag_values(self) -> dict[str, Any]:
        """oc's flags as the CronJob gives them (prune-registry only when known)."""
        values: dict[str, Any] = {
            "keep-tag-revisions": self.keep_tag_revisions,
            "keep-younger-than": self.keep_younger_than,
            "ignore-invalid-refs": self.ignore_invalid_refs,
        }
        if self.prune_registry is not None:
            values["prune-registry"] = self.prune_registry
        return values

    def source_of(self, flag: str) -> str:
        return FROM_PRUNER_DEFAULT if flag in self.defaulted else FROM_PRUNER

    def cronjob_args(self) -> list[str]:
        """The arguments of the CronJob's `oc`, in the operator's order (its service CA flag aside)."""
        args = [
            "adm", "prune", "images", "--confirm=true",
            f"--keep-tag-revisions={self.keep_tag_revisions}",
            f"--keep-younger-than={self.keep_younger_than}",
            f"--ignore-invalid-refs={_go_bool(bool(self.ignore_invalid_refs))}",
            f"--loglevel={self.loglevel}",
        ]
        if self.prune_registry is not None:
            args.append(f"--prune-registry={_go_bool(self.prune_registry)}")
        if self.registry_url is not None:
            args.append(f"--registry-url={self.registry_url}")
        return args


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


class PrunerSpecError(ValueError):
    """An ImagePruner field the operator could not have turned into a flag."""


def automatic_pruner(settings: ClusterSettings) -> AutomaticPruner:
    """The operator's CronJob for these settings; PrunerSpecError for a duration that is not one."""
    pruner = settings.image_pruner
    if pruner.state != "found":
        return AutomaticPruner(state=pruner.state)
    spec = pruner.spec
    defaulted: list[str] = []

    def default(flag: str, value: Any) -> Any:
        defaulted.append(flag)
        return value

    revisions = spec.keep_tag_revisions if spec and spec.keep_tag_revisions is not None \
        else default("keep-tag-revisions", DEFAULT_KEEP_TAG_REVISIONS)
    # the Duration spelling wins over the deprecated nanoseconds, as in the operator
    if spec and spec.keep_younger_than_duration is not None:
        try:
            younger = format_go_duration(parse_go_duration(spec.keep_younger_than_duration))
        except ValueError as err:
            raise PrunerSpecError(f"ImagePruner spec.keepYoungerThanDuration: {err}") from None
    elif spec and spec.keep_younger_than is not None:
        younger = format_go_duration(spec.keep_younger_than)
    else:
        younger = default("keep-younger-than", DEFAULT_KEEP_YOUNGER_THAN)
    ignore = spec.ignore_invalid_image_references if spec and spec.ignore_invalid_image_references is not None \
        else default("ignore-invalid-refs", False)
    image_config = settings.image_config
    prune_registry: bool | None = None
    url = None
    if image_config.state == "found":
        hostname = image_config.internal_registry_hostname or ""
        prune_registry = hostname != ""
        url = f"https://{hostname}" if hostname else None
    return AutomaticPruner(
        state="found",
        schedule=spec.schedule if spec and spec.schedule else DEFAULT_SCHEDULE,
        suspended=bool(spec and spec.suspend),
        loglevel=LOGLEVELS.get(spec.log_level or "", DEFAULT_LOGLEVEL) if spec else DEFAULT_LOGLEVEL,
        keep_tag_revisions=revisions,
        keep_younger_than=younger,
        ignore_invalid_refs=ignore,
        prune_registry=prune_registry,
        registry_url=url,
        image_config_state=image_config.state,
        defaulted=tuple(defaulted),
    )


def refusal(pruner: AutomaticPruner | None, given: Mapping[str, Any]) -> str | None:
    """Why --policy-from-cluster cannot take its policy from this dump, or None if it can."""
    if pruner is None:
        return ("no cluster settings recorded (a `kind: List`, or a dump made before collect recorded them): "
                "--policy-from-cluster needs a dump that `pruneplan collect` made")
    if pruner.state == "absent":
        return ("the cluster has no ImagePruner `cluster` (imagepruners.imageregistry.operator.openshift.io), "
                "so no automatic pruner: --policy-from-cluster has no policy to take")
    if pruner.state == "forbidden":
        return ("the collector was forbidden to read the ImagePruner `cluster` "
                "(imagepruners.imageregistry.operator.openshift.io): --policy-from-cluster needs a dump "
                "collected by an account that may get it")
    if pruner.prune_registry is None and given.get("prune-registry") is None:
        read = "forbidden to read" if pruner.image_config_state == "forbidden" else "absent from the cluster"
        return (f"the cluster Image config `cluster` (images.config.openshift.io) was {read}, so the automatic "
                "pruner's --prune-registry is unknown: give --prune-registry or --no-prune-registry")
    return None


def merged_flags(given: Mapping[str, Any], pruner: AutomaticPruner | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Each policy flag's value and where it comes from: the command line (`given`: flag -> value,
    None when not given) first, then the automatic pruner's flags when `pruner` is given, else
    not given (None: oc's default applies)."""
    from_pruner = pruner.flag_values() if pruner is not None else {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for flag in POLICY_FLAGS:
        if given.get(flag) is not None:
            values[flag], sources[flag] = given[flag], FROM_FLAG
        elif from_pruner.get(flag) is not None and pruner is not None:
            values[flag], sources[flag] = from_pruner[flag], pruner.source_of(flag)
        else:
            values[flag], sources[flag] = None, FROM_DEFAULT
    return values, sources


# What the automatic pruner runs for the flags it never gives: oc's defaults.
_NOT_GIVEN_BY_PRUNER = {"prune-over-size-limit": None, "all": True, "namespace": None}


def _comparable(flag: str, value: Any) -> Any:
    if flag == "keep-younger-than" and isinstance(value, str):
        try:
            return parse_go_duration(value)
        except ValueError:
            return value
    return value


def policy_differences(plan: Mapping[str, Any], pruner: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(flag, plan's value, automatic pruner's value) for each policy flag where they differ, in
    POLICY_FLAGS order; both map oc's flag names to values (None: not given). A flag whose value
    the pruner's dump does not know (prune-registry without the Image config) is left out."""
    theirs = {**_NOT_GIVEN_BY_PRUNER, **pruner}
    return [
        (flag, plan.get(flag), theirs.get(flag))
        for flag in POLICY_FLAGS
        if flag in theirs and (flag != "prune-registry" or theirs[flag] is not None)
        and _comparable(flag, plan.get(flag)) != _comparable(flag, theirs.get(flag))
    ]
