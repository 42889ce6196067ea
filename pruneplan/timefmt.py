"""RFC 3339 timestamps as float epoch seconds, with Go's zero time for "unset".

Kubernetes serialises times with second precision; upstream compares them with Go's
time.After/Before, where an absent timestamp is the zero time (year 1) and so is never after
any real threshold. Floats keep comparisons cheap for millions of objects.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from .errors import PrunePlanError

# Go's time.Time{} (0001-01-01T00:00:00Z) as epoch seconds.
ZERO = datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()
_YEAR_10000 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp() + 1
LATEST = _YEAR_10000 - 1  # the last whole second RFC 3339 (four-digit years) can write
_DATES: dict[int, str] = {}  # days since 1970 -> "YYYY-MM-DDT"
_CLOCKS: dict[int, str] = {}  # seconds since midnight -> "HH:MM:SSZ" (at most a day's worth)


def parse_time(value: object) -> float:
    """Parse an API timestamp; None or "" is the zero time. Raises ValueError when malformed."""
    if value is None or value == "":
        return ZERO
    if not isinstance(value, str):
        raise ValueError(f"timestamp must be a string, not {type(value).__name__}")
    try:  # the API's own form, `...Z`, parses directly (3x faster than the general path below)
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is not None and value[-1] == "Z":
            return parsed.timestamp()
    except ValueError:
        pass
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return parsed.timestamp()


def parse_user_time(value: str, flag: str) -> float:
    """Parse a timestamp given on the command line (e.g. --now) with a flag-style error."""
    try:
        seconds = parse_time(value)
    except ValueError:
        raise PrunePlanError(
            f'invalid argument "{value}" for "{flag}" flag: expected an RFC 3339 time such as 2026-01-31T12:00:00Z'
        ) from None
    if seconds == ZERO:
        raise PrunePlanError(f'invalid argument "{value}" for "{flag}" flag: a time is required')
    return seconds


def format_time(seconds: float) -> str | None:
    """Format epoch seconds as RFC 3339 UTC (`...Z`), fractional seconds only when present."""
    if seconds == ZERO:
        return None
    if 0 <= seconds < _YEAR_10000 and seconds == int(seconds):
        # whole seconds since 1970, what the API gives: the date and the time of day each from
        # a cache of those seen (a plan formats a time per deleted image and removed item)
        day, second = divmod(int(seconds), 86400)
        date = _DATES.get(day)
        if date is None:
            start = time.gmtime(day * 86400)
            date = _DATES[day] = f"{start.tm_year:04d}-{start.tm_mon:02d}-{start.tm_mday:02d}T"
        clock = _CLOCKS.get(second)
        if clock is None:
            hour, rest = divmod(second, 3600)
            clock = _CLOCKS[second] = "%02d:%02d:%02dZ" % (hour, rest // 60, rest % 60)
        return date + clock
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    # four-digit years (strftime's %Y leaves years before 1000 unpadded), fraction only when present
    text = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"
