"""Approvals: signatures that each cover the plan and their own annotations (docs/signing.md,
"Approvals").

An approval is a DSSE envelope (the Dead Simple Signing Envelope that in-toto and sigstore use):
`payloadType`, `payload` (base64 of a statement) and `signatures` (`keyid`, `sig`). The statement
names the plan by its sha256 and carries the approver's annotations (ticket, approver, time,
comment), so an annotation cannot be changed, nor an approval moved to another plan, without
breaking its signature. What is signed is DSSE's pre-authentication encoding (PAE) of the type and
the statement's bytes, a byte string OpenSSL and cosign sign and check as a file.

The approvals of a plan are kept beside it in one JSON document, PLAN.approvals: the bundle. The
statement bytes are never re-encoded: a reader checks the bytes that were signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Mapping

import msgspec

from .errors import EXIT_NO_SIGNATURE, EXIT_USAGE, PrunePlanError
from .files import read_limited

BUNDLE_SUFFIX = ".approvals"
BUNDLE_API_VERSION = "pruneplan.io/v1"
BUNDLE_KIND = "ApprovalBundle"
PAYLOAD_TYPE = "application/vnd.pruneplan.approval.v1+json"
# A bundle is a few hundred bytes per approval; a file past this is not one (a device is not read on).
MAX_BUNDLE_BYTES = 4 << 20
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Statement(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    """What an approver signs: the plan (by its sha256) and the approver's annotations."""

    plan_sha256: str
    annotations: dict[str, str]


class EnvelopeSignature(msgspec.Struct, forbid_unknown_fields=True):
    keyid: str
    sig: str


class Envelope(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    payload_type: str
    payload: str
    signatures: list[EnvelopeSignature]


class Bundle(msgspec.Struct, forbid_unknown_fields=True, rename="camel"):
    api_version: str
    kind: str
    approvals: list[Envelope]

    def to_bytes(self) -> bytes:
        return msgspec.json.format(_ENCODER.encode(self), indent=2) + b"\n"


_ENCODER = msgspec.json.Encoder(order="sorted")


def empty_bundle() -> Bundle:
    return Bundle(BUNDLE_API_VERSION, BUNDLE_KIND, [])


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE's pre-authentication encoding: `DSSEv1 <len> <type> <len> <body>`, lengths in bytes,
    in decimal; the exact bytes a signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)


def parse_annotations(pairs: list[str]) -> dict[str, str]:
    """`KEY=VALUE` command-line pairs as annotations; a bad or repeated key is a usage error."""
    annotations: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _ANNOTATION_KEY.fullmatch(key):
            raise PrunePlanError(
                f"--annotation {pair!r} is not KEY=VALUE with a KEY of letters, digits, '.', '_' or '-'", EXIT_USAGE
            )
        if key in annotations:
            raise PrunePlanError(f"--annotation {key} is given twice", EXIT_USAGE)
        annotations[key] = value
    return annotations


def statement_bytes(plan_sha256: str, annotations: Mapping[str, str]) -> bytes:
    """The statement an approver signs, as compact JSON with sorted keys (the same bytes for the
    same plan and annotations, so an external signer can be given them ahead of time)."""
    return _ENCODER.encode(Statement(plan_sha256, dict(annotations)))


def signing_input(plan_sha256: str, annotations: Mapping[str, str]) -> bytes:
    """The bytes to sign for an approval of the plan with these annotations."""
    return pae(PAYLOAD_TYPE, statement_bytes(plan_sha256, annotations))


def new_envelope(plan_sha256: str, annotations: Mapping[str, str], keyid: str, signature: bytes) -> Envelope:
    body = statement_bytes(plan_sha256, annotations)
    return Envelope(PAYLOAD_TYPE, base64.b64encode(body).decode(), [EnvelopeSignature(keyid, base64.b64encode(signature).decode())])


def statement_of(envelope: Envelope) -> tuple[bytes, Statement]:
    """The envelope's signed statement bytes and the statement they hold; PrunePlanError (exit 11)
    for a payload that is not one."""
    try:
        body = base64.b64decode(envelope.payload, validate=True)
        statement = msgspec.json.decode(body, type=Statement)
    except (binascii.Error, ValueError, msgspec.DecodeError) as err:
        raise PrunePlanError(f"an approval's payload is not a pruneplan approval statement: {err}", EXIT_NO_SIGNATURE) from None
    if not _SHA256.fullmatch(statement.plan_sha256):
        raise PrunePlanError("an approval's statement has no valid planSha256", EXIT_NO_SIGNATURE)
    return body, statement


def read_bundle(path: str) -> Bundle | None:
    """The bundle at `path`; None when there is none. PrunePlanError (exit 11) for a file that is
    not a bundle."""
    try:
        data = read_limited(path, MAX_BUNDLE_BYTES)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise PrunePlanError(f"cannot read approvals {path}: {err.strerror or err}", EXIT_NO_SIGNATURE) from None
    if data is None:
        raise PrunePlanError(f"approvals {path} is larger than {MAX_BUNDLE_BYTES >> 20} MiB: not an approval bundle", EXIT_NO_SIGNATURE)
    try:
        bundle = msgspec.json.decode(data, type=Bundle)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise PrunePlanError(f"approvals {path} is not an approval bundle: {err}", EXIT_NO_SIGNATURE) from None
    if (bundle.api_version, bundle.kind) != (BUNDLE_API_VERSION, BUNDLE_KIND):
        raise PrunePlanError(
            f"approvals {path} is not a {BUNDLE_API_VERSION} {BUNDLE_KIND} (apiVersion {bundle.api_version!r}, kind {bundle.kind!r})",
            EXIT_NO_SIGNATURE,
        )
    return bundle


def key_id(public_der: bytes) -> str:
    """A key's id: the sha256 of its public key (DER SubjectPublicKeyInfo), as `openssl pkey
    -pubin -outform DER | sha256sum` prints it."""
    return "sha256:" + hashlib.sha256(public_der).hexdigest()
