"""Is the live cluster the plan's? (docs/execute.md, "Which cluster").

A cluster is identified by its ClusterVersion `spec.clusterID`: the API server URL is not, because
the same API server has several (a workstation's `https://api.CLUSTER:6443`, the in-cluster
`https://172.30.0.1:443`), and an in-cluster URL is the same on every cluster. Only a plan whose
dump has no cluster ID falls back to the URL, which the admin may widen with aliases.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pruneplan.errors import EXIT_USAGE, EXIT_WRONG_CLUSTER, PrunePlanError
from pruneplan.planmodel import Cluster
from pruneplan.urls import without_userinfo

_DEFAULT_PORTS = {"https": 443, "http": 80}


def shown_url(url: str) -> str:
    """A URL as messages show it: no credentials, no trailing slash."""
    return without_userinfo(url).rstrip("/")


def same_server_key(url: str) -> str:
    """What two URLs of one API server have in common: scheme and host in lower case, the default
    port made explicit, no credentials, no trailing slash (`https://H` is `https://h:443/`)."""
    bare = shown_url(url)
    try:
        parts = urlsplit(bare)
        port = parts.port
    except ValueError:  # a port that is not a number: compared as written
        return bare.lower()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = port if port is not None else _DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{parts.path.rstrip('/')}"


def validate_aliases(aliases: list[str]) -> None:
    """Each `--api-server-alias` is an http(s) URL with a host (exit 2 otherwise)."""
    for alias in aliases:
        try:
            parts = urlsplit(alias)
            parts.port  # noqa: B018 - raises for a port that is not a number
        except ValueError:
            parts = None
        if parts is None or parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            raise PrunePlanError(f"--api-server-alias must be an API server URL such as https://api.example:6443, not {alias!r}",
                                 EXIT_USAGE)


def check_cluster(bound: Cluster | None, live_url: str, live_id: str | None, aliases: list[str]) -> str:
    """The plan's cluster (`bound`, the plan's `source.cluster`) against the live one: how they
    matched, for execute's header; refused (exit 15, one line saying what to do) when they did not."""
    if bound is None:
        raise PrunePlanError(
            "the plan names no cluster (it was made from a List, not a collected dump), so execute cannot tell "
            "which cluster it is for; make the plan from a dump written by `pruneplan collect`",
            EXIT_WRONG_CLUSTER,
        )
    if bound.cluster_id:
        if not live_id:
            raise PrunePlanError(
                f"this cluster has no cluster ID execute can read (ClusterVersion version is missing or not readable), "
                f"so it cannot be identified as cluster {bound.cluster_id}; give execute's account read access to "
                "clusterversions (config.openshift.io), or run it against the cluster the plan was made for",
                EXIT_WRONG_CLUSTER,
            )
        if live_id != bound.cluster_id:
            raise PrunePlanError(
                f"the plan was made for cluster ID {bound.cluster_id}, but this cluster's ID is {live_id}; "
                "check --kubeconfig and --context, or make a plan from a dump of this cluster",
                EXIT_WRONG_CLUSTER,
            )
        return f"cluster ID {live_id} (as in the plan)"
    planned, live = shown_url(bound.api_server), shown_url(live_url)
    if same_server_key(planned) == same_server_key(live):
        return f"API server {live} (as in the plan, whose dump has no cluster ID)"
    for alias in aliases:
        if same_server_key(alias) == same_server_key(planned):
            return f"API server {live}, the plan's {planned} by --api-server-alias (the plan's dump has no cluster ID)"
    raise PrunePlanError(
        f"the plan was made for the API server at {planned} and its dump has no cluster ID, but this is {live}; "
        f"if both are the same API server, add --api-server-alias {planned}",
        EXIT_WRONG_CLUSTER,
    )
