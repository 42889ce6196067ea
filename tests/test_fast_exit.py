"""The `pruneplan` command ends an analysis with os._exit (pruneplan.exiting): nothing it prints
or writes may be lost on the way out, and its exit status is kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from builders import as_list, digest, image, stream, write_json
from clirunner import run_cli
from pruneplan import exiting

EXAMPLE_DUMP = Path(__file__).resolve().parent.parent / "fixtures" / "example-dump.json.gz"
NOW = "2026-06-01T00:00:00Z"


def console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pruneplan.cli", *args], capture_output=True, text=True, timeout=120)


def test_console_analyze_prints_every_line_and_writes_the_same_plan_as_in_process(tmp_path: Path) -> None:
    in_process = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "a.json"))
    assert in_process.code == 0
    assert not exiting._retained, "in-process runs retain nothing"

    done = console("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "b.json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == in_process.out
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


def test_only_a_command_that_retained_its_objects_skips_the_interpreter_shutdown(tmp_path: Path) -> None:
    analyzed = console_with_atexit_probe("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "plan.json"), "-q")
    assert analyzed.returncode == 0, analyzed.stderr
    assert "atexit handlers ran" not in analyzed.stderr
    # verify retains nothing: the normal shutdown runs the cleanups other commands rely on
    verified = console_with_atexit_probe("verify", str(tmp_path / "plan.json"), "--key", str(tmp_path / "missing.pub"))
    assert verified.returncode != 0
    assert verified.stderr.startswith("error: ")
    assert verified.stderr.splitlines()[-1] == "atexit handlers ran"


def test_console_analyze_with_its_helper_processes_matches_one_process(tmp_path: Path, monkeypatch) -> None:
    # 10,000 images in a gzip dump: the console command inflates in a forked process and writes
    # the plan with a forked writer; in-process, with forking ruled out, one process does all.
    from pruneplan.analyze.plan import writer as plan_output
    from pruneplan import rawlines

    dump = tmp_path / "dump.json.gz"
    made = subprocess.run([sys.executable, "-m", "benchmarks.generate", "--images", str(plan_output.PARALLEL_MIN_IMAGES),
                           "--seed", "3", "-o", str(dump)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)
    assert made.returncode == 0, made.stderr
    monkeypatch.setattr(rawlines, "fork_is_safe", lambda: False)
    monkeypatch.setattr(plan_output, "fork_is_safe", lambda: False)
    alone = run_cli("analyze", str(dump), "-o", str(tmp_path / "alone.json"))
    assert alone.code == 0, alone.err

    done = console("analyze", str(dump), "-o", str(tmp_path / "helped.json"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "helped.json").read_bytes() == (tmp_path / "alone.json").read_bytes()
    assert done.stdout == alone.out and done.stdout.count("\n") > 10_000
    assert done.stderr == alone.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alone.json", "dump.json.gz", "helped.json"]


def test_the_cyclic_gc_is_back_on_after_an_analysis_without_walking_what_it_built() -> None:
    import gc

    from pruneplan.analyze.gcpause import no_cyclic_gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with no_cyclic_gc():
        assert not gc.isenabled()
        built = [[n] for n in range(1000)]  # containers the collector tracks
    assert gc.isenabled()
    # frozen: the collector's next pass skips them (they are still freed by reference counting)
    assert gc.get_freeze_count() >= frozen + len(built)
    young = {id(obj) for obj in gc.get_objects(generation=0)}
    assert not any(id(obj) in young for obj in built)


def test_a_caller_that_paused_the_cyclic_gc_keeps_it_paused_and_unfrozen() -> None:
    import gc

    from pruneplan.analyze.gcpause import no_cyclic_gc

    gc.disable()
    try:
        frozen = gc.get_freeze_count()
        with no_cyclic_gc():
            built = [[n] for n in range(100)]
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen and len(built) == 100
    finally:
        gc.enable()


def test_the_analyze_command_pauses_the_cyclic_gc_before_it_imports_the_analysis(tmp_path: Path, monkeypatch) -> None:
    import gc
    import importlib.abc

    paused_at_import: list[bool] = []

    class Watch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):  # noqa: ANN001 - the finder protocol
            if name == "pruneplan.analyze.run":
                paused_at_import.append(not gc.isenabled())
            return None  # the usual finders import it

    monkeypatch.delitem(sys.modules, "pruneplan.analyze.run", raising=False)  # imported afresh by the command
    monkeypatch.setattr(sys, "meta_path", [Watch(), *sys.meta_path])
    done = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "plan.json"), "-q")
    assert done.code == 0
    assert paused_at_import == [True]  # its imports (networkx) made ~10 ms of collections
    assert gc.isenabled()
