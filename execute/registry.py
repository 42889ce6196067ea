"""The registry side of execute: find the registry, ping it, delete links and blobs
(docs/rules.md, "Registry calls and answers"; docs/registry.md).

- Host and trust: `determine_registry_host`, `decide_insecure`, `is_private_host` and the flag
  checks live in `registry_url.py`; the HTTP session and Go-style error wording in
  `registry_transport.py`. Both are re-exported here.
- `ping` picks the scheme and base URL like upstream's DefaultRegistryPinger (rules: ping).
- `RegistryClient` sends the three DELETEs (rules: the deletes) and judges answers (rules:
  answers). It never raises for a registry answer: it returns an `Outcome` (ok / notfound /
  error / deferred, message, attempts) for the journal.

Deviations from upstream, all documented in docs/registry.md: a base URL never ends in `/`
(upstream sends `//v2/...` for `--registry-url=https://host/`); every request has a timeout;
DELETEs do not follow redirects; transient failures (connection errors, timeouts, 429, 5xx) are
retried with exponential backoff; the "distribution" flavor leaves blobs to the registry's
offline garbage-collect instead of calling OpenShift's `/admin/blobs` endpoint.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

import requests

from pruneplan.errors import EXIT_FAILURE, PrunePlanError
from pruneplan.planmodel import DIGEST_RE, REPOSITORY_RE

from pruneplan.execute.ports import DEFERRED, ERROR, NOT_FOUND, OK, Outcome
from pruneplan.execute.ratelimit import RateLimiter
from pruneplan.execute.retryafter import parse_retry_after
from pruneplan.execute.registry_transport import DEFAULT_TIMEOUT, RegistrySession, describe_transport_error, make_session
from pruneplan.execute.registry_url import (
    decide_insecure,
    determine_registry_host,
    go_parse_url,
    GoURLError,
    is_private_host,
    validate_registry_flags,
    validate_registry_url,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Flavor",
    "RegistryClient",
    "RegistryOutcome",
    "RegistrySession",
    "aggregate_message",
    "decide_insecure",
    "describe_transport_error",
    "determine_registry_host",
    "is_private_host",
    "make_session",
    "ping",
    "validate_registry_flags",
    "validate_registry_url",
]

Flavor = Literal["openshift", "distribution"]

HINT_FORCE_INSECURE = "\n* Append --force-insecure if you really want to prune the registry using insecure connection."
HINT_TLS_WITHOUT_TLS = "\n* Are you trying to connect to a TLS-enabled registry without TLS?"
HINT_REGISTRY_URL = "\n* Please provide a reachable route to the integrated registry using --registry-url."
_UNREACHABLE = re.compile(r"(?:operation|connection) timed out|no such host")


def aggregate_message(messages: list[str]) -> str:
    """k8s utilerrors.Aggregate's Error(): one message alone, else `[a, b]`, duplicates once."""
    unique: list[str] = []
    for message in messages:
        if message not in unique:
            unique.append(message)
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _status_line(response: requests.Response) -> str:
    reason = response.reason
    if not reason:
        try:
            reason = HTTPStatus(response.status_code).phrase
        except ValueError:
            reason = ""
    return f"{response.status_code} {reason}".rstrip()


# --- ping (rules: ping) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Attempt:
    message: str
    retry_path: bool  # a non-200 answer: the next path may work


def _split_registry(registry: str) -> tuple[list[str], str]:
    """Schemes to try (explicit first) and the host part, as TryProtocolsWithRegistryURL does."""
    spec = registry if "://" in registry else "unset://" + registry
    try:
        url = go_parse_url(spec)
    except GoURLError as exc:
        raise PrunePlanError(f"failed to ping registry {registry}: {exc}", EXIT_FAILURE) from None
    host = url.host
    explicit = url.scheme if url.scheme and url.scheme != "unset" else None
    return ([explicit] if explicit else []), host


def ping(host: str, session: requests.Session, insecure: bool, registry_url_given: bool) -> str:
    """Find the registry's base URL (`scheme://host`, never a trailing `/`) or raise PrunePlanError.

    Paths `/` then `/healthz`; schemes: the explicit one only, else https, then http when
    insecure. A 200 wins. Non-200 answers let the next path be tried; when every failure for a
    path was a transport error, the ping stops there.
    """
    explicit, netloc = _split_registry(host)
    schemes = explicit or (["https", "http"] if insecure else ["https"])
    # Go dials the local system for an empty host (`:5000`); Python needs a name for it.
    dial_host = "localhost" + netloc if netloc.startswith(":") or not netloc else netloc
    messages: list[str] = []
    for path in ("/", "/healthz"):
        messages = []
        retry_path = False
        for scheme in schemes:
            attempt = _ping_once(session, f"{scheme}://{dial_host}{path}")
            if attempt is None:
                return f"{scheme}://{netloc}"
            messages.append(attempt.message)
            retry_path = retry_path or attempt.retry_path
            if scheme == "https" and "server gave HTTP response to HTTPS client" in attempt.message and not insecure:
                messages.append(HINT_FORCE_INSECURE)
            elif scheme == "http" and "malformed HTTP response" in attempt.message:
                messages.append(HINT_TLS_WITHOUT_TLS)
        if not retry_path:
            break
    err = aggregate_message(messages)
    if not registry_url_given and _UNREACHABLE.search(err):
        err += HINT_REGISTRY_URL
    raise PrunePlanError(f"failed to ping registry {host}: {err}", EXIT_FAILURE)


def _ping_once(session: requests.Session, url: str) -> _Attempt | None:
    try:
        response = session.get(url)
    except requests.RequestException as exc:
        return _Attempt(describe_transport_error(exc, "GET", url), retry_path=False)
    with response:
        if response.status_code == 200:
            return None
        return _Attempt(f"unexpected status: {_status_line(response)}", retry_path=True)


# --- deletes (rules: the deletes, answers) ------------------------------------------------------


@dataclass(slots=True)
class RegistryOutcome(Outcome):
    """An Outcome plus what the wire said, for the journal and for tests."""

    http_status: int | None = None
    url: str | None = None


# The same rules validate a plan's names on read (pruneplan.planmodel).
_REPO = REPOSITORY_RE
_DIGEST = DIGEST_RE


def _distribution_errors(body: bytes) -> str:
    """Decode an errcode.Errors document; its Error() text, or the decode failure."""
    if not body.strip():
        return "EOF"  # Go's json decoder on an empty body
    try:
        document = json.loads(body)
    except ValueError as exc:
        return str(exc)
    if not isinstance(document, dict):
        return f"json: cannot unmarshal {type(document).__name__} into Go value of type errcode.Errors"
    errors = document.get("errors") or []
    texts = []
    for item in errors if isinstance(errors, list) else []:
        item = item if isinstance(item, dict) else {}
        code = str(item.get("code") or "UNKNOWN").lower().replace("_", " ")
        message = str(item.get("message") or code)
        texts.append(f"{code}: {message}")
    if not texts:
        return "<nil>"  # upstream returns the empty list as an error; this is its text
    if len(texts) == 1:
        return texts[0]
    return "errors:\n" + "".join(text + "\n" for text in texts)


class RegistryClient:
    """DELETEs against one registry base URL. Thread-safe: it keeps no state between calls.

    `retries` is the number of extra attempts after a transient failure (so at most
    `retries + 1` requests per action); the n-th retry waits `backoff * 2**(n-1)` seconds
    (capped at `max_backoff`, with jitter), or the server's `Retry-After` up to `retry_after_cap`.
    `limiter`, shared by the workers, spaces every DELETE sent, retries included.
    """

    def __init__(
        self,
        base_url: str,
        session: requests.Session,
        flavor: Flavor = "openshift",
        retries: int = 4,
        backoff: float = 0.5,
        *,
        max_backoff: float = 30.0,
        retry_after_cap: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
    ) -> None:
        if flavor not in ("openshift", "distribution"):
            raise ValueError(f"unknown registry flavor {flavor!r}")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url.rstrip("/")  # never `//v2/`
        self.session = session
        self.flavor = flavor
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_after_cap = retry_after_cap
        self._sleep = sleep
        self._limiter = limiter

    def delete_layer_link(self, repo: str, digest: str) -> RegistryOutcome:
        """DELETE /v2/<repo>/blobs/<digest>: unlink a layer from one repository."""
        return self._delete_in_repo(repo, "blobs", digest)

    def delete_manifest_link(self, repo: str, digest: str) -> RegistryOutcome:
        """DELETE /v2/<repo>/manifests/<digest>: unlink a manifest (and its tags) from one repository."""
        return self._delete_in_repo(repo, "manifests", digest)

    def delete_blob(self, digest: str) -> RegistryOutcome:
        """Delete a blob from storage: OpenShift's DELETE /admin/blobs/<digest>; none on distribution."""
        if not _DIGEST.fullmatch(digest):
            return RegistryOutcome(ERROR, f"invalid digest {digest!r}", attempts=0)
        if self.flavor == "distribution":
            return RegistryOutcome(
                DEFERRED,
                "no blob endpoint on a distribution registry: the space is reclaimed by its offline "
                "garbage-collect (docker-registry garbage-collect) once nothing references the blob",
                attempts=0,
            )
        return self._delete(f"{self.base_url}/admin/blobs/{digest}")

    def _delete_in_repo(self, repo: str, kind: str, digest: str) -> RegistryOutcome:
        # The values come from a plan; refuse anything that could change the path's meaning.
        if not _REPO.fullmatch(repo):
            return RegistryOutcome(ERROR, f"invalid repository name {repo!r}", attempts=0)
        if not _DIGEST.fullmatch(digest):
            return RegistryOutcome(ERROR, f"invalid digest {digest!r}", attempts=0)
        return self._delete(f"{self.base_url}/v2/{repo}/{kind}/{digest}")

    def _delete(self, url: str) -> RegistryOutcome:
        # Our loop, not urllib3's Retry: the limiter must see every attempt, Retry-After is capped,
        # and the journal records the attempts (docs/execute.md, "Rate limits and Retry-After").
        attempts = 0
        retried = False
        while True:
            attempts += 1
            outcome, transient, wait = self._attempt(url)
            outcome.attempts = attempts
            if not transient or attempts > self.retries:
                if outcome.status == NOT_FOUND and retried:
                    # An earlier attempt may have done the delete before failing to answer.
                    outcome.message += " (after a retry: an earlier attempt may have deleted it)"
                return outcome
            retried = True
            self._sleep(self._delay(attempts, wait))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        delay = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return delay / 2 + random.uniform(0, delay / 2)  # jitter: N workers do not retry in step

    def _attempt(self, url: str) -> tuple[RegistryOutcome, bool, float | None]:
        """One DELETE: (outcome, transient?, Retry-After seconds)."""
        if self._limiter is not None:
            self._limiter.acquire()
        try:
            # Not following redirects: a 3xx would turn a DELETE into a GET elsewhere (the rules'
            # answers then judge the 3xx itself, as upstream does with a redirect it does not follow).
            response = self.session.delete(url, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            return RegistryOutcome(ERROR, describe_transport_error(exc, "DELETE", url), url=url), False, None
        except (requests.ConnectionError, requests.Timeout) as exc:
            return RegistryOutcome(ERROR, describe_transport_error(exc, "DELETE", url), url=url), True, None
        except requests.RequestException as exc:
            return RegistryOutcome(ERROR, describe_transport_error(exc, "DELETE", url), url=url), False, None
        with response:
            code = response.status_code
            try:
                body = response.content
            except requests.RequestException as exc:
                message = describe_transport_error(exc, "DELETE", url)
                return RegistryOutcome(ERROR, message, http_status=code, url=url), True, None
            if code == 404:
                return RegistryOutcome(NOT_FOUND, "not found (already gone)", http_status=code, url=url), False, None
            if code < 200 or code >= 400:
                transient = code == 429 or code >= 500
                wait = parse_retry_after(response.headers.get("Retry-After")) if transient else None
                return RegistryOutcome(ERROR, _status_line(response), http_status=code, url=url), transient, wait
            if code in (202, 204):
                return RegistryOutcome(OK, _status_line(response), http_status=code, url=url), False, None
            # Other 2xx and 3xx: upstream decodes an error document and fails either way.
            message = _distribution_errors(body)
            return RegistryOutcome(ERROR, message, http_status=code, url=url), False, None
