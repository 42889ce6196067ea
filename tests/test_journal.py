"""The execution journal: strict reading (a line read wrongly could skip a change the plan depends
on), repair of a torn last line any number of times, and no change sent that cannot be journalled.

A full file system is a real one: a 4 KiB tmpfs mounted by the test (the tests run as root, as
CI does)."""

from __future__ import annotations

import errno
import io
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import orjson
import pytest

from pruneplan.errors import EXIT_BAD_INPUT, EXIT_IO, PrunePlanError
from pruneplan.execute.journal import Journal, JournalError

PLAN = "a" * 64
HEADER = orjson.dumps({"journal": "pruneplan", "planSha256": PLAN}) + b"\n"


def record(key: str, status: str = "ok") -> bytes:
    return orjson.dumps({"key": key, "status": status, "message": "", "attempts": 1}) + b"\n"


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def full_fs(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 4 KiB file system: one page for file data, which a journal fills."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_journal_remembers_done_actions_across_runs(tmp_path):
    path = str(tmp_path / "j")
    first = Journal(path, PLAN)
    first.open()
    first.record("image sha256:1", "ok")
    first.record("blob sha256:2", "notfound")
    first.record("blob sha256:3", "error", "503 Service Unavailable")
    first.close()
    again = Journal(path, PLAN)
    assert again.is_done("image sha256:1") and again.is_done("blob sha256:2")
    assert not again.is_done("blob sha256:3"), "a failed action is retried by the next run"


def test_a_new_journal_starts_with_its_header_when_opened_before_any_record(tmp_path):
    path = tmp_path / "j"
    journal = Journal(str(path), PLAN)
    assert not path.exists(), "reading a missing journal creates nothing"
    journal.open()
    journal.close()
    [header] = lines(path)
    assert header["journal"] == "pruneplan" and header["planSha256"] == PLAN
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_torn_last_line_is_cut_off_so_recovery_works_any_number_of_times(tmp_path):
    path = tmp_path / "j"
    for run in range(3):
        journal = Journal(str(path), PLAN)
        assert all(journal.is_done(f"image {n}") for n in range(run))
        journal.open()
        journal.record(f"image {run}", "ok")
        journal.close()
        with open(path, "ab") as handle:  # the crash: a record cut short
            handle.write(b'{"key": "image torn", "sta')
    resumed = Journal(str(path), PLAN)
    assert all(resumed.is_done(f"image {n}") for n in range(3)) and not resumed.is_done("image torn")
    resumed.open()
    resumed.close()
    assert [entry.get("key") for entry in lines(path)] == [None, "image 0", "image 1", "image 2"]


def test_a_record_complete_but_for_its_newline_counts_and_the_next_starts_a_line(tmp_path):
    path = tmp_path / "j"
    path.write_bytes(HEADER + record("image 1").rstrip(b"\n"))
    journal = Journal(str(path), PLAN)
    assert journal.is_done("image 1")
    journal.open()
    journal.record("image 2", "ok")
    journal.close()
    assert [entry.get("key") for entry in lines(path)] == [None, "image 1", "image 2"]


@pytest.mark.parametrize("content", [
    b"\n" + HEADER + record("stream ns/app"),  # a blank first line used to skip the plan check
    record("stream ns/app"),  # no header at all
    b'{"journal": "pruneplan", "planSha2',  # a header cut short: nothing binds it to a plan
    b"[]\n",
])
def test_a_journal_that_does_not_start_with_this_plans_header_is_refused(tmp_path, content):
    path = tmp_path / "j"
    path.write_bytes(content)
    with pytest.raises(PrunePlanError) as refused:
        Journal(str(path), PLAN)
    assert refused.value.exit_code == EXIT_BAD_INPUT
    assert str(path) in str(refused.value)


@pytest.mark.parametrize("line", [b"[]", b"5", b'"ok"', b'{"status": "ok"}', b'{"key": 5, "status": "ok"}',
                                  b'{"key": "image 1"}', b"", b"not json"])
def test_a_line_that_is_not_a_record_is_refused_as_corrupt(tmp_path, line):
    path = tmp_path / "j"
    path.write_bytes(HEADER + line + b"\n" + record("image 2"))
    with pytest.raises(PrunePlanError, match="corrupt at line 2") as refused:
        Journal(str(path), PLAN)
    assert refused.value.exit_code == EXIT_BAD_INPUT


def test_journal_of_another_plan_is_refused(tmp_path):
    path = str(tmp_path / "j")
    other = Journal(path, "b" * 64)
    other.open()
    other.close()
    with pytest.raises(PrunePlanError, match="belongs to plan b{64}"):
        Journal(path, PLAN)


def test_a_journal_reached_through_a_symbolic_link_is_refused(tmp_path):
    target = tmp_path / "real"
    target.write_bytes(HEADER)
    link = tmp_path / "j"
    link.symlink_to(target)
    with pytest.raises(JournalError, match="symbolic link") as refused:
        Journal(str(link), PLAN)
    assert refused.value.exit_code == EXIT_IO
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(JournalError, match="symbolic link"):
        Journal(str(dangling), PLAN).open()
    assert not (tmp_path / "nowhere").exists()


def test_a_journal_in_a_missing_folder_cannot_be_opened(tmp_path):
    journal = Journal(str(tmp_path / "missing" / "j"), PLAN)
    with pytest.raises(JournalError, match="cannot write journal .*No such file or directory") as refused:
        journal.open()
    assert refused.value.exit_code == EXIT_IO


def test_a_journal_in_use_by_another_run_cannot_be_opened(tmp_path):
    path = str(tmp_path / "j")
    first = Journal(path, PLAN)
    first.open()
    try:
        with pytest.raises(JournalError, match="in use by another run"):
            Journal(path, PLAN).open()
    finally:
        first.close()


def test_a_header_that_cannot_be_written_leaves_no_journal_behind(full_fs):
    (full_fs / "filler").write_bytes(b"x" * 4096)
    journal = Journal(str(full_fs / "j"), PLAN)
    with pytest.raises(JournalError, match="No space left on device"):
        journal.open()
    assert not (full_fs / "j").exists()


def _cluster_of(images: int) -> tuple[list[dict], str]:
    from builders import digest, image, stream

    names = [digest(n) for n in range(images)]
    objects = [image(name, layers=[digest(f"layer{n}")]) for n, name in enumerate(names)]
    return [*objects, stream("ns", "app", {"latest": names})], names[0]


def test_an_outcome_that_cannot_be_journalled_stops_the_executor_before_its_next_call(tmp_path, full_fs):
    """The journal fills its file system's one page mid-run: the call whose outcome could not be
    written is the last one sent, and the run ends with the journal's error."""
    from builders import as_list, write_json
    from clirunner import run_cli
    from fakeports import Calls, FakeApi, FakeRegistry
    from pruneplan.analyze.decisions.engine import analyze
    from pruneplan.analyze.decisions.inputs import load_inputs
    from pruneplan.execute.runner import Executor
    from pruneplan.planmodel import Plan
    from pruneplan.timefmt import parse_time

    now = "2026-06-01T00:00:00Z"
    objects, _ = _cluster_of(60)
    source = write_json(tmp_path / "cluster.json", as_list(objects))
    plan_path = tmp_path / "plan.json"
    assert run_cli("analyze", str(source), "-o", str(plan_path), "--now", now, "--keep-tag-revisions=1").code == 0
    plan = Plan.from_bytes(plan_path.read_bytes())
    fresh = analyze(load_inputs([str(source)]), plan.policy.to_policy().with_now(parse_time(now)))
    calls = Calls()
    journal = Journal(str(full_fs / "j"), PLAN)
    executor = Executor(FakeApi(objects, {}, calls), FakeRegistry({}, calls), journal, io.StringIO(),
                        confirm=True, prune_registry=True, workers=1)
    with pytest.raises(JournalError, match="No space left on device; no further change was sent") as stopped:
        executor.run(plan, fresh)
    journal.close()
    sent = calls.writes()
    journalled = [entry for entry in _readable_records(full_fs / "j")]
    planned = len(plan.layer_link_deletions) + len(plan.manifest_link_deletions) + len(plan.blob_deletions)
    assert 0 < len(journalled) < len(sent) < planned, "the journal filled up mid-run"
    assert len(sent) == len(journalled) + 1, "one call after the last journalled outcome: the one not journalled"
    unjournalled = re.search(r"the outcome of (.+?) is not journalled", str(stopped.value))
    assert unjournalled and unjournalled[1] not in {entry["key"] for entry in journalled}


def _readable_records(path: Path) -> list[dict]:
    """The journal's whole records (its last line may be cut short by the full disk)."""
    records = []
    for line in path.read_bytes().split(b"\n")[1:]:
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            break
    return records


def test_a_journal_filled_mid_run_resumes_after_space_is_freed(tmp_path, full_fs):
    """After the stop, the journal is whole but for a torn last line: freeing space and running
    again finishes the plan."""
    path = full_fs / "j"
    journal = Journal(str(path), PLAN)
    journal.open()
    written = 0
    with pytest.raises(JournalError):
        while True:
            journal.record(f"blob {written}", "ok")
            written += 1
    journal.close()
    assert os.path.getsize(path) == 4096
    with open(path, "rb+") as handle:  # what a bigger disk, or a copy elsewhere, would hold
        data = handle.read()
    moved = tmp_path / "j"
    moved.write_bytes(data)
    resumed = Journal(str(moved), PLAN)
    assert all(resumed.is_done(f"blob {n}") for n in range(written))
    resumed.open()
    resumed.record("blob last", "ok")
    resumed.close()
    assert Journal(str(moved), PLAN).is_done("blob last")


class Flushes:
    """The journal's flush seam (`sync`): fsyncs for real and, once armed, counts the flushes and
    remembers how much of the file each one covered. `hold` makes the first counted flush wait
    until `hold` records are appended (so that writers pile up behind it); `fail` makes the
    counted flush of that number raise EIO instead."""

    def __init__(self, path: Path, hold: int = 0, fail: int = 0, *, armed: bool = False) -> None:
        self.path = path
        self.hold = hold
        self.fail = fail
        self.armed = armed
        self.covered: list[int] = []  # file sizes covered by the completed flushes, in order
        self.calls = 0
        self._lock = threading.Lock()

    def records_appended(self) -> int:
        return max(0, self.path.read_bytes().count(b"\n") - 1)

    def __call__(self, fd: int) -> None:
        if not self.armed:
            os.fsync(fd)
            return
        with self._lock:
            self.calls += 1
            number = self.calls
        if number == 1 and self.hold:
            waited = 0
            while self.records_appended() < self.hold:  # a guard against a hang, not a timing
                assert waited < 60_000, "the other writers never appended their records"
                time.sleep(0.001)
                waited += 1
        if number == self.fail:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        size = os.fstat(fd).st_size
        os.fsync(fd)
        with self._lock:
            self.covered.append(size)

    def durable(self) -> int:
        with self._lock:
            return max(self.covered, default=0)


def _opened(path: Path, flushes: Flushes) -> Journal:
    journal = Journal(str(path), PLAN, sync=flushes)
    journal.open()
    flushes.armed = True  # the header's flush is not counted
    return journal


def _at_once(count: int, work) -> list[BaseException | None]:
    """Run work(n) in `count` threads started together; what each raised (None: nothing)."""
    start = threading.Barrier(count)
    raised: list[BaseException | None] = [None] * count

    def run(n: int) -> None:
        start.wait()
        try:
            work(n)
        except BaseException as err:  # reported to the test thread
            raised[n] = err

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return raised


def test_many_writers_at_once_journal_every_record_once_each_on_disk_before_it_returns(tmp_path):
    path = tmp_path / "j"
    flushes = Flushes(path)
    journal = _opened(path, flushes)
    uncovered: list[str] = []

    def work(n: int) -> None:
        for i in range(25):
            key = f"blob {n}.{i}"
            journal.record(key, "ok")
            data = path.read_bytes()
            end = data.index(orjson.dumps(key)) + data[data.index(orjson.dumps(key)):].index(b"\n") + 1
            if end > flushes.durable():
                uncovered.append(key)

    assert _at_once(16, work) == [None] * 16
    journal.close()
    assert uncovered == [], "record() returned before a flush covered its line"
    keys = [entry["key"] for entry in lines(path)[1:]]
    assert sorted(keys) == sorted(f"blob {n}.{i}" for n in range(16) for i in range(25))
    assert len(set(keys)) == len(keys)
    again = Journal(str(path), PLAN)
    assert all(again.is_done(key) for key in keys)


def test_writers_at_the_same_time_share_one_fsync(tmp_path):
    path = tmp_path / "j"
    flushes = Flushes(path, hold=8)
    journal = _opened(path, flushes)
    assert _at_once(8, lambda n: journal.record(f"image {n}", "ok")) == [None] * 8
    journal.close()
    assert flushes.calls <= 2, "the first flush and, at most, one more for the records appended during it"
    assert flushes.durable() == path.stat().st_size
    assert all(Journal(str(path), PLAN).is_done(f"image {n}") for n in range(8))


def test_a_failing_fsync_fails_every_writer_waiting_on_it_and_every_later_record(tmp_path):
    path = tmp_path / "j"
    flushes = Flushes(path, hold=8, fail=1)
    journal = _opened(path, flushes)
    raised = _at_once(8, lambda n: journal.record(f"image {n}", "ok"))
    assert all(isinstance(err, JournalError) for err in raised), raised
    assert all(err.exit_code == EXIT_IO and "Input/output error; no further change was sent" in str(err)
               for err in raised if isinstance(err, JournalError))
    assert not any(journal.is_done(f"image {n}") for n in range(8)), "nothing is done that was not on disk"
    with pytest.raises(JournalError, match="Input/output error"):
        journal.record("image 9", "ok")
    journal.close()
    assert flushes.calls == 1, "no flush after the failed one"


def _planned_run(tmp_path: Path, images: int):
    from builders import as_list, write_json
    from clirunner import run_cli
    from pruneplan.analyze.decisions.engine import analyze
    from pruneplan.analyze.decisions.inputs import load_inputs
    from pruneplan.planmodel import Plan
    from pruneplan.timefmt import parse_time

    now = "2026-06-01T00:00:00Z"
    objects, _ = _cluster_of(images)
    source = write_json(tmp_path / "cluster.json", as_list(objects))
    plan_path = tmp_path / "plan.json"
    assert run_cli("analyze", str(source), "-o", str(plan_path), "--now", now, "--keep-tag-revisions=1").code == 0
    plan = Plan.from_bytes(plan_path.read_bytes())
    fresh = analyze(load_inputs([str(source)]), plan.policy.to_policy().with_now(parse_time(now)))
    return objects, plan, fresh


def test_a_failing_fsync_stops_every_worker_before_its_next_call(tmp_path):
    """8 workers share the journal's flushes; the 5th flush of records fails: every worker stops,
    and no call starts after the failure (the ones in flight end, their outcomes not journalled)."""
    from fakeports import Calls, FakeApi, FakeRegistry
    from pruneplan.execute.runner import Executor

    workers = 8
    objects, plan, fresh = _planned_run(tmp_path, 60)
    calls = Calls()
    path = tmp_path / "j"
    sent_at_failure: list[int] = []

    class FailingFifth(Flushes):
        def __call__(self, fd: int) -> None:
            if self.calls + 1 == self.fail:
                sent_at_failure.append(len(calls.writes()))
            super().__call__(fd)

    flushes = FailingFifth(path, fail=6, armed=True)  # the header's flush, then five of records
    journal = Journal(str(path), PLAN, sync=flushes)  # opened by the run
    executor = Executor(FakeApi(objects, {}, calls), FakeRegistry({}, calls), journal, io.StringIO(),
                        confirm=True, prune_registry=True, workers=workers)
    with pytest.raises(JournalError, match="Input/output error; no further change was sent"):
        executor.run(plan, fresh)
    journal.close()
    planned = len(plan.layer_link_deletions) + len(plan.manifest_link_deletions) + len(plan.blob_deletions)
    sent = calls.writes()
    assert sent_at_failure and len(sent) < planned
    assert len(sent) <= sent_at_failure[0] + workers - 1, "only calls in flight when the flush failed were sent after it"
    assert flushes.calls == 6, "no flush after the failed one"


def test_a_journal_filled_mid_run_by_concurrent_workers_stops_them_all(tmp_path, full_fs):
    """The disk fills while 8 workers journal: the run ends with the journal's error, and every
    call sent but not journalled was in flight when the disk filled (one per worker at most)."""
    from fakeports import Calls, FakeApi, FakeRegistry
    from pruneplan.execute.runner import Executor

    workers = 8
    objects, plan, fresh = _planned_run(tmp_path, 60)
    calls = Calls()
    journal = Journal(str(full_fs / "j"), PLAN)
    executor = Executor(FakeApi(objects, {}, calls), FakeRegistry({}, calls), journal, io.StringIO(),
                        confirm=True, prune_registry=True, workers=workers)
    with pytest.raises(JournalError, match="No space left on device; no further change was sent"):
        executor.run(plan, fresh)
    journal.close()
    sent = calls.writes()
    journalled = _readable_records(full_fs / "j")
    planned = len(plan.layer_link_deletions) + len(plan.manifest_link_deletions) + len(plan.blob_deletions)
    assert 0 < len(journalled) < len(sent) < planned
    assert len(sent) - len(journalled) <= workers
    resumed = Journal(str(full_fs / "j"), PLAN)
    assert all(resumed.is_done(entry["key"]) for entry in journalled)
