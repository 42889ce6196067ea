"""analyze ends like a plan tool: a banner (analyze deletes nothing), upstream's dry-run lines on
stdout unchanged, then a closing block on stderr with the plan's effect, its files, its validity
and the next commands; a warning when the plan is expired as it is written; `--confirm` refused."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pruneplan.analyze.plan.closing import BANNER
from pruneplan.timefmt import format_time

from clirunner import run_cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DUMP = REPO / "fixtures" / "example-dump.json.gz"
NOW = format_time(int(time.time()) - 3600)  # an hour ago: a plan made now is valid for a week


def keypair(tmp_path: Path) -> Path:
    key = tmp_path / "review-key"
    assert run_cli("keygen", str(key)).code == 0
    return key


def closing_lines(err: str) -> list[str]:
    lines = err.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("Plan written to ")):]


def test_the_banner_comes_first_and_the_closing_block_after_the_dry_run_lines(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    done = subprocess.run(
        [sys.executable, "-m", "pruneplan.cli", "analyze", str(EXAMPLE_DUMP), "-o", str(plan), "--now", NOW],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO, check=False,
    )
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()  # stdout and stderr in one stream, as on a terminal
    assert lines[0] == BANNER
    summary = next(i for i, line in enumerate(lines) if line.startswith("Summary: deleted "))
    assert lines[summary + 1] == f"Plan written to {plan}"
    assert not any(line.startswith("Deleting ") for line in lines[summary:]), "the closing block follows every dry-run line"


def test_the_closing_block_states_the_plans_counts_space_files_expiry_and_next_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = keypair(tmp_path)
    monkeypatch.chdir(tmp_path)
    done = run_cli("analyze", str(EXAMPLE_DUMP), "-o", "plan.json", "--now", NOW, "--sign-key", str(key))
    assert done.code == 0, done.err
    summary = json.loads((tmp_path / "plan.json").read_bytes())["summary"]
    block = closing_lines(done.err)
    gib = summary["reclaimableBytes"] / (1 << 30)
    assert block[:5] == [
        "Plan written to plan.json, signature to plan.json.sig",
        f"  will delete:  {summary['deletedImages']:,} images, {summary['deletedBlobs']:,} blobs, "
        f"{summary['deletedLayerLinks']:,} layer links, {summary['deletedManifestLinks']:,} manifest links",
        f"  will update:  {summary['updatedImageStreams']:,} image streams "
        f"(removing {summary['deletedImageStreamTagItems']:,} tag history items)",
        f"  reclaimable:  {gib:,.2f} GiB ({summary['reclaimableBytes']:,} bytes)",
        f"  valid until:  {json.loads((tmp_path / 'plan.json').read_bytes())['metadata']['notAfter']} "
        f"(168h0m0s after the analysis time {NOW})",
    ]
    assert block[5] == "Next:"
    assert not done.out.count("Plan written"), "the closing block is on stderr, stdout keeps upstream's lines"
    # the next commands are commands that work: verify and report, run as printed
    verify, report, execute = (shlex.split(line.split("#")[0]) for line in block[6:9])
    assert verify == ["pruneplan", "verify", "plan.json", "--key", f"{key}.pub"]
    assert run_cli(*verify[1:]).code == 0
    assert report[:2] == ["pruneplan", "report"] and run_cli(*report[1:]).code == 0
    assert (tmp_path / "review.html").exists()
    assert execute == ["pruneplan", "execute", "plan.json", "--key", f"{key}.pub"]


def test_an_unsigned_plan_says_that_execute_needs_a_signature(tmp_path: Path) -> None:
    done = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "plan.json"), "--now", NOW)
    assert done.code == 0, done.err
    block = closing_lines(done.err)
    assert block[0] == f"Plan written to {tmp_path / 'plan.json'}"
    assert "Next: the plan is not signed, and execute replays only a signed plan:" in block
    assert any("--sign-key KEY" in line for line in block)


def test_quiet_prints_neither_banner_nor_dry_run_lines_nor_closing_block(tmp_path: Path) -> None:
    done = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "plan.json"), "--now", NOW, "-q")
    assert done.code == 0
    assert done.out == ""
    assert BANNER not in done.err and "Plan written" not in done.err and "Next:" not in done.err


def test_a_plan_expired_as_it_is_written_is_a_warning_with_a_valid_for_that_would_do(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    done = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(plan), "-q")  # the example dump is months old
    assert done.code == 0
    warning = done.err_lines[-1]
    assert warning.startswith("warning: the plan is already expired: the dump was collected ")
    assert "so verify and execute will refuse it; collect a fresh dump, or pass --valid-for (for example --valid-for " in warning
    suggested = warning.rsplit("--valid-for ", 1)[1].rstrip(")")
    again = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(plan), "--valid-for", suggested)
    assert again.code == 0
    assert "already expired" not in again.err and "EXPIRED" not in again.err and "  valid until:  " in again.err


def test_an_expired_plan_gets_no_next_commands_that_would_refuse_it(tmp_path: Path) -> None:
    key = keypair(tmp_path)
    done = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(tmp_path / "plan.json"), "--sign-key", str(key))
    block = closing_lines(done.err)
    assert any(line.startswith("  EXPIRED on:   ") for line in block)
    assert "Next:" not in block
    assert block[-1].startswith("warning: the plan is already expired")


@pytest.mark.parametrize("flag", ["--confirm", "--confirm=true"])
def test_analyze_confirm_is_refused_with_a_hint_to_run_execute(tmp_path: Path, flag: str) -> None:
    plan = tmp_path / "plan.json"
    done = run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(plan), flag)
    assert done.code == 2
    assert done.err_lines == [
        "error: analyze never deletes anything: it writes a plan; to delete, run "
        "`pruneplan execute PLAN --key PUB --confirm` with the signed plan"
    ]
    assert not plan.exists() and not os.listdir(tmp_path)
