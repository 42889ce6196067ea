"""What execute needs from the API server and the registry, as small interfaces.

The runner is written against these so the order, retries and safety rules are tested once,
whatever answers; execute/kubeapi.py and execute/registry.py are the real implementations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

OK = "ok"
NOT_FOUND = "notfound"  # 404: already gone, counts as done
CONFLICT = "conflict"
ERROR = "error"
DEFERRED = "deferred"  # nothing sent: the registry reclaims it later (offline garbage-collect)
EARLIER = "earlier"  # done by an earlier run of the same plan (journal)


@dataclass(slots=True)
class Outcome:
    status: str
    message: str = ""
    attempts: int = 1

    @property
    def done(self) -> bool:
        return self.status in (OK, NOT_FOUND, EARLIER)


class ApiPort(Protocol):
    def get_stream(self, namespace: str, name: str) -> tuple[Outcome, dict[str, Any] | None]: ...

    def update_stream_status(self, stream: dict[str, Any]) -> Outcome: ...

    def delete_image(self, name: str) -> Outcome: ...


class RegistryPort(Protocol):
    def delete_layer_link(self, repo: str, digest: str) -> Outcome: ...

    def delete_manifest_link(self, repo: str, digest: str) -> Outcome: ...

    def delete_blob(self, digest: str) -> Outcome: ...
