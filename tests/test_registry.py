"""The registry side of execute (docs/rules.md: "Flags and validation", checks 4-6, and "Registry
calls and answers"; the registry cases of upstream's helper_test.go, images_test.go and
prune_test.go), against the real distribution registry where the behaviour is the registry's and a
scripted loopback server where a case needs an exact status or a TLS-vs-plain mismatch."""

from __future__ import annotations

import base64
import concurrent.futures
import random
import socket

import pytest

from pruneplan.timefmt import parse_time
import requests

from pruneplan.execute.ports import DEFERRED, ERROR, NOT_FOUND, OK
from pruneplan.execute.registry import (
    HINT_FORCE_INSECURE,
    HINT_REGISTRY_URL,
    HINT_TLS_WITHOUT_TLS,
    RegistryClient,
    aggregate_message,
    decide_insecure,
    describe_transport_error,
    determine_registry_host,
    is_private_host,
    make_session,
    ping,
    validate_registry_flags,
    validate_registry_url,
)
from pruneplan.execute.registry_transport import DEFAULT_TIMEOUT
from pruneplan.errors import EXIT_FAILURE, EXIT_USAGE, PrunePlanError
from registry_harness import (
    REGISTRY_BIN,
    CertAuthority,
    FrontProxy,
    RegistryServer,
    ScriptedServer,
    build_image,
    build_multiarch,
    random_layer,
    require_registry_binary,
)

DIGEST = "sha256:" + "ab" * 32
JSON = {"Content-Type": "application/json"}


def _error(fn, *args, code: int = EXIT_FAILURE) -> PrunePlanError:
    with pytest.raises(PrunePlanError) as info:
        fn(*args)
    assert info.value.exit_code == code
    return info.value


def _flag_error(fn, *args) -> PrunePlanError:
    """Upstream's words for a bad flag, with the exit status of every bad command line."""
    return _error(fn, *args, code=EXIT_USAGE)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CertAuthority:
    return CertAuthority(tmp_path_factory.mktemp("ca"), "pruneplan test CA")


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory) -> CertAuthority:
    return CertAuthority(tmp_path_factory.mktemp("wrong-ca"), "some other CA")


@pytest.fixture(scope="module")
def server_cert(ca):
    return ca.issue()


@pytest.fixture
def registry(tmp_path):
    with RegistryServer(tmp_path / "registry") as server:
        yield server


@pytest.fixture
def proxy(registry):
    with FrontProxy(registry) as front:
        yield front


def insecure_session(**kwargs) -> requests.Session:
    return make_session("the-token", True, None, None, "pruneplan-test", **kwargs)


def client_for(proxy: FrontProxy, retries: int = 0, **kwargs) -> tuple[RegistryClient, list[float]]:
    sleeps: list[float] = []
    client = RegistryClient(proxy.url, insecure_session(), retries=retries, sleep=sleeps.append, **kwargs)
    return client, sleeps


def test_registry_binary_is_installed():
    # A missing package must fail the run, not skip the registry tests.
    assert require_registry_binary() == REGISTRY_BIN


# --- --registry-url and the CA flags (TestValidateRegistryURL; rules: Flags and validation) -------

ACCEPTED_URLS = [
    "172.30.30.30:5000", ":5000", "[fd12:3456:789a:1::1]:80/", "[fd12:3456:789a:1::1]:80",
    "http://172.30.30.30:5000", "http://[fd12:3456:789a:1::1]:5000/", "http://[fd12:3456:789a:1::1]:5000",
    "http://registry.org:5000", "https://172.30.30.30:5000", "https://:80/", "https://[fd12:3456:789a:1::1]/",
    "https://[fd12:3456:789a:1::1]", "https://[fd12:3456:789a:1::1]:5000/", "https://[fd12:3456:789a:1::1]:5000",
    "https://registry.org/", "https://registry.org", "localhost/", "localhost", "localhost:80", "registry.org/",
    "registry.org", "registry.org:5000", "",
]


@pytest.mark.parametrize("value", ACCEPTED_URLS)
def test_registry_url_accepted(value):
    validate_registry_url(value)


@pytest.mark.parametrize(
    "value, reason",
    [
        ("httpss://registry.org", "unsupported scheme: httpss"),
        ("ftp://registry.org", "unsupported scheme: ftp"),
        ("http://registry.org://", "no path after registry.org: is allowed"),
        ("http://registry.org/path", "no path after registry.org is allowed"),
        ("[fd12:3456:789a:1::1", "parse \"https://[fd12:3456:789a:1::1\": missing ']' in host"),
        ("bad url", 'parse "https://bad url": invalid character " " in host name'),
        ("/registry.org", "no path after  is allowed"),
        ("https:///", "no host name specified"),
        ("http://registry.org?parm=arg", "no query arguments are allowed after registry.org"),
        ("https://registry.org:port", 'parse "https://registry.org:port": invalid port ":port" after host'),
        ("https://reg%zzistry.org", 'parse "https://reg%zzistry.org": invalid URL escape "%zz"'),
    ],
)
def test_registry_url_rejected_with_upstream_reason(value, reason):
    assert str(_flag_error(validate_registry_url, value)) == f"invalid --registry-url flag: {reason}"


def test_registry_flags_are_checked_in_upstream_order():
    assert "invalid --registry-url flag" in str(_flag_error(validate_registry_flags, "ftp://x", "ca.crt", True))
    assert str(_flag_error(validate_registry_flags, "https://r", "ca.crt", True)) == (
        "--certificate-authority cannot be specified with --force-insecure"
    )
    assert str(_flag_error(validate_registry_flags, "http://r:5000", "ca.crt", False)) == (
        "--certificate-authority cannot be specified for insecure http protocol"
    )
    validate_registry_flags("https://r", "ca.crt", False)
    validate_registry_flags("http://r", None, True)
    validate_registry_flags(None, None, False)


# --- host discovery (rules: which registry) --------------------------------------------------------


def image(name, created, ref, managed="true"):
    """The analysis model of an Image whose managed annotation is `managed` (None: absent)."""
    from pruneplan.analyze.decisions.model import Image

    return Image(name, parse_time(created), managed == "true", "", ref, (), (), "", True, 0, ())


def stream(name, created, repository):
    from pruneplan.analyze.decisions.model import Stream

    return Stream("ns", name, parse_time(created), "1", repository, [])


def test_registry_url_override_is_used_verbatim():
    assert determine_registry_host("http://reg.example:5000/", [], []) == "http://reg.example:5000/"


def test_registry_host_comes_from_the_newest_managed_image():
    images = [
        image("old", "2026-01-01T00:00:00Z", "old.registry:5000/ns/a@" + DIGEST),
        image("new", "2026-03-01T00:00:00Z", "new.registry:5000/ns/a@" + DIGEST),
        image("newer-unmanaged", "2026-05-01T00:00:00Z", "unmanaged.registry/ns/a@" + DIGEST, managed=None),
        image("newest-not-exactly-true", "2026-06-01T00:00:00Z", "other.registry/ns/a@" + DIGEST, managed="True"),
    ]
    assert determine_registry_host("", images, [stream("s", "2026-01-01T00:00:00Z", "stream.registry/ns/s")]) == (
        "new.registry:5000"
    )


def test_registry_host_without_managed_images_comes_from_the_oldest_stream():
    # Upstream's loop sorts newest first but never stops, so the oldest stream wins.
    streams = [
        stream("middle", "2026-02-01T00:00:00Z", "middle.registry/ns/middle"),
        stream("oldest", "2026-01-01T00:00:00Z", "oldest.registry:5000/ns/oldest"),
        stream("older-without-repository", "2025-01-01T00:00:00Z", ""),
        stream("newest", "2026-03-01T00:00:00Z", "newest.registry/ns/newest"),
    ]
    assert determine_registry_host(None, [image("u", "2026-04-01T00:00:00Z", "x.registry/a/b", managed="false")], streams) == (
        "oldest.registry:5000"
    )


@pytest.mark.parametrize(
    "images, streams, reason",
    [
        ([], [], "no managed image found"),
        ([image("m", "2026-01-01T00:00:00Z", "")], [stream("s", "2026-01-01T00:00:00Z", "r.io/ns/s")], "no managed image found"),
        ([], [stream("s", "2026-01-01T00:00:00Z", "")], "no managed image found"),
        ([image("m", "2026-01-01T00:00:00Z", "Bad Ref")], [], 'unable to parse "Bad Ref": invalid reference format'),
        ([image("m", "2026-01-01T00:00:00Z", "ns/name@" + DIGEST)], [], f"ns/name@{DIGEST} does not include a registry"),
    ],
)
def test_registry_host_errors(images, streams, reason):
    err = _error(determine_registry_host, "", images, streams)
    assert str(err) == f"unable to find the remote registry host: {reason}"


# --- insecure decision (rules: plain HTTP and TLS) --------------------------------------------------


@pytest.mark.parametrize(
    "host, private",
    [
        ("127.0.0.1", True), ("127.0.0.1:5000", True), ("::1", True), ("[::1]:5000", True),
        ("localhost", True), ("localhost:5000", True), ("10.1.2.3:5000", True), ("172.16.0.1", True),
        ("172.31.255.255:443", True), ("192.168.0.10", True), ("fd12:3456:789a:1::1", True),
        ("[fe80::1]:5000", True), ("127.0.0.2", False), ("172.32.0.1", False), ("169.254.1.1", False),
        ("8.8.8.8:5000", False), ("registry.example.com:5000", False), ("http://10.0.0.1:5000", False),
        ("https://localhost", False), ("[fd12::1]", False),  # brackets without a port: Go's quirk
    ],
)
def test_private_host(host, private):
    assert is_private_host(host) is private


@pytest.mark.parametrize(
    "force, ca_bundle, kube_insecure, host, insecure",
    [
        (True, None, False, "registry.example.com", True),
        (False, None, False, "registry.example.com", False),
        (False, None, True, "registry.example.com", True),
        (False, None, False, "172.30.0.5:5000", True),
        (False, None, False, "http://registry.example.com", True),
        (False, "ca.crt", True, "172.30.0.5:5000", False),  # a CA bundle switches every implicit reason off
        (False, "ca.crt", False, "http://registry.example.com", False),
    ],
)
def test_insecure_decision(force, ca_bundle, kube_insecure, host, insecure):
    assert decide_insecure(force, ca_bundle, kube_insecure, host) is insecure


# --- the HTTP client ----------------------------------------------------------------------------


def test_basic_auth_carries_the_token_with_a_random_five_character_user():
    with ScriptedServer({("GET", "/"): (200, {}, b"")}) as server:
        session = make_session("sha256~secret-token", True, None, None, "pruneplan/0.1 test")
        assert ping(server.host, session, True, True) == server.url
        header = server.requests[0].headers["Authorization"]
        user, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        assert password == "sha256~secret-token"
        assert len(user) == 5 and set(user) <= set("bcdfghjklmnpqrstvwxz2456789")
        assert server.requests[0].headers["User-Agent"] == "pruneplan/0.1 test"


def test_every_request_has_a_timeout_by_default():
    assert make_session("t", True, None, None, "ua").timeout == DEFAULT_TIMEOUT


def test_unreadable_ca_bundle(tmp_path):
    missing = tmp_path / "missing.crt"
    err = _error(make_session, "t", False, str(missing), None, "ua")
    assert str(err) == f"failed to read registry ca bundle: open {missing}: no such file or directory"
    junk = tmp_path / "junk.crt"
    junk.write_text("not a certificate\n")
    assert str(_error(make_session, "t", False, str(junk), None, "ua")).startswith("failed to read registry ca bundle: ")


def test_custom_ca_is_trusted_and_a_wrong_ca_fails_clearly(tmp_path, ca, wrong_ca, server_cert):
    with RegistryServer(tmp_path / "tls", tls=server_cert) as registry:
        good = make_session("t", False, str(ca.ca_file), None, "ua")
        assert ping(registry.host, good, False, True) == registry.url
        bad = make_session("t", False, str(wrong_ca.ca_file), None, "ua")
        err = _error(ping, registry.host, bad, False, True)
        assert str(err) == (
            f'failed to ping registry {registry.host}: Get "{registry.url}/": x509: certificate signed by unknown authority'
        )


def test_kubeconfig_ca_data_and_the_bundle_are_both_trusted(tmp_path, ca, wrong_ca, server_cert):
    other_cert = wrong_ca.issue(name="other")
    with ScriptedServer({("GET", "/"): (200, {}, b"")}, tls=server_cert) as first, \
            ScriptedServer({("GET", "/"): (200, {}, b"")}, tls=other_cert) as second:
        session = make_session("t", False, str(wrong_ca.ca_file), ca.cert_pem, "ua")
        assert ping(first.host, session, False, True) == first.url  # the kubeconfig's CA
        assert ping(second.host, session, False, True) == second.url  # the --certificate-authority bundle
        only_kube = make_session("t", False, None, ca.cert_pem, "ua")
        assert "x509: certificate signed by unknown authority" in str(_error(ping, second.host, only_kube, False, True))


def test_environment_ca_bundle_does_not_override_the_decision(monkeypatch, ca, wrong_ca, server_cert):
    # requests lets REQUESTS_CA_BUNDLE replace session.verify unless verify is passed per request.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(wrong_ca.ca_file))
    with ScriptedServer({("GET", "/"): (200, {}, b"")}, tls=server_cert) as server:
        assert ping(server.host, make_session("t", False, str(ca.ca_file), None, "ua"), False, True) == server.url
        assert ping(server.host, insecure_session(), True, True) == server.url


# --- TestDefaultImagePinger and the ping (rules: ping) ----------------------------------------------

OK_ROOT = {("GET", "/"): (200, {}, b"")}
OLD_HEALTHZ = {("GET", "/healthz"): (200, {}, b"")}


def test_ping_tls_registry_with_insecure_fallback(server_cert):
    with ScriptedServer(OK_ROOT, tls=server_cert) as server:
        assert ping(server.host, insecure_session(), True, False) == server.url
        assert server.paths == ["/"]


def test_ping_tls_registry_prefixed_by_scheme_with_insecure_fallback(server_cert):
    with ScriptedServer(OK_ROOT, tls=server_cert) as server:
        assert ping("https://" + server.host, insecure_session(), True, True) == server.url
        assert server.paths == ["/"]


def test_ping_tls_registry_prefixed_by_http_scheme(server_cert):
    # A Go TLS server answers plain HTTP with 400 before any handler runs.
    with ScriptedServer(OK_ROOT, tls=server_cert, plain_on_tls="go") as server:
        err = _error(ping, "http://" + server.host, insecure_session(), True, True)
        assert str(err) == f"failed to ping registry http://{server.host}: unexpected status: 400 Bad Request"
        assert server.paths == []


def test_ping_tls_registry_with_no_fallback(server_cert):
    with ScriptedServer(OK_ROOT, tls=server_cert) as server:
        session = make_session("t", False, None, None, "ua")
        err = _error(ping, server.host, session, False, True)
        assert str(err) == (
            f'failed to ping registry {server.host}: Get "{server.url}/": x509: certificate signed by unknown authority'
        )
        # A transport error stops the ping: no /healthz attempt, no request handled.
        assert server.paths == [] and server.connections == 1


def test_ping_tls_registry_with_old_healthz_endpoint(server_cert):
    with ScriptedServer(OLD_HEALTHZ, tls=server_cert) as server:
        assert ping(server.host, insecure_session(), True, False) == server.url
        assert server.paths == ["/", "/healthz"]


def test_ping_insecure_registry_with_insecure_fallback():
    with ScriptedServer(OK_ROOT) as server:
        assert ping(server.host, insecure_session(), True, False) == f"http://{server.host}"
        assert server.paths == ["/"]


def test_ping_insecure_registry_prefixed_by_scheme():
    with ScriptedServer(OK_ROOT) as server:
        assert ping("http://" + server.host, insecure_session(), True, True) == f"http://{server.host}"
        assert server.paths == ["/"]


def test_ping_insecure_registry_prefixed_by_https_scheme():
    with ScriptedServer(OK_ROOT) as server:
        err = _error(ping, "https://" + server.host, insecure_session(), True, True)
        assert str(err) == (
            f'failed to ping registry https://{server.host}: '
            f'Get "https://{server.host}/": http: server gave HTTP response to HTTPS client'
        )
        assert server.paths == []


def test_ping_insecure_registry_with_no_fallback_hints_force_insecure():
    with ScriptedServer(OK_ROOT) as server:
        err = _error(ping, server.host, make_session("t", False, None, None, "ua"), False, True)
        assert str(err) == (
            f'failed to ping registry {server.host}: [Get "https://{server.host}/": '
            f"http: server gave HTTP response to HTTPS client, {HINT_FORCE_INSECURE}]"
        )
        assert server.paths == []


def test_ping_insecure_registry_with_old_healthz_endpoint():
    with ScriptedServer(OLD_HEALTHZ) as server:
        assert ping(server.host, insecure_session(), True, False) == f"http://{server.host}"
        assert server.paths == ["/", "/healthz"]


def test_ping_initializing_insecure_registry():
    with ScriptedServer() as server:  # 404 everywhere
        err = _error(ping, server.host, insecure_session(), True, True)
        assert "server gave HTTP response to HTTPS client, unexpected status: 404 Not Found" in str(err)
        assert str(err) == (
            f'failed to ping registry {server.host}: [Get "https://{server.host}/healthz": '
            "http: server gave HTTP response to HTTPS client, unexpected status: 404 Not Found]"
        )
        assert server.paths == ["/", "/healthz"]


def test_ping_plain_http_to_a_non_go_tls_server_hints_tls(server_cert):
    with ScriptedServer(OK_ROOT, tls=server_cert, plain_on_tls="alert") as server:
        err = str(_error(ping, "http://" + server.host, insecure_session(), True, True))
        assert "malformed HTTP response" in err
        assert err.endswith(HINT_TLS_WITHOUT_TLS + "]")


def test_ping_unreachable_registry_hints_registry_url_only_when_none_was_given(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        # Hermetic "no such host", whatever DNS the test machine has.
        if host == "no-such-registry.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with ScriptedServer() as server:
        port = server.host.rpartition(":")[2]
    # A closed port: refused, not a timeout, so no hint.
    refused = str(_error(ping, f"127.0.0.1:{port}", insecure_session(), True, False))
    assert "connect: connection refused" in refused and HINT_REGISTRY_URL not in refused
    unknown = str(_error(ping, "no-such-registry.invalid:5000", insecure_session(), True, False))
    assert "lookup no-such-registry.invalid: no such host" in unknown
    assert unknown.endswith("]" + HINT_REGISTRY_URL)
    given = str(_error(ping, "no-such-registry.invalid:5000", insecure_session(), True, True))
    assert HINT_REGISTRY_URL not in given


def test_ping_real_registry_over_tls_and_plain(tmp_path, ca, server_cert):
    with RegistryServer(tmp_path / "tls", tls=server_cert) as tls_registry:
        assert ping(tls_registry.host, insecure_session(), True, False) == tls_registry.url
        err = _error(ping, "http://" + tls_registry.host, insecure_session(), True, True)
        assert str(err).endswith("unexpected status: 400 Bad Request")
    with RegistryServer(tmp_path / "plain") as plain_registry:
        assert ping(plain_registry.host, insecure_session(), True, False) == plain_registry.url


def test_ping_with_trailing_slash_returns_no_trailing_slash_and_deletes_have_no_double_slash(proxy):
    base = ping(proxy.url + "/", insecure_session(), True, True)
    assert base == proxy.url
    client, _ = client_for(proxy)
    client.delete_layer_link("ns/app", DIGEST)
    client.delete_manifest_link("ns/app", DIGEST)
    client.delete_blob(DIGEST)
    paths = [path for _, path in proxy.calls()]
    assert paths == ["/", f"/v2/ns/app/blobs/{DIGEST}", f"/v2/ns/app/manifests/{DIGEST}", f"/admin/blobs/{DIGEST}"]
    assert not any("//" in path for path in paths)
    # Even a client handed a base URL ending in "/" sends single slashes.
    RegistryClient(proxy.url + "/", insecure_session(), retries=0).delete_blob(DIGEST)
    assert proxy.calls()[-1] == ("DELETE", f"/admin/blobs/{DIGEST}")


def test_aggregate_formatting():
    assert aggregate_message(["a"]) == "a"
    assert aggregate_message(["a", "b"]) == "[a, b]"
    assert aggregate_message(["a", "a"]) == "a"


def test_transport_errors_in_go_wording():
    timeout = requests.ConnectTimeout("HTTPSConnectionPool(host='r', port=5000): timed out")
    assert describe_transport_error(timeout, "GET", "https://r:5000/") == (
        'Get "https://r:5000/": dial tcp r:5000: connect: connection timed out'
    )
    assert describe_transport_error(requests.ReadTimeout("read timed out"), "DELETE", "http://r/v2/") == (
        'Delete "http://r/v2/": net/http: timeout awaiting response headers'
    )


# --- delete answers (TestLayerDeleter, TestNotFoundLayerDeleter; rules: answers) --------------------


def test_layer_deleter_sends_exactly_one_request_and_503_is_an_error():
    with ScriptedServer({("DELETE", f"/v2/repo/blobs/{DIGEST}"): (503, {}, b"")}) as server:
        outcome = RegistryClient(server.url, insecure_session(), retries=0).delete_layer_link("repo", DIGEST)
        assert server.requests[0].method == "DELETE"
        assert server.paths == [f"/v2/repo/blobs/{DIGEST}"]
        assert (outcome.status, outcome.message, outcome.attempts) == (ERROR, "503 Service Unavailable", 1)
        assert not outcome.done


def test_not_found_layer_deleter_accepts_404(server_cert):
    with ScriptedServer(tls=server_cert) as server:
        outcome = RegistryClient(server.url, insecure_session(), retries=3).delete_layer_link("repo", DIGEST)
        assert server.url.startswith("https://")
        assert server.paths == [f"/v2/repo/blobs/{DIGEST}"]
        assert outcome.status == NOT_FOUND and outcome.done and outcome.attempts == 1


ERRORS_BODY = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}'


@pytest.mark.parametrize(
    "status, headers, body, expected_status, message",
    [
        (202, {}, b"", OK, "202 Accepted"),
        (204, {}, b"", OK, "204 No Content"),
        (404, JSON, ERRORS_BODY, NOT_FOUND, "not found (already gone)"),
        (400, JSON, b'{"errors":[{"code":"DIGEST_INVALID"}]}', ERROR, "400 Bad Request"),
        (401, {}, b"", ERROR, "401 Unauthorized"),
        (405, JSON, b'{"errors":[{"code":"UNSUPPORTED"}]}', ERROR, "405 Method Not Allowed"),
        (200, {}, b"", ERROR, "EOF"),  # a plain 200 OK is a failure upstream
        (200, JSON, ERRORS_BODY, ERROR, "manifest unknown: manifest unknown"),
        (200, JSON, b'{"errors":[]}', ERROR, "<nil>"),
        (201, JSON, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"},'
                    b'{"code":"DENIED","message":"requested access to the resource is denied"}]}', ERROR,
         "errors:\nblob unknown: blob unknown to registry\ndenied: requested access to the resource is denied\n"),
        (200, {}, b"deleted", ERROR, "Expecting value: line 1 column 1 (char 0)"),
        (206, {}, b"", ERROR, "EOF"),
        (302, {"Location": "/elsewhere"}, b"", ERROR, "EOF"),  # not followed
        (304, {}, b"", ERROR, "EOF"),
    ],
)
def test_response_handling(status, headers, body, expected_status, message):
    path = f"/v2/ns/app/manifests/{DIGEST}"
    with ScriptedServer({("DELETE", path): (status, headers, body)}) as server:
        outcome = RegistryClient(server.url, insecure_session(), retries=3, sleep=lambda _: None).delete_manifest_link("ns/app", DIGEST)
        assert (outcome.status, outcome.message) == (expected_status, message)
        assert outcome.http_status == status
        assert server.paths == [path]  # no retry for these, no redirect followed


# --- retries (our deviation) -----------------------------------------------------------------------


def test_retries_503_then_succeeds(proxy, registry):
    image_ = build_image(1)
    registry.api().push_image("ns/app", image_, tag="v1")
    proxy.fail(r"/manifests/", 503, times=2)
    client, sleeps = client_for(proxy, retries=4, backoff=1.0)
    outcome = client.delete_manifest_link("ns/app", image_.digest)
    assert (outcome.status, outcome.attempts) == (OK, 3)
    # Exponential backoff with jitter: the n-th wait is in [b*2^(n-1)/2, b*2^(n-1)].
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0
    assert [path for _, path in proxy.calls()] == [f"/v2/ns/app/manifests/{image_.digest}"] * 3
    registry.api().assert_manifest_gone("ns/app", image_.digest)


def test_retries_429_honouring_retry_after_up_to_a_cap(proxy, registry):
    image_ = build_image(1)
    registry.api().push_image("ns/app", image_, tag="v1")
    proxy.fail(r"/manifests/", 429, times=1, headers={"Retry-After": "7"})
    proxy.fail(r"/manifests/", 503, times=1, headers={"Retry-After": "3600"})
    client, sleeps = client_for(proxy, retries=3, retry_after_cap=20.0)
    outcome = client.delete_manifest_link("ns/app", image_.digest)
    assert (outcome.status, outcome.attempts) == (OK, 3)
    assert sleeps == [7.0, 20.0]
    registry.api().assert_manifest_gone("ns/app", image_.digest)


def test_retries_after_a_connection_reset(proxy, registry):
    image_ = build_image(1)
    registry.api().push_image("ns/app", image_, tag="v1")
    proxy.drop(r"/blobs/", times=1, reset=True)
    proxy.drop(r"/blobs/", times=1)
    client, sleeps = client_for(proxy, retries=2)
    outcome = client.delete_layer_link("ns/app", image_.layer_digests[0])
    assert (outcome.status, outcome.attempts, len(sleeps)) == (OK, 3, 2)
    assert registry.api().blob_status("ns/app", image_.layer_digests[0]) == 404


def test_dropped_and_reset_connections_in_go_wording(proxy):
    proxy.drop(r"/admin/blobs/", times=1, reset=True)
    proxy.drop(r"/admin/blobs/", times=1)
    client, _ = client_for(proxy, retries=0)
    url = f"{proxy.url}/admin/blobs/{DIGEST}"
    assert client.delete_blob(DIGEST).message == f'Delete "{url}": read tcp {proxy.host}: read: connection reset by peer'
    assert client.delete_blob(DIGEST).message == f'Delete "{url}": EOF'


def test_gives_up_after_the_retry_budget(proxy):
    proxy.fail(r"/admin/blobs/", 503, times=100)
    client, sleeps = client_for(proxy, retries=2)
    outcome = client.delete_blob(DIGEST)
    assert (outcome.status, outcome.message, outcome.attempts) == (ERROR, "503 Service Unavailable", 3)
    assert len(proxy.calls()) == 3 and len(sleeps) == 2


def test_a_timed_out_delete_is_retried_and_a_late_404_says_so(proxy, registry):
    image_ = build_image(1)
    registry.api().push_image("ns/app", image_, tag="v1")
    proxy.delay(r"/manifests/", seconds=1.0, times=1)  # the delayed request still reaches the registry
    sleeps: list[float] = []
    session = insecure_session(timeout=(5.0, 0.2))
    client = RegistryClient(proxy.url, session, retries=3, sleep=sleeps.append)
    outcome = client.delete_manifest_link("ns/app", image_.digest)
    # Whichever request reaches the registry first deletes; the retry then sees 202 or 404.
    assert outcome.status in (OK, NOT_FOUND) and outcome.attempts == 2 and len(sleeps) == 1
    if outcome.status == NOT_FOUND:
        assert "earlier attempt may have deleted it" in outcome.message
    registry.api().assert_manifest_gone("ns/app", image_.digest)


def test_tls_failures_are_not_retried(server_cert):
    with ScriptedServer(tls=server_cert) as server:
        session = make_session("t", False, None, None, "ua")
        outcome = RegistryClient(server.url, session, retries=5, sleep=lambda _: None).delete_blob(DIGEST)
        assert outcome.status == ERROR and outcome.attempts == 1
        assert outcome.message == f'Delete "{server.url}/admin/blobs/{DIGEST}": x509: certificate signed by unknown authority'


def test_distribution_flavor_leaves_blobs_to_garbage_collect(proxy):
    client = RegistryClient(proxy.url, insecure_session(), flavor="distribution")
    outcome = client.delete_blob(DIGEST)
    assert outcome.status == DEFERRED and outcome.attempts == 0 and "garbage-collect" in outcome.message
    assert proxy.calls() == []


def test_invalid_plan_values_send_nothing(proxy):
    client, _ = client_for(proxy)
    assert client.delete_layer_link("../admin", DIGEST).status == ERROR
    assert client.delete_manifest_link("ns/app", "latest").status == ERROR
    assert client.delete_blob("sha256:../../x").status == ERROR
    assert proxy.calls() == []


def test_parallel_deletes_from_many_workers(proxy, registry):
    api = registry.api()
    rng = random.Random(3)
    images = [build_image(1, rng=rng) for _ in range(12)]
    for number, image_ in enumerate(images):
        api.push_image("ns/many", image_, tag=f"t{number}")
    client, _ = client_for(proxy, retries=2)
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda i: client.delete_manifest_link("ns/many", i.digest), images))
    assert [o.status for o in outcomes] == [OK] * len(images)
    assert api.tags("ns/many") == []


def test_registry_with_deletes_disabled_answers_405(tmp_path):
    with RegistryServer(tmp_path / "nodelete", delete_enabled=False) as registry:
        image_ = build_image(1)
        registry.api().push_image("ns/app", image_, tag="v1")
        outcome = RegistryClient(registry.url, insecure_session(), retries=2).delete_manifest_link("ns/app", image_.digest)
        assert (outcome.status, outcome.message, outcome.attempts) == (ERROR, "405 Method Not Allowed", 1)
        registry.api().assert_pulls("ns/app", "v1")


# --- end to end against the real registry ------------------------------------------------------------


def test_prune_one_image_keeps_shared_layers_and_other_repositories(registry, proxy):
    api = registry.api()
    rng = random.Random(11)
    shared = random_layer(rng=rng)
    pruned = build_image([shared, random_layer(rng=rng)], rng=rng)  # ns/one only
    kept = build_image([shared, random_layer(rng=rng)], fmt="oci", rng=rng)  # ns/one and ns/two
    multi = build_multiarch(1, fmt="docker", rng=rng)  # ns/two, untouched
    api.push_image("ns/one", pruned, tag="old")
    api.push_image("ns/one", kept, tag="new")
    api.push_image("ns/two", kept, tag="latest", mount_from="ns/one")
    api.push_index("ns/two", multi, tag="multi")
    for repo, ref in [("ns/one", "old"), ("ns/one", "new"), ("ns/two", "latest"), ("ns/two", "multi")]:
        api.assert_pulls(repo, ref)

    unique_layer = pruned.layer_digests[1]
    client, _ = client_for(proxy, retries=2)
    # Upstream order: layer links, (stream update), manifest link; then blobs of the deleted image.
    assert client.delete_layer_link("ns/one", unique_layer).status == OK
    assert client.delete_layer_link("ns/one", pruned.config.digest).status == OK
    assert client.delete_manifest_link("ns/one", pruned.digest).status == OK
    for blob in (unique_layer, pruned.config.digest, pruned.digest):
        assert client.delete_blob(blob).status == OK

    api.assert_manifest_gone("ns/one", pruned.digest)
    api.assert_manifest_gone("ns/one", "old")  # the tag went with the manifest
    for repo, ref in [("ns/one", "new"), ("ns/two", "latest"), ("ns/two", "multi")]:
        api.assert_pulls(repo, ref)
    assert api.blob_status("ns/one", unique_layer) == 404
    assert registry.blob_exists_on_disk(shared.digest)
    assert not any(registry.blob_exists_on_disk(d) for d in (unique_layer, pruned.config.digest, pruned.digest))
    assert proxy.calls() == [
        ("DELETE", f"/v2/ns/one/blobs/{unique_layer}"),
        ("DELETE", f"/v2/ns/one/blobs/{pruned.config.digest}"),
        ("DELETE", f"/v2/ns/one/manifests/{pruned.digest}"),
        ("DELETE", f"/admin/blobs/{unique_layer}"),
        ("DELETE", f"/admin/blobs/{pruned.config.digest}"),
        ("DELETE", f"/admin/blobs/{pruned.digest}"),
    ]

    # A rerun finds everything gone: 404 is success, reported distinctly.
    again = [
        client.delete_layer_link("ns/one", unique_layer),
        client.delete_manifest_link("ns/one", pruned.digest),
        client.delete_blob(unique_layer),
    ]
    assert [o.status for o in again] == [NOT_FOUND] * 3 and all(o.done for o in again)

    # Offline GC afterwards removes nothing that a kept image needs.
    registry.garbage_collect()
    for repo, ref in [("ns/one", "new"), ("ns/two", "latest"), ("ns/two", "multi")]:
        api.assert_pulls(repo, ref)
    assert registry.blob_exists_on_disk(shared.digest)


def test_distribution_flavor_then_garbage_collect_reclaims_storage(registry):
    api = registry.api()
    rng = random.Random(12)
    shared = random_layer(rng=rng)
    gone = build_image([shared, random_layer(rng=rng)], rng=rng)
    stays = build_image([shared], fmt="oci", rng=rng)
    api.push_image("ns/app", gone, tag="v1")
    api.push_image("ns/app", stays, tag="v2")
    client = RegistryClient(registry.url, insecure_session(), flavor="distribution", retries=0)
    assert client.delete_manifest_link("ns/app", gone.digest).status == OK
    assert client.delete_blob(gone.layer_digests[1]).status == DEFERRED
    assert registry.blob_exists_on_disk(gone.layer_digests[1])  # nothing deleted yet

    port = registry.port
    output = registry.garbage_collect()
    assert registry.port == port and registry.running
    assert "blob eligible for deletion" in output or "blobs" in output
    assert not registry.blob_exists_on_disk(gone.layer_digests[1])
    assert not registry.blob_exists_on_disk(gone.config.digest)
    assert not registry.blob_exists_on_disk(gone.digest)
    assert registry.blob_exists_on_disk(shared.digest)
    api.assert_pulls("ns/app", "v2")
    api.assert_manifest_gone("ns/app", gone.digest)


def test_harness_restart_keeps_port_and_data(registry):
    api = registry.api()
    image_ = build_image(1)
    api.push_image("ns/app", image_, tag="v1")
    port = registry.port
    registry.restart()
    assert registry.port == port
    api.assert_pulls("ns/app", "v1")


# --- execute's glue -----------------------------------------------------------------------------


def _kube_config(token: str | None, verify_ssl: bool = True, ca_file: str | None = None):
    from kubernetes import client as k8s_client

    config = k8s_client.Configuration()
    config.host = "https://api.example.com:6443"
    if token:
        config.api_key = {"authorization": f"Bearer {token}"}
    config.verify_ssl = verify_ssl
    config.ssl_ca_cert = ca_file
    return config


class _Loaded:
    def __init__(self, images, streams):
        self.objects = {"images": images, "imagestreams": streams}


def test_registry_setup_finds_the_registry_from_the_snapshot_and_connects(proxy, registry):
    from pruneplan.execute.registry_setup import RegistrySetup

    image_ = build_image(1)
    registry.api().push_image("ns/app", image_, tag="v1")
    managed = image("m", "2026-01-01T00:00:00Z", f"{proxy.host}/ns/app@{image_.digest}")
    client = RegistrySetup(_kube_config("tok-1"), None, None, False).connect(_Loaded([managed], []))
    assert client.base_url == proxy.url  # a private address: https failed, http fallback allowed
    assert client.delete_manifest_link("ns/app", image_.digest).status == OK
    authorization = proxy.requests[-1].headers["Authorization"]
    assert base64.b64decode(authorization.removeprefix("Basic ")).decode().endswith(":tok-1")


def test_registry_setup_uses_the_kubeconfig_ca_and_needs_a_token(tmp_path, ca, server_cert):
    from pruneplan.execute.registry_setup import RegistrySetup

    with RegistryServer(tmp_path / "tls", tls=server_cert) as registry:
        config = _kube_config("tok", ca_file=str(ca.ca_file))
        # A CA bundle given: no implicit insecure even for 127.0.0.1, so TLS must verify.
        client = RegistrySetup(config, registry.host, str(ca.ca_file), False).connect(_Loaded([], []))
        assert client.base_url == registry.url
    assert str(_error(RegistrySetup(_kube_config(None), "r.example", None, False).connect, _Loaded([], []))) == (
        "you must use a client config with a token"
    )
    err = _error(RegistrySetup(_kube_config("tok"), None, None, False).connect, _Loaded([], []))
    assert str(err) == "unable to find the remote registry host: no managed image found"
