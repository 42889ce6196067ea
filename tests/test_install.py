"""README.md, "Set-up": the first command installs pruneplan as an administrator would, into a
fresh virtual environment (no system site-packages) from a copy of the checkout, without root
where the test can drop it, and runs the main job on the bundled example; .ci/install says what
to do on Debian's own Python instead of failing in pip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# what the copy leaves out: version control, caches, build output, and what an install never reads
NOT_COPIED = shutil.ignore_patterns(".git", "__pycache__", ".*_cache", ".hypothesis", "*.egg-info", ".benchmarks",
                                    "build", "dist", ".venv", "tests", "benchmarks")
PASSED_ON = ("LANG", "LC_ALL", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


def setup_commands() -> list[str]:
    """The command lines of the README's set-up block."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Set-up"):]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's own temporary directories are private
    to root)."""
    path = Path(tempfile.mkdtemp(prefix="pruneplan-install-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def unprivileged(python_path: str) -> list[str]:
    """How to run as nobody with `python_path`'s python3, if this test runs as root and can; else []."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        return []
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"
    works = subprocess.run([*drop, "env", f"PATH={python_path}", "python3", "-c", probe], capture_output=True, timeout=60)
    return drop if works.returncode == 0 else []


def test_readme_first_command_installs_into_a_fresh_venv_without_root_and_analyzes_the_example(scratch: Path) -> None:
    first = setup_commands()[0]
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install . && pruneplan analyze")
    checkout = scratch / "checkout"
    shutil.copytree(ROOT, checkout, symlinks=True, ignore=NOT_COPIED)
    home = scratch / "home"
    home.mkdir()
    drop = unprivileged(SYSTEM_PATH)
    # unprivileged: the system's python3 (Debian's own, on Debian); else this test's python3
    path = SYSTEM_PATH if drop else os.pathsep.join([os.path.dirname(sys.executable), SYSTEM_PATH])
    if drop:
        for item in [scratch, *scratch.rglob("*")]:
            os.chown(item, NOBODY, NOBODY, follow_symlinks=False)
    env = {name: value for name, value in os.environ.items() if name.startswith("PIP_") or name in PASSED_ON}
    env.update(PATH=path, HOME=str(home))
    done = subprocess.run([*drop, "sh", "-c", first], cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-4000:]}"
    assert done.stdout.rstrip().splitlines()[-1].startswith("Summary: deleted")
    assert json.loads((checkout / "plan.json").read_text())["imageDeletions"]
    venv = checkout / ".venv"
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    if drop:
        assert (checkout / "plan.json").stat().st_uid == NOBODY
    # installed, not borrowed from the checkout: the package and every command work from elsewhere
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import pruneplan.collect.client, pruneplan.execute.kubeapi, "
                            "pruneplan.analyze.report.html as m; print(m.__file__)"],
                           cwd=scratch, capture_output=True, text=True, timeout=120)
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(venv / "lib"))
    collect = subprocess.run([str(venv / "bin" / "pruneplan"), "collect", "--kubeconfig", str(scratch / "absent")],
                             cwd=scratch, capture_output=True, text=True, timeout=120)
    assert collect.returncode != 0 and collect.stderr.splitlines() == [f"error: kubeconfig {scratch / 'absent'}: no such file"]


def externally_managed_python() -> str | None:
    """A python3 (3.11+) that refuses pip outside a virtual environment, as Debian's own does."""
    probe = ("import os, sys, sysconfig; sys.exit(not (sys.prefix == sys.base_prefix and sys.version_info >= (3, 11) and "
             "os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED'))))")
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK) and subprocess.run([candidate, "-c", probe], timeout=60).returncode == 0:
            return candidate
    return None


def test_ci_install_on_debians_own_python_says_to_use_a_venv_before_installing_anything(tmp_path: Path) -> None:
    python = externally_managed_python()
    if python is None:
        pytest.skip("no externally managed python3 on this machine")
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "install", checkout / ".ci" / "install")
    # stand-ins that record a call: nothing may be installed
    shims = tmp_path / "bin"
    shims.mkdir()
    for name in ("apt-get", "sudo", "pip"):
        shim = shims / name
        shim.write_text(f"#!/bin/sh\ntouch {tmp_path}/called-{name}\nexit 1\n")
        shim.chmod(0o755)
    (shims / "python3").symlink_to(python)
    done = subprocess.run(["bash", str(checkout / ".ci" / "install")], env={"PATH": f"{shims}:/usr/bin:/bin", "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and "externally managed" in line and "python3 -m venv .venv && . .venv/bin/activate" in line
    assert not list(tmp_path.glob("called-*"))
