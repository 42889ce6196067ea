"""`pruneplan approve`: add an approval (a signature over the plan and the approver's annotations)
to the plan's approval bundle (pruneplan.approvals; docs/signing.md, "Approvals").

Three ways, one bundle: sign with a private key here; or write the exact bytes to sign, for a
signer outside pruneplan (OpenSSL, cosign), then attach the signature it made, checked against
its public key before it is added.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from dataclasses import dataclass

from .approvals import BUNDLE_SUFFIX, Envelope, empty_bundle, new_envelope, read_bundle, signing_input, statement_of
from .errors import EXIT_BAD_SIGNATURE, EXIT_EXPIRED, EXIT_NO_SIGNATURE, EXIT_USAGE, PrunePlanError
from .files import input_path, read_limited, write_or_fail
from .hardplan import HARD_PLAN_KIND, HardPrunePlan, plan_kind
from .planmodel import Plan
from .signing import (
    MAX_KEY_FILE_BYTES,
    decode_signature,
    load_private_key,
    load_public_key,
    matches,
    public_key_id,
    raw_signature,
    read_plan_bytes,
)
from .timefmt import format_time


@dataclass(frozen=True)
class ApproveRequest:
    plan: str
    annotations: dict[str, str]
    key: str | None = None  # a private key to sign with
    signature: str | None = None  # or a signature made elsewhere, with its public key
    public_key: str | None = None
    signing_input: str | None = None  # or: only write the bytes to sign here
    approvals: str | None = None  # default PLAN.approvals
    now: float | None = None


@dataclass(frozen=True)
class Approved:
    approvals_path: str
    plan_sha256: str
    key_id: str
    annotations: dict[str, str]
    count: int  # approvals in the bundle now
    dropped: int  # approvals of another plan (or of nothing) removed from the bundle


def _mode(request: ApproveRequest) -> str:
    modes = [name for name, given in (("key", request.key), ("signature", request.signature),
                                      ("signing-input", request.signing_input)) if given]
    if len(modes) != 1:
        raise PrunePlanError("approve needs exactly one of --key KEY, --signature SIG (with --public-key PUB) "
                             "and --signing-input FILE", EXIT_USAGE)
    if (request.signature is None) != (request.public_key is None):
        raise PrunePlanError("--signature and --public-key go together: the key that made the signature checks it", EXIT_USAGE)
    return modes[0]


def _read_external_signature(path: str) -> bytes:
    """A signature file from OpenSSL (`-out`, DER bytes) or cosign (base64), as raw bytes."""
    try:
        data = read_limited(path, MAX_KEY_FILE_BYTES)
    except OSError as err:
        raise PrunePlanError(f"cannot read signature {path}: {err.strerror or err}", EXIT_NO_SIGNATURE) from None
    if data is None:
        raise PrunePlanError(f"signature {path} is larger than {MAX_KEY_FILE_BYTES // 1024} KiB: not a signature", EXIT_NO_SIGNATURE)
    try:
        text = data.decode("ascii")
        base64.b64decode("".join(text.split()), validate=True)
    except (UnicodeDecodeError, binascii.Error, ValueError):
        data = base64.b64encode(data)  # binary: DER as `openssl dgst -sign -out` writes it
    return decode_signature(data, f"signature {path}")


def approve(request: ApproveRequest) -> Approved | bytes:
    """Add the approval; with --signing-input, return the bytes to sign instead (written by the
    caller). Nothing is written unless the plan is valid, unexpired, and the signature verifies."""
    mode = _mode(request)
    path = input_path(request.plan)
    raw = read_plan_bytes(path)
    # approving what is not a valid plan would mean nothing; a hard-prune plan is approved as a plan is
    plan = HardPrunePlan.from_bytes(raw, request.plan) if plan_kind(raw) == HARD_PLAN_KIND else Plan.from_bytes(raw, request.plan)
    current = time.time() if request.now is None else request.now
    if current >= plan.metadata.not_after_seconds:
        raise PrunePlanError(f"the plan expired on {plan.metadata.not_after}: an approval would not make it executable; "
                             "analyze a fresh dump", EXIT_EXPIRED)
    sha = hashlib.sha256(raw).hexdigest()
    annotations = dict(request.annotations)
    if mode == "signing-input":
        return signing_input(sha, annotations)
    if mode == "key":
        assert request.key is not None
        private = load_private_key(request.key)
        if "time" not in annotations:  # when it was approved, signed with the rest
            annotations["time"] = format_time(int(current)) or ""
        signature, ident = raw_signature(private, signing_input(sha, annotations)), public_key_id(private)
    else:
        assert request.signature is not None and request.public_key is not None
        public = load_public_key(request.public_key)
        signature = _read_external_signature(request.signature)
        if not matches(public, signature, signing_input(sha, annotations)):
            raise PrunePlanError(
                f"signature {request.signature} does not verify with {request.public_key} over this plan's signing input "
                "with these annotations (sign the bytes `approve --signing-input` wrote, with the same --annotation values)",
                EXIT_BAD_SIGNATURE,
            )
        ident = public_key_id(public)
    if request.approvals is None and request.plan == "-":
        raise PrunePlanError("approve - reads the plan from stdin: name its bundle with --approvals FILE", EXIT_USAGE)
    bundle_path = request.approvals or request.plan + BUNDLE_SUFFIX
    bundle = read_bundle(bundle_path) or empty_bundle()
    # approvals of an earlier plan under the same name count for nothing now: they go, or the
    # bundle would grow with every review cycle
    kept = [envelope for envelope in bundle.approvals if _approves(envelope, sha)]
    dropped = len(bundle.approvals) - len(kept)
    bundle.approvals = [*kept, new_envelope(sha, annotations, ident, signature)]
    inputs = [path, *(p for p in (request.key, request.signature, request.public_key) if p)]
    write_or_fail(bundle_path, bundle.to_bytes(), 0o644, replace=True, inputs=inputs)
    return Approved(bundle_path, sha, ident, annotations, len(bundle.approvals), dropped)


def _approves(envelope: Envelope, plan_sha256: str) -> bool:
    try:
        return statement_of(envelope)[1].plan_sha256 == plan_sha256
    except PrunePlanError:  # not a statement at all: approves nothing
        return False
