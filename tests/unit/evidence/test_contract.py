"""The e-contract lifecycle and template metadata (R-9.4, R-10.2(d), R-11.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import Conflict, ErrorKind, ValidationError
from puhui.domain.evidence.contract import (
    TEMPLATE_VARIABLES,
    Archive,
    Contract,
    ContractCommand,
    ContractStatus,
    ContractTemplate,
    Expire,
    Language,
    Offer,
    Seal,
    Sign,
    TemplateId,
    VariableKind,
    Withdraw,
    document_digest,
    transition,
)
from puhui.domain.money import Money

S = ContractStatus
CREATED = datetime(2025, 7, 10, 2, 0, tzinfo=UTC)
EXPIRES = datetime(2025, 7, 17, 15, 59, tzinfo=UTC)
BEFORE_EXPIRY = EXPIRES - timedelta(seconds=1)
AFTER_EXPIRY = EXPIRES + timedelta(seconds=1)
DIGEST = document_digest(b"%PDF-1.7 canonical contract bytes")


def a_contract(**overrides: Any) -> Contract:
    values: dict[str, Any] = {
        "contract_id": "c-1",
        "contract_number": "PH-2025-000123",
        "template_id": TemplateId.LOAN_CONTRACT,
        "template_version": "2025.1",
        "language": Language.ZH_CN,
        "customer_id": "customer:12",
        "document_digest": DIGEST,
        "offer_expires_at": EXPIRES,
        "created_at": CREATED,
    }
    values.update(overrides)
    return Contract(**values)


def a_signature(digest: str = DIGEST, key_id: str = "customer-12-k1") -> dict[str, str]:
    """The signature value object of the shared vocabulary (opaque to the contract)."""
    return {
        "suite": "sm2-sm3",
        "key_id": key_id,
        "signature": "MEUCIQ==",
        "signed_digest": digest,
        "digest_alg": "sm3",
    }


SIGN = Sign(a_signature(), {"tsa": "sandbox", "token": "MIIB"})
SEAL = Seal(a_signature(key_id="bank-branch-0101-seal"), {"tsa": "sandbox", "token": "MIIC"})
COMMANDS: dict[str, ContractCommand] = {
    "offer": Offer(),
    "sign": SIGN,
    "seal": SEAL,
    "archive": Archive(),
    "expire": Expire(),
    "withdraw": Withdraw("customer asked for a smaller amount"),
}


def in_status(status: ContractStatus) -> Contract:
    """A contract brought to ``status`` by legal moves only."""
    contract = a_contract()
    path = {
        S.DRAFT: [],
        S.OFFERED: [Offer()],
        S.SIGNED: [Offer(), SIGN],
        S.SEALED: [Offer(), SIGN, SEAL],
        S.ARCHIVED: [Offer(), SIGN, SEAL, Archive()],
        S.WITHDRAWN: [Withdraw("duplicate offer")],
    }
    if status is S.EXPIRED:
        return transition(transition(contract, Offer(), at=CREATED), Expire(), at=AFTER_EXPIRY)
    for command in path[status]:
        contract = transition(contract, command, at=CREATED + timedelta(minutes=5))
    return contract


def test_the_legal_path_draft_offered_signed_sealed_archived() -> None:
    contract = a_contract()
    steps = [(Offer(), S.OFFERED), (SIGN, S.SIGNED), (SEAL, S.SEALED), (Archive(), S.ARCHIVED)]
    for minutes, (command, expected) in enumerate(steps, start=1):
        contract = transition(contract, command, at=CREATED + timedelta(minutes=minutes))
        assert contract.status is expected
    assert [(h.from_status, h.to_status) for h in contract.history] == [
        (S.DRAFT, S.OFFERED),
        (S.OFFERED, S.SIGNED),
        (S.SIGNED, S.SEALED),
        (S.SEALED, S.ARCHIVED),
    ]
    assert contract.customer_signature == a_signature()
    assert contract.bank_seal is not None and contract.bank_seal["key_id"].endswith("-seal")
    assert contract.signature_timestamp == {"tsa": "sandbox", "token": "MIIB"}
    assert contract.seal_timestamp == {"tsa": "sandbox", "token": "MIIC"}


# Every status × every command: the resulting status, or the error code of the refusal.
EXPECTED: dict[ContractStatus, dict[str, str]] = {
    S.DRAFT: {
        "offer": "offered",
        "sign": "contract.illegal_transition",
        "seal": "contract.not_signed",
        "archive": "contract.illegal_transition",
        "expire": "contract.illegal_transition",
        "withdraw": "withdrawn",
    },
    S.OFFERED: {
        "offer": "contract.illegal_transition",
        "sign": "signed",
        "seal": "contract.not_signed",
        "archive": "contract.illegal_transition",
        "expire": "contract.not_expired",
        "withdraw": "withdrawn",
    },
    S.SIGNED: {
        "offer": "contract.illegal_transition",
        "sign": "contract.already_signed",
        "seal": "sealed",
        "archive": "contract.illegal_transition",
        "expire": "contract.illegal_transition",
        "withdraw": "contract.illegal_transition",
    },
    S.SEALED: {
        "offer": "contract.illegal_transition",
        "sign": "contract.already_signed",
        "seal": "contract.already_sealed",
        "archive": "archived",
        "expire": "contract.illegal_transition",
        "withdraw": "contract.illegal_transition",
    },
    S.ARCHIVED: {
        "offer": "contract.illegal_transition",
        "sign": "contract.already_signed",
        "seal": "contract.already_sealed",
        "archive": "contract.illegal_transition",
        "expire": "contract.illegal_transition",
        "withdraw": "contract.illegal_transition",
    },
    S.EXPIRED: {
        "offer": "contract.illegal_transition",
        "sign": "contract.offer_expired",
        "seal": "contract.illegal_transition",
        "archive": "contract.illegal_transition",
        "expire": "contract.illegal_transition",
        "withdraw": "contract.illegal_transition",
    },
    S.WITHDRAWN: dict.fromkeys(COMMANDS, "contract.illegal_transition"),
}


@pytest.mark.parametrize(
    ("status", "command"), [(status, name) for status in S for name in COMMANDS]
)
def test_every_transition_is_either_legal_or_refused_with_a_reason(
    status: ContractStatus, command: str
) -> None:
    contract = in_status(status)
    expected = EXPECTED[status][command]
    at = BEFORE_EXPIRY if status is not S.EXPIRED else AFTER_EXPIRY
    if expected.startswith("contract."):
        with pytest.raises(Conflict) as caught:
            transition(contract, COMMANDS[command], at=at)
        assert caught.value.code == expected
        assert caught.value.kind is ErrorKind.CONFLICT
        assert caught.value.details["status"] == status.value
    else:
        moved = transition(contract, COMMANDS[command], at=at)
        assert moved.status.value == expected
        assert moved.history[-1].from_status is status
        assert contract.status is status  # the original is untouched


def test_signing_an_expired_offer_is_refused() -> None:
    offered = in_status(S.OFFERED)
    assert transition(offered, SIGN, at=BEFORE_EXPIRY).status is S.SIGNED
    for at in (EXPIRES, AFTER_EXPIRY):
        with pytest.raises(Conflict) as caught:
            transition(offered, SIGN, at=at)
        assert caught.value.code == "contract.offer_expired"
        assert caught.value.details["offer_expires_at"] == EXPIRES.isoformat()


def test_an_expired_draft_cannot_be_offered_and_an_offer_expires_only_after_its_time() -> None:
    with pytest.raises(Conflict) as caught:
        transition(a_contract(), Offer(), at=AFTER_EXPIRY)
    assert caught.value.code == "contract.offer_expired"
    offered = in_status(S.OFFERED)
    with pytest.raises(Conflict) as caught:
        transition(offered, Expire(), at=BEFORE_EXPIRY)
    assert caught.value.code == "contract.not_expired"
    expired = transition(offered, Expire(), at=EXPIRES)
    assert expired.status is S.EXPIRED
    assert expired.is_expired(EXPIRES) and not offered.is_expired(BEFORE_EXPIRY)


def test_a_second_customer_signature_is_refused_and_nothing_changes() -> None:
    signed = in_status(S.SIGNED)
    other = Sign(a_signature(key_id="someone-else"))
    with pytest.raises(Conflict) as caught:
        transition(signed, other, at=BEFORE_EXPIRY)
    assert caught.value.code == "contract.already_signed"
    assert signed.customer_signature == a_signature()


def test_sealing_before_the_customer_signed_is_refused() -> None:
    for status in (S.DRAFT, S.OFFERED):
        with pytest.raises(Conflict) as caught:
            transition(in_status(status), SEAL, at=BEFORE_EXPIRY)
        assert caught.value.code == "contract.not_signed"


def test_a_signature_or_seal_over_another_document_is_refused() -> None:
    """R-9.4: what is signed is this contract's canonical PDF, nothing else."""
    other = document_digest(b"%PDF-1.7 a different contract")
    with pytest.raises(ValidationError) as caught:
        transition(in_status(S.OFFERED), Sign(a_signature(other)), at=BEFORE_EXPIRY)
    assert caught.value.code == "contract.digest_mismatch"
    with pytest.raises(ValidationError) as caught:
        transition(in_status(S.SIGNED), Seal(a_signature(other)), at=BEFORE_EXPIRY)
    assert caught.value.code == "contract.digest_mismatch"
    with pytest.raises(ValidationError) as caught:
        unsigned = {k: v for k, v in a_signature().items() if k != "signed_digest"}
        transition(in_status(S.OFFERED), Sign(unsigned), at=BEFORE_EXPIRY)
    assert caught.value.code == "contract.digest_mismatch"
    with pytest.raises(ValidationError) as caught:
        transition(in_status(S.OFFERED), Sign({"signed_digest": 1}), at=BEFORE_EXPIRY)  # type: ignore[dict-item]
    assert caught.value.code == "contract.invalid_record"


def test_records_are_copied_and_frozen() -> None:
    signature = a_signature()
    signed = transition(in_status(S.OFFERED), Sign(signature), at=BEFORE_EXPIRY)
    signature["signature"] = "forged"
    assert signed.customer_signature is not None
    assert signed.customer_signature["signature"] == "MEUCIQ=="
    with pytest.raises(TypeError):
        signed.customer_signature["signature"] = "forged"  # type: ignore[index]


def test_times_must_be_timezone_aware() -> None:
    naive = datetime(2025, 7, 11, 9, 0)  # noqa: DTZ001
    with pytest.raises(ValidationError) as caught:
        transition(in_status(S.OFFERED), SIGN, at=naive)
    assert caught.value.code == "contract.naive_time"
    with pytest.raises(ValidationError):
        a_contract(offer_expires_at=naive)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("document_digest", "ABC", "contract.invalid_digest"),
        ("document_digest", DIGEST.upper(), "contract.invalid_digest"),
        ("offer_expires_at", CREATED, "contract.invalid_expiry"),
        ("contract_number", " ", "contract.invalid_field"),
    ],
)
def test_a_contract_is_built_only_from_valid_facts(field: str, value: object, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        a_contract(**{field: value})
    assert caught.value.code == code


def test_withdrawing_needs_a_reason_and_records_it() -> None:
    with pytest.raises(ValidationError) as caught:
        transition(a_contract(), Withdraw(""), at=CREATED)
    assert caught.value.code == "contract.invalid_field"
    withdrawn = transition(a_contract(), Withdraw("rate changed before signing"), at=CREATED)
    assert withdrawn.history[-1].note == "rate changed before signing"


_commands = st.sampled_from(list(COMMANDS.values()))
_times = st.integers(min_value=0, max_value=10 * 24 * 3600).map(
    lambda s: CREATED + timedelta(seconds=s)
)


@given(st.lists(st.tuples(_commands, _times), max_size=12))
def test_any_sequence_keeps_the_invariants(moves: list[tuple[ContractCommand, datetime]]) -> None:
    """Whatever is attempted: a signed contract has exactly one customer signature over its
    own digest, a sealed one also a seal, and every accepted move is in the history."""
    contract, accepted = a_contract(), 0
    for command, at in moves:
        try:
            contract = transition(contract, command, at=at)
            accepted += 1
        except (Conflict, ValidationError):
            pass
    signed = contract.status in (S.SIGNED, S.SEALED, S.ARCHIVED)
    assert (contract.customer_signature is not None) == signed
    assert (contract.bank_seal is not None) == (contract.status in (S.SEALED, S.ARCHIVED))
    for record in (contract.customer_signature, contract.bank_seal):
        assert record is None or record["signed_digest"] == contract.document_digest
    assert len(contract.history) == accepted


# -- template metadata -----------------------------------------------------------------------


def _template(template_id: TemplateId = TemplateId.CREDIT_REPORT_AUTHORIZATION) -> ContractTemplate:
    return ContractTemplate.declared(template_id, "2025.1", Language.EN)


def _authorization(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "lender_name": "Example Bank",
        "lender_branch": "Chengnan Sub-branch",
        "borrower_name": "Zhang San",
        "borrower_id_number_masked": "110105********002X",
        "authorization_number": "AU-1",
        "authorization_date": date(2025, 7, 8),
        "valid_until": date(2026, 7, 8),
        "revocation_channel": "mobile banking",
        "complaint_hotline": "400-000-0000",
        "credit_bureaus": ["Credit Reference Center of the PBoC"],
    }
    values.update(overrides)
    return values


def test_every_template_declares_the_disclosures_it_must_make() -> None:
    """R-11.3 / R-G7 for the loan documents; R-11.2 for the authorizations."""
    loan = {v.name for v in TEMPLATE_VARIABLES[TemplateId.LOAN_CONTRACT]}
    assert {"apr_irr", "apr_simple", "schedule", "fees", "penalty_rate_uplift"} <= loan
    assert {"governing_law", "dispute_venue", "complaint_hotline", "offer_expires_at"} <= loan
    drawdown = {v.name for v in TEMPLATE_VARIABLES[TemplateId.DRAWDOWN_NOTICE]}
    assert {"apr_irr", "schedule", "fees", "credit_limit", "available_limit"} <= drawdown
    data = {v.name for v in TEMPLATE_VARIABLES[TemplateId.DATA_AUTHORIZATION]}
    assert {"purposes", "data_items", "recipients", "valid_until", "revocation_channel"} <= data
    method = next(
        v for v in TEMPLATE_VARIABLES[TemplateId.LOAN_CONTRACT] if v.name == "repayment_method"
    )
    assert method.kind is VariableKind.CHOICE and "equal_installments" in method.choices


def test_check_variables_accepts_a_complete_set() -> None:
    _template().check_variables(_authorization())


def test_check_variables_names_what_is_missing_or_unknown() -> None:
    values = _authorization()
    del values["valid_until"], values["complaint_hotline"]
    with pytest.raises(ValidationError) as caught:
        _template().check_variables(values)
    assert caught.value.code == "contract.missing_variable"
    assert caught.value.details["variables"] == ["complaint_hotline", "valid_until"]
    with pytest.raises(ValidationError) as caught:
        _template().check_variables(_authorization(marketing_consent="yes"))
    assert caught.value.code == "contract.unknown_variable"
    assert caught.value.details["variable"] == "marketing_consent"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("credit_bureaus", "Credit Reference Center"),  # a text where a list is needed
        ("credit_bureaus", []),
        ("valid_until", datetime(2026, 7, 8, tzinfo=UTC)),  # a datetime is not a date
        ("lender_name", "x" * 501),
        ("borrower_name", 42),
    ],
)
def test_check_variables_refuses_wrong_types(name: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        _template().check_variables(_authorization(**{name: value}))
    assert caught.value.code == "contract.invalid_variable"
    assert caught.value.details["variable"] == name


def _schedule_row(n: int, **overrides: Any) -> Mapping[str, object]:
    row: dict[str, object] = {
        "n": n,
        "due_date": date(2025, 7 + n, 15),
        "principal": Money("50"),
        "interest": Money("1"),
        "fees": Money("0"),
        "total": Money("51"),
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    "rows",
    [
        [],
        [_schedule_row(1), _schedule_row(3)],  # numbering gap
        [_schedule_row(1), _schedule_row(2, due_date=date(2025, 8, 15))],  # not increasing
        [_schedule_row(1), _schedule_row(2, total=Money("52"))],  # total ≠ parts
        [_schedule_row(1), _schedule_row(2, interest=Decimal(1))],  # not Money
        [_schedule_row(1, principal=Money("-1"), total=Money("0"))],  # negative
        [_schedule_row(1), {"n": 2}],
    ],
)
def test_a_schedule_must_be_consistent(rows: list[Mapping[str, object]]) -> None:
    loan = ContractTemplate.declared(TemplateId.LOAN_CONTRACT, "2025.1", Language.ZH_CN)
    schedule_kind = next(v for v in loan.variables if v.name == "schedule")
    with pytest.raises(ValidationError) as caught:
        ContractTemplate(
            TemplateId.LOAN_CONTRACT, "1", Language.ZH_CN, (schedule_kind,)
        ).check_variables({"schedule": rows})
    assert caught.value.details["variable"] == "schedule"


def test_a_template_version_is_a_short_token() -> None:
    with pytest.raises(ValidationError) as caught:
        ContractTemplate.declared(TemplateId.LOAN_CONTRACT, "2025 final!", Language.EN)
    assert caught.value.code == "contract.invalid_template_version"


def test_document_digest_is_sm3_hex_by_default() -> None:
    assert (
        document_digest(b"") == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"
    )
    assert replace(a_contract(), status=S.DRAFT).digest_algorithm == "sm3"
