"""collect's progress never reaches the dump: with stderr on a terminal (a live display) the dump
written to stdout is byte for byte the one written with stderr on a pipe."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fakeapi import FakeAPI, sample_cluster
from ptyrun import ANSI, ROOT, run_on_terminal



@pytest.fixture
def api():
    """The sample cluster with a fixed Date header: two collects make the same dump."""
    with FakeAPI(date="Sat, 28 Nov 2026 06:00:00 GMT") as server:
        server.add_all(sample_cluster())
        yield server


def collect_to_stdout(kubeconfig: str, stderr_on_terminal: bool) -> tuple[bytes, str]:
    """(the dump from stdout, what stderr showed)."""
    args = ["collect", "-o", "-", "--kubeconfig", kubeconfig, "--page-size", "2"]
    if stderr_on_terminal:
        return run_on_terminal(args, stdout_on_terminal=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pruneplan.cli", *args], capture_output=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr.decode()


def test_with_stderr_on_a_terminal_the_dump_on_stdout_is_the_same_bytes(api, kubeconfig):
    dump_plain, err_plain = collect_to_stdout(kubeconfig, stderr_on_terminal=False)
    dump_live, shown = collect_to_stdout(kubeconfig, stderr_on_terminal=True)
    assert dump_live == dump_plain
    assert dump_plain.startswith(b'{"apiVersion"')
    text = ANSI.sub("", shown)
    assert "images" in text and "objects" in text and "pages" in text  # the live rows
    assert "wrote the dump to stdout:" in text
    assert err_plain.startswith("wrote the dump to stdout:")  # no terminal, short run: the closing line only
