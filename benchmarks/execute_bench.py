"""Time `pruneplan execute --confirm` against loopback fakes that answer after a fixed latency.

    python3 -m benchmarks.execute_bench [--actions 20000] [--workers 5,32]
        [--api-latency 0.02] [--registry-latency 0.03] [--journal-dir DIR]

It generates a dump (benchmarks/generate.py, sized for about --actions plan actions), serves its
objects from the tests' fake API, collects and analyzes them into a signed plan (without
latency), then for each worker count replays the plan with `execute --confirm` in a child
process against a fresh copy of the cluster: the fake API waits --api-latency before each
answer, a fake registry (benchmarks/fakes.py) --registry-latency. Both serve connections
concurrently, so latency overlaps across workers.

The floor is what the latency alone costs, phase by phase in upstream's order, from the
requests the fakes saw: the start-up and the re-check (execute lists the live cluster one page
after another) at one request at a time, then stage 1 (stream GETs and status PUTs, layer and
manifest links) and stage 2 (blobs, Image objects) at --num-workers requests at a time.

The journal's share is measured inside the child, which runs pruneplan's own CLI with
`Journal.record` and the fsyncs of `*.journal` files wrapped in timers. "fsync busy" is the time
spent in the journal's fsyncs as a share of the replay's wall (stage 1 to stage 2): fsyncs of
one file run one at a time, so near 100 % the disk's flushes are what the workers wait for.
"records per fsync" says how many records one flush covers; "per record" is the mean time a
worker spends in a record call (waiting for the journal's lock and for a flush included), to
compare with the latency of the call it records.

"peak RSS" is the child's own high-water mark (VmHWM, read as it exits), not wait4's
ru_maxrss: Linux starts a spawned child's ru_maxrss at its parent's RSS (the high-water mark of
the memory it leaves at exec), and this process holds the fakes' whole cluster; wait4's figure is
shown beside it.

"CPU" is the child's user + system time (from wait4's rusage) and the benchmark process's, where
the fakes run: on a machine with few cores, a sum near cores x wall means the run was CPU-bound,
not latency-bound. "registry connections" counts the connections the fake registry accepted
(a pool smaller than the workers discards connections and opens new ones; urllib3's "Connection
pool is full" warning says so only to a program that configures logging, and pruneplan does not:
urllib3's own NullHandler keeps it off stderr).

Markdown tables go to stdout, progress to stderr. Exit 1 when a run failed or left part of the
plan undone (the fakes did not see every planned deletion).
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from benchmarks.fakes import FakeRegistry, RequestLog, Seen, add_latency
from benchmarks.generate import generate
from benchmarks.run import compile_bytecode, log, measure
from tests.fakeapi import FakeAPI, dump_objects

# Plans of generated dumps (seed 1, analyzed at today's date) hold about 5.75 actions per image.
ACTIONS_PER_IMAGE = 5.75
MIN_IMAGES = 8

# The child: pruneplan's CLI with Journal.record and the fsyncs of *.journal files timed
# (module docstring). os-level, so it does not depend on how the journal groups its writes.
JOURNAL_TIMED = r"""
import os, sys, threading, time
import orjson
figures = {"records": 0, "recordSeconds": 0.0, "syncs": 0, "syncSeconds": 0.0}
lock = threading.Lock()

def add(count, seconds, spent):
    with lock:
        figures[count] += 1
        figures[seconds] += spent

def timed_record(original):
    def record(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            add("records", "recordSeconds", time.perf_counter() - start)
    return record

def timed_sync(original):
    def sync(fd):
        try:
            journal = os.readlink(f"/proc/self/fd/{fd}").endswith(".journal")
        except OSError:
            journal = False
        start = time.perf_counter()
        try:
            return original(fd)
        finally:
            if journal:
                add("syncs", "syncSeconds", time.perf_counter() - start)
    return sync

# before the journal's module is imported: it may bind os.fsync as a default argument
os.fsync = timed_sync(os.fsync)
os.fdatasync = timed_sync(os.fdatasync)
from pruneplan.execute.journal import Journal
Journal.record = timed_record(Journal.record)
from pruneplan.cli import main
try:
    code = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as status:  # this process's own peak RSS (module docstring)
        figures["peakKiB"] = int(next(line for line in status if line.startswith("VmHWM:")).split()[1])
    with open(sys.argv[1], "wb") as handle:
        handle.write(orjson.dumps(figures))
sys.exit(code)
"""

_STREAM = re.compile(r"^/apis/image\.openshift\.io/v1/namespaces/[^/]+/imagestreams/[^/]+(/status)?$")
_IMAGE = re.compile(r"^/apis/image\.openshift\.io/v1/images/[^/]+$")
PHASES = ("start-up and re-check", "stage 1: streams, links", "stage 2: blobs, images")


def api_phase(seen: Seen) -> int:
    if seen.method in ("GET", "PUT") and _STREAM.match(seen.path):
        return 1
    if seen.method == "DELETE" and _IMAGE.match(seen.path):
        return 2
    return 0


def registry_phase(seen: Seen) -> int:
    if seen.method != "DELETE":
        return 0
    return 2 if seen.path.startswith("/admin/blobs/") else 1


@dataclass
class Phase:
    requests: int = 0
    latency: float = 0.0  # requests x latency, summed
    first: float | None = None
    last: float | None = None  # the last request's arrival plus its latency

    def add(self, seen: Seen, latency: float) -> None:
        self.requests += 1
        self.latency += latency
        self.first = seen.at if self.first is None else min(self.first, seen.at)
        end = seen.at + latency
        self.last = end if self.last is None else max(self.last, end)

    def wall(self) -> float:
        return 0.0 if self.first is None or self.last is None else self.last - self.first


@dataclass
class Run:
    workers: int
    rc: int = 0
    wall: float = 0.0
    maxrss_mb: float = 0.0
    phases: list[Phase] = field(default_factory=lambda: [Phase() for _ in PHASES])
    started: float = 0.0
    journal: dict[str, Any] = field(default_factory=dict)
    planned: int = 0
    executed: int = 0
    registry_connections: int = 0
    cpu: float = 0.0  # the child's user + system CPU seconds
    fakes_cpu: float = 0.0  # this process's (the fakes' threads) during the run
    failure: str | None = None

    def floor(self) -> float:
        start, *stages = self.phases
        return start.latency + sum(p.latency for p in stages) / self.workers

    def replay_wall(self) -> float:
        firsts = [p.first for p in self.phases[1:] if p.first is not None]
        lasts = [p.last for p in self.phases[1:] if p.last is not None]
        return max(lasts) - min(firsts) if firsts and lasts else 0.0


def planned_calls(plan: dict[str, Any]) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """What the fakes must have seen: registry DELETE paths, Image names deleted, streams updated."""
    registry = {f"/v2/{e['repository']}/blobs/{e['digest']}" for e in plan["layerLinkDeletions"]}
    registry |= {f"/v2/{e['repository']}/manifests/{e['digest']}" for e in plan["manifestLinkDeletions"]}
    registry |= {f"/admin/blobs/{e['digest']}" for e in plan["blobDeletions"]}
    images = {e["name"] for e in plan["imageDeletions"]}
    streams = {(e["namespace"], e["name"]) for e in plan["imageStreamUpdates"]}
    return registry, images, streams


def count_executed(plan: dict[str, Any], api_log: list[Seen], registry: FakeRegistry) -> tuple[int, int]:
    """(planned actions the fakes saw done, planned actions)."""
    want_registry, want_images, want_streams = planned_calls(plan)
    deleted_images, updated_streams = set(), set()
    for seen in api_log:
        segments = [unquote(s) for s in seen.path.strip("/").split("/")]
        if seen.method == "DELETE" and _IMAGE.match(seen.path):
            deleted_images.add(segments[-1])
        elif seen.method == "PUT" and _STREAM.match(seen.path):
            updated_streams.add((segments[4], segments[6]))
    done = len(want_registry & registry.deleted) + len(want_images & deleted_images) + len(want_streams & updated_streams)
    return done, len(want_registry) + len(want_images) + len(want_streams)


def longest_chains(plan: dict[str, Any], api_latency: float, registry_latency: float) -> tuple[float, float]:
    """The latency of the longest sequence one worker must make, in stage 1 (one stream: GET,
    layer links, status PUT, manifest links) and in stage 2 (one image: its blobs, then the
    Image object): no number of workers makes a stage shorter."""
    streams: dict[str, float] = {}
    for e in plan["imageStreamUpdates"]:
        repo = f"{e['namespace']}/{e['name']}"
        streams[repo] = streams.get(repo, 0.0) + 2 * api_latency
    for e in plan["layerLinkDeletions"] + plan["manifestLinkDeletions"]:
        streams[e["repository"]] = streams.get(e["repository"], 0.0) + registry_latency
    images = {e["name"]: api_latency for e in plan["imageDeletions"]}
    for e in plan["blobDeletions"]:
        images[e["image"]] = images.get(e["image"], api_latency) + registry_latency
    return max(streams.values(), default=0.0), max(images.values(), default=0.0)


def pruneplan(*args: str) -> None:
    """A set-up step (keygen, collect, analyze), untimed; its output only when it fails."""
    with tempfile.TemporaryFile() as err:
        m = measure([sys.executable, "-m", "pruneplan.cli", *args], stderr=err)
        if m.rc != 0:
            err.seek(0)
            raise SystemExit(f"pruneplan {args[0]} failed (exit {m.rc}): {err.read().decode(errors='replace')[-2000:]}")


def make_plan(objects: list[dict[str, Any]], tmp: Path) -> tuple[Path, Path]:
    """Collect the objects from the fake API (no latency) and analyze them: (signed plan, key.pub)."""
    key = tmp / "key"
    pruneplan("keygen", str(key))
    with FakeAPI() as api:
        api.add_all(objects)
        kubeconfig = api.kubeconfig(str(tmp / "setup.kubeconfig"))
        pruneplan("collect", "--kubeconfig", kubeconfig, "-o", str(tmp / "live.json.gz"))
    plan = tmp / "plan.json"
    pruneplan("analyze", str(tmp / "live.json.gz"), "-o", str(plan), "--sign-key", str(key), "-q")
    return plan, Path(str(key) + ".pub")


def execute(run: Run, objects: list[dict[str, Any]], plan: Path, pub: Path, tmp: Path, journal_dir: Path,
            api_latency: float, registry_latency: float, timeout: float | None) -> None:
    """One confirmed run against a fresh copy of the cluster and an empty registry."""
    doc = orjson.loads(plan.read_bytes())
    api_log = RequestLog()
    with FakeAPI() as api, FakeRegistry(registry_latency) as registry:
        api.add_all(objects)
        add_latency(api, api_latency, api_log)
        kubeconfig = api.kubeconfig(str(tmp / f"run-{run.workers}.kubeconfig"))
        figures = tmp / f"journal-{run.workers}.json"
        journal = journal_dir / f"plan-{run.workers}w.journal"
        journal.unlink(missing_ok=True)
        cmd = [sys.executable, "-c", JOURNAL_TIMED, str(figures), "execute", str(plan), "--key", str(pub),
               "--kubeconfig", kubeconfig, "--confirm", "--registry-url", registry.url,
               "--num-workers", str(run.workers), "--journal", str(journal), "--format", "json"]
        err_path = tmp / f"execute-{run.workers}.err"
        with open(tmp / f"execute-{run.workers}.out", "wb") as out, open(err_path, "wb") as err:
            children, own = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
            run.started = time.perf_counter()
            m = measure(cmd, stdout=out, stderr=err, timeout=timeout)
            run.fakes_cpu = time.process_time() - own
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wait4 reaped the child: its CPU is added
            run.cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        run.rc, run.wall, run.maxrss_mb = m.rc, m.wall, m.maxrss_mb
        stderr = err_path.read_text(errors="replace")
        if m.killed or m.rc != 0:
            tail = stderr.strip().splitlines()[-3:]
            run.failure = m.killed or f"exit {m.rc}: {' / '.join(tail)}"
        if figures.exists():
            run.journal = orjson.loads(figures.read_bytes())
        seen_api = api_log.snapshot()
        for seen in seen_api:
            run.phases[api_phase(seen)].add(seen, api_latency)
        for seen in registry.log.snapshot():
            run.phases[registry_phase(seen)].add(seen, registry_latency)
        run.executed, run.planned = count_executed(doc, seen_api, registry)
        run.registry_connections = registry.connections
        journal.unlink(missing_ok=True)


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def tables(runs: list[Run], actions: dict[str, int], chains: tuple[float, float], api_latency: float,
           registry_latency: float) -> str:
    planned = ", ".join(f"{n:,} {name}" for name, n in actions.items())
    lines = [
        f"Plan: {sum(actions.values()):,} actions ({planned}); latency {api_latency * 1000:g} ms API, "
        f"{registry_latency * 1000:g} ms registry",
        "",
        "| workers | wall | floor | wall/floor | peak RSS (wait4) | journal fsync busy | records per fsync | journal per record | registry connections | CPU: execute, fakes | executed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        j = r.journal
        replay = r.replay_wall()
        held = f"{100 * j['syncSeconds'] / replay:.0f} % ({j['syncSeconds']:.1f} s)" if j and replay else "-"
        per_sync = f"{j['records'] / j['syncs']:.1f}" if j and j.get("syncs") else "-"
        per_record = f"{1000 * j['recordSeconds'] / j['records']:.2f} ms" if j and j.get("records") else "-"
        floor = r.floor()
        ratio = f"{r.wall / floor:.2f}" if floor else "-"
        peak = f"{j['peakKiB'] / 1024:.0f} MB" if j else "-"
        executed = f"{r.executed:,}/{r.planned:,}" + (f" ({r.failure})" if r.failure else "")
        lines.append(f"| {r.workers} | {_s(r.wall)} | {_s(floor)} | {ratio} | {peak} ({r.maxrss_mb:.0f} MB) | {held} | {per_sync} | {per_record} "
                     f"| {r.registry_connections:,} | {r.cpu:.1f} s, {r.fakes_cpu:.1f} s | {executed} |")
    lines += ["", "| workers | phase | requests | floor | longest chain | wall |", "|---:|---|---:|---:|---:|---:|"]
    for r in runs:
        for i, (name, phase) in enumerate(zip(PHASES, r.phases)):
            floor = phase.latency / (1 if i == 0 else r.workers)
            # the first phase starts with the child process, not with its first request
            wall = (phase.first - r.started + phase.wall()) if i == 0 and phase.first is not None else phase.wall()
            chain = _s(chains[i - 1]) if i else "-"
            lines.append(f"| {r.workers} | {name} | {phase.requests:,} | {_s(floor)} | {chain} | {_s(wall)} |")
        ends = [p.last for p in r.phases if p.last is not None]
        if ends:
            lines.append(f"| {r.workers} | exit (after the last request) | 0 | 0.00 s | - | {_s(r.started + r.wall - max(ends))} |")
    return "\n".join(lines)


def positive_ints(text: str, flag: str, parser: argparse.ArgumentParser) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        parser.error(f"{flag}: expected comma-separated integers, got {text!r}")
    if not values or any(v < 1 for v in values):
        parser.error(f"{flag}: expected positive integers, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.execute_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--actions", type=int, default=20000, metavar="N",
                        help="about how many plan actions (default 20000; the dump is sized for it)")
    parser.add_argument("--workers", default="5,32", metavar="N[,N...]", help="--num-workers values to run (default 5,32)")
    parser.add_argument("--api-latency", type=float, default=0.02, metavar="SECONDS",
                        help="the fake API's wait before each answer (default 0.02)")
    parser.add_argument("--registry-latency", type=float, default=0.03, metavar="SECONDS",
                        help="the fake registry's wait before each answer (default 0.03)")
    parser.add_argument("--journal-dir", type=Path, default=None, metavar="DIR",
                        help="where the journal is written (default: the benchmark's temporary directory); "
                             "/dev/shm puts it on a tmpfs")
    parser.add_argument("--seed", type=int, default=1, metavar="N", help="generator seed (default 1)")
    parser.add_argument("--timeout", type=float, default=900, metavar="SECONDS", help="kill a run after this long (default 900)")
    args = parser.parse_args(argv)
    workers = positive_ints(args.workers, "--workers", parser)
    if args.actions < 1 or args.api_latency < 0 or args.registry_latency < 0:
        parser.error("--actions must be positive and the latencies not negative")
    if args.journal_dir is not None and not args.journal_dir.is_dir():
        parser.error(f"--journal-dir: {args.journal_dir} is not a directory")
    compile_bytecode()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="pruneplan-execute-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        images = max(MIN_IMAGES, round(args.actions / ACTIONS_PER_IMAGE))
        log(f"generating a dump of {images:,} images ...")
        generate(images, args.seed, str(tmp / "dump.json.gz"))
        objects = dump_objects(str(tmp / "dump.json.gz"))
        log("collecting and analyzing it (no latency) ...")
        plan, pub = make_plan(objects, tmp)
        doc = orjson.loads(plan.read_bytes())
        actions = {name: len(doc[key]) for name, key in (
            ("stream updates", "imageStreamUpdates"), ("layer links", "layerLinkDeletions"),
            ("manifest links", "manifestLinkDeletions"), ("blobs", "blobDeletions"), ("images", "imageDeletions"))}
        log(f"plan: {sum(actions.values()):,} actions")
        for n in workers:
            run = Run(workers=n)
            log(f"execute --confirm --num-workers {n} ...")
            execute(run, objects, plan, pub, tmp, args.journal_dir or tmp, args.api_latency, args.registry_latency,
                    args.timeout)
            log(f"  {run.wall:.1f} s, exit {run.rc}, {run.executed:,}/{run.planned:,} executed")
            runs.append(run)
        chains = longest_chains(doc, args.api_latency, args.registry_latency)
    print(tables(runs, actions, chains, args.api_latency, args.registry_latency))
    return 0 if all(r.failure is None and r.executed == r.planned for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
