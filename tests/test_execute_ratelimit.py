"""execute's request rate limits (--max-requests-per-second for the registry,
--max-api-requests-per-second for the API server) and the API side's Retry-After."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from clirunner import run_cli
from execute_env import load, make_env
from execute_world import build_world
from fakeapi import FakeAPI
from registry_harness import FrontProxy, RegistryServer

from pruneplan.execute.ratelimit import RateLimiter
from pruneplan.execute.retryafter import parse_retry_after

NO_REGISTRY = "--prune-registry=false"
KEEP = ("--keep-tag-revisions=2", "--keep-younger-than=1h")
IMAGES = "/apis/image.openshift.io/v1/images/"


# --- the limiter, on a fake clock ---------------------------------------------------------------


class FakeClock:
    """A clock that moves only when someone sleeps (or the test advances it)."""

    def __init__(self, start: float = 100.0, *, sleeping_moves_it: bool = True) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.sleeping_moves_it = sleeping_moves_it
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if self.sleeping_moves_it:
                self.now += seconds


def test_limiter_spaces_requests_from_many_threads_to_the_rate():
    # the clock stands still: every request's wait is exactly its place in the queue
    clock = FakeClock(sleeping_moves_it=False)
    limiter = RateLimiter(20.0, clock=clock, sleep=clock.sleep)
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 40 requests: the first goes at once, the others 1/20 s apart, none sharing a slot
    assert sorted(clock.sleeps) == pytest.approx([k / 20.0 for k in range(1, 40)])


def test_limiter_sends_at_once_after_a_pause_and_saves_up_no_burst():
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(3):
        limiter.acquire()
        sent.append(clock())
    assert sent == pytest.approx([100.0, 100.25, 100.5])
    clock.now += 10.0  # idle: no credit is saved for later
    for _ in range(3):
        limiter.acquire()
        sent.append(clock())
    assert sent[3:] == pytest.approx([110.5, 110.75, 111.0])


def test_limiter_refuses_a_rate_that_is_not_above_zero():
    for rate in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            RateLimiter(rate)


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 12, 6, 9, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7", lambda: now) == 7.0
    assert parse_retry_after(" 120 ", lambda: now) == 120.0
    assert parse_retry_after("Sun, 06 Dec 2026 09:00:30 GMT", lambda: now) == 30.0
    assert parse_retry_after("Sun, 06 Dec 2026 08:59:00 GMT", lambda: now) == 0.0  # in the past: no wait
    for unreadable in (None, "", "soon", "-5", "1.5"):
        assert parse_retry_after(unreadable, lambda: now) is None


# --- the flags --------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--max-requests-per-second", "--max-api-requests-per-second"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "NaN", "inf", "abc", "", "0x10"])
def test_bad_rate_is_one_error_line_before_anything_is_read(env, tmp_path, flag, value):
    missing_plan = tmp_path / "no-such-plan.json"
    result = env.execute(missing_plan, "--confirm", f"{flag}={value}")
    assert result.code == 2
    assert result.out == ""
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith(f"error: {flag} must be a number"), result.err
    assert env.api.requests == []  # neither the plan nor the cluster was read


def test_help_names_both_limits_with_an_upper_case_placeholder():
    result = run_cli("execute", "--help")
    assert result.code == 0
    text = " ".join(result.out.split())
    assert "--max-requests-per-second N" in text
    assert "--max-api-requests-per-second N" in text
    assert "pruneplan execute plan.json --key review-key.pub --confirm --max-requests-per-second 20" in text


# --- against the fake API and the real registry -----------------------------------------------


def record_times(hooks: list, wanted) -> list[tuple[float, str, str]]:
    """(monotonic time, method, path) of every request `wanted` accepts, as the server receives it."""
    seen: list[tuple[float, str, str]] = []
    lock = threading.Lock()

    def hook(request) -> None:
        if wanted(request):
            with lock:
                seen.append((time.monotonic(), request.method, request.path))

    hooks.append(hook)
    return seen


def assert_no_faster_than(times: list[float], rate: float) -> None:
    times = sorted(times)
    assert len(times) >= 10, f"too few requests to tell a rate: {len(times)}"
    # evenly spaced sends take (n-1)/rate; a fifth off for the loopback's own jitter
    assert times[-1] - times[0] >= 0.8 * (len(times) - 1) / rate, times


def test_registry_rate_limit_spaces_every_registry_request_retries_included(tmp_path: Path):
    registry = RegistryServer(tmp_path / "registry").start()
    proxy = FrontProxy(registry)
    api = FakeAPI().start()
    try:
        world, objects = build_world(registry.api(), registry.host)
        api.add_all(objects)
        env = make_env(api, tmp_path)
        plan = env.plan(*KEEP)
        sent = record_times(proxy.hooks, lambda r: r.method == "DELETE")
        proxy.fail(r"/manifests/", 503, times=2, method="DELETE")  # the retries count against the limit too
        result = env.execute(plan, "--confirm", "--registry-url", proxy.url, "--num-workers", "8",
                             "--max-requests-per-second", "20")
        assert result.code == 0, result.err
        doc = load(plan)
        assert result.out.rstrip().splitlines()[-1] == f"Summary: {doc['summary']['text']}"
        assert_no_faster_than([t for t, _, _ in sent], 20.0)
        for name in ("A5", "A4", "A2", "W2", "W1", "M", "X"):  # what the plan keeps still pulls
            registry.api().assert_pulls(world.repos[name], world.digest(name))
    finally:
        api.stop()
        proxy.stop()
        registry.stop()


def test_api_rate_limit_spaces_the_runs_api_requests(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    sent = record_times(env.api.hooks, lambda r: r.method in ("PUT", "DELETE"))
    result = env.execute(plan, "--confirm", "--num-workers", "8", "--max-api-requests-per-second", "25")
    assert result.code == 0, result.err
    assert result.out.rstrip().splitlines()[-1] == f"Summary: {doc['summary']['text']}"
    assert_no_faster_than([t for t, _, _ in sent], 25.0)


def sent_twice(sent: list[tuple[float, str, str]]) -> list[float]:
    """The send times of the one path that was sent twice (the retried request)."""
    by_path: dict[str, list[float]] = {}
    for at, _, path in sent:
        by_path.setdefault(path, []).append(at)
    twice = [times for times in by_path.values() if len(times) == 2]
    assert len(twice) == 1, by_path
    return twice[0]


def test_api_retry_after_on_429_is_honoured(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    sent = record_times(env.api.hooks, lambda r: r.method == "DELETE" and r.path.startswith(IMAGES))
    env.api.fault(IMAGES, 429, times=1, method="DELETE", headers={"Retry-After": "1"})
    result = env.execute(plan, "--confirm")
    assert result.code == 0, result.err
    names = {i["metadata"]["name"] for i in env.api.objects("images")}
    assert not names & {d["name"] for d in doc["imageDeletions"]}
    retried = sent_twice(sent)
    # the server asked for a second; the backoff alone would have waited 0.2 s
    assert retried[1] - retried[0] >= 0.9


def test_api_retry_after_on_503_is_honoured_for_a_stream_update(env):
    plan = env.plan(NO_REGISTRY)
    sent = record_times(env.api.hooks, lambda r: r.method == "PUT")
    env.api.fault(r"/imagestreams/[^/]+/status$", 503, times=1, method="PUT", headers={"Retry-After": "1"})
    result = env.execute(plan, "--confirm", "--num-workers", "1")
    assert result.code == 0, result.err
    retried = sent_twice(sent)
    assert retried[1] - retried[0] >= 0.9
