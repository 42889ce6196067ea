"""The object kinds a dump holds: the resources upstream lists, in upstream's listing order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    resource: str  # plural resource name, the key in a dump's "objects"
    kind: str  # the API kind, as in a `kind: List` item
    api_version: str
    namespaced: bool

    @property
    def word(self) -> str:
        """How messages name an object of the kind, as upstream does: `pod`, `buildconfig`, ..."""
        return self.kind.lower()


KINDS: tuple[Kind, ...] = (
    Kind("pods", "Pod", "v1", True),
    Kind("replicationcontrollers", "ReplicationController", "v1", True),
    Kind("buildconfigs", "BuildConfig", "build.openshift.io/v1", True),
    Kind("builds", "Build", "build.openshift.io/v1", True),
    Kind("daemonsets", "DaemonSet", "apps/v1", True),
    Kind("deployments", "Deployment", "apps/v1", True),
    Kind("deploymentconfigs", "DeploymentConfig", "apps.openshift.io/v1", True),
    Kind("replicasets", "ReplicaSet", "apps/v1", True),
    Kind("statefulsets", "StatefulSet", "apps/v1", True),
    Kind("jobs", "Job", "batch/v1", True),
    Kind("cronjobs", "CronJob", "batch/v1", True),
    Kind("limitranges", "LimitRange", "v1", True),
    Kind("imagestreams", "ImageStream", "image.openshift.io/v1", True),
    Kind("images", "Image", "image.openshift.io/v1", False),
)

BY_RESOURCE = {k.resource: k for k in KINDS}
BY_KIND = {k.kind: k for k in KINDS}
