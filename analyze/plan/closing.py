"""What analyze tells the admin on stderr around upstream's dry-run lines: a banner first (analyze
deletes nothing), then a closing block (what the plan will do, where it is, until when it is
valid, the commands that come next) and a warning when the plan is expired as it is written.

Pure text from the plan and the command line; pruneplan.analyze.run prints it.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

from pruneplan.files import STDOUT
from pruneplan.goduration import format_go_duration
from pruneplan.planmodel import Plan
from pruneplan.timefmt import parse_time

BANNER = "Dry run: analyze deletes nothing; it writes a plan to review, sign and replay with `pruneplan execute`."
DAY = 86400.0
GIB = float(1 << 30)


@dataclass(frozen=True, slots=True)
class Written:
    """Where analyze put its outputs, and what it read."""

    plan_path: str
    signature_path: str | None  # None: not signed
    public_key: str | None  # the signer's public key, when analyze knows its path
    inputs: tuple[str, ...]
    now_given: bool  # --now was given: the analysis time is not the dump's collection time


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _arg(path: str) -> str:
    return shlex.quote(path)


def what_it_does(plan: Plan) -> list[str]:
    s = plan.summary
    deletes = [
        _count(s.deleted_images, "image"),
        _count(s.deleted_blobs, "blob"),
        _count(s.deleted_layer_links, "layer link"),
        _count(s.deleted_manifest_links, "manifest link"),
    ]
    return [
        f"  will delete:  {', '.join(deletes)}",
        f"  will update:  {_count(s.updated_image_streams, 'image stream')} "
        f"(removing {_count(s.deleted_image_stream_tag_items, 'tag history item')})",
        f"  reclaimable:  {s.reclaimable_bytes / GIB:,.2f} GiB ({s.reclaimable_bytes:,} bytes)",
    ]


def is_expired(plan: Plan, current: float) -> bool:
    return current >= plan.metadata.not_after_seconds


def expiry_warning(plan: Plan, written: Written, current: float) -> str | None:
    """The warning for a plan that is already expired as it is written, with a --valid-for that
    would cover a week from now; None for a plan still valid."""
    if not is_expired(plan, current):
        return None
    created = plan.metadata.created_at
    started = plan.metadata.not_after_seconds - _valid_seconds(plan)
    days = int((current - started) // DAY)
    ago = f"{days} day{'' if days == 1 else 's'} ago"
    what = f"its analysis time, --now {created}, is {ago}" if written.now_given else f"the dump was collected {ago} ({created})"
    enough = math.ceil((current - started + 7 * DAY) / 3600)
    return (
        f"warning: the plan is already expired: {what}, and the plan "
        f"was valid until {plan.metadata.not_after}, so verify and execute will refuse it; collect a fresh dump, "
        f"or pass --valid-for (for example --valid-for {enough}h)"
    )


def _valid_seconds(plan: Plan) -> float:
    return plan.metadata.not_after_seconds - parse_time(plan.metadata.created_at)


def closing_block(plan: Plan, written: Written, current: float) -> list[str]:
    """The lines after the dry-run lines: the plan's effect, its files, its validity and the next
    commands."""
    plan_arg = "PLAN" if written.plan_path == STDOUT else _arg(written.plan_path)
    where = "stdout" if written.plan_path == STDOUT else written.plan_path
    files = f"Plan written to {where}"
    if written.signature_path:
        files += f", signature to {written.signature_path}"
    lines = [files, *what_it_does(plan)]
    valid_for = format_go_duration(int(round(_valid_seconds(plan))) * 1_000_000_000)
    span = f"{valid_for} after the analysis time {plan.metadata.created_at}"
    if is_expired(plan, current):
        lines.append(f"  EXPIRED on:   {plan.metadata.not_after} ({span})")
    else:
        lines.append(f"  valid until:  {plan.metadata.not_after} ({span})")
    if plan.errors:
        lines.append(f"  the analysis failed with {_count(len(plan.errors), 'error')} (below), recorded in the plan")
        return lines
    if is_expired(plan, current):  # the next commands would refuse it: the warning says what to do
        return lines
    dumps = " ".join(f"--dump {_arg(path)}" for path in written.inputs)
    if written.signature_path:
        key = _arg(written.public_key) if written.public_key else "PUB"
        lines += [
            "Next:",
            f"  pruneplan verify {plan_arg} --key {key}",
            f"  pruneplan report {plan_arg} {dumps} --key {key} -o review.html",
            f"  pruneplan execute {plan_arg} --key {key}    # a dry run against the live cluster; --confirm deletes",
        ]
    else:
        lines += [
            "Next: the plan is not signed, and execute replays only a signed plan:",
            f"  pruneplan report {plan_arg} {dumps} -o review.html",
            "  pruneplan keygen KEY    # once: KEY and KEY.pub",
            f"  pruneplan analyze {' '.join(_arg(path) for path in written.inputs)} -o {plan_arg} --sign-key KEY    # plus the flags used above",
        ]
    return lines
