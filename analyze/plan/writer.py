"""Writing the plan file, and upstream's dry-run lines to print once it is complete.

The plan is the typed pruneplan.planmodel.Plan of the analysis, written by the plan format's one
serialiser (pruneplan.planformat.plan_chunks, the code Plan.to_bytes runs) a chunk of entries at
a time, so the file's bytes never exist whole in memory. The dry-run lines are made from the
analysis only when printed: the caller prints them after the plan is written (and signed), so a
failed write prints none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TextIO

from pruneplan.dumpformat import LoadedInputs
from pruneplan.errors import EXIT_USAGE, PrunePlanError
from pruneplan.files import STDOUT, output_error, outputs
from pruneplan.planformat import SIGNATURE_SUFFIX, plan_chunks
from pruneplan.hardplan import HardPrunePlan
from pruneplan.planmodel import Plan

from pruneplan.analyze.decisions.engine import Analysis
from pruneplan.analyze.plan.entries import (
    dry_run_epilogue,
    dry_run_prologue,
    image_dry_run_text,
    plan_for,
    stream_dry_run_text,
)

TEXT_PER_WRITE = 1 << 20  # characters of dry-run text per write to stdout


@dataclass(slots=True)
class DryRun:
    """Upstream's dry-run lines, printed in order by print_to: the head lines, then blocks of
    whole lines (each ending with a newline) made as they are printed, then the tail lines."""

    head: list[str]
    blocks: list[Iterator[str]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    def print_to(self, out: TextIO) -> None:
        _write_lines(out, self.head)
        for blocks in self.blocks:
            for text in _text_batches(blocks):
                out.write(text)
        _write_lines(out, self.tail)


def _text_batches(blocks: Iterable[str]) -> Iterator[str]:
    """Blocks of lines joined into writes of about TEXT_PER_WRITE characters."""
    batch: list[str] = []
    size = 0
    for block in blocks:
        batch.append(block)
        size += len(block)
        if size >= TEXT_PER_WRITE:
            yield "".join(batch)
            batch, size = [], 0
    if batch:
        yield "".join(batch)


def _write_lines(out: TextIO, lines: list[str]) -> None:
    if lines:
        out.write("\n".join(lines) + "\n")


Signer = Callable[[bytes], bytes]  # the plan's bytes -> the signature file's


def signer_for(sign_key: str | None, output: str) -> Signer | None:
    """The signer of --sign-key, its key loaded now: a key that cannot sign fails before the
    inputs are read and analyzed, and so before an earlier plan and signature could be touched."""
    if not sign_key:
        return None
    if output == STDOUT:
        raise PrunePlanError(f"--sign-key needs a plan file (-o FILE): the signature goes to PLAN.sig, and -o {STDOUT} has no name",
                             EXIT_USAGE)
    from pruneplan.signing import load_private_key, sign_with

    key = load_private_key(sign_key)
    return lambda data: sign_with(key, data)


@dataclass(slots=True)
class Written:
    """A plan now in its file, and upstream's dry-run lines still to print."""

    plan: Plan
    dry_run: DryRun


def write_plan(
    path: str,
    analysis: Analysis,
    loaded: LoadedInputs,
    valid_for_seconds: float,
    *,
    dry_run: bool = True,
    sign: Signer | None = None,
    inputs: Iterable[str] = (),
) -> Written:
    """Write the analysis' plan to `path` (replaced atomically) and, with `sign`, its signature
    to `path.sig`; return the plan and the dry-run lines to print (none when `dry_run` is false)."""
    plan = plan_for(analysis, loaded, valid_for_seconds)
    write_plan_file(path, plan, sign, inputs)
    if not dry_run:
        return Written(plan, DryRun([]))
    # upstream's order: the streams' lines, then the images'
    return Written(plan, DryRun(
        dry_run_prologue(analysis),
        [stream_dry_run_text(analysis), image_dry_run_text(analysis)],
        [dry_run_epilogue(plan.summary)],
    ))


def write_plan_file(path: str, plan: Plan | HardPrunePlan, sign: Signer | None = None, inputs: Iterable[str] = ()) -> None:
    """Write `plan`'s bytes to `path`, replacing it atomically (a reader sees the old file or
    the new one); with `sign`, the signature to `path.sig` too: both are put in place together,
    once both are complete, so a failure leaves the earlier plan and signature as they were.
    A path that is one of `inputs` is refused (pruneplan.files)."""
    # The plan is made again from the dump at will and is checked (parse, signature) before any
    # use, so it is not fsynced: on a plan of a million images that wait was seconds.
    try:
        with outputs(inputs) as files:
            handle = files.open(path, 0o666, replace=True, durable=False)  # umask applies
            signature = None
            if sign:
                signature = files.open(path + SIGNATURE_SUFFIX, 0o644, replace=True)
            signed: list[bytes] = []  # the bytes to sign (a copy: a chunk may be a view of a reused buffer)
            for piece in plan_chunks(plan):
                handle.write(piece)
                if signature:
                    signed.append(bytes(piece))
            if sign and signature:
                signature.write(sign(b"".join(signed)))
    except OSError as err:
        raise output_error(path, err) from None
