"""The independent verifier ``puhui-verify`` (R-9.4, R-9.5(g)).

Tamper tests: one valid bundle, then one changed byte or character in each of its parts — PDF,
document digest, signature and seal values, key PEMs, time-stamp tokens, every leaf field, leaf
hashes, proof hashes, tree sizes, tree head root/size/time/signature, log key, notary receipt —
is reported by the check that owns that part (exit 1); a corrupt bundle exits 2 with one line;
a log that rewrites history fails the consistency proof.
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import json
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from puhui.adapters import verify
from puhui.adapters.crypto import FieldCipher, Keyring
from puhui.adapters.crypto.keystore import SoftwareKeystore
from puhui.adapters.crypto.timestamp import SandboxTimeStampAuthority
from puhui.adapters.providers.notary import SandboxNotary
from puhui.domain.audit import HashAlgorithm
from puhui.domain.evidence.log import (
    EventType,
    EvidenceEvent,
    SignedTreeHead,
    TreeHead,
    sign_tree_head,
)
from puhui.domain.evidence.merkle import CompactTree, TreeHasher
from puhui.domain.evidence.signatures import KeyInfo, KeyPurpose, SignatureSuite, revoke

T0 = datetime(2025, 7, 10, 8, 0, tzinfo=UTC)  # keys are made
STAMPED = T0 + timedelta(minutes=1)  # the TSA stamps both signatures
FAKE_PDF = b"%PDF-1.7\n% a small stand-in for the canonical loan contract PDF\n%%EOF\n"
CONTRACT = {
    "contract_id": "c-2025-000123",
    "contract_number": "PH-2025-000123",
    "template_id": "loan_contract",
    "template_version": "2025.1",
    "language": "zh-CN",
}
FILLER, EVENTS_AT, TREE_SIZE = 37, (37, 38), 50  # the contract's leaves inside a 50-leaf log


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Platform:
    """What the platform holds when it exports a bundle: keys, TSA, the log."""

    keystore: SoftwareKeystore
    tsa: SandboxTimeStampAuthority
    customer: KeyInfo
    seal: KeyInfo
    log_key: KeyInfo
    owner_ref: str
    clock: Clock


def a_platform(suite: SignatureSuite = SignatureSuite.SM2_SM3) -> Platform:
    cipher = FieldCipher(Keyring.development())
    clock = Clock(T0)
    keystore = SoftwareKeystore(cipher, clock=clock)
    owner = cipher.blind_index("110101199003074514", context="customers.id_number")
    return Platform(
        keystore=keystore,
        tsa=SandboxTimeStampAuthority(clock=lambda: STAMPED),
        customer=keystore.create_key(KeyPurpose.CUSTOMER, suite, owner),
        seal=keystore.create_key(KeyPurpose.SEAL, suite, None, branch="330100"),
        log_key=keystore.create_key(KeyPurpose.LOG, suite, None),
        owner_ref=owner,
        clock=clock,
    )


def filler(i: int) -> bytes:
    return f"other event {i}".encode()


def a_bundle(
    p: Platform, pdf: bytes = FAKE_PDF, *, alg: HashAlgorithm = HashAlgorithm.SM3
) -> dict[str, Any]:
    """A signed and sealed contract, its two evidence leaves in a 50-leaf log, a signed tree
    head and a sandbox notary receipt, assembled with the export helpers."""
    contract = verify.contract_entry(**CONTRACT, pdf=pdf, digest_alg=alg)
    digest = bytes.fromhex(contract["document_digest"])
    signatures = []
    for role, key in (("customer", p.customer), ("seal", p.seal)):
        signature = p.keystore.sign_digest(key.key_id, digest, alg)
        token = p.tsa.issue(verify.timestamp_digest(signature), HashAlgorithm.SHA256)
        signatures.append(verify.signature_entry(role, signature, key, token))
    hasher = TreeHasher()
    tree = CompactTree(hasher)
    for i in range(FILLER):
        tree.append_data(filler(i))
    events = [
        EvidenceEvent(
            event_type=kind,
            occurred_at=STAMPED + timedelta(seconds=5),
            subject_ref=p.owner_ref,
            object_ref=f"contract:{CONTRACT['contract_id']}",
            payload_digest=contract["document_digest"],
            metadata={"template": "loan_contract@2025.1", "suite": p.customer.suite.value},
        )
        for kind in (EventType.CONTRACT_SIGNED, EventType.CONTRACT_SEALED)
    ]
    seqs = [tree.append(event.leaf_hash(hasher)) for event in events]
    while tree.size < TREE_SIZE:
        tree.append_data(filler(tree.size))
    head = TreeHead(tree.size, tree.root(), T0 + timedelta(minutes=10))
    sth = sign_tree_head(head, p.keystore, p.log_key.key_id)
    submission = {"tree_head": {**head.to_dict(), "signature": sth.signature.to_json()},
                  "leaf_hashes": []}  # fmt: skip
    return verify.build_bundle(
        contract=contract,
        signatures=signatures,
        tsa_certificates=[p.tsa.certificate_pem],
        evidence=[
            verify.evidence_entry(e, tree.inclusion_proof(s), hasher)
            for e, s in zip(events, seqs, strict=True)
        ],
        tree_head=sth,
        log_key=p.log_key,
        notary_receipt=SandboxNotary(lambda: head.timestamp).submit(submission),
    )


@pytest.fixture(scope="module")
def platform() -> Platform:
    return a_platform()


@pytest.fixture(scope="module")
def bundle(platform: Platform) -> dict[str, Any]:
    return a_bundle(platform)


def write(tmp_path: Path, document: Any, name: str = "bundle.json") -> str:
    path = tmp_path / name
    path.write_bytes(document if isinstance(document, bytes) else verify.dump_bundle(document))
    return str(path)


# --- the valid bundle ------------------------------------------------------------------------


def test_a_valid_bundle_holds_and_says_so_in_both_languages(
    bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify.main([write(tmp_path, bundle)]) == 0
    out = capsys.readouterr().out
    assert "✗" not in out
    assert "✓ 合同文件完整：SM3 摘要与记录的文件摘要一致 / The contract PDF is intact" in out
    assert "客户签名验证通过（sm2-sm3） / The customer signature verifies (sm2-sm3)" in out
    assert "银行电子印章验证通过" in out and "The bank seal verifies" in out
    assert "signature existed at 2025-07-10 08:01:00 UTC" in out
    assert "Leaf 37 is in the signed log of 50 leaves" in out
    # sandbox authorities are named as such; trust anchors from the bundle are pointed out
    assert "not a trusted authority" in out and "SIMULATED" in out
    assert "--log-key-id" in out
    assert out.rstrip().endswith("✓ 结论：全部检查通过 / Verdict: everything holds")


def test_json_output_lists_every_verdict(
    bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify.main([write(tmp_path, bundle), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["exit_code"] == 0 and result["failed"] == []
    ids = {c["id"]: c["status"] for c in result["checks"]}
    for part in ("key", "names_key", "digest", "value", "timestamp", "key_valid"):
        assert ids[f"signatures[0].{part}"] == ids[f"signatures[1].{part}"] == "pass"
    for j in (0, 1):
        assert ids[f"evidence[{j}].leaf"] == ids[f"evidence[{j}].inclusion"] == "pass"
        assert ids[f"evidence[{j}].payload"] == ids[f"evidence[{j}].object"] == "pass"
    assert ids["contract.digest"] == ids["tree_head.signature"] == ids["log_key"] == "pass"
    assert ids["signatures[0].tsa"] == ids["notary.sandbox"] == ids["trust_anchors"] == "note"


@pytest.mark.parametrize("suite", [SignatureSuite.ED25519, SignatureSuite.ECDSA_P256_SHA256])
def test_international_suites_verify_too(suite: SignatureSuite) -> None:
    report = verify.verify_bundle(a_bundle(a_platform(suite), alg=HashAlgorithm.SHA256))
    assert report.exit_code == 0, report.lines()


def test_the_verifier_needs_no_database_and_no_settings() -> None:
    """Only the domain, the crypto adapters and the notary's constants: no database, no
    settings, no services."""
    tree = ast.parse(Path(verify.__file__).read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in modules if m.startswith("puhui")}
    allowed = ("puhui.domain.", "puhui.adapters.crypto", "puhui.adapters.providers.notary")
    assert ours and all(m.startswith(allowed) for m in ours), ours


# --- tamper tests ----------------------------------------------------------------------------

Path_ = tuple[str | int, ...]
Mutator = Callable[[Any, random.Random], Any]


def other(choices: str, current: str, rnd: random.Random) -> str:
    return rnd.choice([c for c in choices if c != current])


def change_byte(text: str, rnd: random.Random) -> str:
    """Base64 field: change one byte of what it encodes."""
    raw = bytearray(base64.b64decode(text))
    raw[rnd.randrange(len(raw))] ^= rnd.randrange(1, 256)
    return base64.b64encode(bytes(raw)).decode()


def change_char(alphabet: str, only: Callable[[str], bool] = lambda c: True) -> Mutator:
    def mutate(text: str, rnd: random.Random) -> str:
        i = rnd.choice([i for i, c in enumerate(text) if only(c)])
        return text[:i] + other(alphabet, text[i], rnd) + text[i + 1 :]

    return mutate


HEX = change_char("0123456789abcdef")
TEXT = change_char("0123456789abcdefxyzXYZ:._-+ 中")
PEM = change_char(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", lambda c: not c.isspace()
)
B64 = change_byte


def bump(value: int, rnd: random.Random) -> int:
    return value + rnd.choice([-1, 1])


def components() -> list[tuple[str, Path_, Mutator, str, int]]:
    """(name, where, how, the check that must fail, samples)."""
    parts: list[tuple[str, Path_, Mutator, str, int]] = [
        ("pdf", ("contract", "pdf"), B64, "contract.digest", 32),
        ("document_digest", ("contract", "document_digest"), HEX, "contract.digest", 6),
        ("contract_id", ("contract", "contract_id"), TEXT, "evidence[0].object", 3),
    ]
    for i in (0, 1):
        at = ("signatures", i)
        parts += [
            (f"signature{i}", (*at, "signature", "signature"), B64, f"signatures[{i}].value", 12),
            (f"signed_digest{i}", (*at, "signature", "signed_digest"), HEX,
             f"signatures[{i}].digest", 3),
            (f"key_pem{i}", (*at, "key", "public_key_pem"), PEM, f"signatures[{i}].key", 12),
            (f"key_id{i}", (*at, "key", "key_id"), HEX, f"signatures[{i}].key", 3),
            (f"token{i}", (*at, "timestamp", "token"), B64, f"signatures[{i}].timestamp", 32),
            (f"stamped{i}", (*at, "timestamp", "digest"), HEX, f"signatures[{i}].timestamp", 3),
        ]  # fmt: skip
    for j in (0, 1):
        at = ("evidence", j)
        leaf = f"evidence[{j}].leaf"
        parts += [
            (f"leaf{j}.v", (*at, "leaf", "v"), bump, leaf, 2),
            (f"leaf{j}.event_type", (*at, "leaf", "event_type"), TEXT, leaf, 3),
            (f"leaf{j}.occurred_at", (*at, "leaf", "occurred_at"), TEXT, leaf, 6),
            (f"leaf{j}.subject_ref", (*at, "leaf", "subject_ref"), HEX, leaf, 3),
            (f"leaf{j}.object_ref", (*at, "leaf", "object_ref"), TEXT, leaf, 3),
            (f"leaf{j}.payload_digest", (*at, "leaf", "payload_digest"), HEX, leaf, 3),
            (f"leaf{j}.metadata", (*at, "leaf", "metadata", "template"), TEXT, leaf, 3),
            (f"leaf_hash{j}", (*at, "leaf_hash"), HEX, leaf, 3),
            (f"seq{j}", (*at, "seq"), bump, f"evidence[{j}].inclusion", 2),
            (f"tree_size{j}", (*at, "tree_size"), bump, f"evidence[{j}].inclusion", 2),
        ]
        parts += [
            (f"proof{j}[{k}]", (*at, "inclusion_proof", k), HEX, f"evidence[{j}].inclusion", 2)
            for k in range(TREE_SIZE.bit_length())
        ]
    head = ("tree_head", "tree_head")
    parts += [
        ("head.root", (*head, "root_hash"), HEX, "tree_head.signature", 6),
        ("head.size", (*head, "tree_size"), bump, "tree_head.signature", 2),
        ("head.timestamp", (*head, "timestamp"), TEXT, "tree_head.signature", 8),
        ("head.hash_alg", (*head, "hash_alg"), TEXT, "tree_head.signature", 2),
        ("head.signature", ("tree_head", "signature", "signature"), B64, "tree_head.signature",
         12),
        ("head.signed_digest", ("tree_head", "signature", "signed_digest"), HEX,
         "tree_head.signature", 3),
        ("log_key.pem", ("log_key", "public_key_pem"), PEM, "log_key", 12),
        ("notary.root", ("notary_receipt", "root_hash"), HEX, "notary", 2),
        ("notary.size", ("notary_receipt", "tree_size"), bump, "notary", 2),
    ]  # fmt: skip
    return parts


COMPONENTS = components()


def get(document: Any, path: Path_) -> Any:
    for step in path:
        document = document[step]
    return document


def put(document: Any, path: Path_, value: Any) -> None:
    get(document, path[:-1])[path[-1]] = value


def test_the_tamper_list_reaches_every_leaf_field_and_proof_hash(bundle: dict[str, Any]) -> None:
    for entry in bundle["evidence"]:
        assert len(entry["inclusion_proof"]) == TREE_SIZE.bit_length()
        assert set(entry["leaf"]) == {"v", "event_type", "occurred_at", "subject_ref",
                                      "object_ref", "payload_digest", "metadata"}  # fmt: skip
    for name, path, *_ in COMPONENTS:
        assert get(bundle, path) is not None, name


@pytest.mark.parametrize(
    ("path", "mutate", "check", "samples"),
    [c[1:] for c in COMPONENTS],
    ids=[c[0] for c in COMPONENTS],
)
def test_a_changed_byte_is_named_by_the_check_it_breaks(
    bundle: dict[str, Any], path: Path_, mutate: Mutator, check: str, samples: int
) -> None:
    rnd = random.Random(f"{path}")
    original = get(bundle, path)
    seen = set()
    for _ in range(samples):
        changed = copy.deepcopy(bundle)
        value = mutate(original, rnd)
        assert value != original
        seen.add(value)
        put(changed, path, value)
        report = verify.verify_bundle(changed)
        assert report.exit_code == 1, (value, report.lines())
        assert check in report.failed, (value, report.failed)
        assert any(line.startswith("✗") for line in report.lines())
    assert len(seen) > 1 or samples < 3


def test_an_unchanged_copy_still_holds(bundle: dict[str, Any]) -> None:
    """The tamper loop works on copies: the original still verifies."""
    assert verify.verify_bundle(copy.deepcopy(bundle)).exit_code == 0


def test_a_changed_pdf_is_reported_everywhere_it_matters(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    changed["contract"]["pdf"] = base64.b64encode(FAKE_PDF.replace(b"loan", b"lean")).decode()
    failed = verify.verify_bundle(changed).failed
    assert {"contract.digest", "signatures[0].digest", "signatures[1].digest"} <= set(failed)
    assert {"evidence[0].payload", "evidence[1].payload", "evidence.events"} <= set(failed)


def twin(text: str) -> str:
    """Another spelling of the same bytes: base64 ignores the padding bits of its last
    character (``b64decode`` accepts either)."""
    data = text.rstrip("=")
    pad = text[len(data) :]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for c in alphabet:
        spelling = data[:-1] + c + pad
        if spelling != text and base64.b64decode(spelling) == base64.b64decode(text):
            return spelling
    raise AssertionError("no padding bits to play with")


def test_padding_bits_of_base64_cannot_hide_a_change(bundle: dict[str, Any]) -> None:
    """Only the canonical base64 is accepted, so every changed character is a change."""
    assert len(FAKE_PDF) % 3 and "==" in bundle["log_key"]["public_key_pem"]
    changed = copy.deepcopy(bundle)
    changed["contract"]["pdf"] = twin(bundle["contract"]["pdf"])
    assert verify.verify_bundle(changed).failed[0] == "contract.digest"
    changed = copy.deepcopy(bundle)
    pem = bundle["log_key"]["public_key_pem"].splitlines()
    pem[-2] = twin(pem[-2])
    changed["log_key"]["public_key_pem"] = "\n".join(pem) + "\n"
    assert verify.verify_bundle(changed).failed[0] == "log_key"


def test_the_command_line_prints_only_verdicts_for_a_tampered_bundle(
    bundle: dict[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """GmSSL prints C diagnostics for a failed SM2 verification; the command line keeps its
    output to the verdicts (stdout) and real errors (stderr)."""
    changed = copy.deepcopy(bundle)
    signature = changed["signatures"][0]["signature"]
    signature["signature"] = change_byte(signature["signature"], random.Random(3))
    assert verify.main([write(tmp_path, changed)]) == 1
    out, err = capfd.readouterr()
    assert err == ""
    assert "✗ 客户签名无效" in out and "The customer signature is not valid" in out


# --- signatures: roles, key validity ----------------------------------------------------------


def test_a_missing_seal_is_reported_not_a_crash(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    del changed["signatures"][1]
    report = verify.verify_bundle(changed)
    assert report.exit_code == 1
    assert report.failed == ["signatures.roles"]
    assert "0 bank seals instead of one" in "\n".join(report.lines())


def test_two_customer_signatures_and_an_unknown_role_are_reported(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    changed["signatures"][1]["role"] = "customer"
    report = verify.verify_bundle(changed)
    assert {"signatures.roles", "signatures[1].key"} <= set(report.failed)  # a seal key
    changed["signatures"][1]["role"] = "witness"
    assert "unknown role 'witness'" in "\n".join(verify.verify_bundle(changed).lines())


def test_a_seal_signature_presented_as_the_customers_is_refused(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    changed["signatures"][0]["signature"] = changed["signatures"][1]["signature"]
    failed = verify.verify_bundle(changed).failed
    assert "signatures[0].names_key" in failed and "signatures[0].timestamp" in failed


def test_a_signature_over_another_document_is_refused(platform: Platform) -> None:
    other_pdf = a_bundle(platform, FAKE_PDF + b"% an amended clause\n")
    changed = a_bundle(platform)
    changed["signatures"][0] = other_pdf["signatures"][0]
    failed = verify.verify_bundle(changed).failed
    assert failed == ["signatures[0].digest"]


def key_record(bundle: dict[str, Any], i: int) -> KeyInfo:
    return KeyInfo.from_json(bundle["signatures"][i]["key"])


def test_a_key_revoked_before_the_time_stamp_does_not_vouch(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    revoked = revoke(key_record(bundle, 0), STAMPED - timedelta(seconds=1), "phone lost")
    changed["signatures"][0]["key"] = revoked.to_json()
    report = verify.verify_bundle(changed)
    assert report.failed == ["signatures[0].key_valid"]
    assert "was revoked before this signature was made" in "\n".join(report.lines())


def test_a_key_revoked_after_the_time_stamp_still_vouches(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    revoked = revoke(key_record(bundle, 1), STAMPED + timedelta(days=30), "branch closed")
    changed["signatures"][1]["key"] = revoked.to_json()
    assert verify.verify_bundle(changed).exit_code == 0


def test_a_key_expired_at_the_time_stamp_does_not_vouch(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    key = key_record(bundle, 0)
    expired = replace(key, not_after=STAMPED - timedelta(seconds=1))
    changed["signatures"][0]["key"] = expired.to_json()
    assert verify.verify_bundle(changed).failed == ["signatures[0].key_valid"]


def test_a_time_stamp_that_does_not_hold_leaves_the_key_validity_unproven(
    bundle: dict[str, Any],
) -> None:
    changed = copy.deepcopy(bundle)
    changed["signatures"][0]["timestamp"] = changed["signatures"][1]["timestamp"]
    report = verify.verify_bundle(changed)
    assert report.failed == ["signatures[0].timestamp"]
    statuses = {c.id: c.status for c in report.checks}
    assert statuses["signatures[0].key_valid"] is verify.Status.SKIP


# --- trust anchors ----------------------------------------------------------------------------


def test_a_wholesale_forgery_is_caught_only_with_pinned_anchors(
    platform: Platform, bundle: dict[str, Any], tmp_path: Path
) -> None:
    """A forger with its own keys, TSA and log makes a self-consistent bundle: the verifier
    says the anchors came from the bundle; pinning the real log key and TSA refuses it."""
    forged = a_bundle(a_platform())
    assert verify.verify_bundle(forged).exit_code == 0
    cert = write(tmp_path, platform.tsa.certificate_pem, "tsa.pem")
    pins = ["--log-key-id", platform.log_key.key_id, "--tsa-cert", cert, "--json"]
    assert verify.main([write(tmp_path, bundle), *pins]) == 0
    assert verify.main([write(tmp_path, forged), *pins]) == 1
    report = verify.verify_bytes(
        verify.dump_bundle(forged),
        tsa_certificates=[platform.tsa.certificate_pem.decode()],
        log_key_id=platform.log_key.key_id,
    )
    assert {"log_key", "signatures[0].timestamp", "signatures[1].timestamp"} <= set(report.failed)
    assert "trust_anchors" not in {c.id for c in report.checks}


def test_a_receipt_for_another_head_is_reported(bundle: dict[str, Any]) -> None:
    changed = copy.deepcopy(bundle)
    changed["notary_receipt"] = {"notary": "Some Notary", "root_hash": "00" * 32, "tree_size": 1}
    assert verify.verify_bundle(changed).failed == ["notary"]
    changed["notary_receipt"] = None
    report = verify.verify_bundle(changed)
    assert report.exit_code == 0
    assert "The bundle holds no notary receipt" in "\n".join(report.lines())


# --- corrupt bundles -------------------------------------------------------------------------


def corruptions(bundle: dict[str, Any]) -> dict[str, bytes]:
    raw = verify.dump_bundle(bundle)

    def edited(edit: Callable[[dict[str, Any]], None]) -> bytes:
        changed = copy.deepcopy(bundle)
        edit(changed)
        return verify.dump_bundle(changed)

    size = f'"tree_size": {TREE_SIZE}'.encode()
    return {
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "not json": b"this is not a bundle",
        "not utf-8": b"\xff\xfe" + raw,
        "a list": b"[]",
        "wrong format": edited(lambda b: b.update(format="puhui-evidence-bundle/2")),
        "no format": edited(lambda b: b.pop("format")),
        "missing pdf": edited(lambda b: b["contract"].pop("pdf")),
        "missing seq": edited(lambda b: b["evidence"][0].pop("seq")),
        "seq as text": edited(lambda b: b["evidence"][0].update(seq="37")),
        "seq as bool": edited(lambda b: b["evidence"][0].update(seq=True)),
        "tree head as list": edited(lambda b: b.update(tree_head=[])),
        "signatures as object": edited(lambda b: b.update(signatures={})),
        "token as number": edited(lambda b: b["signatures"][0]["timestamp"].update(token=7)),
        "proof of numbers": edited(lambda b: b["evidence"][1].update(inclusion_proof=[1, 2])),
        "receipt as text": edited(lambda b: b.update(notary_receipt="ok")),
        "unknown field": edited(lambda b: b.update(comment="trust me")),
        "repeated field": raw.replace(b"{", b'{"format": "x", ', 1),
        "NaN": raw.replace(size, b'"tree_size": NaN', 1),
    }


def test_corrupt_bundles_exit_2_with_one_clear_line(
    bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, raw in corruptions(bundle).items():
        assert verify.main([write(tmp_path, raw)]) == 2, name
        captured = capsys.readouterr()
        lines = captured.err.splitlines()
        assert captured.out == "" and len(lines) == 1, (name, captured)
        assert lines[0].startswith("error [evidence.bundle_malformed]: "), name
        assert "The input cannot be read" in lines[0] and "Traceback" not in captured.err


def test_corrupt_bundle_messages_name_the_problem(bundle: dict[str, Any]) -> None:
    errors = {name: verify.verify_bytes(raw).error for name, raw in corruptions(bundle).items()}
    assert "not valid JSON" in str(errors["truncated"])
    assert "expected 'puhui-evidence-bundle/1'" in str(errors["wrong format"])
    assert "contract.pdf is missing" in str(errors["missing pdf"])
    assert "evidence[0].seq must be an integer" in str(errors["seq as text"])
    assert "signatures[0].timestamp.token must be a string" in str(errors["token as number"])
    assert "comment is not a field" in str(errors["unknown field"])
    assert "repeats a field name" in str(errors["repeated field"])


def test_a_failure_inside_a_check_is_one_line_not_a_traceback(
    bundle: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(verify._BundleCheck, "notary", broken)
    assert verify.main([write(tmp_path, bundle)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not be checked (RuntimeError: unexpected)" in err


def test_unreadable_input_and_json_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert verify.main([str(tmp_path / "absent.json")]) == 2
    assert "absent.json cannot be read" in capsys.readouterr().err
    assert verify.main([write(tmp_path, b"{"), "--json"]) == 2
    result = json.loads(capsys.readouterr().out)
    assert (
        result["ok"] is False and result["exit_code"] == 2 and "not valid JSON" in result["error"]
    )
    with pytest.raises(SystemExit) as usage:
        verify.main([])
    assert usage.value.code == 2


# --- consistency: a log that rewrites history --------------------------------------------------


def signed_head(p: Platform, tree: CompactTree, size: int) -> SignedTreeHead:
    head = TreeHead(size, tree.root(size), T0 + timedelta(minutes=size))
    return sign_tree_head(head, p.keystore, p.log_key.key_id)


def logs(p: Platform) -> tuple[SignedTreeHead, CompactTree, CompactTree]:
    """An old signed head at 20 leaves; an honest log grown to 33; a log that changed leaf 5
    and then grew to 33."""
    leaves = [filler(i) for i in range(33)]
    honest, rewritten = CompactTree(), CompactTree()
    for i, leaf in enumerate(leaves):
        honest.append_data(leaf)
        rewritten.append_data(b"quietly changed" if i == 5 else leaf)
    return signed_head(p, honest, 20), honest, rewritten


def test_a_log_that_rewrites_history_fails_the_consistency_proof(platform: Platform) -> None:
    old, honest, rewritten = logs(platform)
    grown = verify.verify_consistency(
        old, signed_head(platform, honest, 33), honest.consistency_proof(20, 33), platform.log_key
    )
    assert grown.exit_code == 0, grown.lines()
    report = verify.verify_consistency(
        old,
        signed_head(platform, rewritten, 33),  # signed by the same log key: only the proof fails
        rewritten.consistency_proof(20, 33),
        platform.log_key,
    )
    assert report.failed == ["consistency.proof"]
    assert "history was rewritten" in "\n".join(report.lines())
    # nor can the rewritten log reuse the honest proof
    reused = verify.verify_consistency(
        old, signed_head(platform, rewritten, 33), honest.consistency_proof(20, 33),
        platform.log_key.to_json(),
    )  # fmt: skip
    assert reused.failed == ["consistency.proof"]


def test_consistency_heads_must_be_signed_by_the_log_key(platform: Platform) -> None:
    old, honest, _ = logs(platform)
    stranger = a_platform()
    new = signed_head(stranger, honest, 33)
    report = verify.verify_consistency(old, new, honest.consistency_proof(20, 33), platform.log_key)
    assert report.failed == ["consistency.new_head", "consistency.proof"]
    mixed = verify.verify_consistency(
        old, signed_head(platform, honest, 33), honest.consistency_proof(19, 33), platform.log_key
    )
    assert mixed.failed == ["consistency.proof"]


def test_consistency_from_the_command_line(
    platform: Platform, bundle: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, honest, rewritten = logs(platform)
    files = {
        "old.json": old.to_dict(),
        "honest.json": signed_head(platform, honest, 33).to_dict(),
        "honest-proof.json": honest.consistency_proof(20, 33).to_dict(),
        "rewritten.json": signed_head(platform, rewritten, 33).to_dict(),
        "rewritten-proof.json": rewritten.consistency_proof(20, 33).to_dict(),
        "key.json": platform.log_key.to_json(),
    }
    p = {name: write(tmp_path, json.dumps(doc).encode(), name) for name, doc in files.items()}
    key = ["--log-key", p["key.json"]]
    assert verify.main(["--consistency", p["old.json"], p["honest.json"],
                        p["honest-proof.json"], *key]) == 0  # fmt: skip
    assert "The log only grew" in capsys.readouterr().out
    assert verify.main(["--consistency", p["old.json"], p["rewritten.json"],
                        p["rewritten-proof.json"], *key]) == 1  # fmt: skip
    assert "✗ 日志历史被改写或一致性证明不成立" in capsys.readouterr().out
    # with a bundle, its log key is used and both reports are printed
    bundle_path = write(tmp_path, bundle)
    assert verify.main([bundle_path, "--consistency", p["old.json"], p["honest.json"],
                        p["honest-proof.json"]]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "The signed tree head is valid" in out and "The log only grew" in out
    assert verify.main(["--consistency", p["old.json"], p["honest.json"],
                        p["honest-proof.json"]]) == 2  # fmt: skip
    assert "needs --log-key" in capsys.readouterr().err


# --- end to end: a real contract PDF, and the module run as a program ---------------------------


def test_a_real_loan_contract_end_to_end(platform: Platform, tmp_path: Path) -> None:
    """The one test with a real rendered 12-period loan contract (about 1.5 s to render)."""
    from tests.unit.test_documents import a_loan_offer

    from puhui.adapters.documents import render_pdf

    offer = a_loan_offer()
    assert len(offer["schedule"]) == 12
    pdf = render_pdf("loan_contract", "zh-CN", offer)
    real = a_bundle(platform, pdf)
    assert real["contract"]["document_digest"] == hashlib.new("sm3", pdf).hexdigest()
    path = write(tmp_path, real)
    run = subprocess.run(
        [sys.executable, "-m", "puhui.adapters.verify", path],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "✓ 结论：全部检查通过 / Verdict: everything holds" in run.stdout
    changed = copy.deepcopy(real)
    changed["contract"]["pdf"] = change_byte(changed["contract"]["pdf"], random.Random(1))
    assert verify.main([write(tmp_path, changed, "changed.json"), "--json"]) == 1
