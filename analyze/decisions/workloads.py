"""What the referrer analysis reads of a workload (pods, controllers, jobs, builds): the schema each
workload kind decodes against (analyze/decisions/inputs.py), used as is by the referrer analysis.

Only these fields are built; a field here of another JSON type than declared refuses the object
(docs/dump-format.md, "Errors"), `null` is "not set", as Go decodes it.
"""

from __future__ import annotations

import msgspec


class Meta(msgspec.Struct, gc=False):
    namespace: str
    name: str


class PodMeta(Meta, gc=False):
    # read only of pods (their age); other kinds accept any creationTimestamp
    creation_timestamp: str | None = msgspec.field(default=None, name="creationTimestamp")


class Container(msgspec.Struct, gc=False):
    name: str | None = None
    image: str | None = None


class PodSpec(msgspec.Struct, gc=False):
    init_containers: list[Container] | None = msgspec.field(default=None, name="initContainers")
    containers: list[Container] | None = None


class PodStatus(msgspec.Struct, gc=False):
    phase: str | None = None


class Pod(msgspec.Struct, gc=False):
    metadata: PodMeta
    spec: PodSpec | None = None
    status: PodStatus | None = None


class PodTemplate(msgspec.Struct, gc=False):
    spec: PodSpec | None = None


class ControllerSpec(msgspec.Struct, gc=False):
    template: PodTemplate | None = None


class Controller(msgspec.Struct, gc=False):
    """A replication controller, deployment config, replica set, deployment, daemon set, stateful
    set or job: its pod spec is spec.template.spec."""

    metadata: Meta
    spec: ControllerSpec | None = None


class JobTemplate(msgspec.Struct, gc=False):
    spec: ControllerSpec | None = None


class CronJobSpec(msgspec.Struct, gc=False):
    job_template: JobTemplate | None = msgspec.field(default=None, name="jobTemplate")


class CronJob(msgspec.Struct, gc=False):
    """Its pod spec is spec.jobTemplate.spec.template.spec."""

    metadata: Meta
    spec: CronJobSpec | None = None


class ObjectReference(msgspec.Struct, gc=False):
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class StrategyOptions(msgspec.Struct, gc=False):
    from_: ObjectReference | None = msgspec.field(default=None, name="from")


class BuildStrategy(msgspec.Struct, gc=False):
    source: StrategyOptions | None = msgspec.field(default=None, name="sourceStrategy")
    docker: StrategyOptions | None = msgspec.field(default=None, name="dockerStrategy")
    custom: StrategyOptions | None = msgspec.field(default=None, name="customStrategy")


class BuildSpec(msgspec.Struct, gc=False):
    strategy: BuildStrategy | None = None


class Build(msgspec.Struct, gc=False):
    """A build or a build config."""

    metadata: Meta
    spec: BuildSpec | None = None


def template_spec(record: Controller | CronJob) -> PodSpec | None:
    """The pod spec of a controller or cron job record, or None where the path ends early."""
    spec: ControllerSpec | None
    if isinstance(record, CronJob):
        cron_spec = record.spec
        job_template = cron_spec.job_template if cron_spec is not None else None
        spec = job_template.spec if job_template is not None else None
    else:
        spec = record.spec
    template = spec.template if spec is not None else None
    return template.spec if template is not None else None

