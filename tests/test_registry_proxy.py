"""The registry client goes through the proxy the environment names (HTTP_PROXY, ...), and
straight to a host NO_PROXY names: as Go's ProxyFromEnvironment, read once per registry."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from pruneplan.execute.registry_transport import RegistrySession


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.lines: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_DELETE(self) -> None:  # noqa: N802 (http.server's naming)
                server.lines.append(f"{self.command} {self.path}")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    proxy, registry = Recorder(), Recorder()
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (proxy, registry)]
    for t in threads:
        t.start()
    yield proxy, registry
    for s in (proxy, registry):
        s.shutdown()
        s.server_close()


def _clear_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def test_registry_requests_go_through_the_proxy_the_environment_names(servers, monkeypatch):
    proxy, registry = servers
    _clear_proxy_environment(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    session = RegistrySession()
    for n in range(3):
        assert session.delete(f"{registry.url}/admin/blobs/sha256:{n:064x}").status_code == 202
    # a forward proxy is sent the absolute URL; the registry itself sees nothing
    assert proxy.lines == [f"DELETE {registry.url}/admin/blobs/sha256:{n:064x}" for n in range(3)]
    assert registry.lines == []


def test_a_registry_named_in_no_proxy_is_reached_directly(servers, monkeypatch):
    proxy, registry = servers
    _clear_proxy_environment(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    session = RegistrySession()
    assert session.delete(f"{registry.url}/v2/ns/app/blobs/sha256:{0:064x}").status_code == 202
    assert registry.lines == [f"DELETE /v2/ns/app/blobs/sha256:{0:064x}"]
    assert proxy.lines == []


def test_without_proxy_variables_the_registry_is_reached_directly(servers, monkeypatch):
    proxy, registry = servers
    _clear_proxy_environment(monkeypatch)
    session = RegistrySession()
    assert session.delete(f"{registry.url}/admin/blobs/sha256:{1:064x}").status_code == 202
    assert registry.lines == [f"DELETE /admin/blobs/sha256:{1:064x}"]
    assert proxy.lines == []


def test_the_registry_session_refuses_what_it_does_not_send_rather_than_dropping_it(servers, monkeypatch):
    _, registry = servers
    _clear_proxy_environment(monkeypatch)
    session = RegistrySession()
    with pytest.raises(TypeError, match="bodyless"):
        session.post(f"{registry.url}/v2/ns/app/blobs/uploads/", data=b"layer")
    assert registry.lines == []
