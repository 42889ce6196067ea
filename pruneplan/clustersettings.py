"""The cluster's own pruning settings, as a dump's header records them (docs/dump-format.md,
"Cluster settings"): the image registry operator's ImagePruner `cluster` (the automatic
pruner's schedule and policy), its registry Config `cluster` (management state, read-only) and
the cluster Image config (`status.internalRegistryHostname`, which the operator reads to decide
whether the automatic pruner prunes the registry).

Each is optional: a plain Kubernetes cluster has none, and a collector's account may not be
allowed to read them. `state` says which: `found`, `absent` (404) or `forbidden` (403). A dump
made before these were collected has no such record at all (None where it is read).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

State = Literal["found", "absent", "forbidden"]

# Where the collector reads them; `cluster` is the name the operator gives each.
IMAGE_PRUNER_PATH = "/apis/imageregistry.operator.openshift.io/v1/imagepruners/cluster"
REGISTRY_CONFIG_PATH = "/apis/imageregistry.operator.openshift.io/v1/configs/cluster"
IMAGE_CONFIG_PATH = "/apis/config.openshift.io/v1/images/cluster"


class _Record(msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True):
    pass


class Condition(_Record):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None


class ImagePrunerSpec(_Record):
    """The fields of `spec` the operator turns into the automatic pruner's CronJob."""

    schedule: str | None = None
    suspend: bool | None = None
    keep_tag_revisions: int | None = None
    keep_younger_than_duration: str | None = None  # a Go duration, as metav1.Duration writes it
    keep_younger_than: int | None = None  # deprecated: nanoseconds, as time.Duration writes it
    ignore_invalid_image_references: bool | None = None
    resources: dict[str, dict[str, str]] | None = None
    successful_jobs_history_limit: int | None = None
    failed_jobs_history_limit: int | None = None
    log_level: str | None = None


class ImagePruner(_Record):
    state: State
    spec: ImagePrunerSpec | None = None
    conditions: list[Condition] = []


class RegistryConfig(_Record):
    state: State
    management_state: str | None = None
    read_only: bool | None = None


class ImageConfig(_Record):
    state: State
    internal_registry_hostname: str | None = None


class ClusterSettings(_Record):
    image_pruner: ImagePruner
    registry_config: RegistryConfig
    image_config: ImageConfig

    def to_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)


def decode_settings(value: Any) -> ClusterSettings:
    """A header's `clusterSettings`; msgspec.ValidationError for one that is not."""
    return msgspec.convert(value, type=ClusterSettings)


def _strings(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): str(v) for k, v in value.items() if isinstance(v, (str, int, float))}


def project_image_pruner(obj: dict[str, Any]) -> ImagePruner:
    """An ImagePruner as the API returns it, reduced to what the dump keeps; a field of the wrong
    type is refused (msgspec.ValidationError), as the API server would have."""
    spec = obj.get("spec") or {}
    kept = {key: spec[key] for key in (
        "schedule", "suspend", "keepTagRevisions", "keepYoungerThanDuration", "keepYoungerThan",
        "ignoreInvalidImageReferences", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "logLevel",
    ) if key in spec}
    if isinstance(spec.get("resources"), dict):
        kept["resources"] = {part: values for part in ("requests", "limits")
                             if (values := _strings(spec["resources"].get(part))) is not None}
    conditions = [
        {key: c[key] for key in ("type", "status", "reason", "message", "lastTransitionTime") if key in c}
        for c in ((obj.get("status") or {}).get("conditions") or []) if isinstance(c, dict)
    ]
    return msgspec.convert({"state": "found", "spec": kept, "conditions": conditions}, type=ImagePruner)


def project_registry_config(obj: dict[str, Any]) -> RegistryConfig:
    spec = obj.get("spec") or {}
    kept = {key: spec[key] for key in ("managementState", "readOnly") if key in spec}
    return msgspec.convert({"state": "found", **kept}, type=RegistryConfig)


def project_image_config(obj: dict[str, Any]) -> ImageConfig:
    status = obj.get("status") or {}
    kept = {key: status[key] for key in ("internalRegistryHostname",) if key in status}
    return msgspec.convert({"state": "found", **kept}, type=ImageConfig)
