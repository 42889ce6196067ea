"""Four-eyes approval: `pruneplan approve` adds a signature over the plan and its own annotations
to PLAN.approvals; `verify --threshold N` counts distinct trusted keys. Signers outside pruneplan
(plain OpenSSL) work in both directions, through the DSSE signing input."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from pathlib import Path

import pytest

from pruneplan.errors import EXIT_BAD_SIGNATURE, EXIT_EXPIRED, EXIT_NO_SIGNATURE, EXIT_UNKNOWN_PLAN, EXIT_USAGE
from pruneplan.timefmt import format_time

from clirunner import Result, run_cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DUMP = REPO / "fixtures" / "example-dump.json.gz"
OPENSSL = "/usr/bin/openssl"
NOW = format_time(int(time.time()) - 60)


def keygen(tmp_path: Path, name: str, key_type: str = "ecdsa-p256") -> Path:
    key = tmp_path / name
    assert run_cli("keygen", str(key), "--type", key_type).code == 0
    return key


def make_plan(tmp_path: Path, sign_key: Path | None = None, now: str = NOW) -> Path:
    plan = tmp_path / "plan.json"
    extra = ["--sign-key", str(sign_key)] if sign_key else []
    assert run_cli("analyze", str(EXAMPLE_DUMP), "-o", str(plan), "--now", now, "-q", *extra).code == 0
    return plan


def approve(plan: Path, *args: str) -> Result:
    return run_cli("approve", str(plan), *args)


def verify(plan: Path, *args: str) -> Result:
    return run_cli("verify", str(plan), *args)


def signature_rows(result: Result) -> list[str]:
    lines = result.out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("signatures:"))
    return lines[start + 1:]


@pytest.fixture
def people(tmp_path: Path) -> tuple[Path, Path]:
    return keygen(tmp_path, "author"), keygen(tmp_path, "approver")


def test_a_plan_signed_by_its_author_and_approved_by_a_second_key_verifies_with_threshold_2(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author)
    added = approve(plan, "--key", str(approver), "--annotation", "ticket=CHG-1234", "--annotation", "approver=bob")
    assert added.code == 0, added.err
    assert added.out.splitlines()[1] == f"{plan}.approvals: 1 approval(s)"
    done = verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub", "--threshold", "2")
    assert done.code == 0, done.err
    rows = signature_rows(done)
    assert rows[0] == f"  {plan}.sig: valid, counted; key {author}.pub"
    assert rows[1].startswith(f"  {plan}.approvals, approval 1: valid, counted; key {approver}.pub; approver=bob ticket=CHG-1234 time=")
    assert done.out.splitlines()[0] == "verified: 2 distinct trusted key(s) signed the plan (threshold 2), of 2 signature(s)"


def test_fewer_signers_than_the_threshold_is_exit_10_naming_who_signed(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author)
    done = verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub", "--threshold", "2")
    assert (done.code, done.out) == (EXIT_BAD_SIGNATURE, "")
    assert done.err_lines == [
        f"error: 1 of the 2 required trusted keys signed this plan (signed by {author}.pub); "
        "an approver adds a signature with `pruneplan approve PLAN --key KEY`"
    ]


def test_two_approvals_by_one_key_count_once(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path)  # no detached signature: the approvals alone
    for ticket in ("CHG-1", "CHG-2"):
        assert approve(plan, "--key", str(approver), "--annotation", f"ticket={ticket}").code == 0
    refused = verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub", "--threshold", "2")
    assert refused.code == EXIT_BAD_SIGNATURE and f"1 of the 2 required trusted keys signed this plan (signed by {approver}.pub)" in refused.err
    done = verify(plan, "--key", f"{approver}.pub")
    assert done.code == 0
    rows = signature_rows(done)
    assert "valid, counted" in rows[0] and "ticket=CHG-1" in rows[0]
    assert "valid, not counted: its key already signed" in rows[1] and "ticket=CHG-2" in rows[1]


def test_an_approval_by_an_untrusted_key_does_not_count(tmp_path: Path, people) -> None:
    author, approver = people
    stranger = keygen(tmp_path, "stranger")
    plan = make_plan(tmp_path, author)
    assert approve(plan, "--key", str(stranger), "--annotation", "ticket=CHG-1").code == 0
    refused = verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub", "--threshold", "2")
    assert refused.code == EXIT_BAD_SIGNATURE
    listed = verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub")
    assert "NOT valid: does not verify with any trusted key (keyid sha256:" in signature_rows(listed)[1]


def edit_bundle(path: Path, edit) -> None:
    bundle = json.loads(path.read_text())
    edit(bundle)
    path.write_text(json.dumps(bundle))


def test_an_edited_annotation_breaks_its_approval(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author)
    assert approve(plan, "--key", str(approver), "--annotation", "ticket=CHG-1").code == 0

    def change_ticket(bundle: dict) -> None:
        envelope = bundle["approvals"][0]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        statement["annotations"]["ticket"] = "CHG-9999"
        envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()

    edit_bundle(Path(f"{plan}.approvals"), change_ticket)
    keys = ["--key", f"{author}.pub", "--key", f"{approver}.pub"]
    assert verify(plan, *keys, "--threshold", "2").code == EXIT_BAD_SIGNATURE
    row = signature_rows(verify(plan, *keys))[1]
    assert "NOT valid: does not verify with any trusted key" in row and "ticket=CHG-9999" in row


def test_an_approval_moved_to_another_plan_does_not_count(tmp_path: Path, people) -> None:
    author, approver = people
    first = make_plan(tmp_path, author)
    assert approve(first, "--key", str(approver), "--annotation", "ticket=CHG-1").code == 0
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other = make_plan(other_dir, author, now=format_time(int(time.time()) - 120))  # another plan: another now
    Path(f"{other}.approvals").write_bytes(Path(f"{first}.approvals").read_bytes())
    keys = ["--key", f"{author}.pub", "--key", f"{approver}.pub"]
    assert verify(other, *keys, "--threshold", "2").code == EXIT_BAD_SIGNATURE
    assert "NOT valid: approves another plan (sha256 " in signature_rows(verify(other, *keys))[1]


def test_a_threshold_above_the_trusted_keys_is_a_usage_error(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author)
    done = verify(plan, "--key", f"{author}.pub", "--key", f"{author}.pub", "--threshold", "2")  # one key twice
    assert (done.code, done.err_lines) == (EXIT_USAGE, ["error: --threshold 2 needs at least 2 distinct trusted keys (--key), not 1"])
    assert verify(plan, "--key", f"{author}.pub", "--threshold", "0").code == EXIT_USAGE


def test_a_malformed_bundle_is_exit_11(tmp_path: Path, people) -> None:
    author, _ = people
    plan = make_plan(tmp_path, author)
    Path(f"{plan}.approvals").write_text('{"apiVersion": "pruneplan.io/v1", "kind": "ApprovalBundle"}')
    done = verify(plan, "--key", f"{author}.pub")
    assert done.code == EXIT_NO_SIGNATURE
    assert done.err_lines[0].startswith(f"error: approvals {plan}.approvals is not an approval bundle:")


@pytest.mark.parametrize("args, status, words", [
    (["--annotation", "ticket"], EXIT_USAGE, "is not KEY=VALUE"),
    (["--annotation", "a=1", "--annotation", "a=2"], EXIT_USAGE, "--annotation a is given twice"),
    ([], EXIT_USAGE, "approve needs exactly one of --key KEY"),
    (["--signature", "x.sig"], EXIT_USAGE, "--signature and --public-key go together"),
])
def test_approve_refuses_a_bad_command_line_and_writes_nothing(tmp_path: Path, people, args, status, words) -> None:
    _, approver = people
    plan = make_plan(tmp_path)
    done = approve(plan, *args)
    assert done.code == status and words in done.err
    assert not Path(f"{plan}.approvals").exists()


def test_approve_refuses_what_is_not_a_plan_and_an_expired_plan(tmp_path: Path, people) -> None:
    _, approver = people
    not_plan = tmp_path / "notes.json"
    not_plan.write_text("{}")
    assert approve(not_plan, "--key", str(approver)).code == EXIT_UNKNOWN_PLAN
    expired = make_plan(tmp_path, now="2026-01-01T00:00:00Z")
    done = approve(expired, "--key", str(approver))
    assert done.code == EXIT_EXPIRED and "an approval would not make it executable" in done.err
    assert not Path(f"{expired}.approvals").exists()


# -- signers outside pruneplan: plain OpenSSL, both directions ---------------------------------------

def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OPENSSL, *args], capture_output=True, text=True, cwd=cwd, check=False)


@pytest.mark.parametrize("key_type", ["ecdsa-p256", "ed25519"])
def test_an_approval_signed_with_plain_openssl_is_accepted(tmp_path: Path, people, key_type: str) -> None:
    author, _ = people
    external = keygen(tmp_path, "external", key_type)
    plan = make_plan(tmp_path, author)
    given = ["--annotation", "ticket=CHG-7", "--annotation", "time=2026-12-06T09:00:00Z"]
    assert approve(plan, *given, "--signing-input", str(tmp_path / "approval.bin")).code == 0
    if key_type == "ecdsa-p256":
        signed = openssl("dgst", "-sha256", "-sign", str(external), "-out", "approval.sig", "approval.bin", cwd=tmp_path)
    else:
        signed = openssl("pkeyutl", "-sign", "-rawin", "-inkey", str(external), "-in", "approval.bin", "-out", "approval.sig", cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    attached = approve(plan, *given, "--signature", str(tmp_path / "approval.sig"), "--public-key", f"{external}.pub")
    assert attached.code == 0, attached.err
    done = verify(plan, "--key", f"{author}.pub", "--key", f"{external}.pub", "--threshold", "2")
    assert done.code == 0, done.err
    assert "ticket=CHG-7 time=2026-12-06T09:00:00Z" in signature_rows(done)[1]


def test_a_signature_over_other_annotations_is_refused_and_not_added(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author)
    assert approve(plan, "--annotation", "ticket=CHG-7", "--signing-input", str(tmp_path / "approval.bin")).code == 0
    assert openssl("dgst", "-sha256", "-sign", str(approver), "-out", "approval.sig", "approval.bin", cwd=tmp_path).returncode == 0
    done = approve(plan, "--annotation", "ticket=CHG-8", "--signature", str(tmp_path / "approval.sig"), "--public-key", f"{approver}.pub")
    assert done.code == EXIT_BAD_SIGNATURE and "does not verify" in done.err
    assert not Path(f"{plan}.approvals").exists()


def test_openssl_verifies_an_approval_pruneplan_made(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author)
    given = ["--annotation", "ticket=CHG-5", "--annotation", "time=2026-12-06T09:00:00Z"]
    assert approve(plan, "--key", str(approver), *given).code == 0
    envelope = json.loads(Path(f"{plan}.approvals").read_text())["approvals"][0]
    # the signing input is DSSE's PAE of the envelope's type and payload: `approve --signing-input` writes it
    assert approve(plan, *given, "--signing-input", str(tmp_path / "approval.bin")).code == 0
    body = base64.b64decode(envelope["payload"])
    kind = envelope["payloadType"].encode()
    assert (tmp_path / "approval.bin").read_bytes() == b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(body), body)
    (tmp_path / "approval.sig").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    ok = openssl("dgst", "-sha256", "-verify", f"{approver}.pub", "-signature", "approval.sig", "approval.bin", cwd=tmp_path)
    assert ok.returncode == 0 and "Verified OK" in ok.stdout
    bad = openssl("dgst", "-sha256", "-verify", f"{author}.pub", "-signature", "approval.sig", "approval.bin", cwd=tmp_path)
    assert bad.returncode != 0


def test_approving_a_new_plan_drops_the_approvals_of_the_plan_it_replaced(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author, now=format_time(int(time.time()) - 120))
    assert approve(plan, "--key", str(approver), "--annotation", "ticket=CHG-1").code == 0
    make_plan(tmp_path, author)  # the next cycle's plan under the same name
    added = approve(plan, "--key", str(approver), "--annotation", "ticket=CHG-2")
    assert added.code == 0
    assert added.out.splitlines()[1] == f"{plan}.approvals: 1 approval(s); removed 1 of another plan"
    rows = signature_rows(verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub", "--threshold", "2"))
    assert len(rows) == 2 and "ticket=CHG-2" in rows[1]


def test_a_newline_in_an_annotation_cannot_make_a_line_of_its_own(tmp_path: Path, people) -> None:
    author, approver = people
    plan = make_plan(tmp_path, author)
    assert approve(plan, "--key", str(approver), "--annotation", "comment=fine\n  plan.json.sig: valid, counted").code == 0
    rows = signature_rows(verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub"))
    assert len(rows) == 2
    assert "comment=fine\\n  plan.json.sig: valid, counted" in rows[1]


def test_a_hard_prune_plan_is_approved_and_counted_as_a_plan_is(tmp_path: Path, people) -> None:
    from test_analyze_hard import analyze_hard, standard_world

    author, approver = people
    analyze_hard(tmp_path, standard_world(), "--sign-key", str(author))
    plan = tmp_path / "plan.json"
    added = approve(plan, "--key", str(approver), "--annotation", "ticket=CHG-77")
    assert added.code == 0, added.err
    done = verify(plan, "--key", f"{author}.pub", "--key", f"{approver}.pub", "--threshold", "2", "--now", "2026-06-02T00:00:00Z")
    assert done.code == 0, done.err
    assert done.out.splitlines()[0] == "verified: 2 distinct trusted key(s) signed the plan (threshold 2), of 2 signature(s)"
    assert "kind:         HardPrunePlan" in done.out
