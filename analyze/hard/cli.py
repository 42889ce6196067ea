"""`analyze --hard`'s command line: the positional arguments and the flags it refuses."""

from __future__ import annotations

from typing import Optional

from pruneplan.errors import FlagError


def run_hard_command(
    inputs: list[str],
    soft_only: list[str],
    *,
    output: str,
    now: Optional[str],
    keep_younger_than: Optional[str],
    valid_for: str,
    sign_key: Optional[str],
    quiet: bool,
) -> None:
    """Check `analyze --hard`'s command line (`soft_only`: the policy flags given that only a
    soft prune has), then run it."""
    if "--confirm" in soft_only:
        raise FlagError(
            "analyze never deletes anything: it writes a plan; to delete, run "
            "`pruneplan execute PLAN --key PUB --registry-storage DIR --confirm` with the signed plan"
        )
    if soft_only:
        raise FlagError(
            f"{', '.join(soft_only)} cannot be given with --hard: a hard prune keeps what an Image object or image stream "
            "accounts for, and takes only --now and --keep-younger-than"
        )
    if len(inputs) != 2:
        raise FlagError(f"analyze --hard takes exactly DUMP INVENTORY, not {len(inputs)} argument(s)")
    from pruneplan.analyze.hard.run import HardRequest, run_hard

    run_hard(HardRequest(dump=inputs[0], inventory=inputs[1], output=output, now=now, keep_younger_than=keep_younger_than,
                         valid_for=valid_for, sign_key=sign_key, quiet=quiet))
