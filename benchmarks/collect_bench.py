"""Time `pruneplan collect` against the tests' fake API answering after a fixed latency.

    python3 -m benchmarks.collect_bench [--images 20000] [--page-size 500[,N...]] [--latency 0.02]

It serves the objects of a generated dump (benchmarks/data/dump-<size>.json.gz, made when
missing, as benchmarks.run does) from the fake API and runs `pruneplan collect` in a child
process, for each page size twice: with the latency on every request, and with none (what the
fake server and the client cost alone). collect lists one kind after another and one page after
another, so its floor is requests x latency, one request at a time. Every object the fake
serves must come back in the dump: the table says how many did.

The peak RSS is collect's own high-water mark (VmHWM, read as it exits), with wait4's
ru_maxrss beside it, which starts at this process's RSS (execute_bench's docstring). "CPU" is
collect's user + system time and this process's, where the fake API serves (it sorts and copies
the objects of a kind for each page: its cost grows with the number of pages).

Markdown table to stdout, progress to stderr; exit 1 when a run failed or lost objects.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks.execute_bench import positive_ints
from benchmarks.fakes import RequestLog, add_latency
from benchmarks.run import DATA, compile_bytecode, ensure_dump, log, measure
from tests.fakeapi import FakeAPI, dump_objects

# collect lists kinds one after another, a page at a time (collect/collector.py).
PARALLELISM = 1

# The child: pruneplan's CLI, then its own peak RSS (VmHWM) written to a file: wait4's ru_maxrss
# starts at this process's RSS, which holds the fake's whole cluster (execute_bench's docstring).
PEAK_WRITTEN = r"""
import sys
from pruneplan.cli import main
try:
    code = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
sys.exit(code)
"""


@dataclass
class Run:
    page_size: int
    latency: float
    rc: int = 0
    wall: float = 0.0
    maxrss_mb: float = 0.0  # wait4's
    peak_mb: float = 0.0  # the child's own VmHWM
    lists: int = 0  # LIST requests: one per page
    others: int = 0  # discovery, version, cluster identity and settings
    collected: int = 0
    cpu: float = 0.0  # the child's user + system CPU seconds
    fake_cpu: float = 0.0  # this process's (the fake API's threads) during the run
    failure: str | None = None

    def floor(self) -> float:
        return (self.lists + self.others) * self.latency / PARALLELISM


def dumped_objects(path: Path) -> int:
    """How many objects the dump holds (every kind)."""
    doc = orjson.loads(gzip.decompress(path.read_bytes()))
    return sum(len(items) for items in doc["objects"].values())


def collect(run: Run, objects: list[dict[str, Any]], tmp: Path, timeout: float | None) -> None:
    requests = RequestLog()
    with FakeAPI() as api:
        api.add_all(objects)
        add_latency(api, run.latency, requests)
        kubeconfig = api.kubeconfig(str(tmp / "kubeconfig"))
        out = tmp / f"collected-{run.page_size}-{run.latency:g}.json.gz"
        peak = tmp / "peak"
        peak.unlink(missing_ok=True)
        with open(tmp / "collect.err", "wb") as err:
            children, own = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
            m = measure([sys.executable, "-c", PEAK_WRITTEN, str(peak), "collect", "--kubeconfig", kubeconfig, "-o", str(out),
                         "--page-size", str(run.page_size)], stderr=err, timeout=timeout)
            run.fake_cpu = time.process_time() - own
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wait4 reaped the child: its CPU is added
            run.cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    run.rc, run.wall, run.maxrss_mb = m.rc, m.wall, m.maxrss_mb
    run.peak_mb = int(peak.read_text()) / 1024 if peak.exists() else 0.0
    seen = requests.snapshot()
    run.lists = sum(1 for s in seen if s.method == "GET" and _is_list(s.path))
    run.others = len(seen) - run.lists
    if m.killed or m.rc != 0:
        lines = (tmp / "collect.err").read_text(errors="replace").strip().splitlines()[-3:]
        run.failure = m.killed or f"exit {m.rc}: {' / '.join(lines)}"
    elif out.exists():
        run.collected = dumped_objects(out)
        out.unlink()


def _is_list(path: str) -> bool:
    """A LIST of a kind collect reads (the hook sees the path without its query string)."""
    from pruneplan.kinds import KINDS

    last = path.rstrip("/").rsplit("/", 1)[-1]
    return any(last == kind.resource for kind in KINDS)


def table(runs: list[Run], served: int) -> str:
    lines = [
        f"Objects served: {served:,} (every kind collect reads)",
        "",
        "| page size | latency | LIST requests | other requests | wall | floor | wall/floor | peak RSS (wait4) | CPU: collect, fake | objects in the dump |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        floor = r.floor()
        ratio = f"{r.wall / floor:.2f}" if floor else "-"
        collected = f"{r.collected:,}" + (f" ({r.failure})" if r.failure else "")
        lines.append(f"| {r.page_size:,} | {r.latency * 1000:g} ms | {r.lists:,} | {r.others:,} | {r.wall:.2f} s | {floor:.2f} s "
                     f"| {ratio} | {r.peak_mb:.0f} MB ({r.maxrss_mb:.0f} MB) | {r.cpu:.1f} s, {r.fake_cpu:.1f} s | {collected} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.collect_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20000, metavar="N", help="images in the generated dump (default 20000)")
    parser.add_argument("--page-size", default="500", metavar="N[,N...]",
                        help="collect's --page-size values to run (default 500, collect's default)")
    parser.add_argument("--latency", type=float, default=0.02, metavar="SECONDS",
                        help="the fake API's wait before each answer (default 0.02)")
    parser.add_argument("--seed", type=int, default=1, metavar="N", help="generator seed for a missing dump (default 1)")
    parser.add_argument("--data-dir", type=Path, default=DATA, metavar="DIR", help="where dumps are kept (default benchmarks/data)")
    parser.add_argument("--timeout", type=float, default=900, metavar="SECONDS", help="kill a run after this long (default 900)")
    args = parser.parse_args(argv)
    page_sizes = positive_ints(args.page_size, "--page-size", parser)
    if args.images < 1 or args.latency < 0:
        parser.error("--images must be positive and --latency not negative")
    compile_bytecode()
    dump = ensure_dump(args.images, args.seed, args.data_dir)
    objects = dump_objects(str(dump))
    served = sum(1 for obj in objects if obj.get("kind") != "ClusterVersion")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="pruneplan-collect-bench-") as tmp_dir:
        for page_size in page_sizes:
            for latency in dict.fromkeys((args.latency, 0.0)):
                run = Run(page_size, latency)
                log(f"collect --page-size {page_size}, latency {latency * 1000:g} ms ...")
                started = time.perf_counter()
                collect(run, objects, Path(tmp_dir), args.timeout)
                log(f"  {time.perf_counter() - started:.1f} s, exit {run.rc}, {run.collected:,} objects")
                runs.append(run)
    print(table(runs, served))
    return 0 if all(r.failure is None and r.collected == served for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
