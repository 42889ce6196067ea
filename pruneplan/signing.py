"""Keys, detached plan signatures and the one place where a plan is trusted (docs/signing.md).

A signature is `plan.json.sig`: one line of base64 of either an ECDSA P-256 / SHA-256
signature in DER form (what `openssl dgst -sha256 -sign` and cosign produce) or a raw 64-byte
Ed25519 signature (what `openssl pkeyutl -sign -rawin` produces). It covers the exact plan bytes,
so anyone can check it with plain OpenSSL. The cryptography package does all the cryptography.

`verify_plan` decides trust for both `pruneplan verify` and execute: signature file, signature,
the plan (envelope, then every field: pruneplan.planmodel, or pruneplan.hardplan for a hard-prune
plan when the caller accepts one), expiry, in that order, each failure with its own exit status.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Literal, Sequence, Union, overload

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from .files import STDOUT, InputTooLarge, outputs, read_input, read_limited, write_or_fail
from .errors import (
    EXIT_BAD_INPUT,
    EXIT_BAD_KEY,
    EXIT_BAD_SIGNATURE,
    EXIT_EXPIRED,
    EXIT_IO,
    EXIT_NO_SIGNATURE,
    EXIT_UNKNOWN_PLAN,
    EXIT_USAGE,
    PrunePlanError,
)
from .approvals import BUNDLE_SUFFIX, PAYLOAD_TYPE as PAYLOAD_TYPE_EXPECTED, Envelope, key_id, pae, read_bundle, statement_of
from .hardplan import HARD_PLAN_KIND, HardPrunePlan, plan_kind
from .planformat import MAX_PLAN, SIGNATURE_SUFFIX
from .planmodel import Plan
from .timefmt import format_time

KEY_TYPES = ("ecdsa-p256", "ed25519")
PUBLIC_KEY_SUFFIX = ".pub"

PrivateKey = Union[ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey]
PublicKey = Union[ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey]

_SUPPORTED = "pruneplan uses ECDSA P-256 or Ed25519 keys"
# Key and signature files are read whole but never past this: a PEM key is a few hundred bytes,
# a signature line under 100, and /dev/zero given as one must not be read forever.
MAX_KEY_FILE_BYTES = 64 * 1024
_ED25519_SIGNATURE_SIZE = 64


@dataclass(frozen=True)
class SignatureCheck:
    """One signature over the plan, as verify lists it: where it is, which trusted key verified
    it, what it says (an approval's annotations), and whether it counts toward the threshold."""

    source: str  # PLAN.sig, or "PLAN.approvals, approval N"
    key: str | None  # the trusted key file that verified it; None when none did
    annotations: dict[str, str]
    valid: bool
    counted: bool  # valid, and the first valid signature of its key: two by one key count once
    problem: str = ""  # why it is not valid, or not counted


@dataclass(frozen=True)
class VerifiedPlan:
    """A plan whose signatures (enough of them), every field and expiry have been checked."""

    plan: Plan
    raw: bytes
    sha256: str
    key_path: str  # the key of the first counted signature
    signature_path: str
    signatures: tuple[SignatureCheck, ...] = ()
    threshold: int = 1


@dataclass(frozen=True)
class VerifiedHardPlan:
    """A hard-prune plan (pruneplan.hardplan) checked as VerifiedPlan's plan is."""

    plan: HardPrunePlan
    raw: bytes
    sha256: str
    key_path: str
    signature_path: str
    signatures: tuple[SignatureCheck, ...] = ()
    threshold: int = 1


def _expired_message(not_after: str, now: float) -> str:
    return (f"signature valid, but the plan expired on {not_after} (now is {format_time(now)}); "
            "collect a fresh dump and analyze it again, or pass --valid-for to analyze")


class PlanExpired(PrunePlanError):
    """A plan whose signature and fields are valid but whose validity ended: told apart from
    a signature that does not verify, so a reviewer knows to re-analyze a fresh dump rather
    than suspect tampering. `verified` is the plan as checked so far."""

    def __init__(self, verified: VerifiedPlan | VerifiedHardPlan, now: float) -> None:
        not_after = verified.plan.metadata.not_after
        super().__init__(_expired_message(not_after, now), EXIT_EXPIRED)
        self.verified = verified
        self.not_after = not_after


# ---------------------------------------------------------------------------------------------
# Writing files


# ---------------------------------------------------------------------------------------------
# Keys


def generate_key(path: str, key_type: str = "ecdsa-p256", force: bool = False) -> tuple[str, str]:
    """Write a new private key to `path` (PKCS#8 PEM, mode 0600) and its public key to `path.pub`.

    Returns (private_path, public_path). Existing files are kept unless force=True.
    """
    if key_type == "ecdsa-p256":
        private: PrivateKey = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise PrunePlanError(
            f"unsupported key type {key_type!r} (choose one of {', '.join(KEY_TYPES)})", EXIT_USAGE
        )
    public_path = path + PUBLIC_KEY_SUFFIX
    if path == STDOUT:
        raise PrunePlanError(f"keygen needs a file name, not {STDOUT}: the public key goes to KEY{PUBLIC_KEY_SUFFIX}", EXIT_USAGE)
    if not force:
        # Check both before writing either, so a refusal leaves no half-made pair behind.
        for existing in (path, public_path):
            if os.path.lexists(existing):
                raise PrunePlanError(f"{existing} already exists (use --force to overwrite it)", EXIT_IO)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with outputs() as pair:  # both keys or neither: a private key is useless without its public key
        pair.open(path, 0o600, replace=force).write(private_pem)
        pair.open(public_path, 0o644, replace=force).write(public_pem)
    return path, public_path


def _read_key_file(path: str, what: str) -> bytes:
    try:
        data = read_limited(path, MAX_KEY_FILE_BYTES)
    except FileNotFoundError:
        raise PrunePlanError(f"{what} {path} not found", EXIT_BAD_KEY) from None
    except OSError as err:
        raise PrunePlanError(f"cannot read {what} {path}: {err.strerror or err}", EXIT_BAD_KEY) from None
    if data is None:
        raise PrunePlanError(f"{what} {path} is larger than {MAX_KEY_FILE_BYTES // 1024} KiB: not a PEM key", EXIT_BAD_KEY)
    blocks = _PEM_BEGIN.findall(data)
    if len(blocks) > 1:
        # the PEM reader takes the first block and ignores the rest: say so, as a file of several
        # keys may look like several trusted keys (one --key per key trusts each)
        first = _PEM_BEGIN.search(data)
        assert first is not None
        line = data.count(b"\n", 0, first.start()) + 1
        print(f"warning: {what} {path} holds {len(blocks)} PEM blocks; only the first, "
              f"{first[1].decode('ascii')} at line {line}, is used", file=sys.stderr)
    return data


_PEM_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----")


def _describe_key(key: object) -> str:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"ECDSA {key.curve.name}"
    return type(key).__name__.lstrip("_").replace("PrivateKey", "").replace("PublicKey", "") or "unknown"


def _is_supported(key: object) -> bool:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return isinstance(key.curve, ec.SECP256R1)
    return isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey))


def load_private_key(path: str) -> PrivateKey:
    data = _read_key_file(path, "private key")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise PrunePlanError(f"{path} is a public key; signing needs the private key", EXIT_BAD_KEY)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        # cryptography raises TypeError when a key needs a password that was not given.
        raise PrunePlanError(
            f"private key {path} is encrypted; pruneplan needs an unencrypted PEM key", EXIT_BAD_KEY
        ) from None
    except UnsupportedAlgorithm:
        raise PrunePlanError(f"private key {path}: unsupported key type ({_SUPPORTED})", EXIT_BAD_KEY) from None
    except ValueError:
        raise PrunePlanError(f"{path} is not a PEM private key", EXIT_BAD_KEY) from None
    # the isinstance test only narrows the type: a supported private key is one of these two
    if not isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)) or not _is_supported(key):
        raise PrunePlanError(
            f"private key {path}: unsupported key type {_describe_key(key)} ({_SUPPORTED})", EXIT_BAD_KEY
        )
    return key


def load_public_key(path: str) -> PublicKey:
    data = _read_key_file(path, "key file")
    if b"PRIVATE KEY-----" in data:
        # Trust is configured with public keys only; a private key here is a mistake to report.
        raise PrunePlanError(
            f"{path} is a private key; pass its public key (the .pub file written by keygen)", EXIT_BAD_KEY
        )
    try:
        key = serialization.load_pem_public_key(data)
    except UnsupportedAlgorithm:
        raise PrunePlanError(f"key file {path}: unsupported key type ({_SUPPORTED})", EXIT_BAD_KEY) from None
    except ValueError:
        raise PrunePlanError(f"{path} is not a PEM public key", EXIT_BAD_KEY) from None
    # the isinstance test only narrows the type: a supported public key is one of these two
    if not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)) or not _is_supported(key):
        raise PrunePlanError(
            f"key file {path}: unsupported key type {_describe_key(key)} ({_SUPPORTED})", EXIT_BAD_KEY
        )
    return key


# ---------------------------------------------------------------------------------------------
# Signing


def sign_bytes(data: bytes, private_key_path: str) -> bytes:
    """Return the detached signature of `data` as one newline-terminated line of base64."""
    return sign_with(load_private_key(private_key_path), data)


def sign_with(key: PrivateKey, data: bytes) -> bytes:
    """The detached signature of `data` by a loaded key, as sign_bytes returns it."""
    return base64.b64encode(raw_signature(key, data)) + b"\n"


def raw_signature(key: PrivateKey, data: bytes) -> bytes:
    """The signature's bytes: DER for ECDSA P-256 / SHA-256 (as OpenSSL and cosign make and
    expect it), 64 bytes for Ed25519."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    return key.sign(data)


def read_plan_bytes(plan_path: str) -> bytes:
    """A plan file's bytes, at most MAX_PLAN of them (a device that never ends is not read on)."""
    try:
        return read_input(plan_path, MAX_PLAN)
    except InputTooLarge:
        raise PrunePlanError(f"plan {plan_path} is larger than {MAX_PLAN >> 30} GiB: not a plan", EXIT_UNKNOWN_PLAN) from None
    except OSError as err:
        raise PrunePlanError(f"cannot read plan {plan_path}: {err.strerror or err}", EXIT_BAD_INPUT) from None


def write_signature(plan_path: str, private_key_path: str) -> str:
    """Sign the exact bytes of `plan_path` and write `plan_path.sig` atomically; return its path."""
    data = read_plan_bytes(plan_path)
    signature = sign_bytes(data, private_key_path)
    sig_path = plan_path + SIGNATURE_SUFFIX
    write_or_fail(sig_path, signature, 0o644, replace=True)
    return sig_path


# ---------------------------------------------------------------------------------------------
# Verifying


def decode_signature(text: bytes, label: str = "signature") -> bytes:
    """Decode a base64 signature and check it has the shape of one we accept.

    Line breaks are allowed so that wrapped output of `base64` or `openssl base64` works too.
    """
    compact = b"".join(text.split())
    if not compact:
        raise PrunePlanError(f"{label} is empty", EXIT_NO_SIGNATURE)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise PrunePlanError(f"{label} is not base64", EXIT_NO_SIGNATURE) from None
    if len(raw) == _ED25519_SIGNATURE_SIZE:
        return raw
    try:
        utils.decode_dss_signature(raw)
    except ValueError:
        raise PrunePlanError(
            f"{label} is neither a DER-encoded ECDSA signature nor a 64-byte Ed25519 signature",
            EXIT_NO_SIGNATURE,
        ) from None
    return raw


def matches(key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _load_trusted(public_key_paths: Sequence[str]) -> list[tuple[str, PublicKey, str]]:
    """The trusted keys: (path, key, id). Every key is loaded first: a broken trust configuration
    is reported even if another key would match."""
    if not public_key_paths:
        raise PrunePlanError("no trusted public key given (--key PUB)", EXIT_BAD_KEY)
    return [(path, key, _key_id(key)) for path in public_key_paths for key in [load_public_key(path)]]


def public_key_id(key: PublicKey | PrivateKey) -> str:
    """A key's id (pruneplan.approvals.key_id), from its public half."""
    public = key.public_key() if isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)) else key
    return _key_id(public)


def _key_id(key: PublicKey) -> str:
    return key_id(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _verifying_key(trusted: list[tuple[str, PublicKey, str]], signature: bytes, data: bytes) -> tuple[str, str] | None:
    for path, key, ident in trusted:
        if matches(key, signature, data):
            return path, ident
    return None


def _check_signature(data: bytes, signature: bytes, public_key_paths: Sequence[str]) -> str:
    found = _verifying_key(_load_trusted(public_key_paths), signature, data)
    if found is None:
        raise PrunePlanError(
            f"signature does not verify with any trusted key (tried {len(public_key_paths)})", EXIT_BAD_SIGNATURE
        )
    return found[0]


def verify_bytes(data: bytes, signature_b64: bytes, public_key_paths: Sequence[str]) -> str:
    """Return the path of the first trusted public key that verifies `signature_b64` over `data`."""
    return _check_signature(data, decode_signature(signature_b64), public_key_paths)


def _read_signature_file(sig_path: str) -> bytes:
    try:
        text = read_limited(sig_path, MAX_KEY_FILE_BYTES)
    except FileNotFoundError:
        raise PrunePlanError(
            f"signature file {sig_path} not found (sign the plan, or pass --signature)", EXIT_NO_SIGNATURE
        ) from None
    except OSError as err:
        raise PrunePlanError(
            f"cannot read signature file {sig_path}: {err.strerror or err}", EXIT_NO_SIGNATURE
        ) from None
    if text is None:
        raise PrunePlanError(
            f"signature file {sig_path} is larger than {MAX_KEY_FILE_BYTES // 1024} KiB: not a signature", EXIT_NO_SIGNATURE
        )
    return decode_signature(text, f"signature file {sig_path}")


def _approval_checks(
    envelope: Envelope, where: str, plan_sha256: str, trusted: list[tuple[str, PublicKey, str]]
) -> list[tuple[SignatureCheck, str | None]]:
    """Each signature of one approval: checked over the PAE of its own statement's bytes, for
    this plan only. (check, verifying key's id)."""
    try:
        body, statement = statement_of(envelope)
    except PrunePlanError as err:
        return [(SignatureCheck(where, None, {}, False, False, err.message), None)]
    annotations = dict(statement.annotations)
    if envelope.payload_type != PAYLOAD_TYPE_EXPECTED:
        return [(SignatureCheck(where, None, annotations, False, False, f"payload type {envelope.payload_type!r} is not an approval"), None)]
    if statement.plan_sha256 != plan_sha256:
        return [(SignatureCheck(where, None, annotations, False, False, f"approves another plan (sha256 {statement.plan_sha256})"), None)]
    data = pae(envelope.payload_type, body)
    if not envelope.signatures:
        return [(SignatureCheck(where, None, annotations, False, False, "has no signature"), None)]
    checks: list[tuple[SignatureCheck, str | None]] = []
    for entry in envelope.signatures:
        try:
            signature = decode_signature(entry.sig.encode(), "its signature")
        except PrunePlanError as err:
            checks.append((SignatureCheck(where, None, annotations, False, False, err.message), None))
            continue
        found = _verifying_key(trusted, signature, data)
        if found is None:
            checks.append((SignatureCheck(where, None, annotations, False, False,
                                          f"does not verify with any trusted key (keyid {entry.keyid})"), None))
        else:
            checks.append((SignatureCheck(where, found[0], annotations, True, False), found[1]))
    return checks


def check_signatures(
    raw: bytes,
    public_key_paths: Sequence[str],
    sig_path: str,
    approvals_path: str,
    sig_required: bool = False,
    unreadable_as_row: bool = False,
) -> list[SignatureCheck]:
    """Every signature over the plan's bytes `raw`: the detached signature at `sig_path` (when
    there is one) and each approval of the bundle at `approvals_path`, in that order, each
    verified with the trusted keys; a key's first valid signature is counted, later ones are not.
    Raises (one line, its exit status) for what makes the question unanswerable: a trusted key
    that cannot be read, a signature file or bundle that is malformed, neither of them there, or
    no signature file where one was named (`sig_required`). With `unreadable_as_row` (a report,
    which lists what it can), an unreadable signature file or bundle is a not-valid row saying
    why instead, and the other's signatures are still checked; a key file still raises."""
    rows: dict[str, SignatureCheck] = {}  # the unreadable files, as rows

    def unreadable(path: str, err: PrunePlanError) -> None:
        if not unreadable_as_row:
            raise err
        rows[path] = SignatureCheck(path, None, {}, False, False, err.message)

    # the signatures are read before the keys: a missing signature is reported first
    bundle = None
    try:
        bundle = read_bundle(approvals_path)
    except PrunePlanError as err:
        unreadable(approvals_path, err)
    bundled = bundle is not None or os.path.lexists(approvals_path)
    signature = None
    if sig_required or not bundled or os.path.lexists(sig_path):
        try:
            signature = _read_signature_file(sig_path)
        except PrunePlanError as err:
            unreadable(sig_path, err)
    trusted = _load_trusted(public_key_paths)
    plan_sha256 = hashlib.sha256(raw).hexdigest()
    found: list[tuple[SignatureCheck, str | None]] = []
    if sig_path in rows:
        found.append((rows[sig_path], None))
    if signature is not None:
        verifier = _verifying_key(trusted, signature, raw)
        if verifier is None:
            found.append((SignatureCheck(sig_path, None, {}, False, False, "does not verify with any trusted key"), None))
        else:
            found.append((SignatureCheck(sig_path, verifier[0], {}, True, False), verifier[1]))
    if approvals_path in rows:
        found.append((rows[approvals_path], None))
    for number, envelope in enumerate(bundle.approvals if bundle else [], 1):
        found += _approval_checks(envelope, f"{approvals_path}, approval {number}", plan_sha256, trusted)
    counted_keys: set[str] = set()
    checks = []
    for check, ident in found:
        if check.valid and ident is not None:
            if ident in counted_keys:
                check = SignatureCheck(check.source, check.key, check.annotations, True, False,
                                       "not counted: its key already signed")
            else:
                counted_keys.add(ident)
                check = SignatureCheck(check.source, check.key, check.annotations, True, True)
        checks.append(check)
    return checks


def _threshold_error(checks: list[SignatureCheck], threshold: int, tried: int) -> PrunePlanError:
    signers = [check.key for check in checks if check.counted and check.key]
    if threshold == 1:  # the words of a single signature, as they always were
        return PrunePlanError(f"signature does not verify with any trusted key (tried {tried})", EXIT_BAD_SIGNATURE)
    who = f"signed by {', '.join(signers)}" if signers else "no trusted key signed it"
    return PrunePlanError(
        f"{len(signers)} of the {threshold} required trusted keys signed this plan ({who}); "
        f"an approver adds a signature with `pruneplan approve PLAN --key KEY`",
        EXIT_BAD_SIGNATURE,
    )


def check_threshold(threshold: int, public_key_paths: Sequence[str]) -> None:
    """--threshold must be reachable with the trusted keys given (two files of one key are one)."""
    if threshold < 1:
        raise PrunePlanError(f"--threshold must be at least 1, not {threshold}", EXIT_USAGE)
    if threshold == 1:
        return
    distinct = {ident for _, _, ident in _load_trusted(public_key_paths)}
    if threshold > len(distinct):
        raise PrunePlanError(
            f"--threshold {threshold} needs at least {threshold} distinct trusted keys (--key), not {len(distinct)}",
            EXIT_USAGE,
        )


@overload
def verify_plan(
    plan_path: str,
    keys: Sequence[str],
    sig_path: str | None = None,
    now: float | None = None,
    raw: bytes | None = None,
    threshold: int = 1,
    approvals_path: str | None = None,
    accept_hard: Literal[False] = False,
) -> VerifiedPlan: ...


@overload
def verify_plan(
    plan_path: str,
    keys: Sequence[str],
    sig_path: str | None = None,
    now: float | None = None,
    raw: bytes | None = None,
    threshold: int = 1,
    approvals_path: str | None = None,
    *,
    accept_hard: Literal[True],
) -> VerifiedPlan | VerifiedHardPlan: ...


def verify_plan(
    plan_path: str,
    keys: Sequence[str],
    sig_path: str | None = None,
    now: float | None = None,
    raw: bytes | None = None,
    threshold: int = 1,
    approvals_path: str | None = None,
    accept_hard: bool = False,
) -> VerifiedPlan | VerifiedHardPlan:
    """Decide whether a plan may be trusted; raise PrunePlanError with a distinct status if not.

    Checks, in order: the signatures (the detached PLAN.sig and the approvals in PLAN.approvals,
    see check_signatures) of at least `threshold` distinct trusted keys among `keys` (public key
    PEM paths) verify; the plan is one this tool knows and every field of it is valid
    (pruneplan.planmodel.Plan.from_bytes: exit 13); and the plan is not past metadata.notAfter
    at `now` (epoch seconds; default: the current time). `raw`: the plan's bytes when the caller
    has read them already (stdin cannot be read twice), so what is verified is exactly what the
    caller shows.

    With `accept_hard` (a caller that can act on either kind), a plan whose kind is
    HardPrunePlan is read by pruneplan.hardplan.HardPrunePlan.from_bytes and handed back as a
    VerifiedHardPlan, with the same checks in the same order; without it every plan is read as
    a PrunePlan, as always.
    """
    if threshold < 1:
        raise PrunePlanError(f"--threshold must be at least 1, not {threshold}", EXIT_USAGE)
    named = sig_path is not None
    sig_path = sig_path or plan_path + SIGNATURE_SUFFIX
    approvals_path = approvals_path or plan_path + BUNDLE_SUFFIX
    if raw is None:
        raw = read_plan_bytes(plan_path)
    checks = check_signatures(raw, keys, sig_path, approvals_path, sig_required=named)
    check_threshold(threshold, keys)
    counted = [check for check in checks if check.counted]
    if len(counted) < threshold:
        raise _threshold_error(checks, threshold, len(keys))
    # Only signed bytes are parsed: nothing an attacker wrote is interpreted before this point.
    # the fields after `plan`, the same for either kind
    checked = (raw, hashlib.sha256(raw).hexdigest(), counted[0].key or "",
               counted[0].source if counted[0].source == sig_path else sig_path, tuple(checks), threshold)
    verified: VerifiedPlan | VerifiedHardPlan
    if accept_hard and plan_kind(raw) == HARD_PLAN_KIND:
        verified = VerifiedHardPlan(HardPrunePlan.from_bytes(raw, plan_path), *checked)
    else:
        verified = VerifiedPlan(Plan.from_bytes(raw, plan_path), *checked)
    current = time.time() if now is None else now
    if current >= verified.plan.metadata.not_after_seconds:
        raise PlanExpired(verified, current)
    return verified
