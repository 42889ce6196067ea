"""RFC 3339 timestamps as float epoch seconds, with Go's zero time for "unset".

Kubernetes serialises times with second precision; upstream compares them with Go's
time.After/Before, where an absent timestamp is the zero time (year 1) and so is never after
any real threshold. Floats keep comparisons cheap for millions of objects.

A time is read as Go's time.Parse(time.RFC3339, s) reads it (metav1.Time does), and nothing else
is: no space for the `T`, no basic format (`20260101T000000Z`), no week date, no lower-case `z`.
"""

from __future__ import annotations

import email.utils
import re
import time
from datetime import datetime, timezone
from typing import Any

from .errors import FlagError
from .goduration import go_quote
from .jsonwords import json_type

# Go's time.Time{} (0001-01-01T00:00:00Z) as epoch seconds.
ZERO = datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()
_YEAR_10000 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp() + 1
LATEST = _YEAR_10000 - 1  # the last whole second RFC 3339 (four-digit years) can write
_DATES: dict[int, str] = {}  # days since 1970 -> "YYYY-MM-DDT"
_CLOCKS: dict[int, str] = {}  # seconds since midnight -> "HH:MM:SSZ" (at most a day's worth)
# What time.Parse(time.RFC3339, s) takes: its fast path the API's form, with any fraction and an
# offset ±hh:mm; its general parser, when that fails, also a one-digit hour, a comma before the
# fraction and offsets up to 24:60. Ranges are checked apart, as Go does.
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d?):(\d\d):(\d\d)(?:[.,](\d+))?(?:Z|([-+])(\d\d):(\d\d))", re.ASCII)
_fromisoformat = datetime.fromisoformat
_EPOCH_DAY = datetime(1970, 1, 1).toordinal()
_GREGORIAN_CYCLE = 146097  # days in 400 years: moves the year 0, which datetime cannot hold, to 400


class TimeError(ValueError):
    """A string that is not an RFC 3339 time, or one out of range: `reason` says which."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(f"{go_quote(value)}: {reason}")
        self.reason = reason


def parse_time(value: Any) -> float:
    """Parse an API timestamp; None or "" is the zero time. Raises ValueError when it is not an
    RFC 3339 time (as Go reads one) from the year 1 to 9999 in UTC."""
    # the API's own form, YYYY-MM-DDTHH:MM:SSZ (its separators are every third character from
    # the fifth): fromisoformat reads it 3x faster than the general path below
    try:
        if value[4::3] == "--T::Z" and len(value) == 20:
            return _fromisoformat(value).timestamp()
        # with microseconds, as a storage inventory writes its times: as fast, and as exact (the
        # last second of the year 9999, past the range, is worded below)
        if len(value) == 27 and value[4:20:3] == "--T::." and value[26] == "Z":
            seconds = _fromisoformat(value).timestamp()
            if seconds <= LATEST:
                return seconds
    except (TypeError, ValueError):  # not a string; out of range (a 30 February, the year 0): worded below
        pass
    if value is None or value == "":
        return ZERO
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC 3339 string, found {json_type(value)}")
    return _parse_rfc3339(value)


def _parse_rfc3339(value: str) -> float:
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise TimeError(value, "not an RFC 3339 time such as 2026-01-31T12:00:00Z")
    year, month, day, hour, minute, second, fraction, sign, zone_hour, zone_minute = match.groups()
    for text, low, high, name in ((month, 1, 12, "month"), (hour, 0, 23, "hour"), (minute, 0, 59, "minute"), (second, 0, 59, "second")):
        if not low <= int(text) <= high:
            raise TimeError(value, f"{name} out of range")
    if sign is not None and (int(zone_hour) > 24 or int(zone_minute) > 60):
        raise TimeError(value, "time zone offset out of range")
    try:
        days = datetime(int(year) or 400, int(month), int(day)).toordinal() - (0 if int(year) else _GREGORIAN_CYCLE) - _EPOCH_DAY
    except ValueError:
        raise TimeError(value, "day out of range") from None
    offset = 0 if sign is None else (int(zone_hour) * 60 + int(zone_minute)) * (60 if sign == "+" else -60)
    whole = days * 86400 + int(hour) * 3600 + int(minute) * 60 + int(second) - offset
    # one division of whole microseconds, as datetime.timestamp() makes it (fractions beyond them are cut)
    seconds = (whole * 1_000_000 + int((fraction or "0")[:6].ljust(6, "0"))) / 1_000_000
    if not ZERO <= seconds <= LATEST:
        raise TimeError(value, "out of range: times from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z are read")
    return seconds


def parse_user_time(value: str, flag: str) -> float:
    """Parse a timestamp given on the command line (e.g. --now) with a flag-style error."""
    try:
        seconds = parse_time(value)
    except TimeError as err:
        raise FlagError(f'invalid argument "{value}" for "{flag}" flag: {err.reason}') from None
    if seconds == ZERO:
        raise FlagError(f'invalid argument "{value}" for "{flag}" flag: a time is required')
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


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (a `Date` or `Retry-After` header, RFC 9110), as an aware UTC datetime; None
    when absent or unreadable."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, says RFC 5322
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
