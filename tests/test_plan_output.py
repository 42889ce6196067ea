"""Writing the plan on two cores (analyze/plan/writer.py) gives the same file and the same
dry-run lines as writing it in one process; a failed write leaves nothing behind."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from pruneplan.analyze.plan import writer as plan_output
from pruneplan.analyze.plan.entries import build_plan, dry_run_lines
from pruneplan.analyze.run import AnalyzeRequest, decide
from pruneplan.errors import PrunePlanError
from pruneplan.planformat import dump_plan

EXAMPLE_DUMP = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"


@pytest.fixture(scope="module")
def decided():
    analysis, loaded, _, valid_for = decide(AnalyzeRequest(inputs=[str(EXAMPLE_DUMP)], output="unused", release_raw=False))
    return analysis, loaded, valid_for


@pytest.mark.parametrize("parallel", [False, True])
def test_plan_file_and_dry_run_lines_are_the_same_in_one_or_two_processes(decided, tmp_path: Path, parallel: bool) -> None:
    analysis, loaded, valid_for = decided
    plan = build_plan(analysis, loaded, valid_for)
    assert plan["summary"]["deletedBlobs"] > 0 and plan["summary"]["updatedImageStreams"] > 0
    out = tmp_path / "plan.json"
    dry_run = plan_output.write_plan(str(out), analysis, loaded, valid_for, parallel=parallel)
    assert out.read_bytes() == dump_plan(plan)
    printed = io.StringIO()
    dry_run.print_to(printed)
    assert printed.getvalue() == "\n".join(dry_run_lines(analysis, plan["summary"])) + "\n"
    assert sorted(os.listdir(tmp_path)) == ["plan.json"], "no part or temporary file is left"


def test_quiet_two_process_write_prints_nothing(decided, tmp_path: Path) -> None:
    analysis, loaded, valid_for = decided
    dry_run = plan_output.write_plan(str(tmp_path / "p.json"), analysis, loaded, valid_for, dry_run=False, parallel=True)
    printed = io.StringIO()
    dry_run.print_to(printed)
    assert printed.getvalue() == ""


def test_a_failing_writer_process_fails_the_write_and_leaves_no_file(decided, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    analysis, loaded, valid_for = decided

    def broken_child(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plan_output, "_child_work", broken_child)
    with pytest.raises(PrunePlanError) as failure:
        plan_output.write_plan(str(tmp_path / "plan.json"), analysis, loaded, valid_for, parallel=True)
    assert failure.value.message == "cannot write the plan: No space left on device"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("threshold, forks", [(10**9, 0), (1, 1)])
def test_only_analyses_of_enough_images_are_written_by_two_processes(
    decided, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int, forks: int
) -> None:
    analysis, loaded, valid_for = decided
    calls: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        calls.append(1)
        return real_fork()

    monkeypatch.setattr(plan_output, "PARALLEL_MIN_IMAGES", threshold)
    monkeypatch.setattr(os, "fork", counting_fork)
    plan_output.write_plan(str(tmp_path / "plan.json"), analysis, loaded, valid_for)
    assert len(calls) == forks


@pytest.mark.parametrize("target", ["file", "pipe"])
def test_spooled_dry_run_lines_reach_a_real_stdout_in_order(tmp_path: Path, target: str) -> None:
    """Spools are copied by the kernel (sendfile) between the text the wrapper holds and the tail."""
    spool = plan_output.tempfile.TemporaryFile()
    spool.write("".join(f"Deleting blob sha256:{i:064x}\n" for i in range(50_000)).encode())
    dry_run = plan_output.DryRun(["head line"], [spool, iter(["made line\n"])], ["Summary: tail"])
    expected = "head line\n" + "".join(f"Deleting blob sha256:{i:064x}\n" for i in range(50_000)) + "made line\nSummary: tail\n"
    if target == "file":
        path = tmp_path / "stdout.txt"
        with open(path, "w") as out:
            dry_run.print_to(out)
        assert path.read_text() == expected
    else:
        read_end, write_end = os.pipe()
        received: list[bytes] = []
        def drain() -> None:
            with os.fdopen(read_end, "rb") as reader:
                received.append(reader.read())

        reader_thread = threading.Thread(target=drain)
        reader_thread.start()
        with os.fdopen(write_end, "w") as out:
            dry_run.print_to(out)
        reader_thread.join()
        assert received[0].decode() == expected


def _no_child_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_writer_process_is_reaped_once_the_plan_is_written(decided, tmp_path: Path) -> None:
    analysis, loaded, valid_for = decided
    plan_output.write_plan(str(tmp_path / "plan.json"), analysis, loaded, valid_for, parallel=True)
    assert _no_child_left()


def test_a_failing_own_part_still_reaps_the_writer_process(decided, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    analysis, loaded, valid_for = decided

    def broken_own_part(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plan_output, "_own_part", broken_own_part)
    with pytest.raises(PrunePlanError):
        plan_output.write_plan(str(tmp_path / "plan.json"), analysis, loaded, valid_for, parallel=True)
    assert _no_child_left()
    assert os.listdir(tmp_path) == []
