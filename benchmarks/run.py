"""Time `pruneplan analyze` on generated dumps: wall time and peak RSS of the child process.

    python -m benchmarks.run [--sizes 20000,100000] [--repeat 3] [--forms dump,list] [--profile]

For each size it generates benchmarks/data/dump-<size>.json.gz when missing (seed 1) and, with
`--forms ...,list`, the same objects as an `oc get -o json` List (list-<size>.json, analyzed
with --now), then runs for each input, each in a fresh subprocess:
- the floor: read + gunzip + `orjson.loads` of the dump, nothing else (what any design pays),
  parsed once as is and once with the cyclic GC disabled;
- `pruneplan analyze DUMP -o PLAN`, `--repeat` times (median wall; peak RSS over the runs),
  then once more, untimed, for its proportional set size (PSS): sampling it slows the process
  measured;
- `pruneplan --help` (start-up cost).
Peak RSS comes from `os.wait4`'s rusage (ru_maxrss), the PSS from /proc, every 0.25 s or more in
the extra run (sampling a big process's PSS makes the kernel walk its page tables, which stalls
its page faults: at 1M images a sampled run is seconds slower). analyze runs in one process;
the PSS sums any child processes all the same, so the figure stays right for any command.
Markdown tables go to stdout; progress (and the profile with --profile) to stderr.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, IO, Sequence

import orjson

from benchmarks.generate import COLLECTED_AT

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

# Runs in a fresh interpreter so its peak RSS is the parse alone.
FLOOR_SCRIPT = r"""
import gc, gzip, sys, time
import orjson
t0 = time.perf_counter()
with open(sys.argv[1], "rb") as handle:
    raw = handle.read()
t1 = time.perf_counter()
if raw[:2] == b"\x1f\x8b":
    raw = gzip.decompress(raw)
t2 = time.perf_counter()
figures = {"read": t1 - t0, "gunzip": t2 - t1, "jsonBytes": len(raw)}
try:
    doc = orjson.loads(raw)
except orjson.JSONDecodeError as err:  # e.g. orjson refuses documents of about 2 GiB and more
    figures["error"] = str(err)
else:
    t3 = time.perf_counter()
    # Again with the cyclic GC off: its passes over millions of new containers cost a lot.
    del doc
    gc.collect()
    gc.disable()
    t4 = time.perf_counter()
    doc = orjson.loads(raw)
    t5 = time.perf_counter()
    figures.update(parse=t3 - t2, parseNoGC=t5 - t4)
sys.stdout.write(orjson.dumps(figures).decode())
"""

# cli.main in-process, so the profile is written when the command returns.
PROFILE_SCRIPT = r"""
import cProfile, sys
from pruneplan.cli import main
profiler = cProfile.Profile()
code = profiler.runcall(main, sys.argv[2:])
profiler.dump_stats(sys.argv[1])
sys.exit(code)
"""

SUMMARY_KEYS = (
    ("updatedImageStreams", "streams updated"),
    ("deletedImageStreamTagItems", "tag items"),
    ("deletedLayerLinks", "layer links"),
    ("deletedManifestLinks", "manifest links"),
    ("deletedBlobs", "blobs"),
    ("deletedImages", "images"),
)


@dataclass(slots=True)
class Measured:
    rc: int
    wall: float
    maxrss_mb: float
    killed: str | None = None
    tree_rss_mb: float = 0.0  # sampled peak of all its processes' PSS, summed


@dataclass(slots=True)
class Result:
    images: int
    form: str = "dump"  # the input analyze reads: the collector's dump, or the same objects as a List
    dump_bytes: int = 0
    json_bytes: int = 0
    gunzip: float = 0.0
    parse: float = 0.0
    parse_nogc: float = 0.0
    parse_error: str | None = None
    parse_rss_mb: float = 0.0
    walls: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    tree_rss_mb: list[float] = field(default_factory=list)
    failure: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    errors: int = 0
    help_walls: list[float] = field(default_factory=list)


def label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compile_bytecode() -> None:
    """Bytecode of the measured tree, as an install compiles it: where PYTHONDONTWRITEBYTECODE is
    set (this machine kind sets it), an edited module would otherwise be compiled again in every
    timed run."""
    packages = [str(REPO / name) for name in ("pruneplan", "analyze", "collect", "execute")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True, stdout=subprocess.DEVNULL)


def child_env() -> dict[str, str]:
    # Measure the working tree's code, whatever is installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


# Memory cap for measured children (--mem-limit-gb): a watchdog kills a child whose processes'
# memory (PSS summed) outgrows it, so a 1M-image run cannot wake the OOM killer on a shared host.
# (Not RLIMIT_AS: orjson reserves about 12x the JSON size of address space up front and touches
# little of it.)
MEM_LIMIT: int | None = None


def _descendants(pid: int) -> list[int]:
    """pid's child processes, their children, ..."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children", "rb") as handle:
                    kids = [int(k) for k in handle.read().split()]
            except (OSError, ValueError):
                continue
            found += kids
            frontier += kids
    return found


# smaps_rollup makes the kernel walk the page tables: ~10 ms for a 600 MB process, ~0.1 s for
# 5 GB. Sampled often, it would take a good part of a core from the process being measured, so
# the pause after a sample is at least 20 times what the sample took.
PSS_EVERY = 0.25


def _pss(pid: int) -> int:
    """Proportional set size: resident pages, those shared with other processes (a forked child
    and its parent) split among them, so that summed over processes nothing counts twice."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            for line in handle:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _tree_pss(pid: int) -> int:
    return _pss(pid) + sum(_pss(kid) for kid in _descendants(pid))


def _rss(pid: int) -> int:
    """Resident pages from statm: kernel counters, cheap to read (no page-table walk)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _tree_rss(pid: int) -> int:
    """RSS summed over the tree: pages a forked child shares count twice, so this is an upper
    bound, good enough for the memory cap of a timed run."""
    return _rss(pid) + sum(_rss(kid) for kid in _descendants(pid))


def measure(cmd: Sequence[str], stdout: IO[Any] | int = subprocess.DEVNULL,
            stderr: IO[Any] | int = subprocess.DEVNULL, timeout: float | None = None,
            pss: bool = False) -> Measured:
    """Run `cmd`; wall time, the peak RSS of its largest process (wait4's ru_maxrss: the kernel's
    exact figure, the max over the process and its waited-for children, not their sum) and, with
    `pss`, the peak of the proportional set size (PSS) of all its processes summed, sampled every
    PSS_EVERY seconds or more: the memory the whole tree uses, pages a forked child shares with
    its parent counted once. Without `pss` the memory cap watches the cheap RSS sum instead."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=stdout, stderr=stderr, cwd=REPO, env=child_env())
    killed: list[str] = []
    peak_tree = [0]
    done = threading.Event()

    def watchdog() -> None:
        deadline = start + timeout if timeout else None
        pause = PSS_EVERY
        while not done.wait(pause):
            if not pss:
                tree = _tree_rss(proc.pid)
            else:
                sampled = time.perf_counter()
                tree = _tree_pss(proc.pid)
                # keep the sampling under ~5 % of a core: a 5 GB process takes ~0.1 s to sample
                pause = max(PSS_EVERY, 20 * (time.perf_counter() - sampled))
                peak_tree[0] = max(peak_tree[0], tree)
            if MEM_LIMIT and tree > MEM_LIMIT:
                killed.append(f"killed: RSS over {MEM_LIMIT / 2**30:g} GiB")
            elif deadline and time.perf_counter() > deadline:
                killed.append(f"killed: over {timeout:g}s")
            else:
                continue
            proc.kill()
            return

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        done.set()
        thread.join()
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    return Measured(proc.returncode, wall, usage.ru_maxrss / 1024, killed[0] if killed else None, peak_tree[0] / 2**20)


def pruneplan_cmd(override: str | None) -> list[str]:
    return shlex.split(override) if override else [sys.executable, "-m", "pruneplan.cli"]


def ensure_dump(n: int, seed: int, data_dir: Path) -> Path:
    suffix = "" if seed == 1 else f"-seed{seed}"  # a dump is reused only for the seed it was made with
    path = data_dir / f"dump-{label(n)}{suffix}.json.gz"
    if path.exists():
        return path
    log(f"generating {path} ({n} images, seed {seed}) ...")
    data_dir.mkdir(parents=True, exist_ok=True)
    m = measure([sys.executable, "-m", "benchmarks.generate", "--images", str(n), "--seed", str(seed),
                 "-o", str(path), "--quiet"], stdout=sys.stderr, stderr=sys.stderr)
    if m.rc != 0:
        raise SystemExit(f"generating {path} failed (exit {m.rc})")
    log(f"  generated in {m.wall:.1f}s, peak RSS {m.maxrss_mb:.0f} MB, {path.stat().st_size / 1e6:.1f} MB")
    return path


def ensure_list(dump: Path) -> Path:
    """The dump's objects as `oc get ... -o json` prints them (a `kind: List`, items carrying
    their kind and apiVersion), made once from the dump's lines and kept beside it."""
    from pruneplan.kinds import BY_RESOURCE
    from pruneplan.rawlines import read_line_batches

    path = dump.with_name(dump.name.replace("dump-", "list-", 1).removesuffix(".gz"))
    if path.exists():
        return path
    log(f"making {path} from {dump.name} ...")
    partial = path.with_name(path.name + ".partial")
    prefix: bytes | None = None  # what an object line of the current resource starts with
    first = True
    with open(partial, "wb") as out:
        out.write(b'{"apiVersion":"v1","kind":"List","items":[')
        for batch in read_line_batches(str(dump)):
            for line in batch:
                if line.endswith(b":["):
                    kind = BY_RESOURCE.get(orjson.loads(line[:-2]))
                    prefix = None if kind is None else b'{"kind":' + orjson.dumps(kind.kind) + b',"apiVersion":' + orjson.dumps(kind.api_version) + b","
                elif line in (b"]", b"],"):
                    prefix = None
                elif prefix is not None and line.startswith(b'{"'):
                    out.write((b"\n" if first else b",\n") + prefix + line.removesuffix(b",")[1:])
                    first = False
        out.write(b"\n]}\n")
    partial.rename(path)
    return path


def floor(path: Path, result: Result, tmp: Path, timeout: float | None) -> None:
    out = tmp / "floor.json"
    with open(out, "wb") as handle:
        m = measure([sys.executable, "-c", FLOOR_SCRIPT, str(path)], stdout=handle, stderr=sys.stderr, timeout=timeout)
    if m.rc != 0:
        log(f"  orjson floor failed ({m.killed or f'exit {m.rc}'})")
        result.parse_error = m.killed or f"exit {m.rc}"
        return
    figures = orjson.loads(out.read_bytes())
    result.gunzip, result.json_bytes = figures["gunzip"], figures["jsonBytes"]
    result.parse_rss_mb = m.maxrss_mb
    if "error" in figures:
        result.parse_error = figures["error"].split(":")[0]
        log(f"  floor: gunzip {result.gunzip:.2f}s, orjson.loads failed: {figures['error']}")
        return
    result.parse, result.parse_nogc = figures["parse"], figures["parseNoGC"]
    log(f"  floor: gunzip {result.gunzip:.2f}s, orjson.loads {result.parse:.2f}s "
        f"({result.parse_nogc:.2f}s with gc disabled), peak RSS {m.maxrss_mb:.0f} MB")


def analyze(path: Path, result: Result, tmp: Path, cmd: list[str], extra: list[str], repeat: int,
            timeout: float | None) -> None:
    plan = tmp / "plan.json"
    for run in range(repeat + 1):
        memory_run = run == repeat  # the last run samples PSS, which slows it: not timed
        plan.unlink(missing_ok=True)
        # The dry-run lines go to a file, as an admin would redirect them; their cost counts.
        with open(tmp / "analyze.out", "wb") as out, open(tmp / "analyze.err", "wb") as err:
            m = measure([*cmd, "analyze", str(path), "-o", str(plan), *extra], stdout=out, stderr=err,
                        timeout=timeout, pss=memory_run)
        # Exit 1 with a plan is upstream's "errors while pruning"; anything else is a failure.
        if m.rc not in (0, 1) or not plan.exists():
            tail = (tmp / "analyze.err").read_bytes()[-2000:].decode(errors="replace").strip().splitlines()
            # The last stderr line names the cause (MemoryError, error: ...); keep the table intact.
            result.failure = m.killed or (f"exit {m.rc}" + (f": {tail[-1].strip()[:120].replace('|', '/')}" if tail else ""))
            log(f"  analyze run {run + 1} failed: {result.failure}")
            return
        result.rss_mb.append(m.maxrss_mb)
        if memory_run:
            result.tree_rss_mb.append(m.tree_rss_mb)
            log(f"  analyze memory run (not timed): peak RSS {m.maxrss_mb:.0f} MB, "
                f"all processes (PSS summed): {m.tree_rss_mb:.0f} MB")
        else:
            result.walls.append(m.wall)
            log(f"  analyze run {run + 1}/{repeat}: {m.wall:.2f}s, peak RSS {m.maxrss_mb:.0f} MB")
    doc = orjson.loads(plan.read_bytes())
    result.summary = doc.get("summary", {})
    result.errors = len(doc.get("errors", []))


def help_time(result: Result, cmd: list[str], repeat: int) -> None:
    for _ in range(repeat):
        m = measure([*cmd, "--help"])
        if m.rc == 0:
            result.help_walls.append(m.wall)


def profile(path: Path, tmp: Path, extra: list[str], top: int) -> None:
    """One analyze run under cProfile; prints the top functions by own time and cumulative time."""
    import pstats

    prof = tmp / "analyze.prof"
    log(f"profiling analyze on {path.name} with cProfile ...")
    with open(tmp / "profile.out", "wb") as out:
        m = measure([sys.executable, "-c", PROFILE_SCRIPT, str(prof), "analyze", str(path),
                     "-o", str(tmp / "plan-profiled.json"), *extra], stdout=out, stderr=out)
    log(f"  profiled run: {m.wall:.2f}s (exit {m.rc})")
    if not prof.exists():
        log("  no profile was written")
        return
    stats = pstats.Stats(str(prof), stream=sys.stderr)
    stats.strip_dirs()
    for key in ("tottime", "cumulative"):
        log(f"\n--- top {top} by {key} ---")
        stats.sort_stats(key).print_stats(top)


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def tables(results: list[Result], repeat: int) -> str:
    lines = [
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}; "
        f"analyze runs per size: {repeat}",
        "",
        "| images | input | input MB | JSON MB | gunzip s | orjson parse s (gc off) | parse peak RSS MB "
        "| analyze median wall s (min–max) | analyze peak RSS MB (largest process) "
        "| analyze peak memory MB (all processes, PSS summed) | `--help` s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.walls and not r.failure:
            wall = f"{statistics.median(r.walls):.2f} ({min(r.walls):.2f}–{max(r.walls):.2f})"
            rss = f"{max(r.rss_mb):,.0f} | {max(r.tree_rss_mb):,.0f}"
        else:
            wall, rss = f"failed ({r.failure})", "– | –"
        help_s = f"{statistics.median(r.help_walls):.2f}" if r.help_walls else "–"
        if r.parse_error:
            parse = f"{mb(r.json_bytes)} | {r.gunzip:.2f} | failed ({r.parse_error}) | {r.parse_rss_mb:,.0f}"
        elif r.json_bytes:
            parse = f"{mb(r.json_bytes)} | {r.gunzip:.2f} | {r.parse:.2f} ({r.parse_nogc:.2f}) | {r.parse_rss_mb:,.0f}"
        else:
            parse = "– | – | failed | –"
        lines.append(f"| {r.images:,} | {r.form} | {mb(r.dump_bytes)} | {parse} | {wall} | {rss} | {help_s} |")
    lines += [
        "",
        "| images | " + " | ".join(title for _, title in SUMMARY_KEYS) + " | reclaimable GB | plan errors |",
        "|---:|" + "---:|" * (len(SUMMARY_KEYS) + 2),
    ]
    for r in results:
        if not r.summary or r.form != "dump":  # a List of the same objects gives the same plan
            continue
        counts = " | ".join(f"{r.summary.get(key, 0):,}" for key, _ in SUMMARY_KEYS)
        reclaim = r.summary.get("reclaimableBytes", 0) / 1e9
        lines.append(f"| {r.images:,} | {counts} | {reclaim:,.1f} | {r.errors} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,100000", help="comma-separated image counts (default 20000,100000)")
    parser.add_argument("--repeat", type=int, default=3, help="analyze runs per size (default 3)")
    parser.add_argument("--forms", default="dump",
                        help="inputs to time analyze on, comma-separated: dump (the collector's), list (the same objects "
                             "as an `oc get -o json` List, made from the dump once and kept beside it); default dump")
    parser.add_argument("--seed", type=int, default=1, help="generator seed for missing dumps (default 1)")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="where dumps are kept (default benchmarks/data)")
    parser.add_argument("--pruneplan", help="command to run instead of `python -m pruneplan.cli`")
    parser.add_argument("--analyze-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for analyze (repeatable), e.g. --analyze-arg=-q")
    parser.add_argument("--timeout", type=float, default=None, help="kill a child after this many seconds")
    parser.add_argument("--mem-limit-gb", type=float, default=None,
                        help="kill a measured child whose RSS exceeds this many GiB")
    parser.add_argument("--profile", action="store_true", help="also profile one analyze run of the largest size")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args(argv)
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: expected comma-separated integers, got {args.sizes!r}")
    if not sizes or any(n < 1 for n in sizes) or args.repeat < 1:
        parser.error("--sizes and --repeat must be positive")
    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    if not forms or not set(forms) <= {"dump", "list"}:
        parser.error(f"--forms: expected dump and/or list, got {args.forms!r}")
    cmd = pruneplan_cmd(args.pruneplan)
    if args.pruneplan is None:
        compile_bytecode()
    global MEM_LIMIT
    MEM_LIMIT = int(args.mem_limit_gb * 2**30) if args.mem_limit_gb else None  # noqa: PLW0603
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pruneplan-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        for n in sizes:
            dump = ensure_dump(n, args.seed, args.data_dir)
            for form in forms:
                path = dump if form == "dump" else ensure_list(dump)
                extra = [] if form == "dump" else ["--now", COLLECTED_AT]  # a List has no collection time
                log(f"{label(n)} {form}: {path}")
                result = Result(images=n, form=form, dump_bytes=path.stat().st_size)
                floor(path, result, tmp, args.timeout)
                analyze(path, result, tmp, cmd, [*extra, *args.analyze_arg], args.repeat, args.timeout)
                help_time(result, cmd, args.repeat)
                results.append(result)
        if args.profile:
            profile(ensure_dump(max(sizes), args.seed, args.data_dir), tmp, args.analyze_arg, args.profile_top)
    print(tables(results, args.repeat))
    return 0 if all(r.walls and not r.failure for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
