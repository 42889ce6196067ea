"""collect/background.py: a list's next page is fetched while the caller works on the one
before, never more than one ahead, with the iterator's errors raised in their place."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from pruneplan.collect.background import AHEAD, read_ahead, start

WAIT = 10.0  # seconds a test waits for a thread before it fails: a bound, not a measurement


def test_every_item_comes_through_in_order():
    assert list(read_ahead(iter(range(100)))) == list(range(100))
    assert list(read_ahead(iter([]))) == []


def test_the_next_item_is_fetched_while_the_caller_works_on_the_current_one():
    second_requested = threading.Event()

    def pages() -> Iterator[int]:
        yield 1
        second_requested.set()
        yield 2

    items = read_ahead(pages())
    assert next(items) == 1
    # the caller has not asked for item 2 yet: the fetch is already under way
    assert second_requested.wait(WAIT)
    assert list(items) == [2]


def test_never_more_than_two_items_are_fetched_ahead_of_the_one_the_caller_took():
    fetched: list[int] = []
    progress = threading.Condition()

    def pages() -> Iterator[int]:
        for n in range(10):
            with progress:
                fetched.append(n)
                progress.notify_all()
            yield n

    items = read_ahead(pages())
    for taken in range(10):
        assert next(items) == taken
        allowed = taken + 1 + AHEAD
        with progress:  # the fetcher does run ahead, as far as it may ...
            assert progress.wait_for(lambda: len(fetched) >= min(allowed, 10), WAIT)
            assert len(fetched) <= allowed  # ... and no further
    assert list(items) == []


def test_an_error_of_the_iterator_is_raised_where_its_item_would_have_been():
    def pages() -> Iterator[int]:
        yield 1
        raise ValueError("page 2 failed")

    items = read_ahead(pages())
    assert next(items) == 1
    with pytest.raises(ValueError, match="page 2 failed"):
        next(items)


def test_a_caller_that_stops_early_leaves_no_fetcher_thread_behind():
    def pages() -> Iterator[int]:
        n = 0
        while True:
            yield n
            n += 1

    items = read_ahead(pages(), name="pruneplan-test-read-ahead")
    assert next(items) == 0
    items.close()  # what a `for` loop left by an exception does
    fetchers = [t for t in threading.enumerate() if t.name == "pruneplan-test-read-ahead"]
    for thread in fetchers:
        thread.join(WAIT)
        assert not thread.is_alive()


def test_start_hands_back_the_result_or_the_exception():
    assert start(lambda: 42, "pruneplan-test-start").result(WAIT) == 42

    def fail() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no"):
        start(fail, "pruneplan-test-start").result(WAIT)
