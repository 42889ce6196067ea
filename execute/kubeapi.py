"""The API calls execute makes (docs/rules.md: Registry calls and answers, API calls), through
the official kubernetes client.

GET an image stream, PUT its `/status` (409 → CONFLICT so the runner re-fetches and re-applies),
DELETE an Image with grace period 0. Transient failures (connection errors, timeouts, 429, 5xx)
are retried with exponential backoff, or after the server's `Retry-After` (capped), a deviation
from upstream, which never retries them. Every attempt waits for the shared rate limiter, if any.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import orjson
import urllib3
from kubernetes import client as k8s_client

from pruneplan.execute.ports import CONFLICT, ERROR, NOT_FOUND, OK, Outcome
from pruneplan.execute.ratelimit import RateLimiter
from pruneplan.execute.retryafter import parse_retry_after

IMAGE_API = "/apis/image.openshift.io/v1"
TRANSIENT = frozenset({429, 500, 502, 503, 504})


def _message(status: int, body: bytes, reason: str) -> str:
    try:
        doc = orjson.loads(body)
        if isinstance(doc, dict) and doc.get("message"):
            return str(doc["message"])
    except orjson.JSONDecodeError:
        pass
    return f"{status} {reason}".strip()


class KubeApi:
    def __init__(
        self,
        config: k8s_client.Configuration,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.2,
        connections: int | None = None,
        retry_after_cap: float = 60.0,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`connections`: how many connections to the API server to keep (at least one per thread
        that calls at once; the client's default is 5 per CPU, fewer than execute's workers may be).
        `limiter`, shared by the workers, spaces every request sent, retries included."""
        config = copy.copy(config)  # the caller's configuration is left as it is
        if connections is not None and connections > (config.connection_pool_maxsize or 0):
            config.connection_pool_maxsize = connections
        # The client's own Retry-After retries of GETs (which collect turns on) would wait past the
        # limiter and this loop's budget: the loop below is the one place that retries.
        config.client_go_retries = False
        self._api = k8s_client.ApiClient(config)
        self._timeout = (min(10.0, timeout), timeout)
        self._retries = retries
        self._backoff = backoff
        self._retry_after_cap = retry_after_cap
        self._limiter = limiter
        self._sleep = sleep

    def _call(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, bytes, str, int]:
        """(status, body, reason, attempts); status 0 means no HTTP answer at all."""
        attempt = 0
        while True:
            attempt += 1
            request = self._api.param_serialize(
                method=method,
                resource_path=path,
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                auth_settings=["BearerToken"],
            )
            if self._limiter is not None:
                self._limiter.acquire()
            retry_after: str | None = None
            try:
                answer = self._api.call_api(*request, _request_timeout=self._timeout)
                status, data, reason = answer.status, answer.read(), answer.reason or ""
                retry_after = (answer.headers or {}).get("Retry-After")
            except k8s_client.ApiException as err:
                status = err.status or 0
                data = err.body.encode() if isinstance(err.body, str) else (err.body or b"")
                reason = err.reason or str(err)
                retry_after = (err.headers or {}).get("Retry-After")
            except (urllib3.exceptions.HTTPError, OSError) as err:
                status, data, reason = 0, b"", str(getattr(err, "reason", None) or err)
            if (status == 0 or status in TRANSIENT) and attempt <= self._retries:
                self._sleep(self._delay(attempt, parse_retry_after(retry_after) if status else None))
                continue
            return status, data, reason, attempt

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """The server's Retry-After (capped) when it sent one, else exponential backoff."""
        if retry_after is not None:
            return min(retry_after, self._retry_after_cap)
        return float(self._backoff * (2 ** (attempt - 1)))

    def _outcome(self, status: int, data: bytes, reason: str, attempts: int) -> Outcome:
        if 200 <= status < 300:
            return Outcome(OK, "", attempts)
        if status == 404:
            return Outcome(NOT_FOUND, _message(status, data, reason), attempts)
        if status == 409:
            return Outcome(CONFLICT, _message(status, data, reason), attempts)
        if status == 0:
            return Outcome(ERROR, f"cannot reach the API server: {reason}", attempts)
        return Outcome(ERROR, _message(status, data, reason), attempts)

    def get_stream(self, namespace: str, name: str) -> tuple[Outcome, dict[str, Any] | None]:
        path = f"{IMAGE_API}/namespaces/{quote(namespace, safe='')}/imagestreams/{quote(name, safe='')}"
        status, data, reason, attempts = self._call("GET", path)
        outcome = self._outcome(status, data, reason, attempts)
        if outcome.status != OK:
            return outcome, None
        try:
            return outcome, orjson.loads(data)
        except orjson.JSONDecodeError as err:
            return Outcome(ERROR, f"invalid JSON from the API server: {err}", attempts), None

    def update_stream_status(self, stream: dict[str, Any]) -> Outcome:
        meta = stream["metadata"]
        path = f"{IMAGE_API}/namespaces/{quote(meta['namespace'], safe='')}/imagestreams/{quote(meta['name'], safe='')}/status"
        return self._outcome(*self._call("PUT", path, stream))

    def delete_image(self, name: str) -> Outcome:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        return self._outcome(*self._call("DELETE", f"{IMAGE_API}/images/{quote(name, safe='')}", body))

    def restart_deployment(self, namespace: str, name: str, when: str) -> Outcome:
        """What `kubectl rollout restart` does: bump a pod-template annotation."""
        patch = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": when}}}}}
        path = f"/apis/apps/v1/namespaces/{quote(namespace, safe='')}/deployments/{quote(name, safe='')}"
        return self._outcome(*self._call("PATCH", path, patch, "application/strategic-merge-patch+json"))

    def close(self) -> None:
        self._api.close()
