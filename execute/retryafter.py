"""The `Retry-After` header (RFC 9110): seconds or an HTTP date, read the same way for the API
server and the registry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from pruneplan.timefmt import parse_http_date


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_retry_after(value: str | None, now: Callable[[], datetime] = _utcnow) -> float | None:
    """Seconds to wait, or None when the header is absent or unreadable (the caller's backoff
    applies then). A date in the past means no wait."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, (when - now()).total_seconds())
