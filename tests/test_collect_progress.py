"""collect's progress never reaches the dump: with stderr on a terminal (a live display) the dump
written to stdout is byte for byte the one written with stderr on a pipe."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fakeapi import FakeAPI, sample_cluster

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


@pytest.fixture
def api():
    """The sample cluster with a fixed Date header: two collects make the same dump."""
    with FakeAPI(date="Sat, 28 Nov 2026 06:00:00 GMT") as server:
        server.add_all(sample_cluster())
        yield server


def _read_all(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer closed its side
            return
        if not chunk:
            return
        chunks.append(chunk)


def collect_to_stdout(kubeconfig: str, stderr_on_terminal: bool) -> tuple[bytes, str]:
    """(the dump from stdout, what stderr showed)."""
    cmd = [sys.executable, "-m", "pruneplan.cli", "collect", "-o", "-", "--kubeconfig", kubeconfig, "--page-size", "2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", "TERM": "xterm"}
    if not stderr_on_terminal:
        done = subprocess.run(cmd, capture_output=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout, done.stderr.decode()
    main, side = pty.openpty()
    process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=side, env=env)
    os.close(side)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(main, chunks))
    reader.start()
    assert process.stdout is not None
    dump = process.stdout.read()
    assert process.wait(timeout=120) == 0
    reader.join(timeout=30)
    os.close(main)
    return dump, b"".join(chunks).decode(errors="replace")


def test_with_stderr_on_a_terminal_the_dump_on_stdout_is_the_same_bytes(api, kubeconfig):
    dump_plain, err_plain = collect_to_stdout(kubeconfig, stderr_on_terminal=False)
    dump_live, shown = collect_to_stdout(kubeconfig, stderr_on_terminal=True)
    assert dump_live == dump_plain
    assert dump_plain.startswith(b'{"apiVersion"')
    text = ANSI.sub("", shown)
    assert "images" in text and "objects" in text and "pages" in text  # the live rows
    assert "wrote the dump to stdout:" in text
    assert err_plain.startswith("wrote the dump to stdout:")  # no terminal, short run: the closing line only
