"""The report's signature status: PLAN.sig and the approvals of PLAN.approvals, checked as
`pruneplan verify` checks them (pruneplan.signing.verify_plan and check_signatures).

A report never fails on a signature: whatever verify would refuse (a signature that does not
verify, too few trusted keys, an unreadable signature file or bundle, a bad key file) becomes the
status shown at the top and a row of the Approvals section. Only a command line that cannot be
right (a --threshold below 1, or above the number of distinct keys given) is an error.
"""

from __future__ import annotations

import os
from typing import Sequence

from pruneplan.approvals import BUNDLE_SUFFIX, read_bundle, statement_of
from pruneplan.errors import EXIT_USAGE, PrunePlanError
from pruneplan.planformat import SIGNATURE_SUFFIX
from pruneplan.signing import PlanExpired, SignatureCheck, check_signatures, check_threshold, verify_plan

from pruneplan.analyze.report.review import INVALID, UNCHECKED, VALID, SignatureRow, SignatureStatus

# A path that names no file (the empty path is ENOENT): given to check_signatures for the
# signature file or the bundle, it checks the other one alone.
def check_threshold_flag(threshold: int, keys: Sequence[str]) -> None:
    """A --threshold that no set of signatures could meet is a usage error (exit 2), raised
    before any work; a key file that cannot be read is left for the status to show."""
    if threshold < 1:
        raise PrunePlanError(f"--threshold must be at least 1, not {threshold}", EXIT_USAGE)
    if not keys:
        return  # nothing is verified, so nothing is counted against it
    try:
        check_threshold(threshold, keys)
    except PrunePlanError as err:
        if err.exit_code == EXIT_USAGE:
            raise


def signature_status(
    plan_path: str,
    raw: bytes,
    keys: list[str],
    sig_path: str | None,
    now: float | None,
    threshold: int = 1,
    approvals_path: str | None = None,
) -> SignatureStatus:
    """Verify with --key when given (any failure becomes the status, not an error); without a
    key list what is there, unchecked. A plan whose signatures meet the threshold but which is
    past its notAfter is "expired", not "failed": it is authentic, only too old to execute.
    A hard-prune plan is verified as such (the same checks, in the same order); any other kind
    is read as a PrunePlan, as verify reads it."""
    sig = sig_path or plan_path + SIGNATURE_SUFFIX
    bundle = approvals_path or plan_path + BUNDLE_SUFFIX
    if not keys:
        return _unchecked(sig, bundle, threshold)
    try:
        verified = verify_plan(plan_path, keys, sig_path=sig_path, now=now, raw=raw,  # the bytes this report shows
                               threshold=threshold, approvals_path=bundle, accept_hard=True)
    except PlanExpired as expired:
        valid = expired.verified.signatures
        return SignatureStatus(
            "expired",
            f"{_verifying(valid)}, but the plan's notAfter has passed: execute refuses it; "
            "collect a fresh dump and analyze it again",
            key=expired.verified.key_path,
            not_after=expired.not_after,
            threshold=threshold,
            signed=_signed(valid),
            checked=True,
            rows=_rows(valid),
        )
    except PrunePlanError as err:
        try:
            checks = _all_checks(raw, keys, sig, bundle, sig_required=sig_path is not None)
        except PrunePlanError:  # a key file: nothing can be checked; list what is there
            listed = _unchecked(sig, bundle, threshold)
            return SignatureStatus("failed", err.message, threshold=threshold, checked=True, rows=listed.rows)
        return SignatureStatus("failed", err.message, threshold=threshold, signed=_signed(checks), checked=True,
                               rows=_rows(checks))
    return SignatureStatus("verified", _verified_with(verified.signatures), verified.key_path, threshold=threshold,
                           signed=_signed(verified.signatures), checked=True, rows=_rows(verified.signatures))


def _all_checks(raw: bytes, keys: list[str], sig: str, bundle: str, sig_required: bool) -> list[SignatureCheck]:
    """Every signature, as verify sees them; a signature file or bundle that cannot be read is
    a row saying why, and does not hide the other's signatures. Raises only for a key file."""
    return check_signatures(raw, keys, sig, bundle, sig_required, unreadable_as_row=True)


def _rows(checks: Sequence[SignatureCheck]) -> tuple[SignatureRow, ...]:
    return tuple(
        SignatureRow(check.source, VALID if check.valid else INVALID, check.key, None,
                     tuple(sorted(check.annotations.items())), check.counted, check.problem)
        for check in checks
    )


def _signed(checks: Sequence[SignatureCheck]) -> int:
    """Distinct trusted keys: check_signatures counts each key's first valid signature only."""
    return sum(check.counted for check in checks)


def _verified_with(checks: Sequence[SignatureCheck]) -> str:
    counted = [check for check in checks if check.counted]
    what = "signature" if len(counted) == 1 else "signatures"
    return f"{what} verified with " + ", ".join(f"{check.key} ({check.source})" for check in counted)


def _verifying(checks: Sequence[SignatureCheck]) -> str:
    counted = [check for check in checks if check.counted]
    if len(counted) == 1:
        return f"{counted[0].source} verifies"
    return f"the signatures of {len(counted)} distinct trusted keys verify"


def _unchecked(sig: str, bundle: str, threshold: int) -> SignatureStatus:
    """Without --key: the signature file and each approval's signatures, with the annotations
    their statements carry, none of it verified. A bundle or statement that cannot be read is a
    row saying why."""
    rows: list[SignatureRow] = []
    if os.path.lexists(sig):
        rows.append(SignatureRow(sig, UNCHECKED))
    try:
        found = read_bundle(bundle)
    except PrunePlanError as err:
        found = None
        rows.append(SignatureRow(bundle, INVALID, problem=err.message))
    for number, envelope in enumerate(found.approvals if found else [], 1):
        where = f"{bundle}, approval {number}"
        try:
            _, statement = statement_of(envelope)
        except PrunePlanError as err:
            rows.append(SignatureRow(where, INVALID, problem=err.message))
            continue
        annotations = tuple(sorted(statement.annotations.items()))
        if not envelope.signatures:
            rows.append(SignatureRow(where, INVALID, annotations=annotations, problem="has no signature"))
        rows += [SignatureRow(where, UNCHECKED, keyid=entry.keyid, annotations=annotations) for entry in envelope.signatures]
    return SignatureStatus(*_unchecked_words(sig, bundle), threshold=threshold, rows=tuple(rows))


def _unchecked_words(sig: str, bundle: str) -> tuple[str, str]:
    there = [path for path in (sig, bundle) if os.path.lexists(path)]
    if not there:
        return "unsigned", f"no signature file {sig}; this plan is not signed"
    one = len(there) == 1
    return "unchecked", (f"{' and '.join(there)} {'exists' if one else 'exist'} but {'was' if one else 'were'} not checked "
                         f"(pass --key PUB to verify {'it' if one else 'them'})")
