"""execute --metrics-file: the run's outcome in Prometheus' text format, written however the run
ends (success, failure, refusal, dry run), replaced atomically, and never at the run's expense."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from execute_env import ROOT, Env, load, make_env
from execute_world import build_world
from fakeapi import FakeAPI
from registry_harness import FrontProxy, RegistryServer

NO_REGISTRY = "--prune-registry=false"
KEEP = ("--keep-tag-revisions=2", "--keep-younger-than=1h")
KINDS = ("imagestream", "layerlink", "manifestlink", "blob", "image", "repository", "upload")  # the last two: hard plans
OUTCOMES = ("done", "already_absent", "failed", "skipped", "done_earlier", "deferred", "dry_run")
KIND_OF_KEY = {"stream": "imagestream", "layerlink": "layerlink", "manifestlink": "manifestlink",
               "blob": "blob", "image": "image"}
SINGLE = ("reclaimed_bytes", "start_timestamp_seconds", "end_timestamp_seconds", "duration_seconds",
          "plan_created_timestamp_seconds", "plan_expiry_timestamp_seconds", "dry_run", "success", "exit_code",
          "last_success_timestamp_seconds")


# --- a strict reader of the text format (version 0.0.4) ----------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*,?)?\}})? (\S+)(?: (-?[0-9]+))?$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def _value(text: str) -> float:
    special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
    if text in special:
        return special[text]
    assert re.fullmatch(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", text), f"not a number: {text!r}"
    return float(text)


def parse_metrics(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by family and labels; any line that is not HELP, TYPE or a sample fails, and
    so does a sample before its family's TYPE, a repeated series or a missing final newline."""
    assert text.endswith("\n"), "the text format ends with a newline"
    families: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    typed: dict[str, str] = {}
    helped: set[str] = set()
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert re.fullmatch(NAME, name) and name not in helped, line
            helped.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped") and name not in typed, line
            typed[name] = kind
            families[name] = {}
        else:
            found = SAMPLE.match(line)
            assert found, f"not a sample line: {line!r}"
            name, labels, value = found.group(1), found.group(2) or "", found.group(3)
            assert name in typed, f"sample before its TYPE: {line!r}"
            key = tuple(sorted((k, v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\"))
                               for k, v in LABEL_PAIR.findall(labels)))
            assert key not in families[name], f"repeated series: {line!r}"
            families[name][key] = _value(value)
    return families


def single(metrics: dict, name: str) -> float:
    return metrics[f"pruneplan_execute_{name}"][()]


def actions(metrics: dict) -> dict[tuple[str, str], float]:
    return {(dict(labels)["kind"], dict(labels)["outcome"]): value
            for labels, value in metrics["pruneplan_execute_actions"].items()}


def read_metrics(path: Path) -> dict:
    metrics = parse_metrics(path.read_text())
    # every series is there on every run, whatever happened
    assert set(actions(metrics)) == {(kind, outcome) for kind in KINDS for outcome in OUTCOMES}
    for name in SINGLE:
        assert () in metrics[f"pruneplan_execute_{name}"], name
    return metrics


def journal_outcomes(path: Path) -> Counter[tuple[str, str]]:
    """(kind, outcome) of every key's last record (a later record overrides an earlier one)."""
    last: dict[str, str] = {}
    for line in path.read_text().splitlines()[1:]:
        record = json.loads(line)
        last[record["key"]] = record["status"]
    names = {"ok": "done", "notfound": "already_absent"}
    return Counter((KIND_OF_KEY[key.split()[0]], names.get(status, "failed")) for key, status in last.items())


def nonzero(counts: dict[tuple[str, str], float], outcome: str) -> dict[tuple[str, str], float]:
    return {pair: n for pair, n in counts.items() if pair[1] == outcome and n}


# --- a real registry behind OpenShift's /admin/blobs, and the fake API -------------------------

class Stack:
    def __init__(self, tmp: Path) -> None:
        self.registry = RegistryServer(tmp / "registry").start()
        self.proxy = FrontProxy(self.registry)
        _, objects = build_world(self.registry.api(), self.registry.host)
        self.api = FakeAPI().start()
        self.api.add_all(objects)
        self.env: Env = make_env(self.api, tmp)

    def close(self) -> None:
        self.api.stop()
        self.proxy.stop()
        self.registry.stop()


@pytest.fixture
def stack(tmp_path):
    s = Stack(tmp_path)
    yield s
    s.close()


# --- the tests ---------------------------------------------------------------------------------

def test_a_confirmed_run_writes_metrics_that_match_its_journal_and_the_plans_blob_sizes(stack):
    plan = stack.env.plan(*KEEP)
    doc = load(plan)
    metrics_file = stack.env.tmp / "textfile" / "pruneplan.prom"
    metrics_file.parent.mkdir()
    result = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url, "--metrics-file", str(metrics_file))
    assert result.code == 0, result.err
    assert "metrics" not in result.out + result.err  # nothing said about it on success
    metrics = read_metrics(metrics_file)
    counts = actions(metrics)
    journal = journal_outcomes(Path(f"{plan}.journal"))
    for outcome in ("done", "already_absent", "failed"):
        assert nonzero(counts, outcome) == {pair: n for pair, n in journal.items() if pair[1] == outcome}
    assert sum(journal.values()) == sum(n for (_, outcome), n in counts.items() if outcome != "skipped")
    assert counts["blob", "done"] == len(doc["blobDeletions"]) > 0
    assert counts["image", "done"] == len(doc["imageDeletions"])
    assert counts["imagestream", "done"] == len(doc["imageStreamUpdates"])
    records = [json.loads(line) for line in Path(f"{plan}.journal").read_text().splitlines()[1:]]
    deleted = {r["key"].split()[1] for r in records if r["key"].startswith("blob ") and r["status"] == "ok"}
    expected_bytes = sum(b["size"] or 0 for b in doc["blobDeletions"] if b["digest"] in deleted)
    assert single(metrics, "reclaimed_bytes") == expected_bytes > 0
    assert (single(metrics, "success"), single(metrics, "exit_code"), single(metrics, "dry_run")) == (1, 0, 0)
    start, end = single(metrics, "start_timestamp_seconds"), single(metrics, "end_timestamp_seconds")
    assert 0 < start <= end and single(metrics, "duration_seconds") == pytest.approx(end - start, abs=1e-3)
    assert single(metrics, "last_success_timestamp_seconds") == end
    from pruneplan.timefmt import parse_time

    assert single(metrics, "plan_created_timestamp_seconds") == parse_time(doc["metadata"]["createdAt"])
    assert single(metrics, "plan_expiry_timestamp_seconds") == parse_time(doc["metadata"]["notAfter"])

    # the rerun: everything is done by the earlier run, and the journal says so
    again = stack.env.execute(plan, "--confirm", "--registry-url", stack.proxy.url, "--metrics-file", str(metrics_file))
    assert again.code == 0, again.err
    rerun = read_metrics(metrics_file)
    assert nonzero(actions(rerun), "done_earlier") == {(kind, "done_earlier"): n
                                                      for (kind, _), n in nonzero(counts, "done").items()}
    assert nonzero(actions(rerun), "done") == {} and single(rerun, "reclaimed_bytes") == 0


def test_a_dry_run_writes_dry_run_1_and_counts_what_confirm_would_do(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    metrics_file = env.tmp / "dry.prom"
    result = env.execute(plan, "--metrics-file", str(metrics_file))
    assert result.code == 0, result.err
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "dry_run"), single(metrics, "success"), single(metrics, "exit_code")) == (1, 1, 0)
    assert nonzero(actions(metrics), "dry_run") == {("imagestream", "dry_run"): len(doc["imageStreamUpdates"]),
                                                    ("image", "dry_run"): len(doc["imageDeletions"])}
    assert nonzero(actions(metrics), "done") == {}
    assert single(metrics, "last_success_timestamp_seconds") == 0  # a dry run deletes nothing: no success of a prune
    assert env.writes() == []


def test_a_failed_run_writes_success_0_its_exit_code_and_its_failed_actions(env):
    plan = env.plan(NO_REGISTRY)
    doc = load(plan)
    env.api.fault("/apis/image.openshift.io/v1/images/", 403, times=None, method="DELETE")
    metrics_file = env.tmp / "failed.prom"
    result = env.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    assert result.code == 1
    assert result.err_lines[-1].startswith("error: ")  # the run's own error stays the last word
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "success"), single(metrics, "exit_code")) == (0, 1)
    assert actions(metrics)["image", "failed"] == len(doc["imageDeletions"]) > 0
    assert actions(metrics)["imagestream", "done"] == len(doc["imageStreamUpdates"])
    assert single(metrics, "last_success_timestamp_seconds") == 0


def test_a_refused_expired_plan_writes_success_0_exit_12_and_the_plans_expiry(env):
    plan = env.plan(NO_REGISTRY, "--valid-for=1s", "--now", "2026-01-01T00:00:00Z")
    metrics_file = env.tmp / "expired.prom"
    result = env.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    assert result.code == 12
    assert len(result.err_lines) == 1 and "expired" in result.err_lines[0]
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "success"), single(metrics, "exit_code"), single(metrics, "dry_run")) == (0, 12, 0)
    assert single(metrics, "plan_expiry_timestamp_seconds") == 1767225601  # 2026-01-01T00:00:01Z
    assert all(n == 0 for n in actions(metrics).values())
    assert env.writes() == []


def test_a_refusal_before_the_plan_is_read_keeps_the_last_success_of_the_previous_file(env):
    plan = env.plan(NO_REGISTRY)
    metrics_file = env.tmp / "pruneplan.prom"
    assert env.execute(plan, "--confirm", "--metrics-file", str(metrics_file)).code == 0
    succeeded = single(read_metrics(metrics_file), "last_success_timestamp_seconds")
    assert succeeded > 0
    refused = env.execute(plan, "--confirm", "--threshold", "2", "--metrics-file", str(metrics_file))
    assert refused.code == 2, refused.err
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "success"), single(metrics, "exit_code")) == (0, 2)
    assert single(metrics, "plan_expiry_timestamp_seconds") == 0  # the plan was not read
    assert single(metrics, "last_success_timestamp_seconds") == succeeded


@pytest.mark.parametrize("run", ["succeeds", "fails"])
def test_an_unwritable_metrics_file_is_one_warning_and_the_exit_code_is_the_runs(env, run):
    plan = env.plan(NO_REGISTRY)
    if run == "fails":
        env.api.fault("/apis/image.openshift.io/v1/images/", 403, times=None, method="DELETE")
    missing = env.tmp / "no-such-directory" / "pruneplan.prom"
    result = env.execute(plan, "--confirm", "--metrics-file", str(missing))
    assert result.code == (0 if run == "succeeds" else 1), result.err
    warnings = [line for line in result.err_lines if line.startswith("warning: metrics file not written")]
    assert len(warnings) == 1 and str(missing) in warnings[0]
    assert "Traceback" not in result.err
    assert (run == "fails") == result.err_lines[-1].startswith("error: ")
    assert not missing.parent.exists()


def test_metrics_on_stdout_are_refused_as_stdout_carries_the_runs_output(env):
    plan = env.plan(NO_REGISTRY)
    result = env.execute(plan, "--metrics-file", "-")
    assert result.code == 2
    assert result.err_lines == ["error: --metrics-file needs a file: stdout carries the run's output"]
    assert result.out == ""


def test_the_metrics_file_is_replaced_by_a_rename_so_a_reader_sees_the_old_file_or_the_new(env):
    plan = env.plan(NO_REGISTRY)
    directory = env.tmp / "textfile"
    directory.mkdir()
    metrics_file = directory / "pruneplan.prom"
    old = "# HELP pruneplan_execute_success old\n# TYPE pruneplan_execute_success gauge\npruneplan_execute_success 0\n"
    metrics_file.write_text(old)
    os.link(metrics_file, env.tmp / "old-inode")  # the old file itself, whatever the name comes to hold
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:  # a scraper reading the name while the run writes it
        while not stop.is_set():
            seen.append(metrics_file.read_text())

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        result = env.execute(plan, "--confirm", "--metrics-file", str(metrics_file))
    finally:
        stop.set()
        reader.join()
    assert result.code == 0, result.err
    new = metrics_file.read_text()
    assert new != old and (env.tmp / "old-inode").read_text() == old  # never written in place
    assert set(seen) <= {old, new}  # every read was one whole file
    assert sorted(p.name for p in directory.iterdir()) == ["pruneplan.prom"]  # no temporary file left
    assert single(read_metrics(metrics_file), "success") == 1


def test_an_interrupted_run_writes_success_0_exit_143_and_what_it_did_as_the_journal_says(env):
    plan = env.plan(NO_REGISTRY)
    metrics_file = env.tmp / "interrupted.prom"
    seen = {"writes": 0, "pid": 0}
    lock = threading.Lock()

    def terminate_on_third_write(request) -> None:
        if request.method in ("PUT", "DELETE"):
            with lock:
                seen["writes"] += 1
                if seen["writes"] == 3 and seen["pid"]:
                    os.kill(seen["pid"], signal.SIGTERM)

    env.api.hooks.append(terminate_on_third_write)
    args = [sys.executable, "-m", "pruneplan.cli", "execute", str(plan), "--key", env.pub,
            "--kubeconfig", env.kubeconfig, "--confirm", "--metrics-file", str(metrics_file)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    seen["pid"] = proc.pid
    _, err = proc.communicate(timeout=120)
    env.api.hooks.clear()
    assert proc.returncode == 143, err
    assert err.splitlines()[-1] == "error: terminated"
    metrics = read_metrics(metrics_file)
    assert (single(metrics, "success"), single(metrics, "exit_code")) == (0, 143)
    journal = journal_outcomes(Path(f"{plan}.journal"))
    assert sum(journal.values()) >= 3
    for outcome in ("done", "already_absent", "failed"):
        assert nonzero(actions(metrics), outcome) == {pair: n for pair, n in journal.items() if pair[1] == outcome}
