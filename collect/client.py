"""Connection to the API server through the official kubernetes client, answers kept raw.

The typed models are slow and rename fields to snake_case; a dump holds objects in their API
JSON shape, so requests go through `ApiClient.param_serialize` / `call_api` and the caller gets
the status, headers and body bytes. Transport failures (refused, TLS, timeout) become one-line
`ClusterError`s. This is the only module of collect that imports `kubernetes`.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import urllib3
import yaml  # type: ignore[import-untyped]  # PyYAML comes with kubernetes; its stubs are not a dependency
from kubernetes import client as k8s_client
from kubernetes.config import incluster_config, kube_config
from kubernetes.config.config_exception import ConfigException

from pruneplan.urls import without_userinfo

from pruneplan.collect.paging import DEFAULT_PARALLEL_LISTS
from pruneplan.collect.transport import ClusterError, Response

# Where a pod finds its service account; module attributes so tests can point them elsewhere.
SERVICE_TOKEN_FILE = incluster_config.SERVICE_TOKEN_FILENAME
SERVICE_CA_FILE = incluster_config.SERVICE_CERT_FILENAME
DEFAULT_KUBECONFIG = "~/.kube/config"
CONNECT_TIMEOUT = 10.0
REFRESH_SECONDS = 10.0  # how often the credentials' refresh hook runs at most (see below)


def _kubeconfig_paths(explicit: str | None) -> list[str]:
    """The kubeconfig files the default loading rules would read that exist."""
    value = explicit or os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    return [p for p in (os.path.expanduser(x) for x in value.split(os.pathsep) if x) if os.path.exists(p)]


def load_configuration(kubeconfig: str | None, context: str | None) -> k8s_client.Configuration:
    """kubeconfig (default loading rules, `context`), else the in-cluster service account."""
    config = k8s_client.Configuration()
    paths = _kubeconfig_paths(kubeconfig)
    try:
        if kubeconfig and not paths:
            raise ClusterError(f"kubeconfig {kubeconfig}: no such file")
        if paths:
            with _logged_errors() as logged:
                kube_config.load_kube_config(
                    config_file=os.pathsep.join(paths),
                    context=context,
                    client_configuration=config,
                    persist_config=False,
                )
            if logged:  # the loader went on without the credentials it could not get
                raise ClusterError(f"cannot load the client configuration: the kubeconfig's exec credential plugin failed: {logged[0]}")
        elif os.environ.get(incluster_config.SERVICE_HOST_ENV_NAME):
            if context:
                raise ClusterError("--context needs a kubeconfig, and none was found")
            incluster_config.InClusterConfigLoader(
                token_filename=SERVICE_TOKEN_FILE, cert_filename=SERVICE_CA_FILE
            ).load_and_set(config)
        else:
            raise ClusterError(
                "no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a cluster"
            )
    except yaml.YAMLError as err:
        raise ClusterError(f"cannot load the client configuration: {_yaml_problem(err)}") from None
    except ConfigException as err:
        raise ClusterError(f"cannot load the client configuration: {err}") from None
    # the loader indexes the parsed YAML unchecked: a value of the wrong type fails anywhere in it
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError) as err:
        raise ClusterError(f"cannot load the client configuration: {err}") from None
    # the client ignores credentials in the URL, and the URL reaches dumps, plans and messages
    config.host = without_userinfo(config.host)
    _keep_host_without_userinfo(config)
    return config


@contextmanager
def _logged_errors() -> Iterator[list[str]]:
    """The messages the kubernetes client's kubeconfig loader logs as errors while it runs: it
    reports a failed exec credential plugin with logging.error on the root logger (a stray
    `ERROR:root:` line) and goes on without credentials. Collected here, they become one error."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)  # a root logger with a handler is not given logging's default one
    try:
        yield messages
    finally:
        root.removeHandler(handler)


def _keep_host_without_userinfo(config: k8s_client.Configuration, clock: Callable[[], float] = time.monotonic) -> None:
    """The kubeconfig loader's token refresh hook, run before every request, sets the URL from
    the kubeconfig again (and installs itself again): strip it after each run, stay installed.

    The hook also costs a scan of the environment for proxies on every request (the client's
    `host` setter reads them), which at thousands of requests dominates execute's own CPU. It is
    run at most once per REFRESH_SECONDS per configuration: the loaders renew a token well before
    it expires (the kubeconfig's five minutes ahead, in-cluster every minute), so a token used in
    between is still valid."""
    hook = config.refresh_api_key_hook
    if hook is None:
        return
    last_run: dict[int, float] = {}  # id of a configuration (the original, or a copy) -> when

    def refresh(target: k8s_client.Configuration) -> None:
        now = clock()
        previous = last_run.get(id(target))
        if previous is not None and now - previous < REFRESH_SECONDS:
            return
        last_run[id(target)] = now
        hook(target)
        host = without_userinfo(target.host)
        if host != target.host:
            target.host = host
        target.refresh_api_key_hook = refresh

    config.refresh_api_key_hook = refresh


def _yaml_problem(err: Any) -> str:
    """A YAML error in one line: the file, where, and what (PyYAML's own text spans lines)."""
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if mark is None or not problem:
        return f"invalid YAML: {err}"
    return f"{mark.name}: invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


class KubeTransport:
    """GET requests against one API server, answered as raw `Response`s."""

    def __init__(self, config: k8s_client.Configuration, request_timeout: float,
                 connections: int = DEFAULT_PARALLEL_LISTS + 1) -> None:
        # Honour Retry-After on 429/5xx for GETs, as client-go does, a few times only; on a copy,
        # so that the caller's configuration (execute's writes use it too) keeps its own retries
        config = copy.copy(config)
        config.client_go_retries = True
        config.retries = 3
        # one connection per list running at once (the client's default is 5 per CPU)
        if connections > (config.connection_pool_maxsize or 0):
            config.connection_pool_maxsize = connections
        self.host = config.host
        self._api = k8s_client.ApiClient(config)
        self._timeout = (min(CONNECT_TIMEOUT, request_timeout), request_timeout)

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> Response:
        request = self._api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query or [],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            answer = self._api.call_api(*request, _request_timeout=self._timeout)
            body = answer.read()
        except k8s_client.ApiException as err:
            if err.status:  # Retry-After retries ran out: an HTTP answer after all
                return Response(err.status, err.reason or "", err.headers or {}, (err.body or "").encode() if isinstance(err.body, str) else (err.body or b""))
            raise ClusterError(self._describe(err.reason or str(err))) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ClusterError(self._describe(err)) from None
        return Response(answer.status, answer.reason or "", answer.headers, body)

    def _describe(self, err: Any) -> str:
        reason = getattr(err, "reason", None) or err
        text = str(reason)
        lowered = text.lower()
        if "refused" in lowered:
            return f"cannot connect to the API server at {self.host}: connection refused"
        if "name or service not known" in lowered or "nodename nor servname" in lowered or "name resolution" in lowered:
            return f"cannot resolve the host of the API server {self.host}"
        if isinstance(reason, urllib3.exceptions.SSLError) or "ssl" in lowered or "certificate" in lowered:
            detail = text.split("] ", 1)[-1].split(" (_ssl")[0]
            return f"TLS failure talking to the API server at {self.host}: {detail}"
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            detail = text.split("] ", 1)[-1] if "] " in text else text
            return f"cannot connect to the API server at {self.host}: {detail}"
        if isinstance(reason, urllib3.exceptions.TimeoutError) or "timed out" in lowered:
            return f"the API server at {self.host} did not answer in time ({self._timeout[1]:g}s)"
        return f"cannot talk to the API server at {self.host}: {text}"

    def close(self) -> None:
        self._api.close()


def connect(kubeconfig: str | None, context: str | None, request_timeout: float,
            connections: int = DEFAULT_PARALLEL_LISTS + 1) -> KubeTransport:
    return KubeTransport(load_configuration(kubeconfig, context), request_timeout, connections)
