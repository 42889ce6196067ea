"""Keys, detached plan signatures and the one place where a plan is trusted (docs/signing.md).

A signature is `plan.json.sig`: one line of base64 of either an ECDSA P-256 / SHA-256
signature in DER form (what `openssl dgst -sha256 -sign` and cosign produce) or a raw 64-byte
Ed25519 signature (what `openssl pkeyutl -sign -rawin` produces). It covers the exact plan bytes,
so anyone can check it with plain OpenSSL. The cryptography package does all the cryptography.

`verify_plan` decides trust for both `pruneplan verify` and execute: signature file, signature,
the plan (envelope, then every field: pruneplan.planmodel), expiry, in that order, each failure
with its own exit status.
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
from typing import Sequence, Union

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
class VerifiedPlan:
    """A plan whose signature, every field and expiry have been checked."""

    plan: Plan
    raw: bytes
    sha256: str
    key_path: str
    signature_path: str


class PlanExpired(PrunePlanError):
    """A plan whose signature and fields are valid but whose validity ended: told apart from
    a signature that does not verify, so a reviewer knows to re-analyze a fresh dump rather
    than suspect tampering. `verified` is the plan as checked so far."""

    def __init__(self, verified: VerifiedPlan, now: float) -> None:
        not_after = verified.plan.metadata.not_after
        super().__init__(
            f"signature valid, but the plan expired on {not_after} (now is {format_time(now)}); "
            "collect a fresh dump and analyze it again, or pass --valid-for to analyze",
            EXIT_EXPIRED,
        )
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
    if isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))  # DER, as OpenSSL and cosign expect
    else:
        signature = key.sign(data)
    return base64.b64encode(signature) + b"\n"


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


def _matches(key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _check_signature(data: bytes, signature: bytes, public_key_paths: Sequence[str]) -> str:
    if not public_key_paths:
        raise PrunePlanError("no trusted public key given (--key PUB)", EXIT_BAD_KEY)
    # Load every key first: a broken trust configuration is reported even if another key matches.
    keys = [(path, load_public_key(path)) for path in public_key_paths]
    for path, key in keys:
        if _matches(key, signature, data):
            return path
    raise PrunePlanError(
        f"signature does not verify with any trusted key (tried {len(keys)})", EXIT_BAD_SIGNATURE
    )


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


def verify_plan(
    plan_path: str,
    keys: Sequence[str],
    sig_path: str | None = None,
    now: float | None = None,
    raw: bytes | None = None,
) -> VerifiedPlan:
    """Decide whether a plan may be trusted; raise PrunePlanError with a distinct status if not.

    Checks, in order: the signature file is present and well-formed, the signature verifies with
    one of `keys` (public key PEM paths), the plan is one this tool knows and every field of it
    is valid (pruneplan.planmodel.Plan.from_bytes: exit 13), and the plan is not past
    metadata.notAfter at `now` (epoch seconds; default: the current time). `raw`: the plan's
    bytes when the caller has read them already (stdin cannot be read twice), so what is
    verified is exactly what the caller shows.
    """
    sig_path = sig_path or plan_path + SIGNATURE_SUFFIX
    if raw is None:
        raw = read_plan_bytes(plan_path)
    signature = _read_signature_file(sig_path)
    key_path = _check_signature(raw, signature, keys)
    # Only signed bytes are parsed: nothing an attacker wrote is interpreted before this point.
    plan = Plan.from_bytes(raw, plan_path)
    verified = VerifiedPlan(
        plan=plan,
        raw=raw,
        sha256=hashlib.sha256(raw).hexdigest(),
        key_path=key_path,
        signature_path=sig_path,
    )
    current = time.time() if now is None else now
    if current >= plan.metadata.not_after_seconds:
        raise PlanExpired(verified, current)
    return verified
