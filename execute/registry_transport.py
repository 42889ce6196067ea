"""The registry HTTP client (docs/rules.md: Registry calls and answers, plain HTTP and TLS) and
Go-style wording for transport failures.

Upstream's messages come from Go's net/http and crypto/tls; the rules quote some of them
(`server gave HTTP response to HTTPS client`, `x509: certificate signed by unknown authority`,
`malformed HTTP response`) and hints are keyed on them. Python reports the same failures in other
words, so `describe_transport_error` maps the ones that matter to Go's wording and keeps the
original text for the rest.
"""

from __future__ import annotations

import errno
import http.client
import os
import secrets
import socket
import ssl
import tempfile
import warnings
import weakref
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from pruneplan.errors import EXIT_FAILURE, PrunePlanError

# Upstream has no timeout at all; a hung registry would hang the prune forever (docs/rules.md,
# "Upstream hazards we avoid").
DEFAULT_TIMEOUT: tuple[float, float] = (30.0, 30.0)  # (connect, read) seconds
DEFAULT_POOL_SIZE = 16  # connections kept per host, at least; execute asks for one per worker

# k8s.io/apimachinery rand.String's alphabet: no vowels, no confusable digits.
_USERNAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# OpenSSL reasons for "the peer did not answer with TLS" (3.0 says WRONG_VERSION_NUMBER; newer
# versions may say the others). Only a hint: a probe confirms the peer really speaks HTTP.
_NOT_TLS_REASONS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL"})
# X509_V_ERR_* codes Go reports as "certificate signed by unknown authority".
_UNKNOWN_AUTHORITY_CODES = frozenset({2, 18, 19, 20, 21})
_EXPIRED_CODES = frozenset({9, 10})


class RegistrySession(requests.Session):
    """A requests session that always has a timeout and never lets the environment pick TLS trust.

    requests lets REQUESTS_CA_BUNDLE override `session.verify` (even `False`) unless `verify` is
    passed per request, so every request passes it (and its timeout).

    Proxies come from the environment (HTTPS_PROXY, NO_PROXY, ..., as Go's ProxyFromEnvironment),
    read once per registry origin: requests would scan the whole environment twice per request
    (`trust_env`), which at thousands of deletions costs more CPU than the rest of a request.
    The environment's other uses by requests do not apply: the session always has credentials
    (no .netrc) and passes `verify` itself.
    """

    def __init__(self, timeout: tuple[float, float] = DEFAULT_TIMEOUT, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        super().__init__()
        self.timeout = timeout
        # one connection per thread that may use the session at once: a smaller pool makes
        # urllib3 discard connections ("Connection pool is full") and open new ones
        self.pool_size = pool_size
        for prefix in ("https://", "http://"):
            self.mount(prefix, HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0))
        self.trust_env = False
        self._proxies: dict[str, dict[str, str]] = {}  # origin -> the environment's proxies for it
        self._ca_file: str | None = None
        self._finalizer: weakref.finalize | None = None

    def request(self, method: str, url: str | bytes, *args: Any, allow_redirects: bool = True, **extra: Any) -> requests.Response:
        """A bodyless request with the session's headers, credentials and cookies.

        Prepared here and handed to `send`, as requests' "prepared requests" allow:
        `Session.request` merges every per-request setting with the session's, through checks
        that cost more CPU than the rest of a small DELETE, and the registry client passes none."""
        given = sorted(name for name, value in extra.items() if value is not None)  # Session.get passes params=None
        if args or given:
            raise TypeError(f"RegistrySession sends bodyless requests only; unexpected: {given or args}")
        target = url if isinstance(url, str) else url.decode()
        prepared = requests.PreparedRequest()
        prepared.prepare(method=method.upper(), url=target, headers=self.headers, cookies=self.cookies, auth=self.auth,
                         hooks=self.hooks)
        return self.send(prepared, timeout=self.timeout, verify=self.verify, proxies=self._environment_proxies(target),
                         allow_redirects=allow_redirects)

    def _environment_proxies(self, url: str) -> dict[str, str]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = self._proxies.get(origin)
        if found is None:
            found = self._proxies[origin] = requests.utils.get_environ_proxies(url)
        return found

    def _own_ca_file(self, path: str) -> None:
        self._ca_file = path
        self._finalizer = weakref.finalize(self, _remove_quietly, path)

    def close(self) -> None:
        super().close()
        if self._finalizer is not None:
            self._finalizer()


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _go_os_error(path: str, exc: OSError) -> str:
    """Go's *PathError wording: `open <path>: no such file or directory`."""
    reason = (exc.strerror or str(exc)).lower()
    return f"open {path}: {reason}"


def _read_bundle(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise PrunePlanError(f"failed to read registry ca bundle: {_go_os_error(path, exc)}", EXIT_FAILURE) from None


def _check_pem(data: bytes, what: str) -> None:
    # Refuse now what would otherwise fail on the first request with an obscure message.
    try:
        ssl.create_default_context(cadata=data.decode("ascii", "replace"))
    except (ssl.SSLError, ValueError) as exc:
        raise PrunePlanError(
            f"failed to read registry ca bundle: unable to load root certificates from {what}: {exc}", EXIT_FAILURE
        ) from None


def _system_trust() -> str | bool:
    """The OS trust store, as Go uses it (requests alone would use certifi's bundle)."""
    paths = ssl.get_default_verify_paths()
    if paths.cafile and os.path.isfile(paths.cafile):
        return paths.cafile
    if paths.capath and os.path.isdir(paths.capath):
        return paths.capath
    return True


def _silence_insecure_warning() -> None:
    # The user (or the rules) chose an unverified connection; a warning per request is noise.
    # filterwarnings replaces an identical filter, so repeating it is harmless.
    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)


def make_session(
    token: str,
    insecure: bool,
    ca_file: str | None,
    kube_ca_data: bytes | str | None,
    user_agent: str,
    *,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    pool_size: int = DEFAULT_POOL_SIZE,
) -> RegistrySession:
    """The registry client (rules: plain HTTP and TLS): Basic auth with the token, TLS trust per
    the flags."""
    session = RegistrySession(timeout=timeout, pool_size=pool_size)
    username = "".join(secrets.choice(_USERNAME_ALPHABET) for _ in range(5))
    session.auth = (username, token)
    if user_agent:
        session.headers["User-Agent"] = user_agent
    if insecure:
        session.verify = False  # CA data and file are dropped, as upstream clears them
        _silence_insecure_warning()
        return session
    bundle = _read_bundle(ca_file) if ca_file else None
    if isinstance(kube_ca_data, str):
        kube_ca_data = kube_ca_data.encode()
    if kube_ca_data:
        # The kubeconfig's CA stays trusted and the bundle is added to it.
        data = kube_ca_data.rstrip(b"\n") + b"\n" + (bundle or b"")
        what = f"the kubeconfig CA data and {ca_file}" if ca_file else "the kubeconfig CA data"
    elif bundle is not None:
        data, what = bundle, str(ca_file)
    else:
        session.verify = _system_trust()
        return session
    _check_pem(data, what)
    fd, path = tempfile.mkstemp(prefix="pruneplan-registry-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    session.verify = path
    session._own_ca_file(path)
    return session


# --- transport error wording --------------------------------------------------------------------


def _causes(exc: BaseException) -> list[BaseException]:
    """Every exception reachable from exc (args, .reason, cause, context), breadth first."""
    seen: list[BaseException] = []
    queue: list[BaseException] = [exc]
    while queue:
        current = queue.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        links: list[Any] = list(current.args)
        links += [getattr(current, "reason", None), current.__cause__, current.__context__]
        queue.extend(link for link in links if isinstance(link, BaseException))
    return seen


def _host_port(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    hostport = parts.netloc.rpartition("@")[2]
    if parts.port is None:
        hostport = f"{hostport}:{port}"
    return host, port, hostport


def _speaks_plain_http(host: str, port: int, timeout: float) -> bool:
    """Does the peer speak plain HTTP? Go decides it from the first bytes the server sent back
    ("HTTP/"); Python hides those bytes, so ask again with a request no handler accepts."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            # An HTTP/1.x request line whose method is TLS record bytes: HTTP servers reject it
            # with a status line (Go: 400 invalid method; Python: 501), nothing else accepts it.
            sock.sendall(b"\x16\x03\x01 / HTTP/1.0\r\n\r\n")
            head = b""
            while len(head) < 5:
                chunk = sock.recv(5 - len(head))
                if not chunk:
                    break
                head += chunk
    except OSError:
        return False
    return head == b"HTTP/"


def _go_quote_bytes(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{code & 0xFF:02x}")
    return '"' + "".join(out) + '"'


def _reason(exc: BaseException, url: str, timeout: float) -> str:
    chain = _causes(exc)
    host, port, hostport = _host_port(url)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            code = cause.verify_code
            if code in _UNKNOWN_AUTHORITY_CODES:
                return "x509: certificate signed by unknown authority"
            if code in _EXPIRED_CODES:
                return "x509: certificate has expired or is not yet valid"
            return f"x509: {cause.verify_message or cause}"
    for cause in chain:
        if isinstance(cause, ssl.SSLError) and getattr(cause, "reason", None) in _NOT_TLS_REASONS:
            if _speaks_plain_http(host, port, timeout):
                return "http: server gave HTTP response to HTTPS client"
            return f"tls: {cause}"
    for cause in chain:
        if isinstance(cause, http.client.BadStatusLine) and not isinstance(cause, http.client.RemoteDisconnected):
            line = cause.args[0] if cause.args else ""
            return f"net/http: HTTP/1.x transport connection broken: malformed HTTP response {_go_quote_bytes(str(line))}"
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            if cause.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                return f"dial tcp: lookup {host}: no such host"
            return f"dial tcp: lookup {host}: {(cause.strerror or str(cause)).lower()}"
        if isinstance(cause, urllib3.exceptions.NameResolutionError):
            continue  # its cause (a gaierror) is in the chain too
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError):
            return f"dial tcp {hostport}: connect: connection refused"
        if isinstance(cause, http.client.RemoteDisconnected):  # also a ConnectionResetError
            return "EOF"  # Go: the server closed the connection without a response
        if isinstance(cause, ConnectionResetError):
            return f"read tcp {hostport}: read: connection reset by peer"
    for cause in chain:
        # urllib3's NewConnectionError subclasses ConnectTimeoutError: judge it by its cause above.
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            continue
        if isinstance(cause, (urllib3.exceptions.ConnectTimeoutError, requests.ConnectTimeout)):
            return f"dial tcp {hostport}: connect: connection timed out"
        if isinstance(cause, (urllib3.exceptions.ReadTimeoutError, requests.ReadTimeout)):
            return "net/http: timeout awaiting response headers"
        if isinstance(cause, OSError) and cause.errno == errno.ETIMEDOUT:
            return f"dial tcp {hostport}: connect: connection timed out"
    # Anything else: the innermost message that is not a requests/urllib3 wrapper.
    wrappers = (requests.RequestException, urllib3.exceptions.MaxRetryError, urllib3.exceptions.ProtocolError)
    inner = [cause for cause in chain if not isinstance(cause, wrappers)] or chain
    innermost = inner[-1]
    return str(innermost) or type(innermost).__name__


def describe_transport_error(exc: BaseException, method: str, url: str, timeout: float = 5.0) -> str:
    """Go's url.Error text: `Get "https://host/": <reason>`, the reason in Go's wording where known."""
    return f'{method.capitalize()} "{url}": {_reason(exc, url, timeout)}'
