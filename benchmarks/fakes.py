"""Loopback fakes with a fixed latency per request, for the execute and collect benchmarks.

- `add_latency(api, seconds, log)`: the tests' fake Kubernetes API (tests/fakeapi.py) made to
  wait `seconds` before it answers each request, through its request hooks; each request is
  logged with the time it arrived.
- `PagedFakeAPI`: the same fake, answering LISTs from pages encoded once (collect_bench), with
  the latency before each answer and a log of when each request arrived and was answered.
- `FakeRegistry`: the registry calls execute makes (docs/registry.md): the ping (`GET /`,
  `/healthz`), layer and manifest link DELETEs (`/v2/<repo>/blobs|manifests/<digest>`, 202) and
  OpenShift's `DELETE /admin/blobs/<digest>` (204); a second DELETE of the same path is a 404,
  as on a real registry. No content is stored: execute never reads any.

All serve each connection in its own thread, so the latency of concurrent requests overlaps as
on a real server, and all log with `time.perf_counter()` (a system-wide monotonic clock on
Linux), so their logs share one time line with the benchmark.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson

from tests.fakeapi import FakeAPI, LoggedRequest, Resource, _Handler, status_body


@dataclass(frozen=True, slots=True)
class Seen:
    at: float  # perf_counter when the request arrived
    method: str
    path: str  # as sent (percent-encoded)


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[Seen] = []

    def add(self, method: str, path: str) -> None:
        entry = Seen(time.perf_counter(), method, path)
        with self._lock:
            self.seen.append(entry)

    def snapshot(self) -> list[Seen]:
        with self._lock:
            return sorted(self.seen, key=lambda s: s.at)


def add_latency(api: FakeAPI, seconds: float, log: RequestLog) -> None:
    """Every request to `api` waits `seconds` (in its own handler thread) before it is answered."""

    def hook(request: LoggedRequest) -> None:
        log.add(request.method, request.path)
        if seconds > 0:
            time.sleep(seconds)

    api.hooks.append(hook)


_LINK = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>blobs|manifests)/(?P<digest>sha256:[0-9a-f]{64})$")
_ADMIN_BLOB = re.compile(r"^/admin/blobs/(?P<digest>sha256:[0-9a-f]{64})$")


class _RegistryServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # 32 workers connecting at once must not hit the listen backlog
    registry: "FakeRegistry"

    def process_request(self, request: Any, client_address: Any) -> None:
        self.registry.count_connection()
        super().process_request(request, client_address)


class _RegistryHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: execute's session reuses its connections
    disable_nagle_algorithm = True
    server: _RegistryServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, code: int, body: bytes = b"") -> None:
        self.send_response(code)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(body)))
        if body:
            self.send_header("Content-Type", "application/json")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        code = self.server.registry.serve("GET", self.path)
        self._answer(code, b"{}" if code == 200 else b"")

    def do_DELETE(self) -> None:
        code = self.server.registry.serve("DELETE", self.path)
        body = b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}' if code == 404 else b""
        self._answer(code, body)


class FakeRegistry:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.log = RequestLog()
        self.deleted: set[str] = set()  # paths answered 202/204
        self.connections = 0  # accepted: a client that cannot keep its connections opens new ones
        self._lock = threading.Lock()
        self._server: _RegistryServer | None = None

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def serve(self, method: str, path: str) -> int:
        self.log.add(method, path)
        if self.latency > 0:
            time.sleep(self.latency)
        if method == "GET":
            return 200 if path in ("/", "/healthz", "/v2/") else 404
        link, blob = _LINK.match(path), _ADMIN_BLOB.match(path)
        if not (link or blob):
            return 404
        with self._lock:
            if path in self.deleted:
                return 404
            self.deleted.add(path)
        return 202 if link else 204

    def start(self) -> "FakeRegistry":
        server = _RegistryServer(("127.0.0.1", 0), _RegistryHandler)
        server.registry = self
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the registry first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeRegistry":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _AnsweredHandler(_Handler):
    """FakeAPI's handler, logging when each answer has been handed to the socket."""

    def _serve(self) -> None:
        super()._serve()
        api = self.server.api
        if isinstance(api, PagedFakeAPI):
            api.answers.add(self.command, urlsplit(self.path).path)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve


class PagedFakeAPI(FakeAPI):
    """The tests' fake API (same objects, TLS, token and kubeconfig) with LISTs answered from
    pages encoded once, so that serving a page costs the fake no more than writing its bytes.

    FakeAPI sorts and deep-copies a kind's objects for every page: in a benchmark that shares
    the machine's cores with the client, that would be measured too. Here the pages of a list
    (kind, namespace, `limit`) are encoded on first use or by `prepare()`; `continue` is an
    opaque token naming the page. The objects must not change once a list has been served.
    Every request waits `latency` in its handler thread (arrivals in `arrivals`); `answers`
    logs when each answer has been written."""

    def __init__(self, latency: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latency = latency
        self.arrivals = RequestLog()
        self.answers = RequestLog()
        self._pages: dict[tuple[str, str, str, int], list[bytes]] = {}
        self._pages_lock = threading.Lock()
        self.hooks.append(self._arrived)

    def start(self) -> "PagedFakeAPI":
        super().start()
        assert self._server is not None
        self._server.RequestHandlerClass = _AnsweredHandler  # before any connection is accepted
        return self

    def __enter__(self) -> "PagedFakeAPI":
        return self.start()

    def reset_logs(self) -> None:
        """Forget the requests seen so far (between two runs against the same objects)."""
        self.arrivals, self.answers = RequestLog(), RequestLog()
        with self._lock:
            self.requests.clear()

    def prepare(self, limit: int) -> int:
        """Encode now the pages of every cluster-wide list collect makes (pruneplan.kinds) for
        `limit`, so that no timed run pays for it; returns how many pages they are."""
        from pruneplan.kinds import KINDS

        return sum(len(self._pages_of(self.resources[(kind.api_version, kind.resource)], "", limit)) for kind in KINDS)

    def _arrived(self, request: LoggedRequest) -> None:
        self.arrivals.add(request.method, request.path)
        if self.latency > 0:
            time.sleep(self.latency)

    def _list(self, res: Resource, namespace: str, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        limit_text, token = req.param("limit"), req.param("continue")
        try:
            limit = int(limit_text) if limit_text else 0
        except ValueError:
            return 400, status_body(400, f"invalid limit {limit_text!r}"), {}
        index = 0
        if token:  # the token carries its own limit: a list keeps the pages it started with
            try:
                limit, index = (int(n) for n in base64.urlsafe_b64decode(token.encode()).decode().split("/"))
            except ValueError:
                return 400, status_body(400, "continue key is not valid: invalid token"), {}
        pages = self._pages_of(res, namespace, max(limit, 0))
        if not 0 <= index < len(pages):
            return 400, status_body(400, "continue key is not valid: invalid token"), {}
        return 200, pages[index], {"Content-Type": "application/json"}

    def _pages_of(self, res: Resource, namespace: str, limit: int) -> list[bytes]:
        key = (res.group_version, res.resource, namespace, limit)
        with self._pages_lock:  # built once, even when several lists ask at the same time
            pages = self._pages.get(key)
            if pages is None:
                pages = self._pages[key] = self._encode(res, namespace, limit)
            return pages

    def _encode(self, res: Resource, namespace: str, limit: int) -> list[bytes]:
        with self._lock:
            bucket = self._store.get((res.group_version, res.resource), {})
            keys = sorted(k for k in bucket if not namespace or k[0] == namespace)
            # list items carry no kind/apiVersion, as from the real API
            items = [{k: v for k, v in bucket[key].items() if k not in ("kind", "apiVersion")} for key in keys]
            list_rv = self.resource_version
        size = limit if limit > 0 else max(len(items), 1)
        chunks = [items[start:start + size] for start in range(0, len(items), size)] or [[]]
        pages = []
        for index, chunk in enumerate(chunks):
            metadata: dict[str, Any] = {"resourceVersion": list_rv}
            remaining = len(items) - (index + 1) * size
            if remaining > 0:
                metadata["continue"] = base64.urlsafe_b64encode(f"{limit}/{index + 1}".encode()).decode()
                metadata["remainingItemCount"] = remaining
            pages.append(orjson.dumps({"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": metadata,
                                       "items": chunk}))
        return pages
