"""What collect needs of a connection: raw GET answers and one-line cluster errors.

Kept apart from collect/client.py so the paging and collecting logic never imports kubernetes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

from pruneplan.errors import EXIT_CLUSTER, PrunePlanError


class ClusterError(PrunePlanError):
    """The API server cannot be used: unreachable, TLS, credentials, an intolerable answer."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()), EXIT_CLUSTER)  # always one line


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    host: str

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> Response: ...
