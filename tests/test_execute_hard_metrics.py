"""execute --metrics-file for a hard-prune plan: the same file as a soft run's, describing the
hard run as fully (the plan's times, its actions by kind and outcome, the bytes it reclaimed, how
and when it ended), written however the run ends. Each test reads the file back strictly and
compares it with what the run itself said it did: its journal, its Summary, its JSON report."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from execute_env import ROOT
from fakeapi import image_stream, registry_config
from pruneplan.timefmt import format_time, parse_time
import test_execute_hard
from test_execute_hard import World, gone_blobs, image_of, load, planned_lines, stray_blobs
from test_execute_metrics import OUTCOMES, actions, nonzero, read_metrics, single

# test_execute_hard's fixtures, used here by their names: its pushed registry and its world
pushed = test_execute_hard.pushed
world = test_execute_hard.world

HARD_KINDS = ("manifestlink", "layerlink", "upload", "repository", "blob")
SOFT_ONLY_KINDS = ("imagestream", "image")
PLAN_LISTS = {"manifestlink": "manifestLinkDeletions", "layerlink": "layerLinkDeletions", "upload": "uploadDeletions",
              "repository": "repositoryDeletions", "blob": "blobDeletions"}
WORDS = {"manifest link": "manifestlink", "layer link": "layerlink", "upload": "upload", "repository": "repository",
         "blob": "blob"}
JOURNAL_STATUS = {"ok": "done", "notfound": "already_absent"}


def hard_journal_outcomes(path: Path) -> Counter[tuple[str, str]]:
    """(kind, outcome) of every key's last record; a hard key is `hard <kind> …`."""
    last: dict[str, str] = {}
    for line in path.read_text().splitlines()[1:]:
        record = json.loads(line)
        last[record["key"]] = record["status"]
    assert all(key.startswith("hard ") for key in last), last
    return Counter((key.split()[1], JOURNAL_STATUS.get(status, "failed")) for key, status in last.items())


def kind_of_line(line: str) -> str:
    """The kind of an action from its line: `Deleting layer link …` is a layerlink."""
    rest = line.split("Deleting ", 1)[1]
    return next(kind for words, kind in WORDS.items() if rest.startswith(words + " "))


def skipped_by_kind(out: str) -> Counter[tuple[str, str]]:
    return Counter((kind_of_line(line), "skipped") for line in out.splitlines() if line.startswith("Skipped: "))


SUMMARY = re.compile(r"Summary: (\d+) (?:would be )?done \(.*; (\d+) already absent\), (\d+) skipped, (\d+) failed, "
                     r"(\d+) done by an earlier run \(journal\)")


def summary_numbers(line: str) -> dict[str, int]:
    """The counts a hard run's Summary line gives, by the outcome names of the metrics."""
    found = SUMMARY.fullmatch(line)
    assert found, line
    names = ("done", "already_absent", "skipped", "failed", "done_earlier")
    return {name: int(value) for name, value in zip(names, found.groups())}


def totals(counts: dict[tuple[str, str], float]) -> dict[str, float]:
    return {outcome: sum(n for (_, o), n in counts.items() if o == outcome) for outcome in OUTCOMES}


def as_summary(counts: dict[tuple[str, str], float]) -> dict[str, float]:
    """What the Summary line would say of these counts: its "done" (or "would be done") includes
    what was already absent."""
    total = totals(counts)
    said = {outcome: total[outcome] for outcome in ("already_absent", "skipped", "failed", "done_earlier")}
    return {**said, "done": total["done"] + total["dry_run"] + total["already_absent"]}


def assert_only_hard_kinds(metrics: dict) -> None:
    """A hard run counts nothing under a soft plan's kinds, and defers nothing."""
    counts = actions(metrics)
    assert all(counts[kind, outcome] == 0 for kind in SOFT_ONLY_KINDS for outcome in OUTCOMES)
    assert all(counts[kind, "deferred"] == 0 for kind in HARD_KINDS)


def assert_plan_times(metrics: dict, document: dict) -> None:
    assert single(metrics, "plan_created_timestamp_seconds") == parse_time(document["metadata"]["createdAt"]) > 0
    assert single(metrics, "plan_expiry_timestamp_seconds") == parse_time(document["metadata"]["notAfter"])


def assert_times(metrics: dict) -> None:
    start, end = single(metrics, "start_timestamp_seconds"), single(metrics, "end_timestamp_seconds")
    assert 0 < start <= end and single(metrics, "duration_seconds") == pytest.approx(end - start, abs=1e-3)


def previous_file(path: Path, last_success: float) -> None:
    """A metrics file as an earlier successful run left it (its last success is what counts)."""
    name = "pruneplan_execute_last_success_timestamp_seconds"
    path.write_text(f"# HELP {name} earlier\n# TYPE {name} gauge\n{name} {last_success}\n")


# -- the tests ------------------------------------------------------------------------------------

def test_a_confirmed_hard_run_writes_metrics_that_match_its_journal_its_summary_and_its_plan(world: World):
    plan = world.plan()
    document = load(plan)
    metrics_file = world.env.tmp / "textfile" / "pruneplan-hard.prom"
    metrics_file.parent.mkdir()
    result = world.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    assert result.code == 0, result.err
    assert "metrics" not in result.out + result.err  # nothing said about it on success
    metrics = read_metrics(metrics_file)
    counts = actions(metrics)
    journal = hard_journal_outcomes(Path(f"{plan}.journal"))
    for outcome in ("done", "already_absent", "failed"):
        assert nonzero(counts, outcome) == {pair: n for pair, n in journal.items() if pair[1] == outcome}
    # every planned deletion ran: each kind's count is the plan's list
    assert nonzero(counts, "done") == {(kind, "done"): len(document[key]) for kind, key in PLAN_LISTS.items() if document[key]}
    assert set(nonzero(counts, "done")) == {(kind, "done") for kind in HARD_KINDS}  # the fixture has every kind
    summary, reclaimed = result.out.splitlines()[-2:]
    assert summary_numbers(summary) == as_summary(counts)
    assert totals(counts)["dry_run"] == 0
    assert_only_hard_kinds(metrics)
    assert reclaimed == f"Reclaimed {int(single(metrics, 'reclaimed_bytes'))} bytes"
    assert single(metrics, "reclaimed_bytes") == document["summary"]["reclaimableBytes"] > 0
    assert (single(metrics, "success"), single(metrics, "exit_code"), single(metrics, "dry_run")) == (1, 0, 0)
    assert_times(metrics)
    assert single(metrics, "last_success_timestamp_seconds") == single(metrics, "end_timestamp_seconds")
    assert_plan_times(metrics, document)

    # the rerun: the journal says an earlier run did everything, and nothing is reclaimed again
    again = world.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    assert again.code == 0, again.err
    rerun = read_metrics(metrics_file)
    assert nonzero(actions(rerun), "done_earlier") == {(kind, "done_earlier"): n for (kind, _), n in nonzero(counts, "done").items()}
    assert nonzero(actions(rerun), "done") == {} and single(rerun, "reclaimed_bytes") == 0
    assert summary_numbers(again.out.splitlines()[-2]) == as_summary(actions(rerun))


def test_a_hard_dry_run_counts_what_confirm_would_delete_and_reclaims_nothing(world: World):
    plan = world.plan()
    document = load(plan)
    metrics_file = world.env.tmp / "dry.prom"
    before = world.files()
    result = world.execute(plan, "--format", "json", "--metrics-file", str(metrics_file))
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["dryRun"] is True
    metrics = read_metrics(metrics_file)
    would = Counter((entry["key"].split()[1], "dry_run") for entry in report["wouldPerform"] if entry["status"] == "ok")
    assert nonzero(actions(metrics), "dry_run") == dict(would)
    assert would == Counter({(kind, "dry_run"): len(document[key]) for kind, key in PLAN_LISTS.items() if document[key]})
    assert totals(actions(metrics)) == {**dict.fromkeys(OUTCOMES, 0), "dry_run": len(planned_lines(document))}
    assert summary_numbers("Summary: " + report["summary"]["text"]) == as_summary(actions(metrics))
    assert_only_hard_kinds(metrics)
    # the dry run says what it would reclaim; the series counts what was reclaimed: nothing
    assert report["summary"]["reclaimedBytes"] == document["summary"]["reclaimableBytes"] > 0
    assert single(metrics, "reclaimed_bytes") == 0
    assert (single(metrics, "dry_run"), single(metrics, "success"), single(metrics, "exit_code")) == (1, 1, 0)
    assert single(metrics, "last_success_timestamp_seconds") == 0  # a dry run deletes nothing: no success of a prune
    assert_times(metrics)
    assert_plan_times(metrics, document)
    assert world.files() == before
    assert not Path(f"{plan}.journal").exists()


def test_a_hard_run_refused_as_the_registry_is_not_read_only_writes_exit_1_the_plans_times_and_no_action(world: World):
    plan = world.plan()
    document = load(plan)
    metrics_file = world.env.tmp / "refused.prom"
    previous_file(metrics_file, 1796522461.87)
    world.env.api.add(registry_config(read_only=False))
    before = world.files()
    result = world.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    assert result.code == 1
    assert result.err_lines[-1].startswith("error: the registry must be read-only while a hard-prune plan runs")
    assert "metrics" not in result.err
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "success"), single(metrics, "exit_code"), single(metrics, "dry_run")) == (0, 1, 0)
    assert all(n == 0 for n in actions(metrics).values())
    assert single(metrics, "reclaimed_bytes") == 0
    assert_plan_times(metrics, document)  # the plan was verified before the registry was asked
    assert_times(metrics)
    assert single(metrics, "last_success_timestamp_seconds") == 1796522461.87  # kept from the file it replaced
    assert world.files() == before


def test_an_expired_hard_plan_writes_exit_12_and_the_plans_expiry(world: World):
    plan = world.plan("--now", format_time(time.time() - 3 * 24 * 3600) or "", "--valid-for", "1h")
    document = load(plan)
    metrics_file = world.env.tmp / "expired.prom"
    result = world.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    assert result.code == 12
    assert len(result.err_lines) == 1 and "expired" in result.err_lines[0]
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "success"), single(metrics, "exit_code"), single(metrics, "dry_run")) == (0, 12, 0)
    assert_plan_times(metrics, document)  # an expired plan is verified, so its times are there
    assert all(n == 0 for n in actions(metrics).values())


def test_entries_skipped_by_the_recheck_are_counted_skipped_and_the_rest_as_the_journal_says(world: World):
    plan = world.plan()
    document = load(plan)
    p = world.pushed
    api = world.env.api
    api.add(image_of("ns1/app", p.stray))  # the stray image and ns2/gone are accounted for since the plan
    api.add(image_stream("ns1", "app", {"v1": [p.app.digest], "v2": [p.stray.digest]}))
    api.add(image_of("ns2/gone", p.gone))
    api.add(image_stream("ns2", "gone", {"latest": [p.gone.digest]}))
    metrics_file = world.env.tmp / "skipped.prom"
    previous_file(metrics_file, 1796522461.87)
    result = world.execute(plan, "--confirm", "--skipped-exit-code", "9", "--metrics-file", str(metrics_file))
    assert result.code == 9, result.err
    metrics = read_metrics(metrics_file)
    counts = actions(metrics)
    skipped = skipped_by_kind(result.out)
    assert nonzero(counts, "skipped") == dict(skipped)
    assert counts["manifestlink", "skipped"] == 1 and counts["repository", "skipped"] == 1
    assert counts["blob", "skipped"] == len(stray_blobs(p) | gone_blobs(p))
    journal = hard_journal_outcomes(Path(f"{plan}.journal"))
    for outcome in ("done", "already_absent", "failed"):
        assert nonzero(counts, outcome) == {pair: n for pair, n in journal.items() if pair[1] == outcome}
    assert counts["upload", "done"] == len(document["uploadDeletions"]) and counts["blob", "done"] == 1  # the loose blob
    assert summary_numbers(result.out.splitlines()[-2]) == as_summary(counts)
    assert sum(skipped.values()) + sum(journal.values()) == len(planned_lines(document))
    assert single(metrics, "reclaimed_bytes") == int(result.out.splitlines()[-1].split()[1]) > 0
    # an exit with --skipped-exit-code is no success: the last success stays the earlier one
    assert (single(metrics, "success"), single(metrics, "exit_code")) == (0, 9)
    assert single(metrics, "last_success_timestamp_seconds") == 1796522461.87
    assert_only_hard_kinds(metrics)


def test_failed_deletions_are_counted_failed_and_the_blobs_they_keep_skipped(world: World):
    plan = world.plan()
    document = load(plan)
    # ns1/app's layer links reached through a symbolic link out of the storage: not deleted
    layers = world.root / "docker/registry/v2/repositories/ns1/app/_layers/sha256"
    outside = world.env.tmp / "outside"
    layers.rename(outside)
    layers.symlink_to(outside)
    metrics_file = world.env.tmp / "failed.prom"
    result = world.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    assert result.code == 1
    assert result.err_lines[-1].startswith("error: 3 errors in this run")  # the run's own error stays the last word
    metrics = read_metrics(metrics_file)
    counts = actions(metrics)
    links = len(document["layerLinkDeletions"])
    assert nonzero(counts, "failed") == {("layerlink", "failed"): links} == {
        pair: n for pair, n in hard_journal_outcomes(Path(f"{plan}.journal")).items() if pair[1] == "failed"}
    assert nonzero(counts, "skipped") == {("blob", "skipped"): links} == dict(skipped_by_kind(result.out))
    assert summary_numbers(result.out.splitlines()[-2]) == as_summary(counts)
    assert (single(metrics, "success"), single(metrics, "exit_code")) == (0, 1)
    assert single(metrics, "last_success_timestamp_seconds") == 0


def test_an_interrupted_hard_run_writes_exit_143_and_what_it_did_as_the_journal_says(world: World):
    plan = world.plan()
    document = load(plan)
    metrics_file = world.env.tmp / "interrupted.prom"
    journal = Path(f"{plan}.journal")
    # stdout is a pipe with room for the first action's line only: the run deletes that action,
    # journals it, then waits to print the second, where SIGTERM finds it
    read_end, write_end = os.pipe()
    first = planned_lines(document)[0] + "\n"
    os.write(write_end, b"." * (fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ) - len(first.encode())))
    args = [sys.executable, "-m", "pruneplan.cli", "execute", str(plan), "--key", world.env.pub, "--kubeconfig",
            world.env.kubeconfig, "--registry-storage", str(world.root), "--confirm", "--metrics-file", str(metrics_file)]
    proc = subprocess.Popen(args, stdout=write_end, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.close(write_end)
    err: list[str] = []
    try:
        give_up = time.monotonic() + 120  # a guard against hanging, not a timed assertion
        while proc.poll() is None and len(journal.read_text().splitlines() if journal.exists() else []) < 2:
            assert time.monotonic() < give_up, "the run journalled nothing"
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        for line in proc.stderr:  # the metrics are written before the run's last line
            err.append(line.rstrip("\n"))
            if line == "error: terminated\n":
                break
    finally:
        if not err:  # something went wrong before the signal: the run is not left behind
            proc.kill()
        while os.read(read_end, 1 << 16):  # lets the run's last output out, so that it can exit
            pass
        os.close(read_end)
    assert proc.wait(timeout=120) == 143, "\n".join(err)
    assert err[-1] == "error: terminated"
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "success"), single(metrics, "exit_code"), single(metrics, "dry_run")) == (0, 143, 0)
    outcomes = hard_journal_outcomes(journal)
    assert outcomes == Counter({("manifestlink", "done"): 1})  # the first action, and only it
    for outcome in ("done", "already_absent", "failed"):
        assert nonzero(actions(metrics), outcome) == {pair: n for pair, n in outcomes.items() if pair[1] == outcome}
    assert_plan_times(metrics, document)
    assert single(metrics, "last_success_timestamp_seconds") == 0
