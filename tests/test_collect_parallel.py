"""collect lists several kinds at once (--parallel-lists): the dump does not depend on it, the
lists do overlap, and a failure stops every list and leaves no dump."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clirunner import run_cli
from fakeapi import FakeAPI, LoggedRequest, sample_cluster

HTTP_DATE = "Sat, 28 Nov 2026 06:00:00 GMT"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def api():
    with FakeAPI(date=HTTP_DATE) as server:
        server.add_all(sample_cluster())
        yield server


class InFlight:
    """The most list requests the fake API was answering at the same moment."""

    def __init__(self, api: FakeAPI, delay: float) -> None:
        self.now = self.most = 0
        self._lock = threading.Lock()
        self._delay = delay
        api.hooks.append(self)

    def __call__(self, request: LoggedRequest) -> None:
        if request.method != "GET" or "limit" not in request.query:
            return
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(self._delay)
        with self._lock:
            self.now -= 1


def collect(kubeconfig: str, out: Path, *extra: str):
    return run_cli("collect", "-o", str(out), "--kubeconfig", kubeconfig, "--page-size", "2", *extra)


def test_the_dump_is_byte_identical_whatever_the_number_of_parallel_lists(api, kubeconfig, tmp_path):
    dumps = []
    for n in ("1", "3", "16"):
        out = tmp_path / f"dump-{n}.json.gz"
        result = collect(kubeconfig, out, "--parallel-lists", n)
        assert result.code == 0, result.err
        dumps.append(out.read_bytes())
    assert dumps[0] == dumps[1] == dumps[2]


def test_lists_of_different_kinds_overlap_with_parallel_lists_and_never_without(api, kubeconfig, tmp_path):
    inflight = InFlight(api, 0.05)
    assert collect(kubeconfig, tmp_path / "a.json.gz", "--parallel-lists", "4").code == 0
    assert 2 <= inflight.most <= 4
    inflight.most = 0
    assert collect(kubeconfig, tmp_path / "b.json.gz", "--parallel-lists", "1").code == 0
    assert inflight.most == 1


def test_a_failing_list_stops_the_others_and_leaves_no_dump(api, kubeconfig, tmp_path):
    InFlight(api, 0.02)
    api.fault(r"/apis/apps/v1/statefulsets$", 500, times=None)
    out = tmp_path / "dump.json.gz"
    result = collect(kubeconfig, out, "--parallel-lists", "4", "--page-size", "1")
    assert result.code != 0
    assert result.err.strip().splitlines()[-1].startswith("error: cannot list statefulsets:")
    assert not out.exists()
    # the three other lists running when it failed end at their next page: each sends at most the
    # page in flight when the failing answer arrived and one it asked for just before
    failed_at = max(i for i, r in enumerate(api.requests) if r.path.endswith("/statefulsets"))
    after = [r for r in api.requests[failed_at + 1:] if "limit" in r.query]
    assert len(after) <= 2 * 3
    pages_left = sum(len(api.objects(k)) for k in ("jobs", "cronjobs", "imagestreams", "images"))
    assert pages_left > 2 * 3  # so the bound above says the lists did stop


def test_when_two_lists_fail_the_error_names_the_earlier_kind_in_listing_order(api, kubeconfig, tmp_path):
    # replicationcontrollers come before statefulsets; make the later kind fail first in time
    api.fault(r"/apis/apps/v1/statefulsets$", 500, times=None)
    api.fault(r"/api/v1/replicationcontrollers$", 500, times=None, delay=0.3)
    result = collect(kubeconfig, tmp_path / "dump.json.gz", "--parallel-lists", "16")
    assert result.code != 0
    assert "cannot list replicationcontrollers:" in result.err
    assert "statefulsets" not in result.err


def test_parallel_lists_must_be_at_least_one(kubeconfig, tmp_path):
    result = collect(kubeconfig, tmp_path / "dump.json.gz", "--parallel-lists", "0")
    assert result.code == 2
    assert "--parallel-lists" in result.err


def test_a_failure_while_other_kinds_wait_their_turn_ends_the_run_and_names_the_failed_kind(api, kubeconfig, tmp_path):
    # one list at a time: images start first, every other kind waits in line when they fail
    api.fault(r"/apis/image.openshift.io/v1/images$", 500, times=None)
    out = tmp_path / "dump.json.gz"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pruneplan.cli", "collect", "-o", str(out), "--kubeconfig", kubeconfig,
         "--parallel-lists", "1"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith("error: cannot list images:")
    assert not out.exists()


def test_the_version_and_the_three_settings_are_requested_at_once(api, kubeconfig, tmp_path):
    # each of the four requests waits, in the fake, until all four have arrived: read one after
    # another, the first would wait alone until the barrier gives up
    barrier = threading.Barrier(4, timeout=10)
    alone: list[str] = []

    def all_four_together(request: LoggedRequest) -> None:
        if request.method == "GET" and "limit" not in request.query:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                alone.append(request.path)

    api.hooks.append(all_four_together)
    result = collect(kubeconfig, tmp_path / "dump.json.gz")
    assert result.code == 0, result.err
    assert alone == []


def test_when_the_version_and_a_setting_both_fail_the_version_is_the_one_named(api, kubeconfig, tmp_path):
    # the setting's failure arrives first; the version's says more about the server
    api.fault("/apis/config.openshift.io/v1/clusterversions/version", status=500, times=None, delay=0.5)
    api.fault("/apis/imageregistry.operator.openshift.io/v1/configs/cluster", status=500, times=None)
    result = collect(kubeconfig, tmp_path / "dump.json.gz")
    assert result.code != 0
    assert result.err_lines[0].startswith("error: cannot read clusterversions/version:"), result.err
