"""A real container registry for tests, plus what is needed to drive and observe it.

(docs/registry.md, "Testing", says what the tests check with it.)

- `RegistryServer`: Debian's distribution registry (`/usr/bin/docker-registry`, 2.8) on
  127.0.0.1 with a private config: filesystem storage in a temp dir, deletes enabled, no upload
  purging, **no blob descriptor cache** (with one, GC-deleted blobs still answer 200). Optional
  TLS with a test CA. `restart()` keeps the port; `garbage_collect()` is the offline GC (stop → GC
  → start, never `--delete-untagged`).
- `FrontProxy`: a loopback proxy in front of it that adds OpenShift's `DELETE /admin/blobs/<d>`
  (removes the blob from the storage directory), records every request, and injects faults
  (forced statuses N times, delays, dropped or reset connections).
- `ScriptedServer`: a tiny HTTP(S) server answering from a script, for exact wire statuses
  (200 with a body, 3xx, 503, ...) and TLS-vs-plain mismatches, behaving like a Go server (or a
  non-Go one) when plain HTTP reaches its TLS port.
- `CertAuthority`: a CA and server certificates made with `cryptography`.
- Images without Docker: random gzip layers, configs with correct `rootfs.diff_ids`, Docker
  schema 2 and OCI manifests, OCI indexes and Docker manifest lists (`build_image`,
  `build_index`), pushed over the plain registry API by `RegistryAPI`, which also checks that an
  image still pulls and that a manifest is gone.

Tests must fail, not skip, when the registry binary is missing (a skip would hide a missing
install step), so `require_registry_binary()` raises.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

import requests

REGISTRY_BIN = "/usr/bin/docker-registry"

MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# Without all four the registry answers 404 for OCI and rewrites Docker manifests to schema 1.
MANIFEST_ACCEPT = ", ".join((MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST))
INDEX_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)

WAIT_SECONDS = 15.0  # every wait in the harness is bounded by this


def require_registry_binary() -> str:
    """The registry binary's path; AssertionError (a test failure, not a skip) when missing."""
    if not os.access(REGISTRY_BIN, os.X_OK):
        raise AssertionError(
            f"{REGISTRY_BIN} is missing: install the Debian packages docker-registry and skopeo (.ci/install does)"
        )
    return REGISTRY_BIN


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


# --- certificates ------------------------------------------------------------------------------


@dataclass
class ServerCert:
    cert_file: Path
    key_file: Path
    ca_file: Path  # the CA that signed it


class CertAuthority:
    """A throwaway CA; `issue()` writes a server certificate for loopback names."""

    def __init__(self, directory: Path, name: str = "pruneplan test CA") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._x509, self._hashes, self._serialization, self._ec, self._oid = x509, hashes, serialization, ec, NameOID
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.ca_file = self.directory / f"{slug}.crt"
        self.ca_file.write_bytes(self.cert_pem)

    def issue(self, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1"), name: str = "server") -> ServerCert:
        x509, hashes, serialization, ec = self._x509, self._hashes, self._serialization, self._ec
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        names: list[Any] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(self._oid.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        cert_file = self.directory / f"{name}.crt"
        key_file = self.directory / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return ServerCert(cert_file, key_file, self.ca_file)


# --- the real registry ---------------------------------------------------------------------------

_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


class RegistryServer:
    """`docker-registry serve` on 127.0.0.1, storage and log in `workdir`."""

    def __init__(
        self,
        workdir: Path | str,
        *,
        tls: ServerCert | None = None,
        delete_enabled: bool = True,
        read_only: bool = False,
    ) -> None:
        self.binary = require_registry_binary()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root = self.workdir / "storage"
        self.config_path = self.workdir / "config.yml"
        self.log_path = self.workdir / "registry.log"
        self.tls = tls
        self.delete_enabled = delete_enabled
        self.read_only = read_only
        self.port = 0  # 0 until the first start; kept across restarts
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # URLs
    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def verify(self) -> str | bool:
        """What `requests` should verify against to talk to this registry."""
        return str(self.tls.ca_file) if self.tls else True

    def api(self) -> "RegistryAPI":
        return RegistryAPI(self.url, verify=self.verify)

    # lifecycle
    def write_config(self) -> None:
        q = json.dumps  # JSON strings are valid YAML scalars
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: text",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {q(str(self.root))}",
            "  delete:",
            f"    enabled: {'true' if self.delete_enabled else 'false'}",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
        ]
        if self.read_only:
            lines += ["    readonly:", "      enabled: true"]
        lines += [
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: pruneplan-test-secret",
        ]
        if self.tls:
            lines += ["  tls:", f"    certificate: {q(str(self.tls.cert_file))}", f"    key: {q(str(self.tls.key_file))}"]
        # Deliberately no `cache:` section (see the module docstring).
        self.config_path.write_text("\n".join(lines) + "\n")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = WAIT_SECONDS) -> "RegistryServer":
        if self.running:
            return self
        self.write_config()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                [self.binary, "serve", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            port = self._wait_for_port(timeout)
            if self.port == 0:
                self.port = port
                self.write_config()  # a restart binds the same port
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_port(self, timeout: float) -> int:
        found: list[int] = []

        def listening() -> bool:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"docker-registry exited with {self._process.returncode}:\n{self.log_text()[-2000:]}")
            match = _LISTENING.search(self.log_text())
            if match:
                found.append(int(match.group(1)))
                return True
            return False

        _wait_until(listening, timeout, f"docker-registry to listen (log: {self.log_path})")
        return found[0]

    def _wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            try:
                return requests.get(f"{self.url}/v2/", timeout=2, verify=self.verify).status_code == 200
            except requests.RequestException:
                return False

        _wait_until(ready, timeout, f"GET {self.url}/v2/ to answer 200")

    def log_text(self) -> str:
        """The log written since the last start."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(self._log_offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = WAIT_SECONDS) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def restart(self) -> "RegistryServer":
        self.stop()
        return self.start()

    def garbage_collect(self, dry_run: bool = False, timeout: float = 120.0) -> str:
        """Offline GC: stop, `garbage-collect CONFIG`, start again if it was running. Returns its output."""
        was_running = self.running
        self.stop()
        self.write_config()
        command = [self.binary, "garbage-collect", str(self.config_path)] + (["--dry-run"] if dry_run else [])
        result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        output = (result.stdout + result.stderr).decode("utf-8", "replace")
        if result.returncode != 0:
            raise RuntimeError(f"garbage-collect failed ({result.returncode}):\n{output[-2000:]}")
        if was_running:
            self.start()
        return output

    # storage
    def blob_path(self, digest: str) -> Path:
        algorithm, _, hex_part = digest.partition(":")
        return self.root / "docker" / "registry" / "v2" / "blobs" / algorithm / hex_part[:2] / hex_part

    def blob_exists_on_disk(self, digest: str) -> bool:
        return (self.blob_path(digest) / "data").is_file()

    def __enter__(self) -> "RegistryServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- loopback HTTP servers ----------------------------------------------------------------------

# A TLS alert record (fatal, protocol_version), what many non-Go TLS servers send to plain HTTP.
TLS_ALERT = b"\x15\x03\x01\x00\x02\x02\x46"
GO_PLAIN_ON_TLS = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ServerCert | None, plain_on_tls: str) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.tls_context: ssl.SSLContext | None = None
        if tls is not None:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        self.plain_on_tls = plain_on_tls
        self.connections = 0  # accepted TCP connections, handled or not (handshakes that fail count)
        self._count_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            self.connections += 1
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        # TLS per connection, in the handler thread, after a look at the first byte.
        request.settimeout(WAIT_SECONDS)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if not first:
            return
        if first[0] != 0x16:  # not a TLS handshake: plain HTTP reached the TLS port
            try:
                request.sendall(GO_PLAIN_ON_TLS if self.plain_on_tls == "go" else TLS_ALERT)
            except OSError:
                pass
            return
        try:
            wrapped = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # e.g. the client refused our certificate
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up are part of the tests


class _ServerThread:
    def __init__(self, server: _LoopbackServer, scheme: str) -> None:
        self.server = server
        self.scheme = scheme
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(WAIT_SECONDS)


Route = tuple[int, dict[str, str], bytes]


class ScriptedServer:
    """Answers `(method, path)` from a script; unknown paths answer 404. Records handled requests.

    `script` values are `(status, headers, body)` or a callable taking the RecordedRequest and
    returning one. `tls` serves HTTPS with that certificate; `plain_on_tls` says what a plain HTTP
    client gets on the TLS port: "go" (Go's `400 Bad Request`, no handler runs) or "alert" (a
    TLS alert, which an HTTP client reads as a malformed response).
    """

    def __init__(
        self,
        script: dict[tuple[str, str], Route | Callable[[RecordedRequest], Route]] | None = None,
        *,
        tls: ServerCert | None = None,
        plain_on_tls: str = "go",
        default: Route = (404, {"Content-Type": "text/plain"}, b"404 page not found\n"),
    ) -> None:
        self.script = dict(script or {})
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorded = RecordedRequest(self.command, self.path, dict(self.headers.items()))
                with owner._lock:
                    owner.requests.append(recorded)
                    route = owner.script.get((self.command, self.path), owner.default)
                status, headers, body = route(recorded) if callable(route) else route
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_DELETE = do_PUT = do_POST = do_HEAD = do_PATCH = _serve

        self._runner = _ServerThread(_LoopbackServer(Handler, tls, plain_on_tls), "https" if tls else "http")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._runner.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self._runner.scheme}://{self.host}"

    @property
    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    @property
    def connections(self) -> int:
        """TCP connections accepted so far, including ones that never reached a handler."""
        return self._runner.server.connections

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> "ScriptedServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    method: str | None
    times: int
    action: str  # "status" | "delay" | "drop" | "reset"
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and (self.method is None or self.method == method) and bool(self.pattern.search(path))


_ADMIN_BLOB = re.compile(r"^/admin/blobs/(sha256:[0-9a-f]{64})$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"}


class FrontProxy:
    """A loopback proxy in front of a RegistryServer, playing OpenShift's integrated registry.

    Every request is forwarded, except `DELETE /admin/blobs/<digest>`, which removes the blob
    from the registry's storage directory (204; 404 BLOB_UNKNOWN when absent). `requests` logs
    (method, path, headers) of everything received, faults included.
    """

    def __init__(self, registry: RegistryServer) -> None:
        self.registry = registry
        self.requests: list[RecordedRequest] = []
        self.hooks: list[Callable[[RecordedRequest], None]] = []  # run on every request, before faults
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = RecordedRequest(self.command, self.path, dict(self.headers.items()))
                for hook in list(owner.hooks):
                    hook(recorded)
                fault = owner._take_fault(recorded)
                if fault is not None:
                    if fault.action == "delay":
                        time.sleep(fault.seconds)
                    elif fault.action in ("drop", "reset"):
                        self._hang_up(reset=fault.action == "reset")
                        return
                    else:
                        self._answer(fault.status, fault.headers, fault.body)
                        return
                match = _ADMIN_BLOB.match(self.path)
                if self.command == "DELETE" and match:
                    self._answer(*owner._delete_blob(match.group(1)))
                    return
                self._answer(*owner._forward(self.command, self.path, dict(self.headers.items()), body))

            def _hang_up(self, reset: bool) -> None:
                self.close_connection = True
                try:
                    if reset:  # RST instead of FIN: the client sees "connection reset by peer"
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    else:  # FIN now, before the handler's own cleanup: the client sees EOF
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.connection.close()
                except OSError:
                    pass

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_DELETE = do_PUT = do_POST = do_HEAD = do_PATCH = _serve

        self._runner = _ServerThread(_LoopbackServer(Handler, None, "go"), "http")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._runner.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def calls(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(r.method, r.path) for r in self.requests]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # fault hooks
    def fail(self, pattern: str, status: int, times: int = 1, *, method: str | None = None,
             headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        """Answer `status` (with headers/body) instead of forwarding, `times` times."""
        self._add(_Fault(re.compile(pattern), method, times, "status", status, dict(headers or {}), body))

    def delay(self, pattern: str, seconds: float, times: int = 1, *, method: str | None = None) -> None:
        """Sleep before forwarding (a client with a shorter read timeout gives up)."""
        self._add(_Fault(re.compile(pattern), method, times, "delay", seconds=seconds))

    def drop(self, pattern: str, times: int = 1, *, method: str | None = None, reset: bool = False) -> None:
        """Close the connection without answering; `reset=True` sends a TCP RST."""
        self._add(_Fault(re.compile(pattern), method, times, "reset" if reset else "drop"))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, recorded: RecordedRequest) -> _Fault | None:
        with self._lock:
            self.requests.append(recorded)
            for fault in self._faults:
                if fault.matches(recorded.method, recorded.path):
                    fault.times -= 1
                    return fault
        return None

    def _delete_blob(self, digest: str) -> tuple[int, dict[str, str], bytes]:
        path = self.registry.blob_path(digest)
        if not path.is_dir():
            body = json.dumps({"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": digest}]})
            return 404, {"Content-Type": "application/json"}, body.encode()
        shutil.rmtree(path)
        return 204, {}, b""

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        import http.client

        connection: http.client.HTTPConnection
        if self.registry.tls:
            context = ssl.create_default_context(cafile=str(self.registry.tls.ca_file))
            connection = http.client.HTTPSConnection("127.0.0.1", self.registry.port, timeout=WAIT_SECONDS, context=context)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.registry.port, timeout=WAIT_SECONDS)
        try:
            # The Host header is kept, so the registry's Location headers point back at the proxy.
            forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(method, path, body=body if body or method in ("PUT", "POST", "PATCH") else None, headers=forwarded)
            response = connection.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        except OSError as exc:
            return 502, {"Content-Type": "text/plain"}, f"proxy: {exc}".encode()
        finally:
            connection.close()

    def stop(self) -> None:
        self._runner.stop()

    def __enter__(self) -> "FrontProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- images -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    data: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "size": self.size, "digest": self.digest}


@dataclass(frozen=True)
class Layer:
    """A gzip layer and the digest of its uncompressed tar (the config's diff_id)."""

    blob: Blob
    diff_id: str

    @property
    def digest(self) -> str:
        return self.blob.digest


@dataclass(frozen=True)
class Image:
    manifest: bytes
    media_type: str
    config: Blob
    layers: tuple[Layer, ...]
    platform: dict[str, str]

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Config then layers: what a push uploads and a pull fetches."""
        return (self.config,) + tuple(layer.blob for layer in self.layers)

    @property
    def layer_digests(self) -> list[str]:
        return [layer.digest for layer in self.layers]


@dataclass(frozen=True)
class Index:
    manifest: bytes
    media_type: str
    children: tuple[Image, ...]

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=3, sort_keys=False).encode()


def random_layer(size: int = 2048, rng: random.Random | None = None, media_type: str = MT_DOCKER_LAYER) -> Layer:
    """A gzip'd tar with one file of `size` random bytes (deterministic for a seeded rng)."""
    rng = rng or random.Random()
    content = rng.randbytes(size)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data-{rng.getrandbits(32):08x}.bin")
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    raw = tar_bytes.getvalue()
    return Layer(Blob(gzip.compress(raw, mtime=0), media_type), sha256_digest(raw))


def build_image(
    layers: int | list[Layer] = 2,
    *,
    fmt: str = "docker",
    os_name: str = "linux",
    architecture: str = "amd64",
    rng: random.Random | None = None,
) -> Image:
    """A complete single-platform image: config with rootfs.diff_ids, schema 2 or OCI manifest."""
    rng = rng or random.Random()
    layer_type = MT_OCI_LAYER if fmt == "oci" else MT_DOCKER_LAYER
    if isinstance(layers, int):
        layers = [random_layer(rng=rng, media_type=layer_type) for _ in range(layers)]
    config_document = {
        "architecture": architecture,
        "os": os_name,
        "created": "2026-01-01T00:00:00Z",
        "config": {"Labels": {"pruneplan.test/nonce": f"{rng.getrandbits(64):016x}"}},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "pruneplan test"} for _ in layers],
    }
    config = Blob(_canonical(config_document), MT_OCI_CONFIG if fmt == "oci" else MT_DOCKER_CONFIG)
    media_type = MT_OCI_MANIFEST if fmt == "oci" else MT_DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [layer.blob.descriptor() for layer in layers],
    }
    return Image(_canonical(manifest), media_type, config, tuple(layers), {"os": os_name, "architecture": architecture})


def build_index(children: list[Image], fmt: str = "oci") -> Index:
    """An OCI image index or a Docker manifest list over `children` (one per platform)."""
    media_type = MT_OCI_INDEX if fmt == "oci" else MT_DOCKER_LIST
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {"mediaType": child.media_type, "size": len(child.manifest), "digest": child.digest, "platform": child.platform}
            for child in children
        ],
    }
    return Index(_canonical(document), media_type, tuple(children))


def build_multiarch(layers: int = 1, fmt: str = "oci", rng: random.Random | None = None) -> Index:
    """An index over linux/amd64 and linux/arm64 images with their own layers."""
    rng = rng or random.Random()
    child_fmt = "oci" if fmt == "oci" else "docker"
    children = [build_image(layers, fmt=child_fmt, architecture=arch, rng=rng) for arch in ("amd64", "arm64")]
    return build_index(children, fmt=fmt)


class RegistryAPI:
    """Push and pull over the plain registry HTTP API (no Docker, no skopeo needed)."""

    def __init__(self, base_url: str, verify: str | bool = True, timeout: float = WAIT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.verify = verify
        self.timeout = timeout

    def _request(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.session.verify)
        return self.session.request(method, url, **kwargs)

    # push
    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount; False when the registry wants an upload instead."""
        response = self._request("POST", f"/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": from_repo})
        if response.status_code == 201:
            return True
        if response.status_code == 202:  # mount refused: cancel the upload it opened
            self._request("DELETE", urljoin(self.base_url + "/", response.headers["Location"]))
            return False
        raise AssertionError(f"mount {digest} into {repo}: {response.status_code} {response.text}")

    def upload_blob(self, repo: str, blob: Blob) -> None:
        response = self._request("POST", f"/v2/{repo}/blobs/uploads/")
        assert response.status_code == 202, f"start upload to {repo}: {response.status_code} {response.text}"
        location = urljoin(self.base_url + "/", response.headers["Location"])
        separator = "&" if urlsplit(location).query else "?"
        response = self._request(
            "PUT",
            f"{location}{separator}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 201, f"upload {blob.digest} to {repo}: {response.status_code} {response.text}"

    def begin_upload(self, repo: str, chunk: bytes) -> str:
        """POST an upload and PATCH one chunk into it, never finished (no closing PUT); its uuid."""
        started = self._request("POST", f"/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = urljoin(self.base_url + "/", started.headers["Location"])
        patched = self._request("PATCH", location, data=chunk, headers={"Content-Type": "application/octet-stream"})
        assert patched.status_code == 202, patched.text
        return urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]

    def put_manifest(self, repo: str, reference: str, manifest: bytes, media_type: str) -> str:
        response = self._request(
            "PUT", f"/v2/{repo}/manifests/{reference}", data=manifest, headers={"Content-Type": media_type}
        )
        assert response.status_code == 201, f"put manifest {repo}:{reference}: {response.status_code} {response.text}"
        digest = response.headers.get("Docker-Content-Digest", "")
        assert digest == sha256_digest(manifest), f"registry changed the manifest digest: {digest}"
        return digest

    def push_image(self, repo: str, image: Image, tag: str | None = None, mount_from: str | None = None) -> str:
        """Upload (or mount from `mount_from`) the config and layers, then PUT the manifest."""
        for blob in image.blobs:
            if mount_from and self.mount_blob(repo, blob.digest, mount_from):
                continue
            self.upload_blob(repo, blob)
        return self.put_manifest(repo, tag or image.digest, image.manifest, image.media_type)

    def push_index(self, repo: str, index: Index, tag: str | None = None, mount_from: str | None = None) -> str:
        """Children by digest first (the registry checks they exist), then the index."""
        for child in index.children:
            self.push_image(repo, child, mount_from=mount_from)
        return self.put_manifest(repo, tag or index.digest, index.manifest, index.media_type)

    # pull / check
    def get_manifest(self, repo: str, reference: str) -> requests.Response:
        return self._request("GET", f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT})

    def manifest_status(self, repo: str, reference: str) -> int:
        return self.get_manifest(repo, reference).status_code

    def blob_status(self, repo: str, digest: str) -> int:
        return self._request("HEAD", f"/v2/{repo}/blobs/{digest}").status_code

    def tags(self, repo: str) -> list[str]:
        response = self._request("GET", f"/v2/{repo}/tags/list")
        if response.status_code != 200:
            return []
        return sorted(response.json().get("tags") or [])

    def pull_problems(self, repo: str, reference: str) -> list[str]:
        """Everything that stops a full pull (every platform of an index); [] when it pulls."""
        response = self.get_manifest(repo, reference)
        if response.status_code != 200:
            return [f"manifest {repo}@{reference}: {response.status_code}"]
        body = response.content
        if reference.startswith("sha256:") and sha256_digest(body) != reference:
            return [f"manifest {repo}@{reference}: content has digest {sha256_digest(body)}"]
        document = json.loads(body)
        media_type = document.get("mediaType") or response.headers.get("Content-Type", "")
        problems: list[str] = []
        if media_type in INDEX_TYPES:
            for child in document.get("manifests", []):
                problems += self.pull_problems(repo, child["digest"])
            return problems
        for descriptor in [document["config"]] + document.get("layers", []):
            digest = descriptor["digest"]
            blob = self._request("GET", f"/v2/{repo}/blobs/{digest}")
            if blob.status_code != 200:
                problems.append(f"blob {repo}@{digest}: {blob.status_code}")
            elif sha256_digest(blob.content) != digest:
                problems.append(f"blob {repo}@{digest}: wrong content")
        return problems

    def assert_pulls(self, repo: str, reference: str) -> None:
        problems = self.pull_problems(repo, reference)
        assert not problems, f"{repo}@{reference} does not pull: {problems}"

    def assert_manifest_gone(self, repo: str, reference: str) -> None:
        status = self.manifest_status(repo, reference)
        assert status == 404, f"{repo}@{reference} answers {status}, expected 404"

    def close(self) -> None:
        self.session.close()


def temp_workdir(prefix: str = "pruneplan-registry-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
