"""Paged LIST of one resource: `limit`/`continue`, and a fresh start when the token expires.

Works on any transport with `get(path, query) -> Response` (collect/client.py), so the paging
rules stay apart from the kubernetes client.
"""

from __future__ import annotations

from typing import Any, Iterator
from urllib.parse import quote

import orjson

from pruneplan.kinds import Kind

from pruneplan.collect.transport import ClusterError, Response, Transport

MAX_RESTARTS = 5

# What upstream tolerates (docs/rules.md, "Referrers and the fields read"): APIs missing on
# plain Kubernetes, and apps/v1 kinds an old ClusterRole may not grant.
NOT_FOUND_TOLERATED = frozenset({"buildconfigs", "builds", "deploymentconfigs"})
FORBIDDEN_TOLERATED = frozenset({"daemonsets", "deployments", "replicasets"})

RESTART = object()  # yielded when a list starts over: the caller drops what it has so far


class ApiStatusError(Exception):
    """A non-2xx answer; `message` is the server's Status message when it sent one."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def api_base(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def list_path(kind: Kind, namespace: str | None) -> str:
    base = api_base(kind.api_version)
    if kind.namespaced and namespace:
        return f"{base}/namespaces/{quote(namespace, safe='')}/{kind.resource}"
    return f"{base}/{kind.resource}"


def status_message(answer: Response) -> str:
    """The `message` of a Status body, else the HTTP status line and a bit of the body."""
    try:
        doc = orjson.loads(answer.body) if answer.body else None
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("message"), str) and doc["message"]:
        return doc["message"]
    text = answer.body.decode("utf-8", "replace").strip()[:200] if answer.body else ""
    line = f"HTTP {answer.status} {answer.reason}".strip()
    return f"{line}: {text}" if text else line


def _decode_page(answer: Response, path: str) -> tuple[list[Any], str]:
    try:
        doc = orjson.loads(answer.body)
    except orjson.JSONDecodeError as err:
        raise ClusterError(f"invalid JSON in the answer to GET {path}: {err}") from None
    if not isinstance(doc, dict):
        raise ClusterError(f"unexpected answer to GET {path}: not a list object")
    items = doc.get("items") or []
    if not isinstance(items, list):
        raise ClusterError(f"unexpected answer to GET {path}: items is not a list")
    token = (doc.get("metadata") or {}).get("continue") or ""
    return items, token if isinstance(token, str) else ""


def list_pages(
    transport: Transport, path: str, page_size: int, max_restarts: int = MAX_RESTARTS
) -> Iterator[Any]:
    """Yield each page's items (a list), or RESTART when an expired token forced a new list.

    Raises ApiStatusError for any other non-200 answer; the caller decides what is tolerated.
    """
    restarts = 0
    token = ""
    while True:
        query = [("limit", str(page_size))]
        if token:
            query.append(("continue", token))
        answer = transport.get(path, query)
        if answer.status == 410 and token:
            # The continue token outlived etcd's compaction window; only a new list is consistent.
            restarts += 1
            if restarts > max_restarts:
                raise ClusterError(
                    f"cannot list {path}: the continue token expired {restarts} times "
                    "(the list changes faster than it can be read); try a larger --page-size"
                )
            token = ""
            yield RESTART
            continue
        if answer.status != 200:
            raise ApiStatusError(answer.status, status_message(answer))
        items, token = _decode_page(answer, path)
        yield items
        if not token:
            return
