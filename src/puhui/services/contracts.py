"""E-contracts as use cases (R-9.4, R-10.2(d), R-11.3(d,e)).

The flow: an **approved** credit application → :func:`offer_contract` renders the loan contract
from the decision's limit and rate (the schedule, the annualized rate by IRR with the labelled
simple rate, fees, penalty terms) to a deterministic PDF and offers it, valid for the lender's
offer period → the borrower asks for a one-time code (:func:`request_signing_code`, sent to the
phone of their verified identity, naming the contract and amount) and signs with it
(:func:`sign_contract`): their key (one per verified identity, made on first use) signs the
PDF's digest, the time-stamp authority stamps the signature, and a ``contract_signed`` leaf
joins the evidence log in the same transaction as the status change → the bank's e-seal of the
branch is applied the same way (:func:`seal_contract`, automatically after the signature unless
configured otherwise; ``contract_sealed`` leaf) → the loan is booked from the sealed contract
(:func:`book_loan_from_contract`) and the contract is archived.

Refusals change nothing: an application not approved, a second live contract, an amount above
the approved limit, an expired offer, a second signature, a wrong code (counted), someone
else's contract (not found). Signatures and time-stamps are made outside any transaction; the
transaction that records them re-reads the contract under lock, so two racing signatures cannot
both land.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from puhui.domain.audit import HashAlgorithm
from puhui.domain.customers import Customer
from puhui.domain.errors import (
    Conflict,
    DomainError,
    ErrorKind,
    NotFound,
    Unauthenticated,
    ValidationError,
)
from puhui.domain.evidence.contract import (
    Archive,
    Contract,
    ContractStatus,
    Language,
    Offer,
    Seal,
    Sign,
    StoredContract,
    TemplateId,
    Withdraw,
    document_digest,
    transition,
)
from puhui.domain.evidence.log import EventType
from puhui.domain.evidence.signatures import KeyPurpose, Signature
from puhui.domain.identifiers import BankCardNumber
from puhui.domain.identity import SYSTEM, Permission, Principal
from puhui.domain.lending.schedule import generate_schedule
from puhui.domain.lending.terms import Amortization, LoanTerms, terms_to_mapping
from puhui.domain.money import Money
from puhui.domain.otp import OneTimeCode
from puhui.domain.risk.application import BorrowerType, CreditApplication
from puhui.services.audit import audited, record
from puhui.services.evidence import EvidenceSetup, record_event
from puhui.services.platform import business_date
from puhui.services.ports import ServiceContext, UnitOfWork
from puhui.services.servicing import product as find_product
from puhui.services.servicing import quote

__all__ = [
    "book_loan_from_contract",
    "contract_pdf",
    "get_contract",
    "my_contracts",
    "offer_contract",
    "request_signing_code",
    "seal_contract",
    "sign_contract",
    "withdraw_contract",
]

SIGN_PURPOSE = "sign"  # one-time codes for a signature: purpose "sign:<contract_id>"
_PURPOSES = {  # LoanPurpose -> (zh-CN, en) as the contract states it
    "working_capital": ("生产经营周转", "working capital for the business"),
    "equipment": ("购置经营设备", "purchase of business equipment"),
    "inventory": ("采购存货", "purchase of inventory"),
    "consumption": ("个人日常消费", "personal consumption"),
    "education": ("教育支出", "education expenses"),
    "medical": ("医疗支出", "medical expenses"),
    "other": (
        "其他合法用途（以申请所述为准）",
        "other lawful purposes as stated in the application",
    ),
}
_FEE_TIMING = {"zh-CN": "放款时一次性收取", "en": "once, at disbursement"}


def _setup(ctx: ServiceContext) -> EvidenceSetup:
    setup: EvidenceSetup | None = ctx.evidence
    if setup is None or setup.documents is None or setup.tsa is None:
        raise Conflict("e-contracts are not configured", code="contract.not_configured")
    return setup


def new_contract_id() -> str:
    """``ct-`` + 16 random hex characters without a run of 11 decimal digits (the evidence log
    refuses what could be a mobile number in an object reference)."""
    while True:
        token = secrets.token_hex(8)
        if not re.search(r"[0-9]{11,}", token):
            return "ct-" + token


def _mask_card(text: str) -> str:
    card = BankCardNumber.parse(text)
    return f"{card.bin}{'*' * (len(card.value) - 10)}{card.last4}"


def _mask_id(value: str) -> str:
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


def _amount(text: str | None, default: Decimal) -> Decimal:
    if text is None:
        return default
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise ValidationError(
            "amount must be a positive amount in yuan with at most 2 decimals",
            code="contract.invalid_amount",
            details={"field": "amount"},
        )
    return value


def _approved_limit(stored: Any) -> Decimal:
    if stored.review is not None and stored.review["outcome"] == "approve":
        return Decimal(stored.review["limit"])
    return Decimal(stored.limit)


@dataclass(frozen=True)
class _Draft:
    contract: Contract
    pdf: bytes
    terms: dict[str, Any]
    application_id: int
    owner_ref: str


def _loan_variables(
    setup: EvidenceSetup,
    application: CreditApplication,
    *,
    language: str,
    number: str,
    q: Any,
    product_name: str,
    card: str,
    offer_date: Any,
    expires_at: datetime,
    penalty_uplift: Decimal,
) -> dict[str, object]:
    schedule, apr = q.schedule, q.apr
    terms: LoanTerms = schedule.terms
    lender = setup.lender[language]
    enterprise = application.borrower_type is BorrowerType.MICRO_ENTERPRISE
    name = application.enterprise_name if enterprise else application.applicant_name
    ident = application.enterprise_uscc if enterprise else application.applicant_resident_id
    fees = [
        {"name": f.kind.value, "amount": Money(f.amount or 0), "timing": _FEE_TIMING[language]}
        for f in terms.fees
    ]
    return {
        "contract_number": number,
        "product_name": product_name,
        "lender_name": lender["lender_name"],
        "lender_branch": lender["lender_branch"],
        "borrower_name": name,
        "borrower_id_number_masked": _mask_id(str(ident)),
        "currency": terms.currency.code,
        "principal": Money(terms.principal),
        "annual_rate": terms.annual_rate,
        "apr_irr": apr.nominal_apr.quantize(Decimal("0.0001")),
        "apr_simple": apr.simple_rate.quantize(Decimal("0.0001")),
        "term_months": terms.repayments,
        "repayment_method": terms.amortization.value,
        "schedule": [
            {
                "n": p.n,
                "due_date": p.due_date,
                "principal": Money(p.principal),
                "interest": Money(p.interest),
                "fees": Money(p.fees),
                "total": Money(p.total),
            }
            for p in schedule.periods
        ],
        "fees": fees,
        "penalty_rate_uplift": penalty_uplift,
        "early_repayment_fee_rate": Decimal(0),
        "purpose": _PURPOSES[application.purpose.value][0 if language == "zh-CN" else 1],
        "disbursement_account_masked": card,
        "offer_date": offer_date,
        "offer_expires_at": expires_at,
        "complaint_hotline": setup.lender["complaint_hotline"],
        "governing_law": lender["governing_law"],
        "dispute_venue": lender["dispute_venue"],
    }


def offer_contract(
    ctx: ServiceContext,
    actor: Principal,
    application_id: int,
    *,
    disbursement_account: str,
    language: str = "zh-CN",
    amount: str | None = None,
    repayment_method: str | None = None,
    request_id: str | None = None,
) -> Any:
    """Render and offer the loan contract of an approved application (R-10.2(d))."""
    actor.require(Permission.CONTRACTS_MANAGE)
    setup = _setup(ctx)
    now = ctx.clock()
    try:
        lang = Language(language)
    except ValueError:
        raise ValidationError(
            "language must be zh-CN or en", code="contract.invalid_language"
        ) from None
    card = _mask_card(disbursement_account)
    with ctx.uow() as uow:
        stored = uow.risk.get(application_id)
        application = CreditApplication.from_mapping(json.loads(uow.risk.snapshot(application_id)))
        offer_date = business_date(uow, clock=now)
        _ensure_offerable(uow, stored, application_id)
        owner_ref = uow.risk.person_ref(application.applicant_resident_id)
    product = find_product(ctx, stored.product_code)
    limit = _approved_limit(stored)
    principal = _amount(amount, min(application.requested_amount, limit))
    if principal > limit:
        raise ValidationError(
            f"amount {principal} is above the approved limit {limit}",
            code="contract.above_limit",
            details={"field": "amount", "limit": str(limit)},
        )
    methods = sorted(m.value for m in product.amortizations)
    method = repayment_method or (
        Amortization.EQUAL_INSTALLMENTS.value
        if Amortization.EQUAL_INSTALLMENTS.value in methods
        else methods[0]
    )
    terms_data = {
        "principal": str(principal),
        "annual_rate": str(stored.annual_rate),
        "repayments": application.requested_term_months,
        "disbursement_date": offer_date.isoformat(),
        "amortization": method,
        "currency": product.currency.code,
    }
    q = quote(terms_data, loan_product=product)  # refuses what the product does not allow
    terms = q.schedule.terms
    number = f"PH{offer_date:%Y%m%d}{secrets.token_hex(4).upper()}"
    expires_at = now + timedelta(days=int(setup.lender["offer_days"]))
    variables = _loan_variables(
        setup,
        application,
        language=lang.value,
        number=number,
        q=q,
        product_name=product.name_zh if lang is Language.ZH_CN else product.name_en,
        card=card,
        offer_date=offer_date,
        expires_at=expires_at,
        penalty_uplift=product.servicing.penalty_uplift,
    )
    template = setup.documents.template(TemplateId.LOAN_CONTRACT.value, lang.value)
    pdf: bytes = setup.documents.render_pdf(TemplateId.LOAN_CONTRACT.value, lang.value, variables)
    alg = setup.suite.default_digest_alg
    draft = Contract(
        contract_id=new_contract_id(),
        contract_number=number,
        template_id=TemplateId.LOAN_CONTRACT,
        template_version=template.version,
        language=lang,
        customer_id=owner_ref,
        document_digest=document_digest(pdf, alg),
        offer_expires_at=expires_at,
        created_at=now,
        digest_algorithm=alg,
    )
    offered = transition(draft, Offer(), at=now)
    summary = {
        "loan_terms": terms_to_mapping(terms),
        "product_code": product.code,
        "apr_irr": str(variables["apr_irr"]),
        "apr_simple": str(variables["apr_simple"]),
        "disbursement_account_masked": card,
        "approved_limit": str(limit),
    }

    def body(uow: UnitOfWork) -> tuple[Any, str, dict[str, Any]]:
        stored_now = uow.risk.get(application_id, for_update=True)
        _ensure_offerable(uow, stored_now, application_id)
        uow.contracts.add(StoredContract(offered, application_id, owner_ref, summary), pdf)
        return (
            uow.contracts.get(offered.contract_id),
            f"contract:{offered.contract_id}",
            {
                "application_id": application_id,
                "principal": str(principal),
                "document_digest": offered.document_digest,
            },
        )

    return audited(ctx, actor=actor, action="contracts.offer", request_id=request_id, body=body)


def _ensure_offerable(uow: UnitOfWork, stored: Any, application_id: int) -> None:
    if stored.status != "approved":
        raise Conflict(
            f"the application is {stored.status}, not approved",
            code="contract.application_not_approved",
            details={"application_id": application_id, "status": stored.status},
        )
    live = uow.contracts.live_for_application(application_id)
    if live:
        raise Conflict(
            "the application already has a contract",
            code="contract.exists",
            details={"contract_id": live[0].contract.contract_id},
        )


# -- the borrower's signature ------------------------------------------------------------------


def _own(uow: UnitOfWork, customer: Customer, contract_id: str) -> Any:
    """The customer's contract; someone else's is simply not found."""
    stored = uow.contracts.get(contract_id)
    if customer.id_number is None or customer.name is None:
        raise Conflict("verify your identity before signing", code="contract.identity_not_verified")
    if uow.customers.id_number_index(customer.id_number) != stored.owner_ref:
        raise NotFound("no such contract", code="contract.not_found")
    return stored


def _check_can_sign(contract: Contract, now: datetime) -> None:
    """Dry run of the signature: the same refusals, nothing kept."""
    transition(contract, Sign({"signed_digest": contract.document_digest}), at=now)


def request_signing_code(
    ctx: ServiceContext, customer: Customer, contract_id: str, *, request_id: str | None = None
) -> str:
    """Text a one-time code naming the contract and amount to the customer's phone."""
    now = ctx.clock()
    with ctx.uow() as uow:
        stored = _own(uow, customer, contract_id)
        _check_can_sign(stored.contract, now)
        index = uow.customers.phone_index(customer.phone)
        if (
            uow.otps.count_since(index, now - ctx.policies.otp_ttl * 12)
            >= ctx.policies.otp_per_hour
        ):
            raise DomainError(
                "too many codes requested for this number; try again later",
                code="otp.rate_limited",
                kind=ErrorKind.LOCKED,
            )
        code = f"{secrets.randbelow(1_000_000):06d}"
        uow.otps.add(
            OneTimeCode(
                id=None,
                phone_index=index,
                code_hash=ctx.secrets.keyed_hash(code, context=f"otp:{index}"),
                purpose=f"{SIGN_PURPOSE}:{contract_id}",
                expires_at=now + ctx.policies.otp_ttl,
            ),
            now=now,
        )
        minutes = int(ctx.policies.otp_ttl.total_seconds() // 60)
        principal = stored.terms["loan_terms"]["principal"]
        message_id: str = ctx.sms.send(
            str(customer.phone),
            f"【普惠】验证码 {code}，用于签署借款合同 {stored.contract.contract_number}"
            f"（借款金额 {principal} 元），{minutes} 分钟内有效。请勿告诉他人。",
            purpose=SIGN_PURPOSE,
        )
        record(
            ctx,
            uow,
            actor=f"customer:{customer.id}",
            action="contracts.request_signing_code",
            target=f"contract:{contract_id}",
            request_id=request_id,
            details={"provider": ctx.sms.name},
        )
        uow.commit()
        return message_id


def _check_code(
    ctx: ServiceContext, customer: Customer, contract_id: str, code: str, request_id: str | None
) -> Any:
    """Check (and consume) the signing code; a wrong one is counted and refused."""
    now = ctx.clock()
    with ctx.uow() as uow:
        stored = _own(uow, customer, contract_id)
        _check_can_sign(stored.contract, now)
        index = uow.customers.phone_index(customer.phone)
        otp: OneTimeCode | None = uow.otps.latest(index, f"{SIGN_PURPOSE}:{contract_id}")
        if otp is None:
            raise Unauthenticated("ask for a signing code first", code="otp.not_requested")
        updated, ok = otp.check(
            ctx.secrets.keyed_hash(str(code).strip(), context=f"otp:{index}"),
            now=now,
            max_attempts=ctx.policies.otp_max_attempts,
        )
        uow.otps.save(updated)
        if not ok:
            record(
                ctx,
                uow,
                actor=f"customer:{customer.id}",
                action="contracts.sign",
                target=f"contract:{contract_id}",
                result="denied:otp.wrong_code",
                request_id=request_id,
            )
            uow.commit()
            raise Unauthenticated("wrong code", code="otp.wrong_code")
        uow.commit()
        return stored


def _signed_with_time(
    setup: EvidenceSetup, key_id: str, contract: Contract
) -> tuple[Signature, dict[str, str]]:
    """Sign the document digest and have the signature time-stamped (RFC 3161, SHA-256 of the
    signature bytes)."""
    import base64

    signature: Signature = setup.keys.sign_digest(
        key_id, bytes.fromhex(contract.document_digest), contract.digest_algorithm
    )
    imprint = hashlib.sha256(signature.signature).digest()
    token: bytes = setup.tsa.timestamp(imprint, HashAlgorithm.SHA256)
    stamp = {
        "token": base64.b64encode(token).decode("ascii"),
        "digest_alg": HashAlgorithm.SHA256.value,
        "digest": imprint.hex(),
    }
    return signature, stamp


def _key(setup: EvidenceSetup, purpose: KeyPurpose, **where: str) -> Any:
    owner, branch = where.get("owner_ref"), where.get("branch")
    try:
        return setup.keys.active_key(purpose, owner_ref=owner, branch=branch)
    except DomainError:  # none yet, or every one revoked or expired
        return setup.keys.create_key(purpose, setup.suite, owner, branch)


def _record_leaf(
    uow: UnitOfWork, stored: Any, event: EventType, now: datetime, **metadata: str
) -> Any:
    c = stored.contract
    seq = record_event(
        uow,
        event,
        occurred_at=now,
        subject_ref=stored.owner_ref,
        object_ref=f"contract:{c.contract_id}",
        payload_digest=c.document_digest,
        metadata={"template": f"{c.template_id.value}@{c.template_version}", **metadata},
    )
    return replace(stored, evidence={**stored.evidence, event.value: seq})


def sign_contract(
    ctx: ServiceContext,
    customer: Customer,
    contract_id: str,
    code: str,
    *,
    request_id: str | None = None,
) -> Any:
    """The borrower signs with the one-time code (R-9.4); the seal follows when configured."""
    setup = _setup(ctx)
    stored = _check_code(ctx, customer, contract_id, code, request_id)
    key = _key(setup, KeyPurpose.CUSTOMER, owner_ref=stored.owner_ref)
    signature, stamp = _signed_with_time(setup, key.key_id, stored.contract)
    now = ctx.clock()
    with ctx.uow() as uow:
        current = uow.contracts.get(contract_id, for_update=True)
        signed = replace(
            current,
            contract=transition(current.contract, Sign(signature.to_json(), stamp), at=now),
            customer_id=customer.id,
        )
        signed = _record_leaf(uow, signed, EventType.CONTRACT_SIGNED, now, role="customer")
        uow.contracts.save(signed)
        record(
            ctx,
            uow,
            actor=f"customer:{customer.id}",
            action="contracts.sign",
            target=f"contract:{contract_id}",
            request_id=request_id,
            details={"key_id": key.key_id, "leaf": signed.evidence[EventType.CONTRACT_SIGNED]},
        )
        uow.commit()
    if setup.auto_seal:
        return seal_contract(ctx, SYSTEM, contract_id, request_id=request_id)
    return get_contract_unchecked(ctx, contract_id)


# -- the bank's seal, withdrawal, booking -------------------------------------------------------


def seal_contract(
    ctx: ServiceContext, actor: Principal, contract_id: str, *, request_id: str | None = None
) -> Any:
    """Apply the branch's e-seal to a signed contract (R-9.4, R-10.2(d))."""
    actor.require(Permission.CONTRACTS_MANAGE)
    setup = _setup(ctx)
    with ctx.uow() as uow:
        stored = uow.contracts.get(contract_id)
    now = ctx.clock()
    contract = stored.contract
    transition(contract, Seal({"signed_digest": contract.document_digest}), at=now)  # dry run
    branch = str(setup.lender["branch"])
    key = _key(setup, KeyPurpose.SEAL, branch=branch)
    seal, stamp = _signed_with_time(setup, key.key_id, contract)

    def body(uow: UnitOfWork) -> tuple[Any, str, dict[str, Any]]:
        current = uow.contracts.get(contract_id, for_update=True)
        sealed = replace(
            current, contract=transition(current.contract, Seal(seal.to_json(), stamp), at=now)
        )
        sealed = _record_leaf(uow, sealed, EventType.CONTRACT_SEALED, now, role="seal")
        uow.contracts.save(sealed)
        return (
            uow.contracts.get(contract_id),
            f"contract:{contract_id}",
            {"key_id": key.key_id, "branch": branch},
        )

    return audited(ctx, actor=actor, action="contracts.seal", request_id=request_id, body=body)


def withdraw_contract(
    ctx: ServiceContext,
    actor: Principal,
    contract_id: str,
    reason: str,
    *,
    request_id: str | None = None,
) -> Any:
    """The bank takes back an unsigned offer (with a reason)."""

    def body(uow: UnitOfWork) -> tuple[Any, str, dict[str, Any]]:
        actor.require(Permission.CONTRACTS_MANAGE)
        current = uow.contracts.get(contract_id, for_update=True)
        changed = transition(current.contract, Withdraw(reason), at=ctx.clock())
        uow.contracts.save(replace(current, contract=changed))
        return uow.contracts.get(contract_id), f"contract:{contract_id}", {"reason": reason}

    return audited(ctx, actor=actor, action="contracts.withdraw", request_id=request_id, body=body)


def book_loan_from_contract(
    ctx: ServiceContext, actor: Principal, contract_id: str, *, request_id: str | None = None
) -> int:
    """Book the loan of a sealed contract on its contract terms and archive the contract; the
    disbursement is the servicing step that follows."""

    def body(uow: UnitOfWork) -> tuple[int, str, dict[str, Any]]:
        actor.require(Permission.LOANS_SERVICE)
        current = uow.contracts.get(contract_id, for_update=True)
        if current.contract.status is not ContractStatus.SEALED:
            raise Conflict(
                "only a sealed contract can be booked",
                code="contract.not_sealed",
                details={"status": current.contract.status.value},
            )
        terms = LoanTerms.from_mapping(current.terms["loan_terms"])
        product = find_product(ctx, current.terms["product_code"])
        product.check(terms)
        loan_id: int = uow.loans.add(
            generate_schedule(terms),
            product_code=product.code,
            customer_id=current.customer_id,
            now=ctx.clock(),
        )
        archived = transition(current.contract, Archive(), at=ctx.clock())
        uow.contracts.save(replace(current, contract=archived, loan_id=loan_id))
        return loan_id, f"loan:{loan_id}", {"contract_id": contract_id}

    return audited(ctx, actor=actor, action="contracts.book_loan", request_id=request_id, body=body)


# -- reading ------------------------------------------------------------------------------------


def _may_read(actor: Principal) -> None:
    if Permission.CONTRACTS_MANAGE not in actor.permissions:
        actor.require(Permission.ARCHIVES_READ)


def get_contract_unchecked(ctx: ServiceContext, contract_id: str) -> Any:
    with ctx.uow() as uow:
        return uow.contracts.get(contract_id)


def get_contract(ctx: ServiceContext, actor: Principal, contract_id: str) -> Any:
    _may_read(actor)
    return get_contract_unchecked(ctx, contract_id)


def my_contracts(ctx: ServiceContext, customer: Customer) -> list[Any]:
    """The customer's own contracts, newest first (none before identity verification)."""
    if customer.id_number is None:
        return []
    with ctx.uow() as uow:
        owner = uow.customers.id_number_index(customer.id_number)
        result: list[Any] = uow.contracts.search(owner_ref=owner, limit=100)
        return result


def contract_pdf(
    ctx: ServiceContext,
    *,
    contract_id: str,
    actor: Principal | None = None,
    customer: Customer | None = None,
    request_id: str | None = None,
) -> bytes:
    """The contract's PDF, for its borrower or for staff who may read archives (logged)."""
    with ctx.uow() as uow:
        if customer is not None:
            _own(uow, customer, contract_id)
            who = f"customer:{customer.id}"
        else:
            assert actor is not None
            _may_read(actor)
            uow.contracts.get(contract_id)
            who = actor.id
        pdf: bytes = uow.contracts.pdf(contract_id)
        record(
            ctx,
            uow,
            actor=actor if actor is not None else who,
            action="contracts.read_pdf",
            target=f"contract:{contract_id}",
            request_id=request_id,
        )
        uow.commit()
        return pdf
