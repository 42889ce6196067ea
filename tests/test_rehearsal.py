"""README.md, "Try it without a cluster": the fake API server started as the README says, loaded
with the bundled example, and the README's walk (keygen, collect, analyze, verify, report,
execute dry run) run line by line against it, each command exactly as written there."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Try it without a cluster"
READY_SECONDS = 120  # a bound on waiting for the server, not an assertion about its speed


def readme_blocks(section: str) -> list[list[str]]:
    """The shell commands of each ```sh block of a README section, one command a line."""
    text = (ROOT / "README.md").read_text()
    start = text.index(section)
    end = text.find("\n## ", start + len(section))
    body = text[start:end if end >= 0 else len(text)]
    blocks = re.findall(r"```sh\n(.*?)```", body, re.S)
    return [[line for line in block.replace("\\\n", " ").splitlines() if line.strip() and not line.lstrip().startswith("#")]
            for block in blocks]


def scratch_checkout(tmp: Path) -> Path:
    """A directory that looks like the checkout to the README's commands (tests/, fixtures/), so
    what they write lands in the test's own directory."""
    work = tmp / "work"
    work.mkdir()
    for name in ("tests", "fixtures"):
        (work / name).symlink_to(ROOT / name)
    return work


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])  # this python3 and its pruneplan
    for name in ("KUBECONFIG", "PYTHONPATH"):
        env.pop(name, None)
    return env


def wait_for_line(server: subprocess.Popen[bytes], needle: str) -> str:
    """What the server printed up to the line holding `needle` (read unbuffered: select() sees
    only what no buffer has taken yet)."""
    assert server.stdout is not None
    fd = server.stdout.fileno()
    seen = b""
    while needle.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], READY_SECONDS)
        assert ready, f"the fake API server printed no {needle!r} line: {seen!r}"
        chunk = os.read(fd, 4096)
        assert chunk, f"the fake API server ended: {seen!r} {server.stderr.read() if server.stderr else b''!r}"
        seen += chunk
    return seen.decode()


def test_readme_has_the_server_command_and_the_whole_walk() -> None:
    server_block, walk = readme_blocks(SECTION)
    assert len(server_block) == 1 and server_block[0].startswith("python3 -m tests.fakeapi serve --dump fixtures/example-dump.json.gz")
    steps = [line.split()[1] for line in walk]
    assert steps == ["keygen", "collect", "analyze", "verify", "report", "execute"]
    assert "--sign-key" in walk[2] and "--confirm" not in walk[5]


def test_the_readme_rehearsal_runs_every_step_against_the_fake_serving_the_example(tmp_path: Path) -> None:
    assert shutil.which("pruneplan", path=environment()["PATH"]), "pruneplan is not installed (README.md, Set-up)"
    (server_line,), walk = readme_blocks(SECTION)
    work = scratch_checkout(tmp_path)
    env = environment()
    server = subprocess.Popen(f"exec {server_line}", shell=True, cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        printed = wait_for_line(server, "kubeconfig:")
        assert re.search(r"listening on https://127\.0\.0\.1:\d+ with \d+ objects", printed), printed
        assert (work / "rehearsal.kubeconfig").stat().st_mode & 0o077 == 0  # it holds a token
        for line in walk:
            done = subprocess.run(line, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"{line}\nexit {done.returncode}\n{done.stderr[-3000:]}"
            if line.startswith("pruneplan verify"):
                assert "valid signature" in done.stdout + done.stderr
            if line.startswith("pruneplan execute"):
                assert "Dry run enabled" in done.stderr and "Summary: deleted" in done.stdout
        for written in ("rehearsal-key", "rehearsal-key.pub", "rehearsal-dump.json.gz", "rehearsal-plan.json",
                        "rehearsal-plan.json.sig", "rehearsal-review.html"):
            assert (work / written).stat().st_size > 0, written
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
            for stream in (server.stdout, server.stderr):
                if stream is not None:
                    stream.close()
    assert server.returncode == 0  # Ctrl-C is how the README stops it


def test_the_fake_server_refuses_a_file_that_is_not_a_dump_with_one_error_line(tmp_path: Path) -> None:
    bad = tmp_path / "notadump.json"
    bad.write_text('{"kind": "Nothing"}')
    done = subprocess.run([sys.executable, "-m", "tests.fakeapi", "serve", "--dump", str(bad), "--kubeconfig", str(tmp_path / "kc")],
                          cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "kc").exists()
