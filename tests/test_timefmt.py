"""Timestamps in the plan: RFC 3339 UTC with a Z, as the API writes them, and back."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pruneplan.timefmt import ZERO, format_time, parse_time

YEAR_10000 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp() + 1


def reference(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, int(YEAR_10000) - 1))
def test_whole_seconds_format_as_the_api_writes_them_and_parse_back(seconds):
    text = format_time(float(seconds))
    assert text == reference(seconds)
    assert parse_time(text) == seconds


# The year 9999's last second is left out: a float that far out holds about 30 us, so its
# fractions can round up into the year 10000, which RFC 3339 cannot write.
@settings(max_examples=300, deadline=None)
@given(st.integers(0, int(YEAR_10000) - 2), st.integers(1, 999_999))
def test_fractional_seconds_keep_their_microseconds(seconds, micros):
    value = seconds + micros / 1e6
    assert format_time(value) == reference(value)


def test_days_seen_before_and_edges_of_a_day():
    day = 1_780_185_600  # 2026-05-31T00:00:00Z
    assert [format_time(float(s)) for s in (day, day + 1, day + 86399, day + 86400)] == [
        "2026-05-31T00:00:00Z", "2026-05-31T00:00:01Z", "2026-05-31T23:59:59Z", "2026-06-01T00:00:00Z",
    ]
    assert format_time(0.0) == "1970-01-01T00:00:00Z"
    assert format_time(ZERO) is None
    assert format_time(-1.0) == "1969-12-31T23:59:59Z"


def test_years_before_1000_are_written_with_four_digits_and_parse_back():
    for text in ("0001-01-01T00:30:00Z", "0999-12-31T23:59:59Z", "0999-12-31T23:59:59.500000Z", "0100-02-28T12:00:00Z"):
        assert format_time(parse_time(text)) == text


@settings(max_examples=2000, deadline=None)
@given(st.integers(0, int(YEAR_10000) - 2), st.integers(0, 999_999))
def test_microsecond_times_parse_as_the_general_rfc3339_reader_parses_them(seconds, micros):
    from pruneplan.timefmt import _parse_rfc3339

    moment = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(microsecond=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert parse_time(text) == _parse_rfc3339(text)


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00.000000Z", "2026-12-06T09:58:11.48756xZ", "2026-12-06T24:58:11.487562Z",
                                  "9999-12-31T23:59:59.999999Z"])
def test_a_microsecond_time_that_is_not_one_is_refused_as_any_other(text):
    with pytest.raises(ValueError):
        parse_time(text)
