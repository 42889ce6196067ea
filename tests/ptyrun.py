"""Run pruneplan's CLI with stderr (and, if asked, stdout) on a pseudo-terminal, as a person at a
terminal would: for the tests of the live progress displays."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")  # cursor moves, colours, carriage returns


def run_on_terminal(args: list[str], *, stdout_on_terminal: bool, timeout: float = 120) -> tuple[bytes, str]:
    """(stdout's bytes, the terminal's text) of `pruneplan ARGS`, which must exit 0; stdout goes
    to a pipe unless `stdout_on_terminal` (then it is in the terminal's text)."""
    main, side = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", "TERM": "xterm"}
    process = subprocess.Popen([sys.executable, "-m", "pruneplan.cli", *args], stdin=subprocess.DEVNULL,
                               stdout=side if stdout_on_terminal else subprocess.PIPE, stderr=side, env=env)
    os.close(side)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(main, chunks))
    reader.start()
    out = process.stdout.read() if process.stdout else b""
    assert process.wait(timeout=timeout) == 0
    reader.join(timeout=30)
    os.close(main)
    return out, b"".join(chunks).decode(errors="replace")


def _read_all(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every writer closed its side
            return
        if not chunk:
            return
        chunks.append(chunk)
