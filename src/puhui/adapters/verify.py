"""``puhui-verify BUNDLE``: the independent evidence verifier (R-9.4, R-9.5(g)).

An evidence bundle (JSON, format ``puhui-evidence-bundle/1``) carries a signed contract's PDF,
the customer's signature and the bank's e-seal with their RFC 3161 time-stamps, evidence log
leaves with inclusion proofs, the log's signed tree head, the log key and the notary receipt.
This module checks all of it with the cryptographic primitives alone — no database, no platform
settings — and says in plain words (Chinese and English) what holds and what does not:

1. the PDF's digest is the recorded ``document_digest``;
2. each signature: its key's id is the hash of its public key, the signature names that key and
   covers the PDF's digest, it verifies, and the key was valid (not revoked, not expired) at the
   time-stamped instant; exactly one customer signature and one seal;
3. each time-stamp verifies (``tsa_certificates`` are the trust anchors) and stamps the SHA-256
   of the signature bytes;
4. each evidence leaf hashes to its ``leaf_hash``, a contract event carries the PDF's digest
   (and, when its ``object_ref`` names a contract, names ``contract:<contract_id>``), the
   inclusion proof leads to the signed root at the tree head's size, and the contract's
   signing and sealing events are there;
5. the tree head's signature verifies with the log key;
6. the notary receipt names the same root and size.

Exit status: 0 everything holds, 1 something does not (every check still runs), 2 the input
cannot be read (not JSON, another format, a field missing, unknown or of the wrong JSON type).
Only the shape is checked before the checks run; what a field holds (base64, hex, keys,
signatures, dates) is judged by the check it belongs to, so a changed byte is reported by name.

The log key and the TSA certificates come from the bundle unless pinned with ``--log-key-id``
and ``--tsa-cert``, and the verifier says so. ``--consistency OLD NEW PROOF`` checks that the
log of the newer signed tree head extends the older one (RFC 9162 §2.1.4): a log that rewrote
history fails. The ``*_entry`` and :func:`build_bundle` helpers assemble a bundle for the export.

Not covered by any signature, so taken as stated: the contract's number, template and language
(the signed PDF states them), a key record's status and validity dates (they come from the
platform's key service) and the notary receipt's other fields.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import json
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from puhui.adapters.crypto.signing import SuiteVerifier, suite_of_public_key
from puhui.adapters.crypto.timestamp import SANDBOX_POLICY_OID, SANDBOX_TSA_NAME, verify_token
from puhui.adapters.providers.notary import SANDBOX_NAME
from puhui.domain.audit import HashAlgorithm, digest
from puhui.domain.errors import DomainError, ErrorKind
from puhui.domain.evidence.log import EventType, EvidenceEvent, SignedTreeHead, canonical_json
from puhui.domain.evidence.log import verify_tree_head as _verify_tree_head
from puhui.domain.evidence.merkle import ConsistencyProof, InclusionProof, TreeHasher
from puhui.domain.evidence.merkle import verify_consistency as _merkle_consistency
from puhui.domain.evidence.merkle import verify_inclusion as _merkle_inclusion
from puhui.domain.evidence.signatures import KeyInfo, KeyPurpose, Signature, pem_to_der

__all__ = [
    "FORMAT",
    "Check",
    "MalformedBundle",
    "Report",
    "Status",
    "build_bundle",
    "contract_entry",
    "dump_bundle",
    "evidence_entry",
    "load_bundle",
    "main",
    "signature_entry",
    "timestamp_digest",
    "verify_bundle",
    "verify_bytes",
    "verify_consistency",
]

FORMAT = "puhui-evidence-bundle/1"
_ROLES = {"customer": KeyPurpose.CUSTOMER, "seal": KeyPurpose.SEAL}
_ROLE_NAMES = {
    "customer": ("客户签名", "customer signature"),
    "seal": ("银行电子印章", "bank seal"),
}
_CONTRACT_EVENTS = (EventType.CONTRACT_SIGNED, EventType.CONTRACT_SEALED)
_HEX = frozenset("0123456789abcdef")
_CAUGHT = (ValueError, TypeError, DomainError)


class MalformedBundle(DomainError):
    """The input cannot be read: not JSON, another format, a field missing or mistyped."""

    code = "evidence.bundle_malformed"
    kind = ErrorKind.INVALID


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - ✓ holds
    FAIL = "fail"  # ✗ does not hold
    SKIP = "skip"  # – not checked: a check it needs failed
    NOTE = "note"  # ! worth knowing (sandbox authority, trust anchors), not a failure


_MARKS = {Status.PASS: "✓", Status.FAIL: "✗", Status.SKIP: "–", Status.NOTE: "!"}

# What each verdict says: (Chinese, English) templates, filled with str.format.
_TEXT: dict[str, tuple[str, str]] = {
    "pdf.alg": ("合同摘要算法 {alg} 未知", "The contract's digest algorithm {alg} is unknown"),
    "pdf.unreadable": ("合同文件无法读取（不是有效的 base64）",
                       "The contract PDF cannot be read: it is not valid base64"),
    "pdf.changed": ("合同文件与记录不符：其 {name} 摘要不是记录的文件摘要",
                    "The contract PDF is not the recorded one: its {name} digest {d}… is not "
                    "the document digest"),
    "pdf.ok": ("合同文件完整：{name} 摘要与记录的文件摘要一致",
               "The contract PDF is intact: its {name} digest is the document digest {d}…"),
    "pdf.skip": ("合同文件不可读", "the contract PDF is unreadable"),
    "roles.bad": ("签章不完整：应有一个客户签名和一个银行电子印章",
                  "The contract needs one customer signature and one bank seal: {why}"),
    "roles.ok": ("签章齐全：一个客户签名、一个银行电子印章",
                 "One customer signature and one bank seal are present"),
    "key.bad": ("{zh}的密钥记录不成立", "The {en} key does not hold: {why}"),
    "key.ok": ("{zh}的密钥编号与公钥一致（{suite}，{kid}）",
               "The {en} key's id matches its public key ({suite}, {kid})"),
    "sig.unreadable": ("{zh}记录无法读取", "The {en} cannot be read: {why}"),
    "sig.skip": ("{zh}或其密钥不可用", "the {en} or its key is unusable"),
    "sig.other_key": ("{zh}指向另一把密钥", "The {en} names key {kid} ({suite}), not its key"),
    "sig.names_key": ("{zh}指向所附密钥", "The {en} names the enclosed key"),
    "sig.other_digest": ("{zh}所签的不是本合同文件",
                         "The {en} covers another digest ({alg} {d}…) than the contract PDF's"),
    "sig.digest": ("{zh}所签即本合同文件的摘要", "The {en} covers the contract PDF's digest"),
    "sig.invalid": ("{zh}无效：与公钥不符", "The {en} is not valid: {why}"),
    "sig.valid": ("{zh}验证通过（{suite}）", "The {en} verifies ({suite})"),
    "time.skip": ("签署时间未经证明", "the signing time is not proven"),
    "key.invalid_then": ("{zh}的密钥在签署时无效（已吊销或已过期）",
                         "The {en} key was not valid when it signed: {why}"),
    "key.valid_then": ("{zh}的密钥在签署时（{at}）有效：未吊销、未过期",
                       "The {en} key was valid (not revoked, not expired) at {at}"),
    "ts.unreadable": ("{zh}的时间戳无法读取",
                      "The {en}'s time-stamp cannot be read (token, digest or algorithm)"),
    "ts.bad": ("{zh}的时间戳无效", "The {en}'s time-stamp does not hold: {why}"),
    "ts.ok": ("{zh}的可信时间戳有效：签名在 {at} 已存在（时间戳机构：{tsa}）",
              "The {en}'s time-stamp is valid: the signature existed at {at} (TSA: {tsa})"),
    "ts.sandbox": ("该时间戳来自沙箱时间戳机构，不是受信任的机构",
                   "This time-stamp comes from the sandbox TSA, which is not a trusted "
                   "authority: it proves nothing to a third party"),
    "head.unreadable": ("日志树头无法读取", "The signed tree head cannot be read: {why}"),
    "head.skip": ("日志树头不可读", "the tree head is unreadable"),
    "logkey.skip": ("日志密钥不可用", "the log key is unusable"),
    "head.bad": ("日志树头签名无效：树头或签名被改动", "The signed tree head does not hold: {why}"),
    "head.ok": ("日志树头签名有效：{size} 个叶子时的根哈希由日志密钥于 {at} 签署",
                "The signed tree head is valid: the root {root}… of {size} leaves was signed "
                "by the log key at {at}"),
    "events.missing": ("证据日志中缺少本合同的签署或盖章事件",
                       "The evidence does not show the contract's {missing} with its digest"),
    "events.ok": ("证据日志记录了本合同的签署和盖章",
                  "The evidence log records the contract's signing and sealing"),
    "leaf.bad": ("证据叶子 {seq} 被改动或无法读取",
                 "Evidence leaf {seq} was changed or cannot be read: {why}"),
    "leaf.ok": ("证据叶子 {seq}（{kind}，{at}）完整",
                "Evidence leaf {seq} ({kind} at {at}) is intact"),
    "payload.bad": ("证据事件 {kind} 记录的不是本合同文件的摘要",
                    "The {kind} event records another digest than the contract PDF's"),
    "payload.ok": ("证据事件 {kind} 记录的正是本合同文件的摘要",
                   "The {kind} event records the contract PDF's digest"),
    "object.bad": ("证据事件 {kind} 指向另一份合同（{ref}）",
                   "The {kind} event names {ref}, not this bundle's {ours}"),
    "object.ok": ("证据事件 {kind} 指向本合同（{ref}）", "The {kind} event names {ours}"),
    "incl.bad": ("证据叶子 {seq} 的包含证明不成立",
                 "The inclusion proof of leaf {seq} does not hold: {why}"),
    "incl.ok": ("证据叶子 {seq} 在已签名的日志中（共 {size} 个叶子）",
                "Leaf {seq} is in the signed log of {size} leaves (inclusion proof)"),
    "notary.none": ("证据包中没有公证回执", "The bundle holds no notary receipt"),
    "notary.bad": ("公证回执所载的根哈希或叶子数与日志树头不同",
                   "The notary receipt names another root hash or tree size than the signed "
                   "tree head"),
    "notary.ok": ("公证回执确认同一根哈希和叶子数（{size}）",
                  "The notary receipt names the same root and size ({size})"),
    "notary.sandbox": ("该回执来自沙箱公证（模拟），没有第三方参与",
                       "The receipt is from the sandbox notary: SIMULATED, no third party was "
                       "involved"),
    "anchors": ("日志密钥和/或时间戳机构证书取自证据包本身；"
                "请用 --log-key-id 和 --tsa-cert 固定可信来源",
                "The log key and/or the TSA certificates were taken from the bundle itself; "
                "pin them with --log-key-id and --tsa-cert to rule out a wholesale forgery"),
    "cons.head_bad": ("{zh}日志树头不成立", "The {en} signed tree head does not hold: {why}"),
    "cons.head_ok": ("{zh}日志树头签名有效（{size} 个叶子）",
                     "The {en} signed tree head is valid ({size} leaves)"),
    "cons.bad": ("日志历史被改写或一致性证明不成立", "The log did not only grow: {why}"),
    "cons.ok": ("日志只追加、未改写：{old} 个叶子的旧树是 {new} 个叶子的新树的前缀",
                "The log only grew: the tree of {old} leaves is a prefix of the tree of {new} "
                "leaves (consistency proof)"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict in both languages; ``id`` names the checked part (``signatures[1].value``)."""

    id: str
    status: Status
    zh: str
    en: str
    code: str | None = None

    def line(self) -> str:
        return f"{_MARKS[self.status]} {self.zh} / {self.en}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "zh": self.zh,
            "en": self.en,
            "code": self.code,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Every check of a bundle (or of a consistency proof), or why the input cannot be read."""

    checks: tuple[Check, ...] = ()
    error: str | None = None
    title: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c.id for c in self.checks if c.status is Status.FAIL]

    @property
    def exit_code(self) -> int:
        return 2 if self.error is not None else 1 if self.failed else 0

    def __add__(self, other: Report) -> Report:
        return Report(
            self.checks + other.checks, self.error or other.error, self.title or other.title
        )

    def lines(self) -> list[str]:
        if self.error is not None:
            return [f"error [{MalformedBundle.code}]: {self.error}"]
        failed = self.failed
        verdict = "✓ 结论：全部检查通过 / Verdict: everything holds"
        if failed:
            verdict = f"✗ 结论：{len(failed)} 项检查未通过 / Verdict: {len(failed)} check(s) do "
            verdict += f"not hold: {', '.join(failed)}"
        return [*([self.title] if self.title else []), *(c.line() for c in self.checks), verdict]

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"format": FORMAT, "ok": False, "exit_code": 2, "error": self.error}
        return {
            "format": FORMAT,
            "ok": not self.failed,
            "exit_code": self.exit_code,
            "failed": self.failed,
            "checks": [c.to_dict() for c in self.checks],
        }


class _Checks(list[Check]):
    """The verdicts so far, added by message key."""

    def add(self, status: Status, id_: str, key: str, code: str | None, **kw: Any) -> None:
        zh, en = _TEXT[key]
        if status is Status.SKIP:
            zh, en = f"未检查：{zh}", f"not checked: {en}"
        self.append(Check(id_, status, zh.format(**kw), en.format(**kw), code))

    def ok(self, id_: str, key: str, **kw: Any) -> None:
        self.add(Status.PASS, id_, key, None, **kw)

    def fail(self, id_: str, key: str, code: str, exc: Exception | None = None, **kw: Any) -> None:
        if exc is not None:
            kw["why"], code = str(exc), getattr(exc, "code", None) or code
        self.add(Status.FAIL, id_, key, code, **kw)

    def skip(self, id_: str, key: str, **kw: Any) -> None:
        self.add(Status.SKIP, id_, key, None, **kw)

    def note(self, id_: str, key: str, **kw: Any) -> None:
        self.add(Status.NOTE, id_, key, None, **kw)

    def key(
        self,
        raw: Mapping[str, Any],
        id_: str,
        purpose: KeyPurpose,
        label: tuple[str, str],
        pinned: str | None = None,
    ) -> KeyInfo | None:
        """A key record holds when its id is the hash of its (canonical) public key
        (``key_id_for``), it is a valid record of ``purpose`` and suite, and the pinned key."""
        zh, en = label
        try:
            pem, key_id = raw.get("public_key_pem"), raw.get("key_id")
            if not isinstance(pem, str) or not isinstance(key_id, str):
                raise ValueError("the record has no public key or no key id")
            der = pem_to_der(pem)
            body = pem.strip().split()[3:-3]  # without "-----BEGIN PUBLIC KEY-----" and END
            if base64.b64encode(der).decode() != "".join(body):
                raise ValueError("the public key PEM is not canonical base64")
            if (actual := hashlib.sha256(der).hexdigest()[:32]) != key_id:
                raise ValueError(f"its id {key_id} is not the id {actual} of its public key")
            info = KeyInfo.from_json(raw)
            if suite_of_public_key(pem) is not info.suite:
                raise ValueError(f"the public key is not a {info.suite.value} key")
            if info.purpose is not purpose:
                raise ValueError(f"it is a {info.purpose.value} key, not a {purpose.value} key")
            if pinned is not None and info.key_id != pinned:
                raise ValueError(f"it is key {info.key_id}, not the pinned key {pinned}")
        except _CAUGHT as exc:
            self.fail(id_, "key.bad", "signature.key_mismatch", exc, zh=zh, en=en)
            return None
        self.ok(id_, "key.ok", zh=zh, en=en, suite=info.suite.value, kid=info.key_id)
        return info

    def tree_head(
        self,
        id_: str,
        raw: SignedTreeHead | Mapping[str, Any],
        key: KeyInfo | None,
        bad: str,
        **kw: Any,
    ) -> tuple[SignedTreeHead | None, bool]:
        """A signed tree head, and whether it verifies with the log ``key`` at its time."""
        try:
            sth = raw if isinstance(raw, SignedTreeHead) else SignedTreeHead.from_dict(raw)
        except _CAUGHT as exc:
            self.fail(id_, bad, "evidence.bad_tree_head", exc, **kw)
            return None, False
        if key is None:
            self.skip(id_, "logkey.skip")
            return sth, False
        try:
            _verify_tree_head(sth, key, SuiteVerifier())
        except _CAUGHT as exc:
            self.fail(id_, bad, "evidence.tree_head_invalid", exc, **kw)
            return sth, False
        return sth, True


# --- reading the input -----------------------------------------------------------------------

# field:type, type s(tring) i(nteger) o(bject) l(ist) o?(object or null)
_SHAPES = {
    "": "format:s contract:o signatures:l tsa_certificates:l evidence:l tree_head:o log_key:o "
    "notary_receipt:o?",
    "contract": "contract_id:s contract_number:s template_id:s template_version:s language:s "
    "digest_alg:s document_digest:s pdf:s",
    "signature": "role:s signature:o key:o timestamp:o",
    "timestamp": "token:s digest_alg:s digest:s",
    "evidence": "seq:i leaf:o leaf_hash:s tree_size:i inclusion_proof:l",
}
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "s": ((str,), "a string"), "i": ((int,), "an integer"), "o": ((dict,), "an object"),
    "l": ((list,), "a list"), "o?": ((dict, type(None)), "an object or null"),
}  # fmt: skip


def _shape(value: object, shape: str, path: str) -> None:
    fields = dict(item.split(":") for item in _SHAPES[shape].split())
    if not isinstance(value, dict):
        raise MalformedBundle(f"{path or 'the bundle'} must be a JSON object")
    prefix = f"{path}." if path else ""
    if unknown := [name for name in value if name not in fields]:
        raise MalformedBundle(f"{prefix}{unknown[0]} is not a field of {FORMAT}")
    for name, kind in fields.items():
        types, what = _TYPES[kind]
        if name not in value:
            raise MalformedBundle(f"{prefix}{name} is missing")
        if isinstance(value[name], bool) or not isinstance(value[name], types):
            raise MalformedBundle(f"{prefix}{name} must be {what}")


def _strings(items: list[Any], where: str) -> None:
    if not all(isinstance(item, str) for item in items):
        raise MalformedBundle(f"{where} must be a list of strings")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(result := dict(pairs)) != len(pairs):
        raise MalformedBundle("a JSON object repeats a field name")
    return result


def _no_constant(name: str) -> None:
    raise MalformedBundle(f"{name} is not a JSON value")


def _load_json(raw: bytes | str, what: str) -> Any:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, object_pairs_hook=_unique, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise MalformedBundle(f"{what} is not UTF-8 text") from None
    except MalformedBundle:
        raise
    except (ValueError, RecursionError) as exc:
        raise MalformedBundle(f"{what} is not valid JSON ({exc})") from None


def load_bundle(raw: bytes | str) -> dict[str, Any]:
    """Parse and shape-check a bundle; :class:`MalformedBundle` (exit 2) when unreadable."""
    bundle = _load_json(raw, "the bundle")
    if not isinstance(bundle, dict):
        raise MalformedBundle("the bundle must be a JSON object")
    if bundle.get("format") != FORMAT:
        raise MalformedBundle(f"format is {bundle.get('format')!r}, expected {FORMAT!r}")
    _shape(bundle, "", "")
    _shape(bundle["contract"], "contract", "contract")
    _strings(bundle["tsa_certificates"], "tsa_certificates")
    for i, entry in enumerate(bundle["signatures"]):
        _shape(entry, "signature", f"signatures[{i}]")
        _shape(entry["timestamp"], "timestamp", f"signatures[{i}].timestamp")
    for i, entry in enumerate(bundle["evidence"]):
        _shape(entry, "evidence", f"evidence[{i}]")
        _strings(entry["inclusion_proof"], f"evidence[{i}].inclusion_proof")
    return bundle


def _b64(text: str) -> bytes | None:
    """Strict base64: one text per byte string (no line breaks, no stray padding bits)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _hex32(text: object) -> bytes | None:
    if isinstance(text, str) and len(text) == 64 and set(text) <= _HEX:
        return bytes.fromhex(text)
    return None


def _when(value: datetime | None) -> str:
    return "?" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


# --- the bundle checks -----------------------------------------------------------------------


class _BundleCheck:
    """Runs every check of one shape-checked bundle, in order."""

    def __init__(
        self, bundle: Mapping[str, Any], tsa: Sequence[str | bytes] | None, log_key_id: str | None
    ) -> None:
        self.bundle, self.log_key_id = bundle, log_key_id
        self.tsa = list(bundle["tsa_certificates"] if tsa is None else tsa)
        self.pinned = tsa is not None and log_key_id is not None
        self.checks = _Checks()
        self.pdf_digest: str | None = None
        self.alg = HashAlgorithm.SM3

    def run(self) -> Report:
        c = self.bundle["contract"]
        self.contract()
        for i, entry in enumerate(self.bundle["signatures"]):
            self.signature(i, entry)
        self.roles()
        sth = self.tree_head()
        found = {self.leaf(j, entry, sth) for j, entry in enumerate(self.bundle["evidence"])}
        if missing := [e.value for e in _CONTRACT_EVENTS if e not in found]:
            missing_events = " and ".join(missing) + (" events" if len(missing) > 1 else " event")
            self.checks.fail(
                "evidence.events",
                "events.missing",
                "evidence.event_missing",
                missing=missing_events,
            )
        else:
            self.checks.ok("evidence.events", "events.ok")
        self.notary(sth)
        if not self.pinned:
            self.checks.note("trust_anchors", "anchors")
        title = f"证据包 / Evidence bundle: {c['contract_number']} ({c['template_id']} "
        title += f"{c['template_version']} {c['language']}, contract {c['contract_id']})"
        return Report(tuple(self.checks), title=title)

    def contract(self) -> None:
        c, at = self.bundle["contract"], "contract.digest"
        try:
            self.alg = HashAlgorithm(c["digest_alg"])
        except ValueError:
            self.checks.fail(at, "pdf.alg", "contract.bad_digest_alg", alg=repr(c["digest_alg"]))
            return
        if (pdf := _b64(c["pdf"])) is None:
            self.checks.fail(at, "pdf.unreadable", "contract.unreadable")
            return
        self.pdf_digest = digest(pdf, self.alg)
        kw: dict[str, Any] = {"name": self.alg.value.upper(), "d": self.pdf_digest[:16]}
        if self.pdf_digest != c["document_digest"]:
            self.checks.fail(at, "pdf.changed", "contract.digest_mismatch", **kw)
        else:
            self.checks.ok(at, "pdf.ok", **kw)

    def roles(self) -> None:
        roles = [e["role"] for e in self.bundle["signatures"]]
        problems = [f"unknown role {r!r}" for r in roles if r not in _ROLES]
        problems += [
            f"{roles.count(role)} {en}s instead of one"
            for role, (_, en) in _ROLE_NAMES.items()
            if roles.count(role) != 1
        ]
        if problems:
            self.checks.fail(
                "signatures.roles", "roles.bad", "signature.roles", why="; ".join(problems)
            )
        else:
            self.checks.ok("signatures.roles", "roles.ok")

    def signature(self, i: int, entry: Mapping[str, Any]) -> None:
        at, checks = f"signatures[{i}]", self.checks
        zh, en = _ROLE_NAMES.get(entry["role"], (f"签名 {i}", f"signature {i}"))
        purpose = _ROLES.get(entry["role"], KeyPurpose.CUSTOMER)
        key = checks.key(entry["key"], f"{at}.key", purpose, (zh, en))
        sig: Signature | None = None
        try:
            if _b64(str(entry["signature"].get("signature"))) is None:
                raise ValueError("the signature value is not canonical base64")
            sig = Signature.from_json(entry["signature"])
        except _CAUGHT as exc:
            checks.fail(
                f"{at}.names_key", "sig.unreadable", "signature.malformed", exc, zh=zh, en=en
            )
        if sig is None or key is None:
            parts = ["digest", "value", "timestamp", "key_valid"]
            for part in parts if sig is None else ["names_key", *parts]:
                checks.skip(f"{at}.{part}", "sig.skip", zh=zh, en=en)
            return
        if sig.key_id != key.key_id or sig.suite is not key.suite:
            checks.fail(
                f"{at}.names_key",
                "sig.other_key",
                "signature.key_mismatch",
                zh=zh,
                en=en,
                kid=sig.key_id,
                suite=sig.suite.value,
            )
        else:
            checks.ok(f"{at}.names_key", "sig.names_key", zh=zh, en=en)
        if self.pdf_digest is None:
            checks.skip(f"{at}.digest", "pdf.skip")
        elif sig.signed_digest != self.pdf_digest or sig.digest_alg is not self.alg:
            checks.fail(
                f"{at}.digest",
                "sig.other_digest",
                "signature.digest_mismatch",
                zh=zh,
                en=en,
                alg=sig.digest_alg.value,
                d=sig.signed_digest[:16],
            )
        else:
            checks.ok(f"{at}.digest", "sig.digest", zh=zh, en=en)
        try:
            message, value = sig.signed_message, sig.signature
            if not SuiteVerifier().verify(key.suite, key.public_key_pem, message, value):
                raise ValueError("it does not verify with the signer's public key")
        except _CAUGHT as exc:
            checks.fail(f"{at}.value", "sig.invalid", "signature.invalid", exc, zh=zh, en=en)
        else:
            checks.ok(f"{at}.value", "sig.valid", zh=zh, en=en, suite=key.suite.value)
        if (signed_at := self.timestamp(at, entry["timestamp"], sig.signature, zh, en)) is None:
            checks.skip(f"{at}.key_valid", "time.skip")
            return
        try:
            key.ensure_valid_for(signed_at)
        except _CAUGHT as exc:
            checks.fail(
                f"{at}.key_valid", "key.invalid_then", "signature.key_invalid", exc, zh=zh, en=en
            )
        else:
            checks.ok(f"{at}.key_valid", "key.valid_then", zh=zh, en=en, at=_when(signed_at))

    def timestamp(
        self, at: str, ts: Mapping[str, Any], signature: bytes, zh: str, en: str
    ) -> datetime | None:
        token, stamped, id_ = _b64(ts["token"]), _hex32(ts["digest"]), f"{at}.timestamp"
        try:
            expected = hashlib.new(HashAlgorithm(ts["digest_alg"]).value, signature).digest()
        except ValueError:
            expected = None
        if token is None or stamped is None or expected is None:
            self.checks.fail(id_, "ts.unreadable", "timestamp.malformed", zh=zh, en=en)
            return None
        verdict = verify_token(token, stamped, ts["digest_alg"], trusted_certs=self.tsa)
        problem, code = verdict.problem, verdict.code
        if verdict.ok and stamped != expected:
            problem, code = "it stamps another digest than the signature's", "timestamp.other"
        if problem is not None:
            self.checks.fail(id_, "ts.bad", code or "timestamp.invalid", zh=zh, en=en, why=problem)
            return None
        tsa, when = verdict.tsa_name or "?", _when(verdict.gen_time)
        self.checks.ok(id_, "ts.ok", zh=zh, en=en, at=when, tsa=tsa)
        if (
            "not a trusted authority" in tsa
            or tsa == SANDBOX_TSA_NAME
            or (verdict.policy == SANDBOX_POLICY_OID)
        ):
            self.checks.note(f"{at}.tsa", "ts.sandbox")
        return verdict.gen_time

    def tree_head(self) -> SignedTreeHead | None:
        label = ("证据日志", "evidence log")
        key = self.checks.key(
            self.bundle["log_key"], "log_key", KeyPurpose.LOG, label, self.log_key_id
        )
        sth, verified = self.checks.tree_head(
            "tree_head.signature", self.bundle["tree_head"], key, "head.bad"
        )
        if sth is not None and verified:
            h = sth.head
            self.checks.ok(
                "tree_head.signature",
                "head.ok",
                size=h.tree_size,
                at=_when(h.timestamp),
                root=h.root_hash.hex()[:16],
            )
        return sth  # the proofs are checked against its root even when its signature fails

    def leaf(
        self, j: int, entry: Mapping[str, Any], sth: SignedTreeHead | None
    ) -> EventType | None:
        at, seq = f"evidence[{j}]", entry["seq"]
        hasher = TreeHasher(sth.head.hash_alg if sth is not None else self.log_hash())
        try:
            data = canonical_json(entry["leaf"])
            event = EvidenceEvent.from_leaf_bytes(data)
            if _hex32(entry["leaf_hash"]) != (computed := hasher.hash_leaf(data)):
                raise ValueError(f"it hashes to {computed.hex()[:16]}…, not to its leaf_hash")
        except _CAUGHT as exc:
            self.checks.fail(f"{at}.leaf", "leaf.bad", "evidence.leaf_mismatch", exc, seq=seq)
            self.inclusion(at, entry, hasher, sth)
            return None
        kind, matches = event.event_type.value, event.payload_digest == self.pdf_digest
        self.checks.ok(f"{at}.leaf", "leaf.ok", seq=seq, kind=kind, at=_when(event.occurred_at))
        if event.event_type in _CONTRACT_EVENTS and not matches:
            self.checks.fail(f"{at}.payload", "payload.bad", "evidence.payload_mismatch", kind=kind)
        elif event.event_type in _CONTRACT_EVENTS:
            self.checks.ok(f"{at}.payload", "payload.ok", kind=kind)
        ours = f"contract:{self.bundle['contract']['contract_id']}"
        if event.event_type in _CONTRACT_EVENTS and event.object_ref.startswith("contract:"):
            kw: dict[str, Any] = {"kind": kind, "ref": event.object_ref, "ours": ours}
            if event.object_ref != ours:
                matches = False
                self.checks.fail(f"{at}.object", "object.bad", "evidence.object_mismatch", **kw)
            else:
                self.checks.ok(f"{at}.object", "object.ok", **kw)
        included = self.inclusion(at, entry, hasher, sth)
        return event.event_type if matches and included else None

    def log_hash(self) -> HashAlgorithm:
        """The log's hash algorithm as an unreadable tree head states it (default SM3)."""
        head = self.bundle["tree_head"].get("tree_head")
        value = head.get("hash_alg") if isinstance(head, dict) else None
        known = isinstance(value, str) and value in {a.value for a in HashAlgorithm}
        return HashAlgorithm(str(value)) if known else HashAlgorithm.SM3

    def inclusion(
        self, at: str, entry: Mapping[str, Any], hasher: TreeHasher, sth: SignedTreeHead | None
    ) -> bool:
        seq, size = entry["seq"], entry["tree_size"]
        if sth is None:
            self.checks.skip(f"{at}.inclusion", "head.skip")
            return False
        try:
            if size != sth.head.tree_size:
                raise ValueError(
                    f"its tree size {size} is not the signed size {sth.head.tree_size}"
                )
            if None in (path := [_hex32(h) for h in entry["inclusion_proof"]]):
                raise ValueError("a proof element is not a 64-hex hash")
            leaf = hasher.hash_leaf(canonical_json(entry["leaf"]))
            proof = InclusionProof(seq, size, tuple(h for h in path if h is not None))
            _merkle_inclusion(hasher, leaf, proof, sth.head.root_hash)
        except _CAUGHT as exc:
            self.checks.fail(
                f"{at}.inclusion", "incl.bad", "evidence.inclusion_proof_invalid", exc, seq=seq
            )
            return False
        self.checks.ok(f"{at}.inclusion", "incl.ok", seq=seq, size=size)
        return True

    def notary(self, sth: SignedTreeHead | None) -> None:
        receipt = self.bundle["notary_receipt"]
        if receipt is None:
            self.checks.note("notary", "notary.none")
        elif sth is None:
            self.checks.skip("notary", "head.skip")
        elif (receipt.get("root_hash"), receipt.get("tree_size")) != (
            sth.head.root_hash.hex(),
            sth.head.tree_size,
        ):
            self.checks.fail("notary", "notary.bad", "evidence.receipt_mismatch")
        else:
            self.checks.ok("notary", "notary.ok", size=sth.head.tree_size)
            if receipt.get("sandbox") is True or receipt.get("notary") == SANDBOX_NAME:
                self.checks.note("notary.sandbox", "notary.sandbox")


def _unreadable(exc: Exception) -> Report:
    return Report(error=f"证据包无法读取 / The evidence bundle cannot be read: {exc}")


def verify_bytes(
    raw: bytes | str,
    *,
    tsa_certificates: Sequence[str | bytes] | None = None,
    log_key_id: str | None = None,
) -> Report:
    """Every check of a bundle file's content; an unreadable one gives ``Report.error``.

    ``tsa_certificates`` (PEM or DER) and ``log_key_id`` pin the trust anchors (default: the
    bundle's own).
    """
    try:
        bundle = load_bundle(raw)
    except MalformedBundle as exc:
        return _unreadable(exc)
    return _BundleCheck(bundle, tsa_certificates, log_key_id).run()


def verify_bundle(
    bundle: Mapping[str, Any],
    *,
    tsa_certificates: Sequence[str | bytes] | None = None,
    log_key_id: str | None = None,
) -> Report:
    """:func:`verify_bytes` of a bundle held as a dict (e.g. from :func:`build_bundle`)."""
    try:
        raw = json.dumps(bundle, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return _unreadable(exc)
    return verify_bytes(raw, tsa_certificates=tsa_certificates, log_key_id=log_key_id)


def verify_consistency(
    old_head: SignedTreeHead | Mapping[str, Any],
    new_head: SignedTreeHead | Mapping[str, Any],
    proof: ConsistencyProof | Mapping[str, Any],
    log_key: KeyInfo | Mapping[str, Any],
) -> Report:
    """Both signed tree heads verify with ``log_key`` and ``proof`` shows that the older tree is
    a prefix of the newer one (RFC 9162 §2.1.4): a log that rewrote history fails."""
    checks = _Checks()
    key = (
        log_key
        if isinstance(log_key, KeyInfo)
        else checks.key(
            log_key, "consistency.log_key", KeyPurpose.LOG, ("证据日志", "evidence log")
        )
    )
    heads = []
    for name, raw, zh, en in (("old", old_head, "旧", "older"), ("new", new_head, "新", "newer")):
        id_ = f"consistency.{name}_head"
        sth, verified = checks.tree_head(id_, raw, key, "cons.head_bad", zh=zh, en=en)
        if sth is not None and verified:
            checks.ok(id_, "cons.head_ok", zh=zh, en=en, size=sth.head.tree_size)
        heads.append(sth if verified else None)
    old, new = heads
    try:
        parsed = proof if isinstance(proof, ConsistencyProof) else ConsistencyProof.from_dict(proof)
        if old is None or new is None:
            raise ValueError("a signed tree head does not hold")
        sizes = (old.head.tree_size, new.head.tree_size)
        if (parsed.first_size, parsed.second_size) != sizes:
            raise ValueError(
                f"the proof is from {parsed.first_size} to {parsed.second_size} leaves, the "
                f"signed heads have {sizes[0]} and {sizes[1]}"
            )
        if old.head.hash_alg is not new.head.hash_alg:
            raise ValueError("the two tree heads use different hash algorithms")
        hasher = TreeHasher(new.head.hash_alg)
        _merkle_consistency(hasher, parsed, old.head.root_hash, new.head.root_hash)
    except _CAUGHT as exc:
        checks.fail("consistency.proof", "cons.bad", "evidence.consistency_proof_invalid", exc)
    else:
        checks.ok("consistency.proof", "cons.ok", old=sizes[0], new=sizes[1])
    return Report(tuple(checks), title="一致性证明 / Consistency proof")


# --- building a bundle (the platform's export) -----------------------------------------------


def contract_entry(
    *,
    contract_id: str,
    contract_number: str,
    template_id: str,
    template_version: str,
    language: str,
    pdf: bytes,
    digest_alg: HashAlgorithm = HashAlgorithm.SM3,
) -> dict[str, str]:
    """The ``contract`` part: identifiers, the canonical PDF (base64) and its digest."""
    alg = HashAlgorithm(digest_alg)
    return {
        "contract_id": contract_id,
        "contract_number": contract_number,
        "template_id": str(template_id),
        "template_version": template_version,
        "language": str(language),
        "digest_alg": alg.value,
        "document_digest": digest(pdf, alg),
        "pdf": base64.b64encode(pdf).decode("ascii"),
    }


def timestamp_digest(signature: Signature) -> bytes:
    """What the TSA stamps for a signature: the SHA-256 of the raw signature bytes."""
    return hashlib.sha256(signature.signature).digest()


def signature_entry(role: str, signature: Signature, key: KeyInfo, token: bytes) -> dict[str, Any]:
    """One ``signatures`` item; ``role`` is ``"customer"`` or ``"seal"``, ``token`` the DER
    ``TimeStampToken`` over :func:`timestamp_digest` (SHA-256)."""
    if role not in _ROLES:
        raise ValueError(f"role must be one of {sorted(_ROLES)}, not {role!r}")
    stamp = {
        "token": base64.b64encode(token).decode("ascii"),
        "digest_alg": HashAlgorithm.SHA256.value,
        "digest": timestamp_digest(signature).hex(),
    }
    return {
        "role": role,
        "signature": signature.to_json(),
        "key": key.to_json(),
        "timestamp": stamp,
    }


def evidence_entry(
    event: EvidenceEvent, proof: InclusionProof, hasher: TreeHasher
) -> dict[str, Any]:
    """One ``evidence`` item: the leaf at ``proof.leaf_index`` with its inclusion proof."""
    return {
        "seq": proof.leaf_index,
        "leaf": event.to_dict(),
        "leaf_hash": event.leaf_hash(hasher).hex(),
        "tree_size": proof.tree_size,
        "inclusion_proof": [h.hex() for h in proof.path],
    }


def build_bundle(
    *,
    contract: Mapping[str, str],
    signatures: Iterable[Mapping[str, Any]],
    tsa_certificates: Iterable[str | bytes],
    evidence: Iterable[Mapping[str, Any]],
    tree_head: SignedTreeHead,
    log_key: KeyInfo,
    notary_receipt: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A bundle from its parts (:func:`contract_entry`, :func:`signature_entry`,
    :func:`evidence_entry`); TSA certificates in PEM."""
    return {
        "format": FORMAT,
        "contract": dict(contract),
        "signatures": [dict(s) for s in signatures],
        "tsa_certificates": [
            c.decode("ascii") if isinstance(c, bytes) else c for c in tsa_certificates
        ],
        "evidence": [dict(e) for e in evidence],
        "tree_head": tree_head.to_dict(),
        "log_key": log_key.to_json(),
        "notary_receipt": None if notary_receipt is None else dict(notary_receipt),
    }


def dump_bundle(bundle: Mapping[str, Any]) -> bytes:
    """The bundle file: UTF-8 JSON."""
    return json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


# --- command line ----------------------------------------------------------------------------


def _read(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise MalformedBundle(f"{path} cannot be read ({exc.strerror or exc})") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="puhui-verify",
        description="Check a Puhui evidence bundle without the platform: contract PDF, signature "
        "and seal, time-stamps, evidence log proofs, signed tree head, notary receipt. Exit 0: "
        "everything holds; 1: something does not; 2: the input cannot be read.",
    )
    add = parser.add_argument
    add("bundle", nargs="?", help="the evidence bundle (JSON file, or - for stdin)")
    add("--json", action="store_true", help="print the verdicts as JSON")
    add(
        "--consistency",
        nargs=3,
        metavar=("OLD_HEAD", "NEW_HEAD", "PROOF"),
        help="two signed tree heads and the consistency proof between them (JSON files)",
    )
    add(
        "--log-key",
        metavar="KEY.json",
        help="log key record for --consistency (default: the bundle's)",
    )
    add("--log-key-id", metavar="HEX", help="pin the log key: the key id it must have")
    add(
        "--tsa-cert",
        action="append",
        metavar="CERT.pem",
        help="trusted TSA certificate, repeatable (default: the bundle's)",
    )
    return parser


def _run(args: argparse.Namespace) -> Report:
    tsa = [_read(path) for path in args.tsa_cert] if args.tsa_cert else None
    report, bundle = Report(), None
    if args.bundle is not None:
        bundle = load_bundle(_read(args.bundle))
        report = _BundleCheck(bundle, tsa, args.log_key_id).run()
    if args.consistency:
        old, new, proof = (_load_json(_read(path), path) for path in args.consistency)
        if args.log_key:
            key = _load_json(_read(args.log_key), args.log_key)
        elif bundle is not None:
            key = bundle["log_key"]
        else:
            raise MalformedBundle("--consistency needs --log-key KEY.json or a bundle")
        names = [*args.consistency, args.log_key or "the bundle's log_key"]
        for path, value in zip(names, (old, new, proof, key), strict=True):
            if not isinstance(value, dict):
                raise MalformedBundle(f"{path} must be a JSON object")
        report += verify_consistency(old, new, proof, key)
    return report


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence what the libraries say on their own while checking: GmSSL prints C-level
    diagnostics to file descriptor 2 for every SM2 signature that does not verify, and
    ``cryptography`` warns about odd certificates in a changed token. The verdicts say it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sys.stderr.flush()
            saved = os.dup(2)  # the C library's stderr, whatever sys.stderr is
        except OSError:  # no descriptor 2 at all
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """``puhui-verify``: print the verdicts; exit 0 (all hold), 1 (some do not), 2 (unreadable)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.bundle is None and not args.consistency:
        parser.error("give a BUNDLE, or --consistency OLD_HEAD NEW_HEAD PROOF")
    try:
        with _quiet():
            report = _run(args)
    except MalformedBundle as exc:
        report = Report(error=f"无法读取输入 / The input cannot be read: {exc}")
    except Exception as exc:  # a check this input broke: say so in one line, never a traceback
        reason = f"{type(exc).__name__}: {exc}"
        report = Report(error=f"无法检查输入 / The input could not be checked ({reason})")
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    elif report.error is not None:
        print(report.lines()[0], file=sys.stderr)
    else:
        print("\n".join(report.lines()))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
