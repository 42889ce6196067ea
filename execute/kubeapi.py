"""The API calls execute makes (docs/rules.md: Registry calls and answers, API calls), through
the official kubernetes client.

GET an image stream, PUT its `/status` (409 → CONFLICT so the runner re-fetches and re-applies),
DELETE an Image with grace period 0. Transient failures (connection errors, timeouts, 429, 5xx)
are retried with exponential backoff, a deviation from upstream, which never retries them.
"""

from __future__ import annotations

import copy
import time
from typing import Any
from urllib.parse import quote

import orjson
import urllib3
from kubernetes import client as k8s_client

from pruneplan.execute.ports import CONFLICT, ERROR, NOT_FOUND, OK, Outcome

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
    ) -> None:
        """`connections`: how many connections to the API server to keep (at least one per thread
        that calls at once; the client's default is 5 per CPU, fewer than execute's workers may be)."""
        if connections is not None and connections > (config.connection_pool_maxsize or 0):
            config = copy.copy(config)  # the caller's configuration is left as it is
            config.connection_pool_maxsize = connections
        self._api = k8s_client.ApiClient(config)
        self._timeout = (min(10.0, timeout), timeout)
        self._retries = retries
        self._backoff = backoff

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
            try:
                answer = self._api.call_api(*request, _request_timeout=self._timeout)
                status, data, reason = answer.status, answer.read(), answer.reason or ""
            except k8s_client.ApiException as err:
                status = err.status or 0
                data = err.body.encode() if isinstance(err.body, str) else (err.body or b"")
                reason = err.reason or str(err)
            except (urllib3.exceptions.HTTPError, OSError) as err:
                status, data, reason = 0, b"", str(getattr(err, "reason", None) or err)
            if (status == 0 or status in TRANSIENT) and attempt <= self._retries:
                time.sleep(self._backoff * (2 ** (attempt - 1)))
                continue
            return status, data, reason, attempt

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
