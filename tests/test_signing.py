"""Keys, detached plan signatures and `pruneplan verify` (docs/signing.md).

Interoperability is checked with the real `openssl` command line in both directions, and every
way a plan can fail verification is driven through the CLI with its own exit status.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pruneplan import cli, signing
from pruneplan.errors import (
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
from pruneplan.planformat import REQUIRED_KEYS, dump_plan

OPENSSL = "/usr/bin/openssl"
KEY_TYPES = ["ecdsa-p256", "ed25519"]
NOT_AFTER = "2030-01-08T06:00:00Z"
BEFORE_EXPIRY = "2030-01-02T00:00:00Z"

Run = Callable[..., tuple[int, str, str]]


# --------------------------------------------------------------------------------------------
# helpers


def _sha(char: str) -> str:
    return "sha256:" + char * 64


# A small valid plan (every field is validated on read): two images freeing five blobs, 4096 bytes.
IMAGE_BLOBS = {_sha("a"): [(_sha("1"), "layer", 1024), (_sha("2"), "layer", 2048), (_sha("3"), "config", None)],
               _sha("b"): [(_sha("4"), "layer", 1024), (_sha("b"), "manifest", None)]}


def make_plan(**overrides: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "apiVersion": "pruneplan.io/v1",
        "kind": "PrunePlan",
        "metadata": {
            "createdAt": "2030-01-01T06:00:00Z",
            "notAfter": NOT_AFTER,
            "tool": {"name": "pruneplan", "version": "0.1.0"},
        },
        "source": {
            "dumpSha256": "d" * 64,
            "collectedAt": "2030-01-01T05:00:00Z",
            "cluster": {"apiServer": "https://api.example.test:6443", "clusterID": "cluster-1234"},
            "namespace": None,
            "inputs": [],
            "counts": {"images": 3},
        },
        "policy": {"all": True, "ignoreInvalidRefs": False, "keepTagRevisions": 3, "keepYoungerThan": "1h0m0s",
                   "namespace": None, "now": "2030-01-01T06:00:00Z", "pruneOverSizeLimit": None,
                   "pruneRegistry": True, "threshold": "2030-01-01T05:00:00Z"},
        "imageStreamUpdates": [],
        "layerLinkDeletions": [],
        "manifestLinkDeletions": [],
        "blobDeletions": sorted(
            ({"digest": digest, "kind": kind, "size": size, "image": name}
             for name, blobs in IMAGE_BLOBS.items() for digest, kind, size in blobs),
            key=lambda blob: blob["digest"],
        ),
        "imageDeletions": [
            {"name": name, "created": "2029-01-01T00:00:00Z", "managed": True,
             "dockerImageReference": f"registry.example.test/ns/app@{name}", "blobs": [b[0] for b in blobs],
             "reason": "unreferenced"}
            for name, blobs in IMAGE_BLOBS.items()
        ],
        "errors": [],
        "summary": {
            "deletedImages": 2,
            "deletedImageStreamTagItems": 0,
            "updatedImageStreams": 0,
            "deletedLayerLinks": 0,
            "deletedManifestLinks": 0,
            "deletedBlobs": 5,
            "reclaimableBytes": 4096,
            "text": "deleted 2 image object(s), deleted 5 blob(s)",
        },
    }
    plan.update(overrides)
    assert all(key in plan for key in REQUIRED_KEYS)
    return plan


def write_plan(path: Path, plan: dict[str, Any] | None = None) -> Path:
    path.write_bytes(dump_plan(plan if plan is not None else make_plan()))
    return path


def keypair(tmp_path: Path, key_type: str = "ecdsa-p256", name: str | None = None) -> tuple[str, str]:
    return signing.generate_key(str(tmp_path / (name or f"key-{key_type}")), key_type)


def signed_plan(tmp_path: Path, private: str, plan: dict[str, Any] | None = None) -> Path:
    path = write_plan(tmp_path / "plan.json", plan)
    signing.write_signature(str(path), private)
    return path


def openssl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, check=False)


def write_pem_private(path: Path, key: Any, password: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return str(path)


def write_pem_public(path: Path, key: Any) -> str:
    path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return str(path)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `pruneplan ARGS` in-process; return (exit status, stdout, stderr)."""
    def _run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def assert_one_error_line(code: int, out: str, err: str, expected: int) -> str:
    assert code == expected, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


# --------------------------------------------------------------------------------------------
# keygen


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_keygen_writes_0600_pkcs8_private_key_and_public_pem(tmp_path: Path, run: Run, key_type: str) -> None:
    key = tmp_path / "signer"
    code, out, err = run("keygen", str(key), "--type", key_type)

    assert code == 0, err
    assert out.splitlines() == [f"private key: {key}", f"public key:  {key}.pub"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    private_pem = key.read_bytes()
    public_pem = Path(f"{key}.pub").read_bytes()
    assert private_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, unencrypted
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")  # SubjectPublicKeyInfo
    private = serialization.load_pem_private_key(private_pem, password=None)
    public = serialization.load_pem_public_key(public_pem)
    if key_type == "ecdsa-p256":
        assert isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1)
    else:
        assert isinstance(private, ed25519.Ed25519PrivateKey)
    assert public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_keygen_defaults_to_ecdsa_p256(tmp_path: Path, run: Run) -> None:
    code, _, err = run("keygen", str(tmp_path / "k"))
    assert code == 0, err
    key = serialization.load_pem_private_key((tmp_path / "k").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)


def test_keygen_refuses_to_overwrite_an_existing_key(tmp_path: Path, run: Run) -> None:
    key = tmp_path / "signer"
    assert run("keygen", str(key))[0] == 0
    before = key.read_bytes(), Path(f"{key}.pub").read_bytes()

    line = assert_one_error_line(*run("keygen", str(key), "--type", "ed25519"), expected=EXIT_IO)

    assert "already exists" in line and "--force" in line
    assert (key.read_bytes(), Path(f"{key}.pub").read_bytes()) == before


def test_keygen_refuses_when_only_the_public_key_exists_and_writes_nothing(tmp_path: Path, run: Run) -> None:
    key = tmp_path / "signer"
    Path(f"{key}.pub").write_text("someone else's key\n")

    assert_one_error_line(*run("keygen", str(key)), expected=EXIT_IO)

    assert not key.exists()
    assert Path(f"{key}.pub").read_text() == "someone else's key\n"


def test_keygen_force_replaces_the_pair_and_the_private_key_is_0600(tmp_path: Path, run: Run) -> None:
    key = tmp_path / "signer"
    key.write_text("old, world-readable\n")
    key.chmod(0o644)
    Path(f"{key}.pub").write_text("old public\n")

    code, _, err = run("keygen", str(key), "--type", "ed25519", "--force")

    assert code == 0, err
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert isinstance(serialization.load_pem_private_key(key.read_bytes(), None), ed25519.Ed25519PrivateKey)
    assert Path(f"{key}.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signer", "signer.pub"]  # no temp files left


def test_keygen_rejects_an_unknown_key_type(tmp_path: Path, run: Run) -> None:
    line = assert_one_error_line(*run("keygen", str(tmp_path / "k"), "--type", "rsa"), expected=EXIT_USAGE)
    assert "ecdsa-p256" in line and "ed25519" in line
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------------------
# sign -> verify


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_signed_plan_verifies_and_binds_its_exact_bytes(tmp_path: Path, key_type: str) -> None:
    private, public = keypair(tmp_path, key_type)
    plan = write_plan(tmp_path / "plan.json")

    sig_path = signing.write_signature(str(plan), private)
    verified = signing.verify_plan(str(plan), [public])

    assert sig_path == f"{plan}.sig"
    sig_text = Path(sig_path).read_bytes()
    assert sig_text.endswith(b"\n") and sig_text.count(b"\n") == 1
    base64.b64decode(sig_text.strip(), validate=True)
    assert verified.raw == plan.read_bytes()
    assert verified.sha256 == hashlib.sha256(plan.read_bytes()).hexdigest()
    assert verified.key_path == public
    assert verified.signature_path == sig_path
    assert verified.plan.to_dict() == make_plan()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [Path(private).name, Path(public).name, "plan.json", "plan.json.sig"]
    )


def test_write_signature_replaces_an_old_signature(tmp_path: Path) -> None:
    private, public = keypair(tmp_path)
    plan = write_plan(tmp_path / "plan.json")
    Path(f"{plan}.sig").write_text("stale\n")

    signing.write_signature(str(plan), private)

    assert signing.verify_plan(str(plan), [public]).key_path == public


def test_verify_bytes_names_the_key_that_verified(tmp_path: Path) -> None:
    _, wrong = keypair(tmp_path, "ed25519")
    private, right = keypair(tmp_path, "ecdsa-p256")
    signature = signing.sign_bytes(b"payload", private)

    assert signing.verify_bytes(b"payload", signature, [wrong, right]) == right
    with pytest.raises(PrunePlanError) as failure:
        signing.verify_bytes(b"payl0ad", signature, [wrong, right])
    assert failure.value.exit_code == EXIT_BAD_SIGNATURE
    assert str(failure.value) == "signature does not verify with any trusted key (tried 2)"


def test_verify_prints_a_review_summary(tmp_path: Path, run: Run) -> None:
    private, public = keypair(tmp_path)
    plan = signed_plan(tmp_path, private)

    code, out, err = run("verify", str(plan), "--key", public, "--now", BEFORE_EXPIRY)

    assert code == 0, err
    assert err == ""
    assert hashlib.sha256(plan.read_bytes()).hexdigest() in out
    for expected in (
        public,
        "2030-01-01T06:00:00Z",
        NOT_AFTER,
        "https://api.example.test:6443",
        "cluster-1234",
        "d" * 64,
        "all=true, ignoreInvalidRefs=false, keepTagRevisions=3, keepYoungerThan=1h0m0s, namespace=not set",
        "deletedBlobs=5, deletedImageStreamTagItems=0, deletedImages=2",
        "reclaimableBytes=4096",
        "deleted 2 image object(s), deleted 5 blob(s)",
    ):
        assert expected in out
    policy_lines = [line for line in out.splitlines() if line.startswith("policy:")]
    assert len(policy_lines) == 1


def test_several_trusted_keys_where_one_matches_are_accepted(tmp_path: Path, run: Run) -> None:
    _, other_ec = keypair(tmp_path, "ecdsa-p256", "other-ec")
    _, other_ed = keypair(tmp_path, "ed25519", "other-ed")
    private, right = keypair(tmp_path, "ed25519", "signer")
    plan = signed_plan(tmp_path, private)

    code, out, err = run(
        "verify", str(plan), "--key", other_ec, "--key", right, "--key", other_ed, "--now", BEFORE_EXPIRY
    )

    assert code == 0, err
    assert f"signed by:    {right}" in out.splitlines()


def test_signature_option_points_at_a_signature_elsewhere(tmp_path: Path, run: Run) -> None:
    private, public = keypair(tmp_path)
    plan = signed_plan(tmp_path, private)
    moved = tmp_path / "elsewhere.sig"
    Path(f"{plan}.sig").rename(moved)

    code, _, err = run("verify", str(plan), "--key", public, "--signature", str(moved), "--now", BEFORE_EXPIRY)

    assert code == 0, err


def test_expiry_is_checked_against_the_current_time_by_default(tmp_path: Path) -> None:
    private, public = keypair(tmp_path)
    tool = {"name": "pruneplan", "version": "0.1.0"}
    far_future = {"createdAt": "2026-01-01T00:00:00Z", "notAfter": "2999-01-01T00:00:00Z", "tool": tool}
    long_ago = {"createdAt": "2000-01-01T00:00:00Z", "notAfter": "2000-01-08T00:00:00Z", "tool": tool}

    plan = signed_plan(tmp_path, private, make_plan(metadata=far_future))
    assert signing.verify_plan(str(plan), [public]).key_path == public

    plan = signed_plan(tmp_path, private, make_plan(metadata=long_ago))
    with pytest.raises(PrunePlanError) as failure:
        signing.verify_plan(str(plan), [public])
    assert failure.value.exit_code == EXIT_EXPIRED
    assert str(failure.value).startswith("signature valid, but the plan expired on 2000-01-08T00:00:00Z")
    assert isinstance(failure.value, signing.PlanExpired)
    assert failure.value.verified.key_path == public  # the signature was checked before the expiry


# --------------------------------------------------------------------------------------------
# interoperability with OpenSSL (both directions, the commands of docs/signing.md)


def test_openssl_verifies_our_ecdsa_p256_signature(tmp_path: Path) -> None:
    private, public = keypair(tmp_path, "ecdsa-p256")
    plan = signed_plan(tmp_path, private)

    # docs/signing.md: base64 -d plan.json.sig > plan.sig.der
    der = subprocess.run(["base64", "-d", f"{plan}.sig"], capture_output=True, check=True).stdout
    (tmp_path / "plan.sig.der").write_bytes(der)
    result = openssl("dgst", "-sha256", "-verify", public, "-signature", "plan.sig.der", "plan.json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Verified OK" in result.stdout
    # The check is meaningful: OpenSSL rejects the same signature over other bytes.
    (tmp_path / "other.json").write_bytes(plan.read_bytes().replace(b'"all": true', b'"all": false'))
    rejected = openssl("dgst", "-sha256", "-verify", public, "-signature", "plan.sig.der", "other.json", cwd=tmp_path)
    assert rejected.returncode != 0


def test_openssl_verifies_our_ed25519_signature(tmp_path: Path) -> None:
    private, public = keypair(tmp_path, "ed25519")
    plan = signed_plan(tmp_path, private)

    raw = subprocess.run(["base64", "-d", f"{plan}.sig"], capture_output=True, check=True).stdout
    assert len(raw) == 64
    (tmp_path / "plan.sig.raw").write_bytes(raw)
    result = openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", public, "-rawin", "-in", "plan.json", "-sigfile", "plan.sig.raw",
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Signature Verified Successfully" in result.stdout
    (tmp_path / "other.json").write_bytes(plan.read_bytes() + b" ")
    rejected = openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", public, "-rawin", "-in", "other.json", "-sigfile", "plan.sig.raw",
        cwd=tmp_path,
    )
    assert rejected.returncode != 0


def _openssl_keypair(tmp_path: Path, key_type: str) -> tuple[str, str]:
    private, public = str(tmp_path / "ossl.key"), str(tmp_path / "ossl.pub")
    if key_type == "ecdsa-p256":
        made = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", private)
    else:
        made = openssl("genpkey", "-algorithm", "ED25519", "-out", private)
    assert made.returncode == 0, made.stderr
    assert openssl("pkey", "-in", private, "-pubout", "-out", public).returncode == 0
    return private, public


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_openssl_made_signature_verifies_with_pruneplan(tmp_path: Path, run: Run, key_type: str) -> None:
    private, public = _openssl_keypair(tmp_path, key_type)
    plan = write_plan(tmp_path / "plan.json")
    if key_type == "ecdsa-p256":
        signed = openssl("dgst", "-sha256", "-sign", private, "-out", "plan.sig.bin", "plan.json", cwd=tmp_path)
    else:
        signed = openssl("pkeyutl", "-sign", "-inkey", private, "-rawin", "-in", "plan.json", "-out", "plan.sig.bin",
                         cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    # coreutils base64 wraps at 76 columns: wrapped base64 must be accepted too.
    encoded = subprocess.run(["base64", str(tmp_path / "plan.sig.bin")], capture_output=True, check=True).stdout
    Path(f"{plan}.sig").write_bytes(encoded)

    code, out, err = run("verify", str(plan), "--key", public, "--now", BEFORE_EXPIRY)

    assert code == 0, err
    assert f"signed by:    {public}" in out.splitlines()


@pytest.mark.parametrize(
    "genkey",
    [
        ("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"),  # PKCS#8
        ("ecparam", "-name", "prime256v1", "-genkey", "-noout"),  # SEC1 "EC PRIVATE KEY"
        ("genpkey", "-algorithm", "ED25519"),
    ],
    ids=["p256-pkcs8", "p256-sec1", "ed25519"],
)
def test_pruneplan_signs_with_openssl_made_private_keys(tmp_path: Path, genkey: tuple[str, ...]) -> None:
    private, public = str(tmp_path / "ossl.key"), str(tmp_path / "ossl.pub")
    assert openssl(*genkey, "-out", private).returncode == 0
    assert openssl("pkey", "-in", private, "-pubout", "-out", public).returncode == 0
    plan = write_plan(tmp_path / "plan.json")

    signing.write_signature(str(plan), private)

    assert signing.verify_plan(str(plan), [public], now=0).key_path == public


# --------------------------------------------------------------------------------------------
# every way verification fails, through the CLI, each with its own exit status


def _flip_a_byte(tmp_path: Path, plan: Path, public: str) -> list[str]:
    data = bytearray(plan.read_bytes())
    data[len(data) // 2] ^= 0x01
    plan.write_bytes(bytes(data))
    return ["--key", public]


def _wrong_key(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", keypair(tmp_path, "ecdsa-p256", "stranger")[1]]


def _wrong_key_type(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", keypair(tmp_path, "ed25519", "stranger")[1]]


def _signature_of_other_bytes(tmp_path: Path, plan: Path, public: str) -> list[str]:
    Path(f"{plan}.sig").write_bytes(signing.sign_bytes(b"another plan", str(tmp_path / "signer")))
    return ["--key", public]


def _missing_signature(tmp_path: Path, plan: Path, public: str) -> list[str]:
    Path(f"{plan}.sig").unlink()
    return ["--key", public]


def _empty_signature(tmp_path: Path, plan: Path, public: str) -> list[str]:
    Path(f"{plan}.sig").write_bytes(b"")
    return ["--key", public]


def _blank_signature(tmp_path: Path, plan: Path, public: str) -> list[str]:
    Path(f"{plan}.sig").write_bytes(b" \n\n")
    return ["--key", public]


def _garbage_signature(tmp_path: Path, plan: Path, public: str) -> list[str]:
    Path(f"{plan}.sig").write_bytes(b"this is not a signature!\n")
    return ["--key", public]


def _base64_but_not_a_signature(tmp_path: Path, plan: Path, public: str) -> list[str]:
    Path(f"{plan}.sig").write_bytes(base64.b64encode(b"hello, world") + b"\n")
    return ["--key", public]


def _signature_is_a_directory(tmp_path: Path, plan: Path, public: str) -> list[str]:
    Path(f"{plan}.sig").unlink()
    Path(f"{plan}.sig").mkdir()
    return ["--key", public]


def _private_key_as_trusted_key(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", str(tmp_path / "signer")]


def _missing_key_file(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", str(tmp_path / "nowhere.pub")]


def _not_a_pem_key(tmp_path: Path, plan: Path, public: str) -> list[str]:
    (tmp_path / "junk.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 someone@example\n")
    return ["--key", str(tmp_path / "junk.pub")]


def _rsa_key(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", write_pem_public(tmp_path / "rsa.pub", rsa.generate_private_key(65537, 2048))]


def _p384_key(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", write_pem_public(tmp_path / "p384.pub", ec.generate_private_key(ec.SECP384R1()))]


def _no_key(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return []


def _bad_key_beside_the_right_one(tmp_path: Path, plan: Path, public: str) -> list[str]:
    # A broken trust configuration is reported even though another key would match.
    return ["--key", public, "--key", str(tmp_path / "nowhere.pub")]


def _expired(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", public, "--now", "2030-01-09T00:00:00Z"]


def _expired_at_the_exact_deadline(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", public, "--now", NOT_AFTER]


def _resigned(tmp_path: Path, plan_dict: dict[str, Any] | bytes) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(plan_dict if isinstance(plan_dict, bytes) else dump_plan(plan_dict))
    signing.write_signature(str(path), str(tmp_path / "signer"))


def _unknown_api_version(tmp_path: Path, plan: Path, public: str) -> list[str]:
    _resigned(tmp_path, make_plan(apiVersion="pruneplan.io/v9"))
    return ["--key", public]


def _not_json(tmp_path: Path, plan: Path, public: str) -> list[str]:
    _resigned(tmp_path, b"#!/bin/sh\nrm -rf /\n")
    return ["--key", public]


def _missing_not_after(tmp_path: Path, plan: Path, public: str) -> list[str]:
    _resigned(tmp_path, make_plan(metadata={"createdAt": "2030-01-01T06:00:00Z"}))
    return ["--key", public]


def _malformed_not_after(tmp_path: Path, plan: Path, public: str) -> list[str]:
    _resigned(tmp_path, make_plan(metadata={"createdAt": "2030-01-01T06:00:00Z", "notAfter": "next tuesday"}))
    return ["--key", public]


def _missing_plan(tmp_path: Path, plan: Path, public: str) -> list[str]:
    plan.unlink()
    return ["--key", public]


def _bad_now(tmp_path: Path, plan: Path, public: str) -> list[str]:
    return ["--key", public, "--now", "tomorrow"]


FAILURES = [
    (_flip_a_byte, EXIT_BAD_SIGNATURE),
    (_wrong_key, EXIT_BAD_SIGNATURE),
    (_wrong_key_type, EXIT_BAD_SIGNATURE),
    (_signature_of_other_bytes, EXIT_BAD_SIGNATURE),
    (_missing_signature, EXIT_NO_SIGNATURE),
    (_empty_signature, EXIT_NO_SIGNATURE),
    (_blank_signature, EXIT_NO_SIGNATURE),
    (_garbage_signature, EXIT_NO_SIGNATURE),
    (_base64_but_not_a_signature, EXIT_NO_SIGNATURE),
    (_signature_is_a_directory, EXIT_NO_SIGNATURE),
    (_expired, EXIT_EXPIRED),
    (_expired_at_the_exact_deadline, EXIT_EXPIRED),
    (_unknown_api_version, EXIT_UNKNOWN_PLAN),
    (_not_json, EXIT_UNKNOWN_PLAN),
    (_missing_not_after, EXIT_UNKNOWN_PLAN),
    (_malformed_not_after, EXIT_UNKNOWN_PLAN),
    (_private_key_as_trusted_key, EXIT_BAD_KEY),
    (_missing_key_file, EXIT_BAD_KEY),
    (_not_a_pem_key, EXIT_BAD_KEY),
    (_rsa_key, EXIT_BAD_KEY),
    (_p384_key, EXIT_BAD_KEY),
    (_no_key, EXIT_BAD_KEY),
    (_bad_key_beside_the_right_one, EXIT_BAD_KEY),
    (_missing_plan, EXIT_BAD_INPUT),
    (_bad_now, EXIT_USAGE),
]


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("tamper, expected", FAILURES, ids=[f.__name__.lstrip("_") for f, _ in FAILURES])
def test_verify_rejects_with_a_distinct_status_and_one_error_line(
    tmp_path: Path, run: Run, key_type: str, tamper: Callable[..., list[str]], expected: int
) -> None:
    private, public = signing.generate_key(str(tmp_path / "signer"), key_type)
    plan = signed_plan(tmp_path, private)
    extra = tamper(tmp_path, plan, public)
    if "--now" not in extra:
        extra += ["--now", BEFORE_EXPIRY]

    assert_one_error_line(*run("verify", str(plan), *extra), expected=expected)


def test_failure_messages_say_what_is_wrong(tmp_path: Path, run: Run) -> None:
    private, public = keypair(tmp_path, name="signer")
    _, stranger = keypair(tmp_path, name="stranger")
    _, stranger2 = keypair(tmp_path, "ed25519", name="stranger2")
    plan = signed_plan(tmp_path, private)

    def error(expected: int, *extra: str) -> str:
        return assert_one_error_line(*run("verify", str(plan), *extra), expected=expected)

    assert error(EXIT_EXPIRED, "--key", public, "--now", "2030-02-01T00:00:00Z") == (
        f"error: signature valid, but the plan expired on {NOT_AFTER} (now is 2030-02-01T00:00:00Z); "
        "collect a fresh dump and analyze it again, or pass --valid-for to analyze"
    )
    assert error(EXIT_BAD_SIGNATURE, "--key", stranger, "--key", stranger2) == (
        "error: signature does not verify with any trusted key (tried 2)"
    )
    assert "is a private key" in error(EXIT_BAD_KEY, "--key", private)
    Path(f"{plan}.sig").unlink()
    assert "not found" in error(EXIT_NO_SIGNATURE, "--key", public)


# --------------------------------------------------------------------------------------------
# the order of checks: signature file, signature, envelope, expiry


def test_a_tampered_plan_is_reported_as_tampered_even_when_also_expired(tmp_path: Path, run: Run) -> None:
    private, public = keypair(tmp_path, name="signer")
    plan = signed_plan(tmp_path, private)
    _flip_a_byte(tmp_path, plan, public)

    assert_one_error_line(*run("verify", str(plan), "--key", public, "--now", "2031-01-01T00:00:00Z"),
                          expected=EXIT_BAD_SIGNATURE)


def test_a_missing_signature_is_reported_before_key_problems(tmp_path: Path, run: Run) -> None:
    plan = write_plan(tmp_path / "plan.json")

    assert_one_error_line(*run("verify", str(plan), "--key", str(tmp_path / "nowhere.pub")),
                          expected=EXIT_NO_SIGNATURE)


def test_an_unsigned_unknown_plan_version_is_a_signature_failure_not_parsed(tmp_path: Path, run: Run) -> None:
    private, public = keypair(tmp_path, name="signer")
    plan = signed_plan(tmp_path, private)
    plan.write_bytes(dump_plan(make_plan(apiVersion="pruneplan.io/v9")))

    assert_one_error_line(*run("verify", str(plan), "--key", public, "--now", BEFORE_EXPIRY),
                          expected=EXIT_BAD_SIGNATURE)


def test_an_unknown_plan_version_is_reported_before_expiry(tmp_path: Path, run: Run) -> None:
    private, public = keypair(tmp_path, name="signer")
    plan = signed_plan(tmp_path, private, make_plan(apiVersion="pruneplan.io/v9"))

    assert_one_error_line(*run("verify", str(plan), "--key", public, "--now", "2031-01-01T00:00:00Z"),
                          expected=EXIT_UNKNOWN_PLAN)


# --------------------------------------------------------------------------------------------
# signing errors


def test_signing_with_an_encrypted_private_key_is_refused_clearly(tmp_path: Path) -> None:
    key = write_pem_private(tmp_path / "enc.key", ec.generate_private_key(ec.SECP256R1()), password=b"secret")

    with pytest.raises(PrunePlanError) as failure:
        signing.sign_bytes(b"plan", key)

    assert failure.value.exit_code == EXIT_BAD_KEY
    assert "encrypted" in str(failure.value)


@pytest.mark.parametrize(
    "make_key",
    [lambda: ec.generate_private_key(ec.SECP384R1()), lambda: rsa.generate_private_key(65537, 2048)],
    ids=["p384", "rsa"],
)
def test_signing_with_an_unsupported_key_type_is_refused(tmp_path: Path, make_key: Callable[[], Any]) -> None:
    key = write_pem_private(tmp_path / "other.key", make_key())

    with pytest.raises(PrunePlanError) as failure:
        signing.sign_bytes(b"plan", key)

    assert failure.value.exit_code == EXIT_BAD_KEY
    assert "unsupported key type" in str(failure.value)


def test_signing_with_a_public_key_is_refused(tmp_path: Path) -> None:
    _, public = keypair(tmp_path)

    with pytest.raises(PrunePlanError) as failure:
        signing.sign_bytes(b"plan", public)

    assert failure.value.exit_code == EXIT_BAD_KEY
    assert "public key" in str(failure.value)


def test_signing_with_a_missing_key_file_is_refused(tmp_path: Path) -> None:
    plan = write_plan(tmp_path / "plan.json")

    with pytest.raises(PrunePlanError) as failure:
        signing.write_signature(str(plan), str(tmp_path / "nowhere.key"))

    assert failure.value.exit_code == EXIT_BAD_KEY
    assert not Path(f"{plan}.sig").exists()


# --------------------------------------------------------------------------------------------
# start-up cost


def test_importing_the_signing_commands_does_not_load_cryptography() -> None:
    code = "import sys, pruneplan.signing_cli; sys.exit('cryptography' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False,
                            env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr


def test_a_key_file_of_several_pem_blocks_says_only_the_first_is_used(tmp_path: Path, run: Run) -> None:
    """The PEM reader takes a file's first block: two public keys in one file do not trust both."""
    _, first_pub = keypair(tmp_path, name="a")
    second, second_pub = keypair(tmp_path, name="b")
    both = tmp_path / "both.pub"
    both.write_bytes(Path(first_pub).read_bytes() + Path(second_pub).read_bytes())
    plan = signed_plan(tmp_path, second)
    code, _, err = run("verify", str(plan), "--key", str(both), "--now", BEFORE_EXPIRY)
    assert code == EXIT_BAD_SIGNATURE  # signed by b, the file's second block
    assert f"warning: key file {both} holds 2 PEM blocks; only the first, PUBLIC KEY at line 1, is used" in err.splitlines()
    code, _, _ = run("verify", str(plan), "--key", first_pub, "--key", second_pub, "--now", BEFORE_EXPIRY)
    assert code == 0, "one --key per key trusts each"
