"""A stateful fake of the Kubernetes / OpenShift API server, for tests that drive the real
`kubernetes` client. It aims to accept what a real client (client-go, so `oc`) sends and to
answer as a real server would, for every call pruneplan makes.

It keeps objects per (group/version, resource, namespace, name) and honours what the real API
does for the calls pruneplan makes:
- LIST, cluster-wide and namespaced, with `limit`/`continue` (stateless tokens holding the list's
  resourceVersion and the last key; `compact()` expires every outstanding token → 410 Gone);
- `metadata.resourceVersion` on lists and objects: one global counter bumped on every write;
- GET one; POST; PUT (stale resourceVersion → 409 Conflict `Status`); PUT of the `status`
  subresource where the resource has one (image streams: changes only `status`; a PUT of the
  main resource keeps the old status); DELETE (404 `Status` when missing, a DeleteOptions body
  with gracePeriodSeconds and preconditions accepted and logged);
- percent-encoded path segments (Image names `sha256:...` arrive as `sha256%3A...`);
- `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>` discovery
  with the real servers' `singularName`, `shortNames`, `categories` and `verbs` for each resource
  and its served subresources (so `oc get is,dc,...` and DynamicClient resolve names and the
  `all` category as on a cluster); unknown paths → `404 page not found` (text), like a cluster
  without the API;
- bearer-token authentication (401 `Status`); TLS by default, with a certificate signed by a
  throwaway CA made once per test session (`throwaway_ca()`): client-go never sends a token over
  plain HTTP. `FakeAPI(tls=None)` serves plain HTTP, `FakeAPI(tls=(cert, key))` another
  certificate (`make_cert`);
- a request log, and fault injection: forced status (500, 429, 403, 404, ...) for a path
  pattern N times, delays, dropped connections, and hooks run on each request.

Use it as a context manager; `kubeconfig()` writes a kubeconfig pointing at it (trusting the
throwaway CA when the fake serves with it).

Run from the checkout, it serves the objects of a dump until Ctrl-C, for a rehearsal of
collect -> analyze -> verify -> report -> execute without a cluster (README.md, "Try it without a
cluster"):

    python3 -m tests.fakeapi serve --dump fixtures/example-dump.json.gz --kubeconfig rehearsal.kubeconfig
"""

from __future__ import annotations

import argparse
import atexit
import base64
import copy
import datetime
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit


# Verbs as the real servers list them in discovery: built-in and aggregated (OpenShift) APIs sort
# them; CustomResourceDefinitions (config.openshift.io) use apiextensions' fixed order.
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
CRD_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
SUBRESOURCE_VERBS = {"status": ("get", "patch", "update")}


@dataclass(frozen=True)
class Resource:
    group_version: str  # "v1" for the core group
    resource: str
    kind: str
    namespaced: bool
    subresources: tuple[str, ...] = ()  # served (and listed in discovery); only `status` is modelled
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    singular_name: str = ""  # "" means kind.lower(), what the real servers list
    verbs: tuple[str, ...] = VERBS

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    @property
    def qualified(self) -> str:
        """`pods`, `imagestreams.image.openshift.io`: how the API names it in messages."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    def discovery(self) -> list[dict[str, Any]]:
        """Its APIResource entries in an APIResourceList, then one per subresource, as a real
        server writes them (empty shortNames/categories left out; subresources have no singular)."""
        entry: dict[str, Any] = {"name": self.resource, "singularName": self.singular, "namespaced": self.namespaced,
                                 "kind": self.kind, "verbs": list(self.verbs)}
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub in self.subresources:
            entries.append({"name": f"{self.resource}/{sub}", "singularName": "", "namespaced": self.namespaced,
                            "kind": self.kind, "verbs": list(SUBRESOURCE_VERBS.get(sub, ("get", "patch", "update")))})
        return entries


_ALL = ("all",)
DEFAULT_RESOURCES: tuple[Resource, ...] = (
    Resource("v1", "namespaces", "Namespace", False, short_names=("ns",), verbs=NAMESPACE_VERBS),
    Resource("v1", "pods", "Pod", True, ("status",), short_names=("po",), categories=_ALL),
    Resource("v1", "replicationcontrollers", "ReplicationController", True, ("status",), short_names=("rc",), categories=_ALL),
    Resource("v1", "limitranges", "LimitRange", True, short_names=("limits",)),
    Resource("v1", "secrets", "Secret", True),
    Resource("apps/v1", "deployments", "Deployment", True, ("status",), short_names=("deploy",), categories=_ALL),
    Resource("apps/v1", "daemonsets", "DaemonSet", True, ("status",), short_names=("ds",), categories=_ALL),
    Resource("apps/v1", "replicasets", "ReplicaSet", True, ("status",), short_names=("rs",), categories=_ALL),
    Resource("apps/v1", "statefulsets", "StatefulSet", True, ("status",), short_names=("sts",), categories=_ALL),
    Resource("batch/v1", "jobs", "Job", True, ("status",), categories=_ALL),
    Resource("batch/v1", "cronjobs", "CronJob", True, ("status",), short_names=("cj",), categories=_ALL),
    Resource("apps.openshift.io/v1", "deploymentconfigs", "DeploymentConfig", True, ("status",), short_names=("dc",), categories=_ALL),
    Resource("build.openshift.io/v1", "buildconfigs", "BuildConfig", True, short_names=("bc",), categories=_ALL),
    Resource("build.openshift.io/v1", "builds", "Build", True, categories=_ALL),
    Resource("image.openshift.io/v1", "images", "Image", False),
    Resource("image.openshift.io/v1", "imagestreams", "ImageStream", True, ("status",), short_names=("is",), categories=_ALL),
    Resource("config.openshift.io/v1", "clusterversions", "ClusterVersion", False, ("status",), verbs=CRD_VERBS),
    # the cluster's own pruning settings (pruneplan.clustersettings); the cluster-wide Image config
    # shares its plural with image.openshift.io's images, which is the one `images` names here
    Resource("config.openshift.io/v1", "images", "Image", False, ("status",), verbs=CRD_VERBS),
    Resource("imageregistry.operator.openshift.io/v1", "imagepruners", "ImagePruner", False, ("status",), verbs=CRD_VERBS),
    Resource("imageregistry.operator.openshift.io/v1", "configs", "Config", False, ("status",), verbs=CRD_VERBS),
)

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(code: int, message: str, reason: str | None = None, details: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason or _REASONS.get(code, ""),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


@dataclass
class LoggedRequest:
    method: str
    path: str  # raw, as sent (percent-encoded)
    segments: list[str]  # decoded
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    tls: bool = False  # arrived over a TLS connection

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Fault:
    pattern: re.Pattern[str]
    method: str | None
    status: int | None
    times: int | None  # None: every time
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without an answer
    hits: int = 0

    def matches(self, request: LoggedRequest) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method != request.method:
            return False
        target = request.path + ("?" + "&".join(f"{k}={v}" for k, vs in request.query.items() for v in vs) if request.query else "")
        # the pattern may look at the path alone (`...pods$`) or at the query too (`\?.*continue=`)
        return bool(self.pattern.search(request.path) or self.pattern.search(target))


class _Reply(Exception):
    """Raised inside a handler to answer with (code, body, headers)."""

    def __init__(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.body = body
        self.headers = headers or {}


def _not_found_page() -> _Reply:
    return _Reply(404, b"404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"})


class _Default:
    """Marks an argument left out (where None means something)."""

    def __repr__(self) -> str:
        return "<default>"


_DEFAULT: Any = _Default()


class FakeAPI:
    def __init__(
        self,
        *,
        token: str | None = "test-token",
        tls: tuple[str, str] | None = _DEFAULT,
        resources: tuple[Resource, ...] = DEFAULT_RESOURCES,
        date: str | None = None,
        port: int = 0,
    ) -> None:
        """`tls`: left out, HTTPS with the session's throwaway CA (`ca_file` is its certificate);
        None, plain HTTP; (cert_path, key_path), HTTPS with that certificate (no `ca_file`).
        `port`: where to listen on 127.0.0.1; 0, any free port."""
        self.token = token
        self.bind_port = port
        self.ca_file: str | None = None
        if tls is _DEFAULT:
            ca = throwaway_ca()
            tls, self.ca_file = (ca.cert_file, ca.key_file), ca.ca_file
        self.tls = tls
        self.date = date  # fixed HTTP Date header, e.g. "Sat, 28 Nov 2026 06:00:00 GMT"
        self.resources: dict[tuple[str, str], Resource] = {(r.group_version, r.resource): r for r in resources}
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.hooks: list[Callable[[LoggedRequest], None]] = []
        self._store: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._rv = 1000
        self._compacted = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "FakeAPI":
        server = _Server(("127.0.0.1", self.bind_port), _Handler)
        server.api = self
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeAPI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def kubeconfig(
        self,
        path: str,
        *,
        token: str | None = None,
        ca_file: str | None = _DEFAULT,
        insecure: bool = False,
        context: str = "fake",
        namespace: str | None = None,
        server: str | None = None,
        embed_ca: bool = False,
    ) -> str:
        """Write a kubeconfig (JSON is YAML) for this server with a bearer token.

        `certificate-authority` is `ca_file`; left out, the throwaway CA when the fake serves with
        it (not with `insecure`, which client-go refuses alongside a CA); None, none at all.
        `embed_ca`: the CA's certificate goes into the file (`certificate-authority-data`), so the
        kubeconfig stays usable wherever it is copied. The file is private (0600): it holds a token."""
        cluster: dict[str, Any] = {"server": server or self.url}
        if ca_file is _DEFAULT:
            ca_file = None if insecure else self.ca_file
        if ca_file and embed_ca:
            with open(ca_file, "rb") as pem:
                cluster["certificate-authority-data"] = base64.b64encode(pem.read()).decode("ascii")
        elif ca_file:
            cluster["certificate-authority"] = ca_file
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        ctx: dict[str, Any] = {"cluster": context, "user": context}
        if namespace:
            ctx["namespace"] = namespace
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": token if token is not None else (self.token or "none")}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            json.dump(doc, handle)
        return path

    # -- state -------------------------------------------------------------------------------

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def resource(self, resource: str, group_version: str | None = None) -> Resource:
        matches = [r for (gv, name), r in self.resources.items() if name == resource and (group_version in (None, gv))]
        if group_version is None and len(matches) > 1:  # as kubectl's group priority: the first registered
            matches = matches[:1]
        if len(matches) != 1:
            raise KeyError(f"unknown or ambiguous resource {resource!r} ({group_version})")
        return matches[0]

    def _for_kind(self, obj: dict[str, Any]) -> Resource:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        for res in self.resources.values():
            if res.kind == kind and (api_version in (None, res.group_version)):
                return res
        raise KeyError(f"no resource for kind {kind!r} {api_version!r}")

    def add(self, obj: dict[str, Any], resource: str | None = None) -> dict[str, Any]:
        """Store an object (kind/apiVersion or `resource` say where); returns the stored copy."""
        res = self.resource(resource) if resource else self._for_kind(obj)
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        namespace = meta.get("namespace", "") if res.namespaced else ""
        if res.namespaced and not namespace:
            raise ValueError(f"{res.resource} {meta.get('name')} needs metadata.namespace")
        with self._lock:
            stored["kind"], stored["apiVersion"] = res.kind, res.group_version
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["resourceVersion"] = self._next_rv()
            self._store.setdefault((res.group_version, res.resource), {})[(namespace, meta["name"])] = stored
        return copy.deepcopy(stored)

    def add_all(self, objects: list[dict[str, Any]]) -> None:
        for obj in objects:
            self.add(obj)

    def get(self, resource: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        res = self.resource(resource)
        with self._lock:
            obj = self._store.get((res.group_version, res.resource), {}).get((namespace if res.namespaced else "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def objects(self, resource: str) -> list[dict[str, Any]]:
        res = self.resource(resource)
        with self._lock:
            bucket = self._store.get((res.group_version, res.resource), {})
            return [copy.deepcopy(bucket[k]) for k in sorted(bucket)]

    def remove(self, resource: str, name: str, namespace: str = "") -> None:
        res = self.resource(resource)
        with self._lock:
            self._store.get((res.group_version, res.resource), {}).pop((namespace if res.namespaced else "", name), None)
            self._next_rv()

    def remove_api(self, group_version: str, resource: str | None = None) -> None:
        """Make a resource (or a whole group/version) unknown: its paths answer 404."""
        for key in list(self.resources):
            if key[0] == group_version and resource in (None, key[1]):
                del self.resources[key]

    def compact(self) -> None:
        """Like etcd compaction: every continue token handed out so far answers 410 Gone."""
        with self._lock:
            self._compacted = self._rv
            self._next_rv()

    # -- faults and hooks --------------------------------------------------------------------

    def fault(
        self,
        pattern: str,
        status: int | None = 500,
        *,
        times: int | None = 1,
        method: str | None = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        drop: bool = False,
    ) -> Fault:
        """Answer requests whose path (with query) matches `pattern` with `status` (a Status body
        unless `body` is given), `times` times (None: always); `delay` first; `drop` hangs up."""
        fault = Fault(re.compile(pattern), method, status, times, body, headers or {}, delay, drop)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests_to(self, pattern: str, method: str | None = None) -> list[LoggedRequest]:
        regex = re.compile(pattern)
        return [r for r in list(self.requests) if regex.search(r.path) and method in (None, r.method)]

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the server stops (so a delayed handler never outlives it)."""
        self._stopping.wait(seconds)

    # -- request handling (called from handler threads) --------------------------------------

    def _handle(self, request: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            fault = next((f for f in self.faults if f.matches(request)), None)
            if fault is not None:
                fault.hits += 1
        for hook in list(self.hooks):
            hook(request)
        if fault is not None:
            if fault.delay:
                self.wait(fault.delay)
            if fault.drop:
                raise _Drop()
            if fault.status is not None:
                body = fault.body if fault.body is not None else status_body(fault.status, f"injected fault {fault.status}")
                return fault.status, body, dict(fault.headers)
        if self.token is not None:
            auth = request.headers.get("authorization", "")
            scheme, _, value = auth.partition(" ")
            if scheme.lower() != "bearer" or value != self.token:
                return 401, status_body(401, "Unauthorized"), {}
        try:
            return self._route(request)
        except _Reply as reply:
            return reply.code, reply.body, reply.headers

    def _route(self, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        seg = req.segments
        if seg == ["version"]:
            return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake", "platform": "linux/amd64"}, {}
        if seg == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}]}, {}
        if seg == ["apis"]:
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()}, {}
        if len(seg) == 2 and seg[0] == "apis":
            group = next((g for g in self._groups() if g["name"] == seg[1]), None)
            if group is None:
                raise _not_found_page()
            return 200, {"kind": "APIGroup", "apiVersion": "v1", **group}, {}
        if seg[:2] == ["api", "v1"]:
            group_version, rest = "v1", seg[2:]
        elif len(seg) >= 3 and seg[0] == "apis":
            group_version, rest = f"{seg[1]}/{seg[2]}", seg[3:]
        else:
            raise _not_found_page()
        if not rest:
            return 200, self._resource_list(group_version), {}
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        res = self.resources.get((group_version, rest[0]))
        if res is None or (namespace and not res.namespaced) or len(rest) > 3:
            raise _not_found_page()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in res.subresources:
            raise _not_found_page()
        if name is None:
            if req.method == "GET":
                return self._list(res, namespace, req)
            if req.method == "POST":
                return self._create(res, namespace, req)
            raise _Reply(405, status_body(405, f"the server does not allow this method on {res.qualified}"))
        if res.namespaced and not namespace:
            raise _not_found_page()
        if req.method == "GET":
            return 200, self._lookup(res, namespace, name), {}
        if req.method == "PUT":
            return self._replace(res, namespace, name, sub, req)
        if req.method == "DELETE" and sub is None:
            return self._delete(res, namespace, name, req)
        if req.method == "PATCH" and sub is None:
            return self._patch(res, namespace, name, req)
        raise _Reply(405, status_body(405, f"the server does not allow this method on {res.qualified}"))

    def _groups(self) -> list[dict[str, Any]]:
        versions: dict[str, list[str]] = {}
        for gv in sorted({gv for gv, _ in self.resources if "/" in gv}):
            group, version = gv.split("/")
            versions.setdefault(group, []).append(version)
        return [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
             "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
            for g, vs in versions.items()
        ]

    def _resource_list(self, group_version: str) -> dict[str, Any]:
        found = [r for (gv, _), r in self.resources.items() if gv == group_version]
        if not found:
            raise _not_found_page()
        entries = [entry for r in found for entry in r.discovery()]
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}

    def _bucket(self, res: Resource) -> dict[tuple[str, str], dict[str, Any]]:
        return self._store.setdefault((res.group_version, res.resource), {})

    def _lookup(self, res: Resource, namespace: str, name: str) -> dict[str, Any]:
        with self._lock:
            obj = self._bucket(res).get((namespace, name))
            if obj is None:
                raise _Reply(404, status_body(404, f'{res.qualified} "{name}" not found', details={"name": name, "kind": res.resource}))
            return copy.deepcopy(obj)

    def _list(self, res: Resource, namespace: str, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        limit_text = req.param("limit")
        token = req.param("continue")
        try:
            limit = int(limit_text) if limit_text else 0
        except ValueError:
            raise _Reply(400, status_body(400, f"invalid limit {limit_text!r}")) from None
        with self._lock:
            start: tuple[str, str] | None = None
            list_rv = self.resource_version
            if token:
                try:
                    state = json.loads(base64.urlsafe_b64decode(token.encode()))
                    list_rv, start = str(state["rv"]), (state["start"][0], state["start"][1])
                except (ValueError, KeyError, TypeError, IndexError):
                    raise _Reply(400, status_body(400, "continue key is not valid: invalid token")) from None
                if int(list_rv) <= self._compacted:
                    raise _Reply(410, status_body(
                        410,
                        "The provided continue parameter is too old to display a consistent list result. "
                        "You can start a new list without the continue parameter.",
                        reason="Expired",
                    ))
            bucket = self._bucket(res)
            keys = sorted(k for k in bucket if (not namespace or k[0] == namespace) and (start is None or k > start))
            page = keys[:limit] if limit > 0 else keys
            items = []
            for key in page:
                item = copy.deepcopy(bucket[key])
                item.pop("kind", None)  # like the real API: list items carry no kind/apiVersion
                item.pop("apiVersion", None)
                items.append(item)
        metadata: dict[str, Any] = {"resourceVersion": list_rv}
        if len(page) < len(keys):
            last = page[-1]
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps({"rv": int(list_rv), "start": list(last)}).encode()).decode()
            metadata["remainingItemCount"] = len(keys) - len(page)
        return 200, {"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": metadata, "items": items}, {}

    def _body(self, req: LoggedRequest) -> dict[str, Any]:
        if not req.body.strip():
            raise _Reply(400, status_body(400, "the body of the request is empty"))
        try:
            body = json.loads(req.body)
        except ValueError:
            raise _Reply(400, status_body(400, "request body is not JSON")) from None
        if not isinstance(body, dict):
            raise _Reply(400, status_body(400, "request body is not an object"))
        return body

    def _create(self, res: Resource, namespace: str, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        body = self._body(req)
        meta = body.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise _Reply(422, status_body(422, "metadata.name: Required value"))
        if res.namespaced:
            if not namespace:
                raise _not_found_page()
            meta["namespace"] = namespace
        with self._lock:
            if (namespace, name) in self._bucket(res):
                raise _Reply(409, status_body(409, f'{res.qualified} "{name}" already exists', reason="AlreadyExists"))
            body["kind"], body["apiVersion"] = res.kind, res.group_version
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["resourceVersion"] = self._next_rv()
            self._bucket(res)[(namespace, name)] = body
            return 201, copy.deepcopy(body), {}

    def _conflict(self, res: Resource, name: str) -> _Reply:
        return _Reply(409, status_body(
            409,
            f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            reason="Conflict",
            details={"name": name, "group": res.group, "kind": res.resource},
        ))

    def _patch(self, res: Resource, namespace: str, name: str, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        """Merge patches (JSON merge patch; a strategic merge patch of maps behaves the same)."""
        kind = req.headers.get("content-type", "").split(";")[0].strip()
        if kind not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            raise _Reply(415, status_body(415, f"the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json ({kind})"))
        patch = self._body(req)

        def merge(target: Any, change: Any) -> Any:
            if not isinstance(change, dict):
                return copy.deepcopy(change)
            out = dict(target) if isinstance(target, dict) else {}
            for key, value in change.items():
                if value is None:
                    out.pop(key, None)
                else:
                    out[key] = merge(out.get(key), value)
            return out

        with self._lock:
            current = self._bucket(res).get((namespace, name))
            if current is None:
                raise _Reply(404, status_body(404, f'{res.qualified} "{name}" not found', details={"name": name, "kind": res.resource}))
            updated = merge(current, {k: v for k, v in patch.items() if k != "status"})
            updated["metadata"]["resourceVersion"] = self._next_rv()
            self._bucket(res)[(namespace, name)] = updated
            return 200, copy.deepcopy(updated), {}

    def _replace(self, res: Resource, namespace: str, name: str, sub: str | None, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        body = self._body(req)
        meta = body.get("metadata") or {}
        if meta.get("name") not in (None, name):
            raise _Reply(400, status_body(400, f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"))
        with self._lock:
            current = self._bucket(res).get((namespace, name))
            if current is None:
                raise _Reply(404, status_body(404, f'{res.qualified} "{name}" not found', details={"name": name, "kind": res.resource}))
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise self._conflict(res, name)
            if sub == "status":
                updated = copy.deepcopy(current)  # the status subresource changes only status
                if "status" in body:
                    updated["status"] = body["status"]
                else:
                    updated.pop("status", None)
            else:
                updated = copy.deepcopy(body)
                updated.setdefault("metadata", {})
                if "status" in res.subresources:  # the main resource never changes status
                    if "status" in current:
                        updated["status"] = copy.deepcopy(current["status"])
                    else:
                        updated.pop("status", None)
                for key in ("uid", "creationTimestamp"):
                    if key in current["metadata"]:
                        updated["metadata"][key] = current["metadata"][key]
                updated["metadata"]["name"] = name
                if res.namespaced:
                    updated["metadata"]["namespace"] = namespace
            updated["kind"], updated["apiVersion"] = res.kind, res.group_version
            updated["metadata"]["resourceVersion"] = self._next_rv()
            self._bucket(res)[(namespace, name)] = updated
            return 200, copy.deepcopy(updated), {}

    def _delete(self, res: Resource, namespace: str, name: str, req: LoggedRequest) -> tuple[int, Any, dict[str, str]]:
        options = self._body(req) if req.body else {}
        with self._lock:
            current = self._bucket(res).get((namespace, name))
            if current is None:
                raise _Reply(404, status_body(404, f'{res.qualified} "{name}" not found', details={"name": name, "kind": res.resource}))
            pre = options.get("preconditions") or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
                raise self._conflict(res, name)
            if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
                raise self._conflict(res, name)
            del self._bucket(res)[(namespace, name)]
            self._next_rv()
        return 200, status_body(200, "", reason="", details={"name": name, "group": res.group, "kind": res.resource, "uid": current["metadata"].get("uid")}), {}


class _Drop(Exception):
    pass


class _Server(ThreadingHTTPServer):
    """A thread per connection, each one ended by stop(): a client's keep-alive pool would hold
    its thread open past the test."""

    daemon_threads = True
    allow_reuse_address = True
    api: FakeAPI

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._connections: dict[Any, threading.Thread] = {}
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        # registered here, in the accepting thread: after shutdown() every connection is known
        thread = threading.Thread(target=self._serve_connection, args=(request, client_address), daemon=True)
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Hang up on every open connection and wait for its thread to end."""
        with self._connections_lock:
            open_now = list(self._connections.items())
        for connection, _ in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the client
        for _, thread in open_now:
            thread.join(timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # failed TLS handshakes and hang-ups are expected in tests; keep stderr clean


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.server.api.date or super().date_time_string(timestamp)

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # the client hung up before sending its whole body: a real server never acts on it
            self.close_connection = True
            return
        request = LoggedRequest(
            method=self.command,
            path=parts.path,
            segments=[unquote(s) for s in parts.path.strip("/").split("/") if s],
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            tls=isinstance(self.connection, ssl.SSLSocket),
        )
        try:
            code, payload, headers = self.server.api._handle(request)
        except _Drop:
            self.close_connection = True
            return
        if isinstance(payload, (bytes, str)):
            data = payload.encode() if isinstance(payload, str) else payload
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = _serve


@dataclass(frozen=True)
class ThrowawayCA:
    """A CA made for tests and the server certificate it signed (files in `directory`)."""

    directory: str
    ca_file: str  # the CA certificate: what a client trusts (`certificate-authority`)
    cert_file: str  # the server certificate alone, as a cluster serves it
    chain_file: str  # the server certificate followed by the CA's
    key_file: str  # the server certificate's key


def _alt_names(hosts: tuple[str, ...]) -> list[Any]:
    from cryptography import x509

    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_ca(directory: str, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> ThrowawayCA:
    """A new CA and a server certificate it signs for `hosts` (P-256, valid 30 days), written to
    `directory`. The CA's key is never written: nothing else can be signed with it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-apiserver-ca")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(_alt_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path = os.path.join(directory, "ca.crt")
    cert_path = os.path.join(directory, "apiserver.crt")
    chain_path = os.path.join(directory, "apiserver-chain.crt")
    key_path = os.path.join(directory, "apiserver.key")
    with open(ca_path, "wb") as handle:
        handle.write(ca_cert.public_bytes(pem))
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(pem))
    with open(chain_path, "wb") as handle:
        handle.write(cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ThrowawayCA(directory, ca_path, cert_path, chain_path, key_path)


def make_cert(directory: str, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> tuple[str, str]:
    """A server certificate for `hosts` from a new CA of its own; returns (cert_path, key_path).
    The certificate file holds the chain (server certificate, then CA), so it also works as the
    `certificate-authority` of a client that should trust it; a client without it does not."""
    ca = make_ca(directory, hosts)
    return ca.chain_file, ca.key_file


_session_ca: ThrowawayCA | None = None
_session_ca_lock = threading.Lock()


def _remove_session_ca(directory: str, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child that exits normally
        shutil.rmtree(directory, ignore_errors=True)


def throwaway_ca() -> ThrowawayCA:
    """The test session's CA and 127.0.0.1/localhost server certificate: made on first use,
    shared by every FakeAPI of the process, removed when the process exits."""
    global _session_ca
    with _session_ca_lock:
        if _session_ca is None:
            directory = tempfile.mkdtemp(prefix="fakeapi-ca-")
            atexit.register(_remove_session_ca, directory, os.getpid())
            _session_ca = make_ca(directory)
        return _session_ca


# -- sample content ------------------------------------------------------------------------
# A small but varied OpenShift cluster as API objects: every kind pruneplan reads, history
# items old and young, references by tag and by digest, builds by ImageStreamTag and by
# DockerImage, an external registry, plus fields a dump must never keep (env, args, secrets in
# annotations, labels). Deterministic for a given `scale`.

REGISTRY = "image-registry.openshift-image-registry.svc:5000"
SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
OLD = "2025-06-01T00:00:00Z"
YOUNG = "2026-11-28T05:30:00Z"  # younger than the default 60m before SAMPLE_NOW
SAMPLE_NOW = "2026-11-28T06:00:00Z"


def sha(text: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _secret_noise() -> dict[str, Any]:
    return {
        "env": [{"name": "DB_PASSWORD", "value": "hunter2-secret"}],
        "args": ["--token=s3cr3t-arg"],
        "command": ["/bin/run"],
        "volumeMounts": [{"name": "creds", "mountPath": "/creds"}],
    }


def _pod_spec(images: list[str], init: list[str] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": f"c{i}", "image": img, **_secret_noise()} for i, img in enumerate(images)],
        "volumes": [{"name": "creds", "secret": {"secretName": "db-creds"}}],
    }
    if init:
        spec["initContainers"] = [{"name": f"init{i}", "image": img, **_secret_noise()} for i, img in enumerate(init)]
    return spec


def _meta(namespace: str | None, name: str, created: str = OLD) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "creationTimestamp": created,
        "labels": {"app": name},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"secret": "leaked"}'},
        "managedFields": [{"manager": "kubectl"}],
    }
    if namespace:
        meta["namespace"] = namespace
    return meta


def sample_cluster(scale: int = 1) -> list[dict[str, Any]]:
    """Objects for `FakeAPI.add_all`; `scale` multiplies namespaces (and so every kind)."""
    objects: list[dict[str, Any]] = []
    for n in range(2 * scale):
        ns = f"team-{n}"
        for s, stream in enumerate(("app", "web", "worker")):
            tags: list[dict[str, Any]] = []
            for t, tag in enumerate(("latest", "v1")):
                items = []
                for rev in range(5 - t):
                    digest = sha(f"{ns}/{stream}/{tag}/{rev}")
                    young = (rev == 0 and s == 2)
                    objects.append({
                        "kind": "Image", "apiVersion": "image.openshift.io/v1",
                        "metadata": {**_meta(None, digest, YOUNG if young else OLD),
                                     "annotations": {"openshift.io/image.managed": "true", "other": "dropped"}},
                        "dockerImageReference": f"{REGISTRY}/{ns}/{stream}@{digest}",
                        "dockerImageManifestMediaType": SCHEMA2,
                        "dockerImageLayers": [
                            {"name": sha(f"layer-{ns}-{stream}-{tag}-{rev}"), "size": 1000 + rev, "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"},
                            {"name": sha("shared-base-layer"), "size": 5000, "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"},
                        ],
                        "dockerImageMetadata": {"kind": "DockerImage", "apiVersion": "1.0", "Id": sha(f"config-{digest}"), "Size": 6000 + rev,
                                                "Config": {"Env": ["SECRET=in-image-config"]}},
                        "dockerImageSignatures": ["c2lnbmF0dXJl"],
                    })
                    items.append({"created": YOUNG if young else OLD, "dockerImageReference": f"{REGISTRY}/{ns}/{stream}@{digest}",
                                  "image": digest, "generation": rev + 1})
                tags.append({"tag": tag, "items": items})
            objects.append({
                "kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
                "metadata": _meta(ns, stream),
                "spec": {"tags": [{"name": "latest", "from": {"kind": "DockerImage", "name": "quay.io/upstream/app:latest"}}]},
                "status": {"dockerImageRepository": f"{REGISTRY}/{ns}/{stream}",
                           "publicDockerImageRepository": f"default-route-openshift-image-registry.apps.example.com/{ns}/{stream}",
                           "tags": tags},
            })
        app = f"{REGISTRY}/{ns}/app"
        objects += [
            {"kind": "Pod", "apiVersion": "v1", "metadata": _meta(ns, "app-running"),
             "spec": _pod_spec([f"{app}:latest", "quay.io/external/sidecar:1.0"], init=[f"{REGISTRY}/{ns}/worker:v1"]),
             "status": {"phase": "Running", "podIP": "10.0.0.1"}},
            {"kind": "Pod", "apiVersion": "v1", "metadata": _meta(ns, "old-job-pod"),
             "spec": _pod_spec([f"{app}@{sha(f'{ns}/app/latest/4')}"]), "status": {"phase": "Succeeded"}},
            {"kind": "Pod", "apiVersion": "v1", "metadata": _meta(ns, "nginx"), "spec": _pod_spec(["nginx"]), "status": {"phase": "Running"}},
            {"kind": "ReplicationController", "apiVersion": "v1", "metadata": _meta(ns, "web-1"),
             "spec": {"replicas": 0, "template": {"spec": _pod_spec([f"{REGISTRY}/{ns}/web@{sha(f'{ns}/web/latest/3')}"])}}},
            {"kind": "DeploymentConfig", "apiVersion": "apps.openshift.io/v1", "metadata": _meta(ns, "web"),
             "spec": {"template": {"spec": _pod_spec([f"{REGISTRY}/{ns}/web:latest"])},
                      "triggers": [{"type": "ImageChange", "imageChangeParams": {"from": {"kind": "ImageStreamTag", "name": "web:v1"}}}]}},
            {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": _meta(ns, "api"),
             "spec": {"template": {"spec": _pod_spec([f"{REGISTRY}/{ns}/worker@{sha(f'{ns}/worker/v1/3')}"])}}},
            {"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": _meta(ns, "api-5d8f"),
             "spec": {"template": {"spec": _pod_spec([f"{REGISTRY}/{ns}/worker:latest"])}}},
            {"kind": "DaemonSet", "apiVersion": "apps/v1", "metadata": _meta(ns, "agent"),
             "spec": {"template": {"spec": _pod_spec(["docker.io/library/busybox:1.36"])}}},
            {"kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": _meta(ns, "db"),
             "spec": {"template": {"spec": _pod_spec([f"{REGISTRY}/{ns}/app:v1"])}}},
            {"kind": "Job", "apiVersion": "batch/v1", "metadata": _meta(ns, "migrate"),
             "spec": {"template": {"spec": _pod_spec([f"{REGISTRY}/{ns}/web:v1"])}}},
            {"kind": "CronJob", "apiVersion": "batch/v1", "metadata": _meta(ns, "nightly"),
             "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": _pod_spec([f"{REGISTRY}/{ns}/app@{sha(f'{ns}/app/v1/3')}"])}}}}},
            {"kind": "BuildConfig", "apiVersion": "build.openshift.io/v1", "metadata": _meta(ns, "app"),
             "spec": {"strategy": {"type": "Source", "sourceStrategy": {
                 "from": {"kind": "ImageStreamTag", "namespace": ns, "name": "web:v1"},
                 "env": [{"name": "GIT_TOKEN", "value": "ghp_secret"}]}},
                 "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}}}},
            {"kind": "Build", "apiVersion": "build.openshift.io/v1", "metadata": _meta(ns, "app-1"),
             "spec": {"strategy": {"type": "Docker", "dockerStrategy": {
                 "from": {"kind": "ImageStreamImage", "name": f"worker@{sha(f'{ns}/worker/latest/4')}"},
                 "pullSecret": {"name": "pull-secret"}}}},
             "status": {"phase": "Complete"}},
            {"kind": "Build", "apiVersion": "build.openshift.io/v1", "metadata": _meta(ns, "ext-1"),
             "spec": {"strategy": {"type": "Custom", "customStrategy": {
                 "from": {"kind": "DockerImage", "name": f"{REGISTRY}/{ns}/web@{sha(f'{ns}/web/v1/2')}"}}}}},
            {"kind": "LimitRange", "apiVersion": "v1", "metadata": _meta(ns, "limits"),
             "spec": {"limits": [{"type": "openshift.io/Image", "max": {"storage": "1Gi"}},
                                 {"type": "Container", "max": {"cpu": "2"}}]}},
        ]
    objects.append({"kind": "ClusterVersion", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "version"},
                    "spec": {"clusterID": "9a5c1b7e-0000-4000-8000-00000000c1d0"}})
    return objects



# -- a registry's objects, for hard pruning ------------------------------------------------------

def registry_config(read_only: bool | None) -> dict[str, Any]:
    """The image registry operator's Config `cluster`; `read_only` None leaves spec.readOnly unset."""
    spec: dict[str, Any] = {"managementState": "Managed"}
    if read_only is not None:
        spec["readOnly"] = read_only
    return {"kind": "Config", "apiVersion": "imageregistry.operator.openshift.io/v1", "metadata": {"name": "cluster"}, "spec": spec}


def cluster_version(cluster_id: str = "9a5c1b7e-0000-4000-8000-00000000c1d0") -> dict[str, Any]:
    return {"kind": "ClusterVersion", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "version"},
            "spec": {"clusterID": cluster_id}}


def image_object(repository: str, digest: str, media_type: str, layers: list[tuple[str, int, str]],
                 config: str | None = None, manifests: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """An Image object as the registry creates one for a push to `repository`: `layers` as
    (digest, size, media type), `config` the config blob's digest (dockerImageMetadata.Id),
    `manifests` a list's children as (digest, media type)."""
    image: dict[str, Any] = {
        "kind": "Image", "apiVersion": "image.openshift.io/v1",
        "metadata": {"name": digest, "creationTimestamp": OLD, "annotations": {"openshift.io/image.managed": "true"}},
        "dockerImageReference": f"{REGISTRY}/{repository}@{digest}",
        "dockerImageManifestMediaType": media_type,
        "dockerImageLayers": [{"name": name, "size": size, "mediaType": kind} for name, size, kind in layers],
    }
    if config is not None:
        image["dockerImageMetadata"] = {"kind": "DockerImage", "apiVersion": "1.0", "Id": config,
                                        "Size": sum(size for _, size, _ in layers)}
    if manifests:
        image["dockerImageManifests"] = [{"digest": child, "mediaType": kind, "manifestSize": 0, "architecture": "amd64",
                                          "os": "linux"} for child, kind in manifests]
    return image


def image_stream(namespace: str, name: str, tags: dict[str, list[str]]) -> dict[str, Any]:
    """An ImageStream whose status history holds `tags` (tag -> image digests, newest first)."""
    history = [{"tag": tag, "items": [{"created": OLD, "dockerImageReference": f"{REGISTRY}/{namespace}/{name}@{digest}",
                                        "image": digest, "generation": index + 1} for index, digest in enumerate(digests)]}
               for tag, digests in tags.items()]
    return {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1",
            "metadata": {"namespace": namespace, "name": name, "creationTimestamp": OLD},
            "spec": {}, "status": {"dockerImageRepository": f"{REGISTRY}/{namespace}/{name}", "tags": history}}


# -- a dump's objects, served ----------------------------------------------------------------

def dump_objects(path: str) -> list[dict[str, Any]]:
    """The objects of a dump (any input form analyze reads) as API objects, read with
    pruneplan.dumpformat's readers, plus the ClusterVersion that gives the fake the dump's
    cluster ID (so a plan made from a collect of the fake names a cluster execute can check)."""
    import msgspec

    from pruneplan.dumpformat import Identity, Reader, load_inputs
    from pruneplan.kinds import KINDS, Kind

    def reader(kind: Kind) -> Reader:
        def read(raw: bytes) -> tuple[Identity, Any]:
            obj = msgspec.json.decode(raw)
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                raise msgspec.DecodeError("an object without metadata.name")
            obj["kind"], obj["apiVersion"] = kind.kind, kind.api_version
            identity: Identity = (str(meta.get("namespace", "")), meta["name"]) if kind.namespaced else meta["name"]
            return identity, obj
        return read

    loaded = load_inputs([path], {kind.resource: reader(kind) for kind in KINDS})
    objects = [obj for kind in KINDS for obj in loaded.objects[kind.resource]]
    cluster_id = (loaded.cluster or {}).get("clusterID")
    if isinstance(cluster_id, str) and cluster_id:
        objects.append({"kind": "ClusterVersion", "apiVersion": "config.openshift.io/v1", "metadata": {"name": "version"},
                        "spec": {"clusterID": cluster_id}})
    return objects


def serve(dump: str, kubeconfig: str, port: int = 0) -> int:
    """Serve a dump's objects over TLS until SIGINT or SIGTERM; the kubeconfig (throwaway CA
    embedded, a fresh token) is written once the fake listens, so its presence means ready."""
    objects = dump_objects(dump)
    api = FakeAPI(token=secrets.token_urlsafe(24), port=port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with api:
        api.add_all(objects)
        api.kubeconfig(kubeconfig, embed_ca=True, context="rehearsal")
        print(f"fake API server listening on {api.url} with {len(objects)} objects from {dump}", flush=True)
        print(f"kubeconfig: {kubeconfig} (use --kubeconfig {kubeconfig}); Ctrl-C stops", flush=True)
        while not stop.wait(3600):
            pass
    print("stopped", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.fakeapi",
        description="The tests' fake Kubernetes/OpenShift API server, for a rehearsal without a cluster.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("serve", help="Serve the objects of a dump until Ctrl-C.",
                              description="Serve the objects of a dump on 127.0.0.1 over TLS until Ctrl-C.")
    run.add_argument("--dump", required=True, metavar="DUMP", help="A dump (or `oc get -o json` List) whose objects to serve.")
    run.add_argument("--kubeconfig", required=True, metavar="FILE", help="The kubeconfig to write for --kubeconfig (0600).")
    run.add_argument("--port", type=int, default=0, metavar="N", help="Port on 127.0.0.1 (default: any free port).")
    args = parser.parse_args(argv)
    from pruneplan.errors import PrunePlanError

    try:
        return serve(args.dump, args.kubeconfig, args.port)
    except PrunePlanError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
