"""The registry must be read-only while a hard prune deletes from its storage: a push during the
run could link a blob the plan deletes. The image registry operator's Config `cluster` says so in
`spec.readOnly`; anything else (false, unset, unreadable, absent) is refused before any write."""

from __future__ import annotations

from typing import Any

import orjson

from pruneplan.clustersettings import REGISTRY_CONFIG_PATH
from pruneplan.collect.transport import Transport
from pruneplan.errors import EXIT_FAILURE, PrunePlanError

RESOURCE = "configs.imageregistry.operator.openshift.io/cluster"
SET_READ_ONLY = f"""oc patch {RESOURCE} --type=merge -p '{{"spec":{{"readOnly":true}}}}'"""
LEAVE_READ_ONLY = f"""oc patch {RESOURCE} --type=merge -p '{{"spec":{{"readOnly":false}}}}'"""


def read_only_state(status: int, body: bytes) -> str | None:
    """Why the registry is not known to be read-only, from the answer to a GET of its Config;
    None when `spec.readOnly` is true."""
    if status == 404:
        return f"there is no {RESOURCE} (no image registry operator)"
    if status == 403:
        return f"this account may not read {RESOURCE}"
    if status != 200:
        return f"{RESOURCE} cannot be read (HTTP {status})"
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"{RESOURCE} is not valid JSON"
    spec = document.get("spec") if isinstance(document, dict) else None
    value = spec.get("readOnly") if isinstance(spec, dict) else None
    if value is True:
        return None
    return f"{RESOURCE} has spec.readOnly {'unset' if value is None else orjson.dumps(value).decode()}"


def check_read_only(transport: Transport) -> None:
    """Refuse (one line, with the command that sets it) unless the registry is read-only."""
    answer = transport.get(REGISTRY_CONFIG_PATH)
    why = read_only_state(answer.status, answer.body)
    if why is not None:
        raise PrunePlanError(
            f"the registry must be read-only while a hard-prune plan runs, but {why}; set it with {SET_READ_ONLY}, "
            "wait for the registry's pods to restart, then run again",
            EXIT_FAILURE,
        )
