"""Time `pruneplan collect` against a fake API answering after a fixed latency, phase by phase.

    python3 -m benchmarks.collect_bench [--images 20000] [--page-size 500[,N...]]
                                        [--parallel-lists 1,4] [--latency 0.02]

It serves the objects of a generated dump (benchmarks/data/dump-<size>.json.gz, made when
missing, as benchmarks.run does) from benchmarks.fakes.PagedFakeAPI: the tests' fake API (TLS,
bearer token, its kubeconfig) with each list's pages encoded once, before the runs, so that a
page costs the fake little more than writing its bytes and the runs measure collect rather than
the fake. For each page size and each `--parallel-lists` value it runs `pruneplan collect` in a
child process twice: with the latency on every request, and with none (what the client and the
fake cost alone). Every object the fake serves must come back in the dump.

The columns of the table:
- **LIST requests**, **other requests**: as the fake saw them (a LIST is one page; the others
  are the ClusterVersion and the cluster's pruning settings, read first, all at once).
- **wall**: the child's, start to exit. It is cut into phases, on the fake's clock (the
  benchmark's `perf_counter`): **start-up** (child started -> first request: Python, imports,
  the kubeconfig), **version, settings** (first request -> first LIST), **lists** (first LIST
  arrives -> last LIST answered) and **finish** (last LIST answered -> exit: the spools drained
  into the dump, gzip, the rename).
- **lists floor**: what the latency alone costs the lists phase with collect's schedule: the
  kinds in the order collect starts them (collect.collector.LISTING_ORDER: images first), at
  most `--parallel-lists` lists at a time, each list's pages
  one after another, each page `latency`; the makespan of that schedule, so the longest list
  (images) counts as a chain. **pages × latency ÷ P** beside it is the same latency spread
  perfectly over the P lists: a bound no schedule of whole lists reaches when one list is long.
- **floor**: one latency for the other requests (collect sends them at once) plus the lists
  floor; **wall/floor** and
  **lists/floor** set the measured times against them ("-" without latency).
- **peak RSS**: collect's own high-water mark (VmHWM, read as it exits), with wait4's ru_maxrss
  in brackets, which starts at this process's RSS (execute_bench's docstring).
- **CPU**: collect's user + system time, then this process's during the run, where the fake
  serves (TLS, the latency's sleeping threads, writing the pages).
- **objects in the dump**: what collect wrote, which must equal the objects served.

Markdown table to stdout, progress to stderr; exit 1 when a run failed or lost objects.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from benchmarks.execute_bench import positive_ints
from benchmarks.fakes import PagedFakeAPI, Seen
from benchmarks.run import DATA, compile_bytecode, ensure_dump, log, measure
from tests.fakeapi import dump_objects

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


def list_paths() -> list[str]:
    """The LIST path of each kind collect reads, cluster-wide, in the order collect starts them."""
    from pruneplan.collect.collector import LISTING_ORDER
    from pruneplan.collect.lister import list_path

    return [list_path(kind, None) for kind in LISTING_ORDER]


def lists_floor(pages: list[int], parallel: int, latency: float) -> float:
    """The makespan of collect's schedule when each page costs `latency` and nothing else
    does: lists start in the given order as soon as one of `parallel` slots is free, and a
    list's pages follow one another."""
    free = [0.0] * max(1, min(parallel, len(pages)))  # when each slot is next free
    for count in pages:
        start = heapq.heappop(free)
        heapq.heappush(free, start + count * latency)
    return max(free)


@dataclass
class Run:
    page_size: int
    parallel: int
    latency: float
    rc: int = 0
    wall: float = 0.0
    maxrss_mb: float = 0.0  # wait4's
    peak_mb: float = 0.0  # the child's own VmHWM
    pages: list[int] = field(default_factory=list)  # LIST requests per kind, in the order collect starts them
    others: int = 0  # ClusterVersion and the cluster settings
    startup: float = 0.0  # child started -> first request
    reads: float = 0.0  # first request -> first LIST
    lists_wall: float = 0.0  # first LIST arrived -> last LIST answered
    finish: float = 0.0  # last LIST answered -> exit
    collected: int = 0
    cpu: float = 0.0  # the child's user + system CPU seconds
    fake_cpu: float = 0.0  # this process's (the fake API's threads) during the run
    failure: str | None = None

    @property
    def lists(self) -> int:
        return sum(self.pages)

    def lists_floor(self) -> float:
        return lists_floor(self.pages, self.parallel, self.latency)

    def spread(self) -> float:
        """Every page's latency spread evenly over the parallel lists."""
        return self.lists * self.latency / self.parallel

    def floor(self) -> float:
        return (self.latency if self.others else 0.0) + self.lists_floor()


def dumped_objects(path: Path) -> int:
    """How many objects the dump holds (every kind)."""
    doc = orjson.loads(gzip.decompress(path.read_bytes()))
    return sum(len(items) for items in doc["objects"].values())


def phases(run: Run, started: float, arrivals: list[Seen], answers: list[Seen]) -> None:
    """Count the requests per kind and cut the wall at the first request, the first LIST and
    the last LIST answer (all on this process's perf_counter)."""
    paths = list_paths()
    run.pages = [sum(1 for s in arrivals if s.path == path) for path in paths]
    run.others = len(arrivals) - run.lists
    listed = set(paths)
    list_arrivals = [s.at for s in arrivals if s.path in listed]
    list_answers = [s.at for s in answers if s.path in listed]
    if not arrivals or not list_arrivals or not list_answers:
        return  # a run that ended before it listed: its failure says why
    end = started + run.wall
    run.startup = arrivals[0].at - started
    run.reads = list_arrivals[0] - arrivals[0].at
    run.lists_wall = max(list_answers) - list_arrivals[0]
    run.finish = end - max(list_answers)


def collect(run: Run, api: PagedFakeAPI, kubeconfig: str, tmp: Path, timeout: float | None) -> None:
    api.latency = run.latency
    api.reset_logs()
    out = tmp / f"collected-{run.page_size}-{run.parallel}-{run.latency:g}.json.gz"
    peak = tmp / "peak"
    peak.unlink(missing_ok=True)
    with open(tmp / "collect.err", "wb") as err:
        children, own = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
        started = time.perf_counter()
        m = measure([sys.executable, "-c", PEAK_WRITTEN, str(peak), "collect", "--kubeconfig", kubeconfig, "-o", str(out),
                     "--page-size", str(run.page_size), "--parallel-lists", str(run.parallel)], stderr=err, timeout=timeout)
        run.fake_cpu = time.process_time() - own
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # wait4 reaped the child: its CPU is added
        run.cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    run.rc, run.wall, run.maxrss_mb = m.rc, m.wall, m.maxrss_mb
    run.peak_mb = int(peak.read_text()) / 1024 if peak.exists() else 0.0
    phases(run, started, api.arrivals.snapshot(), api.answers.snapshot())
    if m.killed or m.rc != 0:
        lines = (tmp / "collect.err").read_text(errors="replace").strip().splitlines()[-3:]
        run.failure = m.killed or f"exit {m.rc}: {' / '.join(lines)}"
    elif out.exists():
        run.collected = dumped_objects(out)
        out.unlink()


def _ratio(measured: float, floor: float) -> str:
    return f"{measured / floor:.2f}" if floor > 0 else "-"


COLUMNS = ("page size", "parallel lists", "latency", "LIST requests", "other requests", "wall", "floor", "wall/floor",
           "start-up", "version, settings", "lists", "lists floor", "lists/floor", "pages × latency ÷ P", "finish",
           "peak RSS (wait4)", "CPU: collect, fake", "objects in the dump")


def table(runs: list[Run], served: int) -> str:
    lines = [
        f"Objects served: {served:,} (every kind collect reads)",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---:|" * len(COLUMNS),
    ]
    for r in runs:
        collected = f"{r.collected:,}" + (f" ({r.failure})" if r.failure else "")
        cells = [f"{r.page_size:,}", str(r.parallel), f"{r.latency * 1000:g} ms", f"{r.lists:,}", f"{r.others:,}",
                 f"{r.wall:.2f} s", f"{r.floor():.2f} s", _ratio(r.wall, r.floor()),
                 f"{r.startup:.2f} s", f"{r.reads:.2f} s", f"{r.lists_wall:.2f} s", f"{r.lists_floor():.2f} s",
                 _ratio(r.lists_wall, r.lists_floor()), f"{r.spread():.2f} s", f"{r.finish:.2f} s",
                 f"{r.peak_mb:.0f} MB ({r.maxrss_mb:.0f} MB)", f"{r.cpu:.1f} s, {r.fake_cpu:.1f} s", collected]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.collect_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20000, metavar="N", help="images in the generated dump (default 20000)")
    parser.add_argument("--page-size", default="500", metavar="N[,N...]",
                        help="collect's --page-size values to run (default 500, collect's default)")
    parser.add_argument("--parallel-lists", default="1,4", metavar="N[,N...]",
                        help="collect's --parallel-lists values to run (default 1,4: one list at a time, and collect's default)")
    parser.add_argument("--latency", type=float, default=0.02, metavar="SECONDS",
                        help="the fake API's wait before each answer (default 0.02)")
    parser.add_argument("--seed", type=int, default=1, metavar="N", help="generator seed for a missing dump (default 1)")
    parser.add_argument("--data-dir", type=Path, default=DATA, metavar="DIR", help="where dumps are kept (default benchmarks/data)")
    parser.add_argument("--timeout", type=float, default=900, metavar="SECONDS", help="kill a run after this long (default 900)")
    args = parser.parse_args(argv)
    page_sizes = positive_ints(args.page_size, "--page-size", parser)
    parallels = positive_ints(args.parallel_lists, "--parallel-lists", parser)
    if args.images < 1 or args.latency < 0:
        parser.error("--images must be positive and --latency not negative")
    compile_bytecode()
    dump = ensure_dump(args.images, args.seed, args.data_dir)
    objects = dump_objects(str(dump))
    served = sum(1 for obj in objects if obj.get("kind") != "ClusterVersion")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="pruneplan-collect-bench-") as tmp_dir, PagedFakeAPI() as api:
        api.add_all(objects)
        del objects  # the fake holds its own copies
        kubeconfig = api.kubeconfig(str(Path(tmp_dir) / "kubeconfig"))
        for page_size in page_sizes:
            pages = api.prepare(page_size)  # encoded before the runs: no run pays for it
            log(f"page size {page_size}: {pages:,} pages encoded")
            for parallel in parallels:
                for latency in dict.fromkeys((args.latency, 0.0)):
                    run = Run(page_size, parallel, latency)
                    log(f"collect --page-size {page_size} --parallel-lists {parallel}, latency {latency * 1000:g} ms ...")
                    collect(run, api, kubeconfig, Path(tmp_dir), args.timeout)
                    log(f"  {run.wall:.1f} s, exit {run.rc}, {run.collected:,} objects")
                    runs.append(run)
    print(table(runs, served))
    return 0 if all(r.failure is None and r.collected == served for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
