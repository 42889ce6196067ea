"""How every command writes its files (pruneplan/files.py), driven through the real CLI: never a
rename over something that is not a regular file, `-` for stdout, a command's own inputs refused,
related outputs put in place together and only once complete, signals and a failing stdout
reported on one line, bounded key reads.

Device nodes are made here, in a temporary folder, with mknod (the tests run as root); the
system's /dev is never written to.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from pruneplan.analyze.plan.closing import BANNER

from builders import as_dump, digest, image, stream, write_json
from clirunner import run_cli
from fakeapi import FakeAPI

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DUMP = REPO / "fixtures" / "example-dump.json.gz"
NOW = "2026-06-02T00:00:00Z"  # within the example plan's validity
NULL, FULL, ZERO = (1, 3), (1, 7), (1, 5)  # the character devices' major and minor numbers
TIMEOUT = 120


def device(path: Path, numbers: tuple[int, int]) -> Path:
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*numbers))
    return path


def is_device(path: Path) -> bool:
    return stat.S_ISCHR(os.lstat(path).st_mode)


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".pruneplan"))


def keygen(path: Path) -> Path:
    result = run_cli("keygen", str(path))
    assert result.code == 0, result.err
    return path


def analyze(out: Path | str, *flags: str) -> None:
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(out), "-q", *flags)
    assert result.code == 0, result.err


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    out = tmp_path / "plan.json"
    analyze(out)
    return out


def env(buffered: bool = True) -> dict[str, str]:
    """The child's environment: stdout buffered as by default (PYTHONUNBUFFERED unset), or not."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**base, "PYTHONPATH": str(REPO), **({} if buffered else {"PYTHONUNBUFFERED": "1"})}


def console(*args: str, stdout: int | None = subprocess.PIPE, buffered: bool = True, limit_memory: bool = False,
            file_size: int | None = None) -> subprocess.CompletedProcess[str]:
    """`python3 -m pruneplan.cli ARGS` in a child process."""

    def limits() -> None:
        if limit_memory:  # a read that never ends fails fast instead of taking the machine's memory
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        if file_size is not None:  # Python ignores SIGXFSZ: a larger write fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return subprocess.run(
        [sys.executable, "-m", "pruneplan.cli", *args], stdout=stdout, stderr=subprocess.PIPE, text=True,
        cwd=REPO, env=env(buffered), timeout=TIMEOUT, preexec_fn=limits,
    )


# -- never a rename over something that is not a regular file -----------------------------------


def test_analyze_writes_the_plan_into_a_null_device_and_leaves_the_node(tmp_path: Path) -> None:
    null = device(tmp_path / "null", NULL)
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(null), "-q")
    assert result.code == 0, result.err
    assert is_device(null)
    assert sorted(os.listdir(tmp_path)) == ["null"]


def test_analyze_signs_into_null_devices_for_the_plan_and_its_signature(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    null, null_sig = device(tmp_path / "null", NULL), device(tmp_path / "null.sig", NULL)
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(null), "-q", "--sign-key", str(key))
    assert result.code == 0, result.err
    assert is_device(null) and is_device(null_sig)
    assert temp_files(tmp_path) == []


def test_report_writes_into_a_null_device_and_leaves_the_node(plan: Path) -> None:
    null = device(plan.parent / "null", NULL)
    result = run_cli("report", str(plan), "-o", str(null))
    assert result.code == 0, result.err
    assert is_device(null)


def test_keygen_force_writes_the_private_key_into_a_device_and_the_public_key_beside_it(tmp_path: Path) -> None:
    null = device(tmp_path / "null", NULL)
    result = run_cli("keygen", str(null), "--force")
    assert result.code == 0, result.err
    assert is_device(null)
    assert (tmp_path / "null.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def test_a_full_device_output_is_a_one_line_error_with_exit_4_and_the_node_stays(tmp_path: Path) -> None:
    full = device(tmp_path / "full", FULL)
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(full), "-q")
    assert result.code == 4
    assert result.err_lines == [f"error: cannot write {full}: No space left on device"]
    assert is_device(full)


def test_analyze_writes_the_plan_into_a_fifo_for_its_reader(tmp_path: Path) -> None:
    expected = tmp_path / "plan.json"
    analyze(expected)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(fifo), "-q")
    reader.join(10)  # the writer has closed the FIFO: the reader has its end of file
    assert result.code == 0, result.err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received == [expected.read_bytes()]


def test_a_symlinked_output_replaces_the_file_it_names_and_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "plans" / "plan.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "current.json"
    link.symlink_to(target)
    analyze(link)
    assert link.is_symlink()
    assert json.loads(target.read_bytes())["apiVersion"] == "pruneplan.io/v1"


def test_a_descriptor_link_to_a_file_is_written_into_not_replaced(tmp_path: Path) -> None:
    captured = tmp_path / "captured.json"
    captured.write_text("earlier\n")
    inode = captured.stat().st_ino
    with open(captured, "r+b") as stdout:
        done = console("analyze", str(EXAMPLE_DUMP), "-o", "/proc/self/fd/1", "-q", stdout=stdout.fileno())
    assert done.returncode == 0, done.stderr
    assert captured.stat().st_ino == inode
    assert json.loads(captured.read_bytes())["apiVersion"] == "pruneplan.io/v1"


# -- `-` is stdout -------------------------------------------------------------------------------


def test_analyze_dash_writes_the_plan_to_stdout_without_the_dry_run_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = tmp_path / "expected.json"
    analyze(expected)
    monkeypatch.chdir(tmp_path)
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", "-")
    assert result.code == 0, result.err
    assert not (tmp_path / "-").exists()
    is_the_plan = result.out == expected.read_text()  # not compared in the assert: a diff of such texts takes minutes
    assert is_the_plan, result.out[:200]


def test_report_dash_writes_the_report_to_stdout(plan: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(plan.parent)
    result = run_cli("report", str(plan), "-o", "-")
    assert result.code == 0, result.err
    assert result.out.startswith("# ")
    assert not (plan.parent / "-").exists()


def test_analyze_dash_with_a_sign_key_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = keygen(tmp_path / "key")
    monkeypatch.chdir(tmp_path)
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", "-", "--sign-key", str(key))
    assert result.code == 2
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: --sign-key needs a plan file")
    assert result.out == ""
    assert sorted(os.listdir(tmp_path)) == ["key", "key.pub"]


def test_keygen_dash_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("keygen", "-")
    assert result.code == 2
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: keygen needs a file name")
    assert os.listdir(tmp_path) == []


# -- a command's own inputs are never written over ------------------------------------------------


def test_analyze_refuses_to_write_the_plan_over_its_dump(tmp_path: Path) -> None:
    dump = tmp_path / "dump.json.gz"
    dump.write_bytes(EXAMPLE_DUMP.read_bytes())
    result = run_cli("analyze", str(dump), "-o", str(dump), "-q")
    assert result.code == 4
    assert result.err_lines[-1] == f"error: refusing to write {dump}: it is one of this command's inputs"
    assert dump.read_bytes() == EXAMPLE_DUMP.read_bytes()
    assert temp_files(tmp_path) == []


def test_analyze_refuses_its_own_input_as_output_before_it_reads_anything(tmp_path: Path) -> None:
    dump = tmp_path / "broken.json"
    dump.write_bytes(b"not json at all")  # reading it would fail: the refusal comes first
    result = run_cli("analyze", str(dump), "-o", str(dump), "--now", "2026-01-01T00:00:00Z")
    assert (result.code, result.err_lines) == (4, [f"error: refusing to write {dump}: it is one of this command's inputs"])
    assert dump.read_bytes() == b"not json at all"


def test_analyze_refuses_to_write_the_plan_over_its_sign_key(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    before = key.read_bytes()
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(key), "-q", "--sign-key", str(key))
    assert result.code == 4
    assert result.err_lines[-1] == f"error: refusing to write {key}: it is one of this command's inputs"
    assert key.read_bytes() == before


def test_report_refuses_to_write_over_the_plan_it_reads(plan: Path) -> None:
    before = plan.read_bytes()
    result = run_cli("report", str(plan), "-o", str(plan))
    assert result.code == 4
    assert result.err_lines == [f"error: refusing to write {plan}: it is one of this command's inputs"]
    assert plan.read_bytes() == before


# -- artifacts replaced only when the new ones are complete ---------------------------------------


def test_a_bad_sign_key_leaves_the_earlier_signed_plan_and_signature_untouched(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    out = tmp_path / "plan.json"
    analyze(out, "--sign-key", str(key))
    plan_bytes, sig_bytes = out.read_bytes(), (tmp_path / "plan.json.sig").read_bytes()
    bad = tmp_path / "bad-key"
    bad.write_text("not a key\n")

    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(out), "--sign-key", str(bad))

    assert result.code == 14
    assert result.err_lines == [f"error: {bad} is not a PEM private key"]  # before the analysis: no notes
    assert out.read_bytes() == plan_bytes
    assert (tmp_path / "plan.json.sig").read_bytes() == sig_bytes


def test_a_signature_that_cannot_be_written_leaves_the_earlier_plan_untouched(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    out = tmp_path / "plan.json"
    out.write_text("earlier plan\n")
    (tmp_path / "plan.json.sig").mkdir()
    result = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(out), "-q", "--sign-key", str(key))
    assert result.code == 4
    assert result.err_lines[-1] == f"error: cannot write {out}.sig: Is a directory"
    assert out.read_text() == "earlier plan\n"
    assert temp_files(tmp_path) == []


def test_keygen_force_with_a_directory_as_public_key_replaces_neither_key(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    private = key.read_bytes()
    (tmp_path / "key.pub").unlink()
    (tmp_path / "key.pub").mkdir()
    result = run_cli("keygen", str(key), "--force")
    assert result.code == 4
    assert result.err_lines == [f"error: cannot write {key}.pub: Is a directory"]
    assert key.read_bytes() == private
    assert temp_files(tmp_path) == []


def test_a_full_temporary_file_is_named_in_the_error_and_removed(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    out.write_text("earlier plan\n")
    done = console("analyze", str(EXAMPLE_DUMP), "-o", str(out), "-q", file_size=64 * 1024)
    assert done.returncode == 4, done.stderr
    last = done.stderr.splitlines()[-1]
    assert re.fullmatch(rf"error: cannot write temporary file {re.escape(str(tmp_path))}/\.plan\.json\.[0-9a-f]+\.tmp: File too large", last), last
    assert out.read_text() == "earlier plan\n"
    assert temp_files(tmp_path) == []


def test_an_output_name_of_250_characters_is_written(tmp_path: Path) -> None:
    out = tmp_path / ("p" * 245 + ".json")
    analyze(out)
    assert json.loads(out.read_bytes())["apiVersion"] == "pruneplan.io/v1"
    assert temp_files(tmp_path) == []


# -- signals: one line, 130 / 143, no temporary file left ------------------------------------------

# Runs the CLI with its first rename paused: a signal then arrives while a temporary file is
# there, written but not yet in place.
PAUSE_PROBE = """
import os, sys, time
replace = os.replace
def paused(*args, **kwargs):
    if not paused.done:
        paused.done = True
        print("PAUSED", file=sys.stderr, flush=True)
        time.sleep(100)
    return replace(*args, **kwargs)
paused.done = False
os.replace = paused
from pruneplan.cli import console_main
sys.argv = ["pruneplan", *sys.argv[1:]]
console_main()
"""


def signalled_before_rename(signum: int, directory: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run the CLI, send `signum` before its first rename; the result and the temporary files
    there were at that moment."""
    child = subprocess.Popen([sys.executable, "-c", PAUSE_PROBE, *args], cwd=REPO, env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr is not None
        for line in child.stderr:
            if line == "PAUSED\n":
                break
        else:
            raise AssertionError("the command ended without renaming a file")
        during = temp_files(directory)
        child.send_signal(signum)
        stdout, stderr = child.communicate(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr), during


def command_for(name: str, tmp_path: Path) -> tuple[list[str], dict[Path, bytes]]:
    """The arguments of `name` writing into tmp_path, and the files it must leave as they are."""
    if name == "analyze":
        out = tmp_path / "plan.json"
        out.write_text("earlier plan\n")
        return ["analyze", str(EXAMPLE_DUMP), "-o", str(out)], {out: out.read_bytes()}
    if name == "report":
        plan = tmp_path / "plan.json"
        analyze(plan)
        report = tmp_path / "report.md"
        report.write_text("earlier report\n")
        return ["report", str(plan), "-o", str(report)], {report: report.read_bytes(), plan: plan.read_bytes()}
    key = keygen(tmp_path / "key")
    pub = tmp_path / "key.pub"
    return ["keygen", str(key), "--force"], {key: key.read_bytes(), pub: pub.read_bytes()}


@pytest.mark.parametrize("name", ["analyze", "report", "keygen"])
def test_sigterm_before_the_output_is_in_place_exits_143_with_one_line_and_leaves_no_temporary_file(name: str, tmp_path: Path) -> None:
    args, unchanged = command_for(name, tmp_path)
    done, during = signalled_before_rename(signal.SIGTERM, tmp_path, *args)
    assert during != [], "the signal did not come while a temporary file was open"
    assert done.returncode == 143
    assert done.stderr.splitlines()[-1:] == ["error: terminated"]
    assert "Traceback" not in done.stderr
    assert temp_files(tmp_path) == []
    assert {path: path.read_bytes() for path in unchanged} == unchanged


@pytest.mark.parametrize("name", ["analyze", "report", "keygen"])
def test_sigint_before_the_output_is_in_place_exits_130_with_one_line_and_leaves_no_temporary_file(name: str, tmp_path: Path) -> None:
    args, unchanged = command_for(name, tmp_path)
    done, during = signalled_before_rename(signal.SIGINT, tmp_path, *args)
    assert during != []
    assert done.returncode == 130
    assert done.stderr.splitlines()[-1:] == ["error: interrupted"]
    assert "Traceback" not in done.stderr
    assert temp_files(tmp_path) == []
    assert {path: path.read_bytes() for path in unchanged} == unchanged


# -- a stdout that fails ----------------------------------------------------------------------------


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_a_full_stdout_is_one_error_line_saying_the_plan_was_written(tmp_path: Path, buffered: bool) -> None:
    full = device(tmp_path / "full", FULL)
    out = tmp_path / "plan.json"
    with open(full, "wb") as stdout:
        done = console("analyze", str(EXAMPLE_DUMP), "-o", str(out), stdout=stdout.fileno(), buffered=buffered)
    assert done.returncode == 4
    errors = [line for line in done.stderr.splitlines() if not line.startswith(("warning: ", "imagestream ", "Dry run: "))]
    assert errors == [f"error: cannot print the dry-run lines to stdout: No space left on device (the plan was written to {out})"]
    assert json.loads(out.read_bytes())["apiVersion"] == "pruneplan.io/v1"


def test_keygen_with_a_full_stdout_is_one_error_line(tmp_path: Path) -> None:
    full = device(tmp_path / "full", FULL)
    with open(full, "wb") as stdout:
        done = console("keygen", str(tmp_path / "key"), stdout=stdout.fileno())
    assert done.returncode == 4
    assert done.stderr == "error: cannot print the key paths to stdout: No space left on device (the keys were written)\n"
    assert (tmp_path / "key").exists() and (tmp_path / "key.pub").exists()


@contextmanager
def closed_pipe() -> Iterator[int]:
    """The writing end of a pipe whose reader has gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        yield write
    finally:
        os.close(write)


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
def test_a_closed_stdout_pipe_ends_analyze_quietly(tmp_path: Path, buffered: bool) -> None:
    items = [image(digest(1), layers=[digest("l1")]), image(digest(2), layers=[digest("l2")]), stream("ns", "app", {"latest": [digest(1)]})]
    dump = write_json(tmp_path / "dump.json", as_dump(items))
    with closed_pipe() as stdout:
        done = console("analyze", str(dump), "-o", str(tmp_path / "plan.json"), stdout=stdout, buffered=buffered)
    # the banner (stderr) came before the dry-run lines failed; nothing after it
    assert (done.returncode, done.stderr) == (1, f"{BANNER}\n")
    assert json.loads((tmp_path / "plan.json").read_bytes())["apiVersion"] == "pruneplan.io/v1"


def test_a_closed_stdout_pipe_ends_verify_quietly(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    out = tmp_path / "plan.json"
    analyze(out, "--sign-key", str(key))
    with closed_pipe() as stdout:
        done = console("verify", str(out), "--key", f"{key}.pub", "--now", NOW, stdout=stdout)
    assert (done.returncode, done.stderr) == (1, "")


# -- key and signature files are read up to a limit --------------------------------------------------


def test_verify_refuses_an_endless_key_file(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    out = tmp_path / "plan.json"
    analyze(out, "--sign-key", str(key))
    zero = device(tmp_path / "zero", ZERO)
    done = console("verify", str(out), "--key", str(zero), limit_memory=True)
    assert done.returncode == 14
    assert done.stderr == f"error: key file {zero} is larger than 64 KiB: not a PEM key\n"


def test_analyze_refuses_an_endless_sign_key_before_the_analysis(tmp_path: Path) -> None:
    zero = device(tmp_path / "zero", ZERO)
    done = console("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "plan.json"), "--sign-key", str(zero), limit_memory=True)
    assert done.returncode == 14
    assert done.stderr == f"error: private key {zero} is larger than 64 KiB: not a PEM key\n"
    assert not (tmp_path / "plan.json").exists()


def test_verify_refuses_an_endless_signature_file(tmp_path: Path) -> None:
    key = keygen(tmp_path / "key")
    out = tmp_path / "plan.json"
    analyze(out, "--sign-key", str(key))
    zero = device(tmp_path / "zero", ZERO)
    done = console("verify", str(out), "--key", f"{key}.pub", "--signature", str(zero), limit_memory=True)
    assert done.returncode == 11
    assert done.stderr == f"error: signature file {zero} is larger than 64 KiB: not a signature\n"


# -- collect ---------------------------------------------------------------------------------------------


# the api (the sample cluster) and kubeconfig fixtures are conftest's


def test_collect_writes_the_dump_into_a_null_device_and_leaves_the_node(kubeconfig: str, tmp_path: Path) -> None:
    null = device(tmp_path / "null", NULL)
    result = run_cli("collect", "-o", str(null), "--kubeconfig", kubeconfig)
    assert result.code == 0, result.err
    assert is_device(null)
    assert temp_files(tmp_path) == []


def test_collect_dash_writes_the_dump_to_stdout(api: FakeAPI, kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("collect", "-o", "-", "--kubeconfig", kubeconfig)
    assert result.code == 0, result.err
    assert json.loads(result.out)["header"]["counts"]["pods"] == len(api.objects("pods"))
    assert not (tmp_path / "-").exists()


def test_collect_refuses_to_write_the_dump_over_its_kubeconfig(api: FakeAPI, kubeconfig: str) -> None:
    before = Path(kubeconfig).read_bytes()
    result = run_cli("collect", "-o", kubeconfig, "--kubeconfig", kubeconfig)
    assert result.code == 4
    assert result.err_lines == [f"error: refusing to write {kubeconfig}: it is one of this command's inputs"]
    assert Path(kubeconfig).read_bytes() == before
    assert not api.requests


def test_collect_dash_with_redact_is_a_usage_error(kubeconfig: str, api: FakeAPI) -> None:
    result = run_cli("collect", "-o", "-", "--redact", "--kubeconfig", kubeconfig)
    assert result.code == 2
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: --redact needs a dump file")
    assert not api.requests


def test_a_full_collect_spool_is_named_in_the_error_and_no_dump_is_left(kubeconfig: str, tmp_path: Path) -> None:
    out = tmp_path / "dump.json"
    done = console("collect", "-o", str(out), "--kubeconfig", kubeconfig, file_size=2048)
    assert done.returncode == 4, done.stderr
    assert done.stderr == f"error: cannot write a temporary spool file in {tmp_path}: File too large\n"
    assert not out.exists()
    assert temp_files(tmp_path) == []


def test_when_one_rename_of_related_outputs_fails_the_ones_already_in_place_are_removed(tmp_path: Path) -> None:
    from pruneplan.errors import PrunePlanError
    from pruneplan.files import outputs

    plan, signature = tmp_path / "plan.json", tmp_path / "plan.json.sig"
    with pytest.raises(PrunePlanError) as failure:
        with outputs() as pair:
            pair.open(str(plan), 0o644, replace=True).write(b"plan")
            pair.open(str(signature), 0o644, replace=True).write(b"signature")
            signature.mkdir()  # its place is taken while both are written: its rename fails
            (signature / "kept").write_text("")
    assert str(failure.value).startswith(f"cannot write {signature}: ")
    assert not plan.exists(), "a plan without its signature is not left in place"
    assert temp_files(tmp_path) == []
