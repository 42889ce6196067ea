"""From the kubeconfig and the registry flags to a connected RegistryClient (docs/rules.md,
"Registry calls and answers": which registry, plain HTTP and TLS, ping).

This is the glue `execute/command.py` uses: find the registry host, decide insecure, build the
session with the user's bearer token, ping, and hand back a client for the runner.
"""

from __future__ import annotations

import os
from typing import Any

from pruneplan import TOOL_NAME, __version__
from pruneplan.errors import EXIT_FAILURE, PrunePlanError

from pruneplan.execute.ratelimit import RateLimiter
from pruneplan.execute.registry import RegistryClient, decide_insecure, determine_registry_host, make_session, ping
from pruneplan.execute.registry_transport import DEFAULT_POOL_SIZE
from pruneplan.execute.registry_url import validate_registry_flags

# The command calls it by this name.
validate_flags = validate_registry_flags


def _bearer_token(config: Any) -> str:
    """The token of a kubernetes-client Configuration (`Bearer <token>` in api_key)."""
    hook = getattr(config, "refresh_api_key_hook", None)
    if callable(hook):
        hook(config)  # exec plugins and in-cluster tokens refresh through it
    api_key = getattr(config, "api_key", None) or {}
    value = str(api_key.get("authorization") or api_key.get("BearerToken") or "")
    prefix, _, rest = value.partition(" ")
    return rest.strip() if prefix.lower() == "bearer" else value.strip()


def _kube_ca_data(config: Any) -> bytes | None:
    # The Python client keeps embedded certificate-authority-data as a file; read it back.
    path = getattr(config, "ssl_ca_cert", None)
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read() or None
    except OSError:
        return None


class RegistrySetup:
    """Connects to the registry the way upstream does when it is about to prune it."""

    def __init__(
        self,
        config: Any,
        registry_url: str | None,
        ca_bundle: str | None,
        force_insecure: bool,
        flavor: str = "openshift",
        *,
        retries: int = 4,
        backoff: float = 0.5,
        timeout: tuple[float, float] | None = None,
        connections: int = DEFAULT_POOL_SIZE,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.config = config
        self.registry_url = registry_url or ""
        self.ca_bundle = ca_bundle or None
        self.force_insecure = force_insecure
        self.flavor = flavor
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.connections = max(connections, DEFAULT_POOL_SIZE)  # the pool: one connection per worker, at least
        self.limiter = limiter  # spaces the DELETEs (the ping, a few GETs, is not counted)

    def connect(self, loaded: Any) -> RegistryClient:
        """Host from the flags or the live snapshot's images and streams (`loaded.objects`, the
        analysis model), then ping; PrunePlanError on failure."""
        token = _bearer_token(self.config)
        if not token:
            raise PrunePlanError("you must use a client config with a token", EXIT_FAILURE)
        objects = getattr(loaded, "objects", None) or {}
        host = determine_registry_host(self.registry_url, objects.get("images", []), objects.get("imagestreams", []))
        kube_insecure = not bool(getattr(self.config, "verify_ssl", True))
        insecure = decide_insecure(self.force_insecure, self.ca_bundle, kube_insecure, host)
        extra: dict[str, Any] = {"timeout": self.timeout} if self.timeout else {}
        session = make_session(
            token, insecure, self.ca_bundle, _kube_ca_data(self.config), f"{TOOL_NAME}/{__version__}",
            pool_size=self.connections, **extra,
        )
        base_url = ping(host, session, insecure, bool(self.registry_url))
        return RegistryClient(
            # flavor: a str the command validated as a Flavor; RegistryClient checks it again
            base_url, session, flavor=self.flavor, retries=self.retries, backoff=self.backoff,  # type: ignore[arg-type]
            limiter=self.limiter,
        )
