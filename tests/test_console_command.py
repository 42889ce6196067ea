"""The `pruneplan` console command (pruneplan.cli.console_main) prints, writes and exits as the
in-process CLI does, and ends through the interpreter's normal shutdown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from builders import as_list, digest, image, stream, write_json
from clirunner import run_cli

EXAMPLE_DUMP = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"
NOW = "2026-06-01T00:00:00Z"


def console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pruneplan.cli", *args], capture_output=True, text=True, timeout=120)


def test_console_analyze_prints_every_line_and_writes_the_same_plan_as_in_process(tmp_path: Path) -> None:
    in_process = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "a.json"))
    assert in_process.code == 0

    done = console("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "b.json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == in_process.out
    assert done.stderr == in_process.err.replace("a.json", "b.json")  # the closing block names the plan
    assert done.stdout.splitlines()[-1].startswith("Summary: deleted ")
    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "a.json").read_bytes()


def test_console_analyze_keeps_the_error_status_and_message_of_a_halted_stage_2(tmp_path: Path) -> None:
    items = [
        image(digest(1), layers=[digest("l1")]),
        image(digest(2), layers=[digest("l2")], metadata=None),
        stream("ns", "app", {"latest": [digest(1), digest(2)]}),
    ]
    dump = write_json(tmp_path / "in.json", as_list(items))
    done = console("analyze", str(dump), "-o", str(tmp_path / "plan.json"), "--now", NOW)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"error: image {digest(2)}: failed to read metadata for image {digest(2)}"
    assert done.stdout.splitlines()[-1].startswith("Summary: ")


def console_with_atexit_probe(*args: str) -> subprocess.CompletedProcess[str]:
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('atexit handlers ran', file=sys.stderr))\n"
        "from pruneplan.cli import console_main\n"
        f"sys.argv = ['pruneplan', *{list(args)!r}]\n"
        "console_main()\n"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)


def test_console_analyze_ends_through_the_normal_interpreter_shutdown(tmp_path: Path) -> None:
    analyzed = console_with_atexit_probe("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "plan.json"), "-q")
    assert analyzed.returncode == 0, analyzed.stderr
    assert analyzed.stderr.splitlines()[-1] == "atexit handlers ran"
    failed = console_with_atexit_probe("verify", str(tmp_path / "plan.json"), "--key", str(tmp_path / "missing.pub"))
    assert failed.returncode != 0
    assert failed.stderr.startswith("error: ")
    assert failed.stderr.splitlines()[-1] == "atexit handlers ran"
