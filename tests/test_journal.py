"""The execution journal: strict reading (a line read wrongly could skip a change the plan depends
on), repair of a torn last line any number of times, and no change sent that cannot be journalled.

A full file system is a real one: a 4 KiB tmpfs mounted by the test (the tests run as root, as
CI does)."""

from __future__ import annotations

import io
import os
import re
import subprocess
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
