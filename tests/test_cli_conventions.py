"""The conventions an oc or kubectl user expects of every command: -h, --version and a version
command, usage on a bare `pruneplan`, an Examples section and help on every option, one
placeholder style, `-` for stdin, shell completion."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer

from pruneplan import __version__
from pruneplan.cli import build_app
from pruneplan.dumpformat import FORMAT_VERSION
from pruneplan.planformat import PLAN_API_VERSION
from pruneplan.timefmt import format_time

from clirunner import run_cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DUMP = REPO / "fixtures" / "example-dump.json.gz"
NOW = format_time(int(time.time()) - 3600)


def console(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pruneplan.cli", *args], input=stdin, capture_output=True, cwd=REPO,
        env={**os.environ, **(env or {})}, timeout=120, check=False,
    )


def commands() -> dict[str, typer.main.TyperCommand]:
    group = typer.main.get_command(build_app())
    return dict(group.commands)  # type: ignore[attr-defined]


def test_a_bare_pruneplan_prints_its_usage_on_stdout_and_exits_0() -> None:
    done = console()
    assert done.returncode == 0
    assert done.stdout.decode().startswith("Usage: pruneplan [OPTIONS] COMMAND [ARGS]...")
    assert done.stderr == b""


@pytest.mark.parametrize("command", ["", "collect", "analyze", "explain", "report", "keygen", "approve", "verify", "execute", "version"])
def test_dash_h_is_help_for_every_command(command: str) -> None:
    args = [command] if command else []
    short, long = run_cli(*args, "-h"), run_cli(*args, "--help")
    assert short.code == long.code == 0
    assert short.out == long.out and short.out.startswith("Usage: ")


def test_version_and_dash_dash_version_name_the_tool_and_the_file_formats() -> None:
    expected = [
        f"pruneplan {__version__}",
        f"plan format: {PLAN_API_VERSION} PrunePlan",
        f"dump format: pruneplan.io/v1 ClusterDump, formatVersion {FORMAT_VERSION}",
        "storage inventory format: pruneplan.io/v1 StorageInventory, formatVersion 1",
    ]
    for args in (["version"], ["--version"]):
        done = run_cli(*args)
        assert done.code == 0 and done.err == ""
        assert done.out.splitlines()[:4] == expected


def test_every_command_has_examples_and_help_on_every_option_with_upper_case_placeholders() -> None:
    missing = []
    for name, command in commands().items():
        if "Examples:" not in (command.help or ""):
            missing.append(f"{name}: no Examples section")
        for param in command.params:
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            if isinstance(param, typer.core.TyperOption) and not param.help:
                missing.append(f"{name} {param.opts[0]}: no help")
            metavar = param.metavar
            if metavar and not re.fullmatch(r"[A-Z][A-Z0-9_]*(\.\.\.)?( [A-Z][A-Z0-9_]*(\.\.\.)?)*|[A-Z]+=[A-Z]+|[a-z0-9-]+(\|[a-z0-9-]+)+", metavar):
                missing.append(f"{name} {param.name}: placeholder {metavar!r} is not an upper-case word or a list of choices")
    assert missing == []


def test_dash_as_the_dump_reads_stdin_and_makes_the_same_plan(tmp_path: Path) -> None:
    from_file = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "a.json"), "--now", NOW, "-q")
    assert from_file.code == 0
    done = console("analyze", "-", "-o", str(tmp_path / "b.json"), "--now", NOW, "-q", stdin=EXAMPLE_DUMP.read_bytes())
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "a.json").read_bytes()


def test_verify_reads_the_plan_from_stdin_given_its_signature_file(tmp_path: Path) -> None:
    key = tmp_path / "key"
    assert run_cli("keygen", str(key)).code == 0
    plan = tmp_path / "plan.json"
    assert run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(plan), "--now", NOW, "-q", "--sign-key", str(key)).code == 0
    without = console("verify", "-", "--key", f"{key}.pub", stdin=plan.read_bytes())
    assert (without.returncode, without.stderr.decode()) == (
        2, "error: verify - reads the plan from stdin: name its signature file with --signature SIG\n")
    done = console("verify", "-", "--key", f"{key}.pub", "--signature", f"{plan}.sig", stdin=plan.read_bytes())
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith(f"verified: {plan}.sig is a valid signature of the plan")


def test_shell_completion_script_and_completion_of_command_names() -> None:
    script = console("--show-completion", "bash")
    assert script.returncode == 0 and b"_pruneplan_completion" in script.stdout
    done = console(env={"_PRUNEPLAN_COMPLETE": "complete_bash", "COMP_WORDS": "pruneplan ana", "COMP_CWORD": "1"})
    assert done.returncode == 0
    assert done.stdout.decode().split() == ["analyze"]


def test_report_and_explain_read_the_plan_from_stdin_and_report_checks_its_signature_over_those_bytes(tmp_path: Path) -> None:
    key = tmp_path / "key"
    assert run_cli("keygen", str(key)).code == 0
    plan = tmp_path / "plan.json"
    assert run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(plan), "--now", NOW, "-q", "--sign-key", str(key)).code == 0
    report = console("report", "-", "--key", f"{key}.pub", "--signature", f"{plan}.sig", stdin=plan.read_bytes())
    assert report.returncode == 0, report.stderr
    assert b"Signature: verified" in report.stdout or b"signature verified" in report.stdout
    assert b"NOT VERIFIED" not in report.stdout
    import json

    pruned = json.loads(plan.read_bytes())["imageDeletions"][0]["name"]
    explain = console("explain", "--plan", "-", str(EXAMPLE_DUMP), pruned, stdin=plan.read_bytes())
    explained = console("explain", "--plan", str(plan), str(EXAMPLE_DUMP), pruned)
    assert explained.returncode == 0 and pruned.encode() in explained.stdout
    assert (explain.returncode, explain.stdout, explain.stderr) == (explained.returncode, explained.stdout, explained.stderr)


def test_execute_dash_needs_the_signature_named(tmp_path: Path) -> None:
    done = console("execute", "-", "--key", "unused.pub", stdin=b"{}")
    assert (done.returncode, done.stderr.decode()) == (
        2, "error: execute - reads the plan from stdin: name its signature file with --signature SIG\n")


def test_help_loads_no_command_machinery() -> None:
    """Each command's options are declared apart from its work, so `pruneplan --help` (and shell
    completion, which builds the same app) starts fast."""
    code = (
        "import sys; from pruneplan.cli import build_app; build_app(); "
        "heavy = ('networkx', 'msgspec', 'cryptography', 'kubernetes', 'requests', 'pruneplan.analyze.report.review', "
        "'pruneplan.analyze.decisions', 'pruneplan.execute.runner', 'pruneplan.collect.collector'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
