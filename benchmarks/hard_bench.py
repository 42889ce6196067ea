"""Time `pruneplan analyze --hard` on generated dumps and storage inventories derived from them.

    python3 -m benchmarks.hard_bench [--images 20000,100000] [--repeat 3] [--seed 1]
                                     [--storage-walk N] [--profile]

For each size it takes the generated dump (benchmarks/data/dump-<size>.json.gz, made when
missing, as benchmarks.run does) and derives from it, deterministically (`--seed`), the storage
inventory a registry holding that cluster's images would have, cached beside the dump
(inventory-<size>-v<N>.json.gz, written through pruneplan.inventoryformat's writer):
- a repository per image stream: a manifest link for every image of its tags' histories (and
  the children of the manifest lists among them), a layer link for each of their layers and
  configs, each tag pointing at its newest image; some also hold links of Image objects no stream names (pushed,
  then dropped from the history), manifests no Image object has (pushed, never imported: their
  config and layers are blobs of their own) and uploads (most old, some young, a few of unknown
  start);
- repositories of deleted image streams (most old, a few holding a young blob) and one whose
  name no image stream can have;
- a blob for every manifest, config and layer linked (sizes from the dump where it has them,
  modified when the image was created), plus orphan blobs nothing links, most old, some young.
The inventory is read at the dump's collection time, so the cutoff is an hour before it.

Then it runs `pruneplan analyze --hard DUMP INVENTORY -o PLAN` in a child process `--repeat`
times: median wall (min–max), and peak RSS: the child's own high-water mark (VmHWM, read as it
exits), with wait4's ru_maxrss in brackets (it starts at this process's RSS, which held the
derivation). The dry-run lines go to a file; their cost counts. The table also gives what the
plan deletes, kind by kind, and the bytes it frees, so a reader sees it decided something real.

With `--storage-walk N` it also writes N of the inventory's blobs (the first by digest: a random
sample), the links to them and the uploads as distribution's filesystem storage in a temporary
directory (each `data` an empty sparse file of the blob's size, with its modification time) and
times `pruneplan collect --registry-storage` on it the same way, in a second table; what collect
reads must be that part of the inventory, link for link.

Markdown tables to stdout, progress (and the profile with `--profile`) to stderr; exit 1 when a
run failed or a walk did not read what was written.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks.execute_bench import positive_ints
from benchmarks.run import DATA, compile_bytecode, ensure_dump, label, log, measure
from pruneplan.inventoryformat import (TAG_RE, Blob, Inventory, InventoryWriter, Repository, Upload, count, make_header,
                                       repository_key)
from pruneplan.timefmt import parse_time

from pruneplan.analyze.decisions.model import CONFIG_MEDIA_TYPES  # the media types whose config is a blob

DERIVATION = 1  # in the cached inventory's name: a changed derivation makes its files again
ROOT = "/registry"
HOUR = 3600
DAY = 86400
MIB = 1 << 20

# the derivation's shares
ORPHAN_IMAGE_REPOS = 0.25  # stream repositories also holding links of Image objects no stream names
NOT_AN_IMAGE_REPOS = 0.3  # ... holding manifests no Image object has
UPLOAD_REPOS = 0.03  # ... holding uploads
DELETED_STREAMS = 0.05  # repositories of deleted streams, per stream
ORPHAN_BLOBS = 0.05  # blobs nothing links, per linked blob
YOUNG = 0.15  # share of generated content (not the dump's) that is young

# The child: the console's GC setting (pruneplan/cli.py console_main), pruneplan's CLI, then its
# own peak RSS (VmHWM) written to a file.
CHILD = r"""
import gc, sys
from pruneplan.cli import main
gc.set_threshold(1_000_000)
try:
    code = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as status, open(sys.argv[1], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
sys.exit(code)
"""

PROFILED = r"""
import cProfile, gc, sys
from pruneplan.cli import main
gc.set_threshold(1_000_000)
profiler = cProfile.Profile()
code = profiler.runcall(main, sys.argv[2:])
profiler.dump_stats(sys.argv[1])
sys.exit(code)
"""


@dataclass(slots=True)
class DumpImage:
    created: str
    config: str  # "" when the media type has none
    layers: list[tuple[str, int]]
    children: list[tuple[str, int]]  # a manifest list's, with their manifest sizes


@dataclass(slots=True)
class DumpView:
    """What the derivation needs of a dump."""

    collected_at: str
    images: dict[str, DumpImage] = field(default_factory=dict)
    streams: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)  # ns/name, tag -> images


def _size(value: Any, default: int) -> int:
    return value if type(value) is int and value >= 0 else default


def read_dump(path: Path) -> DumpView:
    """The images and image streams of a generated dump, a line at a time (one object a line)."""
    from pruneplan.rawlines import read_line_batches

    view = DumpView("")
    section = b""
    for batch in read_line_batches(str(path)):
        for line in batch:
            if line.endswith(b":["):
                section = line
            elif line in (b"]", b"],"):
                section = b""
            elif line.startswith(b'"header":'):
                view.collected_at = orjson.loads(line[len(b'"header":'):].rstrip().removesuffix(b"}"))["collectedAt"]
            elif section in (b'"images":[', b'"imagestreams":[') and line.startswith(b"{"):
                obj = orjson.loads(line.removesuffix(b","))
                (_add_image if section == b'"images":[' else _add_stream)(view, obj)
    if not view.collected_at:
        raise SystemExit(f"{path}: no collection time in its header")
    return view


def _add_image(view: DumpView, obj: dict[str, Any]) -> None:
    meta = obj.get("dockerImageMetadata") or {}
    config = meta.get("Id", "") if obj.get("dockerImageManifestMediaType") in CONFIG_MEDIA_TYPES else ""
    layers = [(layer["name"], _size(layer.get("size"), 0)) for layer in obj.get("dockerImageLayers") or ()]
    children = [(c["digest"], _size(c.get("manifestSize"), 1500)) for c in obj.get("dockerImageManifests") or ()]
    view.images[obj["metadata"]["name"]] = DumpImage(obj["metadata"]["creationTimestamp"], config, layers, children)


def _add_stream(view: DumpView, obj: dict[str, Any]) -> None:
    tags = {t["tag"]: [item["image"] for item in t.get("items") or ()] for t in (obj.get("status") or {}).get("tags") or ()}
    view.streams.append((f"{obj['metadata']['namespace']}/{obj['metadata']['name']}", tags))


class Storage:
    """The inventory being derived: repositories and blobs, with the generator of new content."""

    def __init__(self, view: DumpView, rng: random.Random) -> None:
        self.view = view
        self.rng = rng
        self.now = parse_time(view.collected_at)
        self.blobs: dict[str, tuple[int, str]] = {}  # digest -> size, modified
        self.repositories: list[Repository] = []

    def digest(self) -> str:
        return f"sha256:{self.rng.getrandbits(256):064x}"

    def when(self, young: bool) -> str:
        """A modification time: within the last 50 minutes, or from 2 hours to 180 days ago."""
        age = self.rng.randint(0, 50 * 60) if young else self.rng.randint(2 * HOUR, 180 * DAY)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now - age))

    def young(self) -> bool:
        return self.rng.random() < YOUNG

    def blob(self, digest: str, size: int, modified: str) -> None:
        self.blobs.setdefault(digest, (size, modified))

    def image(self, digest: str, manifests: set[str], layers: set[str]) -> None:
        """An Image object's links in one repository and its blobs (modified when it was created)."""
        image = self.view.images[digest]
        manifests.add(digest)
        self.blob(digest, self.rng.randint(500, 4000), image.created)
        for child, size in image.children:
            if child in self.view.images:
                self.image(child, manifests, layers)
            else:
                manifests.add(child)
                self.blob(child, size, image.created)
        if image.config:
            layers.add(image.config)
            self.blob(image.config, self.rng.randint(1500, 20000), image.created)
        for layer, size in image.layers:
            layers.add(layer)
            self.blob(layer, size, image.created)

    def unimported(self, manifests: set[str], layers: set[str], young: bool, shared: list[str]) -> None:
        """A manifest no Image object has, with a config and layers of its own (and maybe a
        shared base layer): what a push leaves when its image is never imported."""
        digest = self.digest()
        manifests.add(digest)
        self.blob(digest, self.rng.randint(500, 4000), self.when(young))
        for _ in range(self.rng.randint(2, 4)):
            layer = self.digest()
            layers.add(layer)
            self.blob(layer, self.rng.randint(1000, 200 * MIB), self.when(young))
        if shared and self.rng.random() < 0.5:
            layers.add(self.rng.choice(shared))

    def upload(self, force_old: bool = False) -> Upload:
        roll = self.rng.random()
        started = None if roll < 0.1 and not force_old else self.when(roll < 0.3 and not force_old)
        uuid = "-".join(f"{self.rng.getrandbits(bits):0{bits // 4}x}" for bits in (32, 16, 16, 16, 48))
        return Upload(uuid=uuid, started_at=started, size=self.rng.randint(0, 50 * MIB))

    def add(self, name: str, manifests: set[str], layers: set[str], tags: dict[str, str], uploads: list[Upload]) -> None:
        self.repositories.append(Repository(name=name, manifests=sorted(manifests), layers=sorted(layers),
                                            tags=dict(sorted(tags.items())), uploads=sorted(uploads, key=lambda u: u.uuid)))


def derive(view: DumpView, seed: int) -> Storage:
    """The storage a registry would hold for `view`'s cluster, with the leftovers a hard prune
    is for; the first repository of each kind always gets its leftover, so a tiny dump has some."""
    storage = Storage(view, random.Random(f"hard-bench-{seed}"))
    rng = storage.rng
    named = {digest for _, tags in view.streams for items in tags.values() for digest in items}
    for digest in list(named):
        if digest in view.images:
            named.update(child for child, _ in view.images[digest].children)
    orphans = [digest for digest in view.images if digest not in named]
    # base layers to share: of images older than a day, so they do not make a repository young
    old = storage.now - DAY
    shared = sorted({layer for image in view.images.values() if parse_time(image.created) < old
                     for layer, _ in image.layers})[:200]
    for index, (name, tags) in enumerate(view.streams):
        first = index == 0
        manifests: set[str] = set()
        layers: set[str] = set()
        for items in tags.values():
            for digest in items:
                if digest in view.images:
                    storage.image(digest, manifests, layers)
                else:  # a history item whose Image object is gone: its manifest stayed
                    manifests.add(digest)
                    storage.blob(digest, rng.randint(500, 4000), storage.when(False))
        if orphans and (first or rng.random() < ORPHAN_IMAGE_REPOS):
            for _ in range(rng.randint(1, 3)):
                storage.image(rng.choice(orphans), manifests, layers)
        if first or rng.random() < NOT_AN_IMAGE_REPOS:
            for number in range(rng.randint(1, 3)):
                storage.unimported(manifests, layers, not (first and number == 0) and storage.young(), shared)
        uploads = [storage.upload(first and number == 0) for number in range(rng.randint(1, 3))] \
            if first or rng.random() < UPLOAD_REPOS else []
        current = {tag: items[0] for tag, items in tags.items() if items and TAG_RE.fullmatch(tag)}
        storage.add(name, manifests, layers, current, uploads)
    for index in range(max(2, round(len(view.streams) * DELETED_STREAMS))):
        manifests, layers = set(), set()
        young = index == 1 or (index > 1 and rng.random() < YOUNG)  # it stays for that blob
        for number in range(rng.randint(1, 4)):
            storage.unimported(manifests, layers, young and number == 0, shared)
        uploads = [storage.upload(True)] if rng.random() < UPLOAD_REPOS else []
        storage.add(f"gone-{index % 37}/app-{index}", manifests, layers, {"latest": min(manifests)}, uploads)
    manifests, layers = set(), set()
    storage.unimported(manifests, layers, False, shared)
    storage.add("bench/nested/invalid", manifests, layers, {}, [])  # three components: no stream's
    for _ in range(max(3, round(len(storage.blobs) * ORPHAN_BLOBS))):
        storage.blob(storage.digest(), rng.randint(0, 100 * MIB), storage.when(storage.young()))
    return storage


def write_inventory(storage: Storage, path: Path) -> None:
    writer = InventoryWriter(str(path))
    try:
        for repository in sorted(storage.repositories, key=lambda r: repository_key(r.name)):
            writer.lines.repository(repository)
        for digest in sorted(storage.blobs):
            size, modified = storage.blobs[digest]
            writer.lines.blob(Blob(digest=digest, size=size, modified=modified))
        writer.commit([], storage.view.collected_at, ROOT)
    except BaseException:
        writer.abort()
        raise


def ensure_inventory(dump: Path, seed: int) -> Path:
    """The inventory derived from `dump`, made when missing and kept beside it."""
    stem = dump.name.removesuffix(".json.gz").removeprefix("dump-")
    path = dump.with_name(f"inventory-{stem}-v{DERIVATION}.json.gz")
    if path.exists():
        return path
    log(f"deriving {path.name} from {dump.name} ...")
    started = time.perf_counter()
    storage = derive(read_dump(dump), seed)
    write_inventory(storage, path)
    log(f"  derived in {time.perf_counter() - started:.1f} s: {len(storage.repositories):,} repositories, "
        f"{len(storage.blobs):,} blobs, {path.stat().st_size / 1e6:.1f} MB")
    return path


@dataclass(slots=True)
class Result:
    images: int
    counts: dict[str, int] = field(default_factory=dict)  # the inventory header's
    inventory_bytes: int = 0
    walls: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)  # VmHWM
    maxrss_mb: list[float] = field(default_factory=list)  # wait4's
    summary: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None


def inventory_counts(path: Path) -> dict[str, int]:
    """The header's counts: the last line of the document (the writer's layout)."""
    with gzip.open(path, "rb") as handle:
        last = b""
        for line in handle:
            last = line
    return orjson.loads(last.removeprefix(b'"header":').rstrip().removesuffix(b"}"))["counts"]


def timed_runs(args: list[str], product: Path, runs: Result | Walk, tmp: Path, repeat: int, timeout: float | None) -> bool:
    """`pruneplan ARGS` in a child process `repeat` times, each writing `product`: its wall and
    peak RSS added to `runs`; False, with `runs.failure` set, when a run fails."""
    label = " ".join(args[:2])
    peak = tmp / "peak"
    for run in range(repeat):
        product.unlink(missing_ok=True)
        peak.unlink(missing_ok=True)
        with open(tmp / "child.out", "wb") as out, open(tmp / "child.err", "wb") as err:
            m = measure([sys.executable, "-c", CHILD, str(peak), *args], stdout=out, stderr=err, timeout=timeout)
        if m.rc != 0 or not product.exists():
            tail = (tmp / "child.err").read_text(errors="replace").strip().splitlines()[-1:]
            runs.failure = m.killed or f"exit {m.rc}" + (f": {tail[0][:120].replace('|', '/')}" if tail else "")
            log(f"  {label} run {run + 1} failed: {runs.failure}")
            return False
        runs.walls.append(m.wall)
        runs.maxrss_mb.append(m.maxrss_mb)
        runs.peaks_mb.append(int(peak.read_text()) / 1024 if peak.exists() else 0.0)
        log(f"  {label} run {run + 1}/{repeat}: {m.wall:.2f} s, peak RSS {runs.peaks_mb[-1]:.0f} MB")
    return True


def analyze(dump: Path, inventory: Path, result: Result, tmp: Path, repeat: int, timeout: float | None) -> None:
    plan = tmp / "plan.json"
    if timed_runs(["analyze", "--hard", str(dump), str(inventory), "-o", str(plan)], plan, result, tmp, repeat, timeout):
        result.summary = orjson.loads(plan.read_bytes())["summary"]


def profile(dump: Path, inventory: Path, tmp: Path, top: int) -> None:
    """One run under cProfile: the top functions by own and by cumulative time, to stderr."""
    import pstats

    prof = tmp / "hard.prof"
    log(f"profiling analyze --hard on {dump.name} ...")
    m = measure([sys.executable, "-c", PROFILED, str(prof), "analyze", "--hard", str(dump), str(inventory),
                 "-o", str(tmp / "plan-profiled.json"), "-q"])
    log(f"  profiled run: {m.wall:.2f} s (exit {m.rc})")
    if prof.exists():
        stats = pstats.Stats(str(prof), stream=sys.stderr)
        stats.strip_dirs()
        for key in ("tottime", "cumulative"):
            log(f"\n--- top {top} by {key} ---")
            stats.sort_stats(key).print_stats(top)


def storage_subset(inventory: Inventory, n: int) -> Inventory:
    """The first `n` blobs of `inventory` (by digest: a random sample), the links to them, the
    tags of the manifests kept and every upload; repositories left empty are dropped."""
    blobs = inventory.blobs[:n]
    kept = {blob.digest for blob in blobs}
    repositories = []
    for r in inventory.repositories:
        manifests = [d for d in r.manifests if d in kept]
        layers = [d for d in r.layers if d in kept]
        if manifests or layers or r.uploads:
            tags = {tag: d for tag, d in r.tags.items() if d in kept}
            repositories.append(Repository(name=r.name, manifests=manifests, layers=layers, tags=tags, uploads=r.uploads))
    return Inventory(api_version=inventory.api_version, kind=inventory.kind, repositories=repositories, blobs=blobs,
                     problems=[], header=make_header(inventory.header.read_at, ROOT, count(repositories, blobs, 0)))


def _file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def materialise(inventory: Inventory, root: Path) -> int:
    """`inventory` as distribution's filesystem storage under `root`: link files, and each blob's
    `data` an empty sparse file of its size with its modification time. The files written."""
    base = root / "docker" / "registry" / "v2"
    files = 0
    for r in inventory.repositories:
        repo = base / "repositories" / r.name
        for digest in r.manifests:
            _file(repo / "_manifests" / "revisions" / "sha256" / digest[7:] / "link", digest)
        for digest in r.layers:
            _file(repo / "_layers" / "sha256" / digest[7:] / "link", digest)
        for tag, digest in r.tags.items():
            _file(repo / "_manifests" / "tags" / tag / "current" / "link", digest)
        for upload in r.uploads:
            data = repo / "_uploads" / upload.uuid / "data"
            data.parent.mkdir(parents=True, exist_ok=True)
            with open(data, "wb") as handle:
                handle.truncate(upload.size)
            if upload.started_at is not None:  # none: the walk records a problem, as for a real one
                _file(data.parent / "startedat", upload.started_at)
        files += len(r.manifests) + len(r.layers) + len(r.tags) + 2 * len(r.uploads)
    for blob in inventory.blobs:
        data = base / "blobs" / "sha256" / blob.digest[7:9] / blob.digest[7:] / "data"
        data.parent.mkdir(parents=True, exist_ok=True)
        with open(data, "wb") as handle:
            handle.truncate(blob.size)  # sparse: no disk blocks
        modified = int(parse_time(blob.modified) * 1e9)
        os.utime(data, ns=(modified, modified))
    return files + len(inventory.blobs)


@dataclass(slots=True)
class Walk:
    images: int
    blobs: int
    repositories: int = 0
    files: int = 0
    walls: list[float] = field(default_factory=list)
    peaks_mb: list[float] = field(default_factory=list)
    maxrss_mb: list[float] = field(default_factory=list)
    problems: int = 0
    matches: bool = False
    failure: str | None = None


def storage_walk(walk: Walk, inventory: Path, tmp: Path, repeat: int, timeout: float | None) -> None:
    """Time `collect --registry-storage` on a storage tree of `walk.blobs` blobs of the derived
    inventory; what it collects must be that part of the inventory, link for link."""
    from pruneplan.inventoryformat import read_inventory

    expected = storage_subset(read_inventory(str(inventory)), walk.blobs)
    root = tmp / "storage"
    log(f"  writing a storage tree of {len(expected.blobs):,} blobs ...")
    walk.blobs, walk.repositories = len(expected.blobs), len(expected.repositories)
    walk.files = materialise(expected, root)
    out = tmp / "collected.json.gz"
    timed_runs(["collect", "--registry-storage", str(root), "-o", str(out), "--now", expected.header.read_at], out, walk, tmp,
               repeat, timeout)
    if out.exists():
        collected = read_inventory(str(out))
        walk.problems = len(collected.problems)
        walk.matches = (collected.repositories, collected.blobs) == (expected.repositories, expected.blobs)
    shutil.rmtree(root)


WALK_COLUMNS = ("images", "blobs on disk", "repositories", "files", "collect --registry-storage median wall (min–max)",
                "peak RSS (wait4)", "problems", "same as derived")


def walk_table(walks: list[Walk]) -> str:
    lines = ["| " + " | ".join(WALK_COLUMNS) + " |", "|" + "---:|" * len(WALK_COLUMNS)]
    for w in walks:
        cells = [f"{w.images:,}", f"{w.blobs:,}", f"{w.repositories:,}", f"{w.files:,}"]
        if w.failure or not w.walls:
            cells += [f"failed ({w.failure})", "–"]
        else:
            cells += [f"{statistics.median(w.walls):.2f} s ({min(w.walls):.2f}–{max(w.walls):.2f})",
                      f"{max(w.peaks_mb):,.0f} MB ({max(w.maxrss_mb):,.0f} MB)"]
        cells += [f"{w.problems:,}", "yes" if w.matches else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


COLUMNS = ("images", "repositories", "manifest links", "layer links", "uploads", "blobs", "blob GB", "inventory MB",
           "analyze --hard median wall (min–max)", "peak RSS (wait4)", "deleted repositories", "deleted manifest links",
           "deleted layer links", "deleted uploads", "deleted blobs", "reclaimable GB")
DELETED = ("deletedRepositories", "deletedManifestLinks", "deletedLayerLinks", "deletedUploads", "deletedBlobs")


def table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---:|" * len(COLUMNS)]
    for r in results:
        c = r.counts
        cells = [f"{r.images:,}", *(f"{c.get(key, 0):,}" for key in ("repositories", "manifests", "layers", "uploads", "blobs")),
                 f"{c.get('blobBytes', 0) / 1e9:,.1f}", f"{r.inventory_bytes / 1e6:,.1f}"]
        if r.failure or not r.walls:
            cells += [f"failed ({r.failure})", "–", *("–" for _ in DELETED), "–"]
        else:
            cells += [f"{statistics.median(r.walls):.2f} s ({min(r.walls):.2f}–{max(r.walls):.2f})",
                      f"{max(r.peaks_mb):,.0f} MB ({max(r.maxrss_mb):,.0f} MB)",
                      *(f"{r.summary.get(key, 0):,}" for key in DELETED),
                      f"{r.summary.get('reclaimableBytes', 0) / 1e9:,.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sizes(text: str, parser: argparse.ArgumentParser) -> list[int]:
    return positive_ints(text.replace("_", ""), "--images", parser)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.hard_bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--images", default="20000,100000", metavar="N[,N...]",
                        help="images in the generated dumps, comma-separated (default 20000,100000)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N", help="analyze --hard runs per size (default 3)")
    parser.add_argument("--seed", type=int, default=1, metavar="N",
                        help="seed of a missing dump and of the inventory derived from it (default 1)")
    parser.add_argument("--data-dir", type=Path, default=DATA, metavar="DIR",
                        help="where dumps and inventories are kept (default benchmarks/data)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="kill a run after this long")
    parser.add_argument("--storage-walk", type=int, default=0, metavar="N",
                        help="also time collect --registry-storage on a storage tree of N of the inventory's blobs "
                             "(sparse files; default 0: not run)")
    parser.add_argument("--profile", action="store_true", help="also profile one run of the largest size (to stderr)")
    parser.add_argument("--profile-top", type=int, default=25, metavar="N", help="functions the profile lists (default 25)")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.storage_walk < 0:
        parser.error("--repeat must be positive and --storage-walk not negative")
    compile_bytecode()
    results: list[Result] = []
    walks: list[Walk] = []
    with tempfile.TemporaryDirectory(prefix="pruneplan-hard-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        for n in sizes(args.images, parser):
            dump = ensure_dump(n, args.seed, args.data_dir)
            inventory = ensure_inventory(dump, args.seed)
            log(f"{label(n)}: analyze --hard {dump.name} {inventory.name}")
            result = Result(n, inventory_counts(inventory), inventory.stat().st_size)
            analyze(dump, inventory, result, tmp, args.repeat, args.timeout)
            results.append(result)
            if args.storage_walk:
                walks.append(Walk(n, args.storage_walk))
                storage_walk(walks[-1], inventory, tmp, args.repeat, args.timeout)
        if args.profile:
            dump = ensure_dump(max(r.images for r in results), args.seed, args.data_dir)
            profile(dump, ensure_inventory(dump, args.seed), tmp, args.profile_top)
    print(table(results))
    if walks:
        print()
        print(walk_table(walks))
    ok = all(r.walls and not r.failure for r in results) and all(w.walls and w.matches for w in walks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
