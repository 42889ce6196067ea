"""Loopback fakes with a fixed latency per request, for the execute and collect benchmarks.

- `add_latency(api, seconds, log)`: the tests' fake Kubernetes API (tests/fakeapi.py) made to
  wait `seconds` before it answers each request, through its request hooks; each request is
  logged with the time it arrived.
- `FakeRegistry`: the registry calls execute makes (docs/registry.md): the ping (`GET /`,
  `/healthz`), layer and manifest link DELETEs (`/v2/<repo>/blobs|manifests/<digest>`, 202) and
  OpenShift's `DELETE /admin/blobs/<digest>` (204); a second DELETE of the same path is a 404,
  as on a real registry. No content is stored: execute never reads any.

Both serve each connection in its own thread, so the latency of concurrent requests overlaps as
on a real server, and both log with `time.perf_counter()` (a system-wide monotonic clock on
Linux), so their logs share one time line with the benchmark.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakeapi import FakeAPI, LoggedRequest


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
