"""Customer login by phone and one-time code, real-name identity, and staff access to
customers' personal data — masked by role and access-logged (R-10.3, R-11.2, R-M4.2)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from puhui.domain.customers import CUSTOMER_FIELDS, Customer
from puhui.domain.errors import DomainError, ErrorKind, Unauthenticated
from puhui.domain.identifiers import MobileNumber, ResidentIdNumber
from puhui.domain.identity import Permission, Principal
from puhui.domain.otp import OneTimeCode
from puhui.domain.privacy import AccessLogEntry, AccessOperation, AccessResult, present
from puhui.services.audit import audited, record
from puhui.services.identity import token_hash
from puhui.services.platform import business_date
from puhui.services.ports import ServiceContext, UnitOfWork

LOGIN = "login"


def request_login_code(
    ctx: ServiceContext, phone_text: str, *, request_id: str | None = None
) -> str:
    """Send a 6-digit code by SMS. Returns the provider's message id (never the code)."""
    phone = MobileNumber.parse(phone_text)
    now = ctx.clock()
    with ctx.uow() as uow:
        index = uow.customers.phone_index(phone)
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
                purpose=LOGIN,
                expires_at=now + ctx.policies.otp_ttl,
            ),
            now=now,
        )
        minutes = int(ctx.policies.otp_ttl.total_seconds() // 60)
        message_id = ctx.sms.send(
            str(phone),
            f"【普惠】您的登录验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人。",
            purpose=LOGIN,
        )
        record(
            ctx,
            uow,
            actor=f"phone:{index[:12]}",
            action="customers.request_code",
            target="-",
            request_id=request_id,
            details={"provider": ctx.sms.name},
        )
        uow.commit()
        return message_id


@dataclass(frozen=True)
class CustomerSession:
    token: str
    customer: Customer
    new_customer: bool


def login_customer(
    ctx: ServiceContext, phone_text: str, code: str, *, request_id: str | None = None
) -> CustomerSession:
    """Check the one-time code; a first login registers the customer by phone."""
    phone = MobileNumber.parse(phone_text)
    now = ctx.clock()
    with ctx.uow() as uow:
        index = uow.customers.phone_index(phone)
        otp: OneTimeCode | None = uow.otps.latest(index, LOGIN)
        if otp is None:
            raise Unauthenticated("ask for a code first", code="otp.not_requested")
        updated, ok = otp.check(
            ctx.secrets.keyed_hash(code.strip(), context=f"otp:{index}"),
            now=now,
            max_attempts=ctx.policies.otp_max_attempts,
        )
        uow.otps.save(updated)
        if not ok:
            record(
                ctx,
                uow,
                actor=f"phone:{index[:12]}",
                action="customers.login",
                target="-",
                result="denied:otp.wrong_code",
                request_id=request_id,
            )
            uow.commit()
            raise Unauthenticated("wrong code", code="otp.wrong_code")
        customer: Customer | None = uow.customers.find_by_phone(phone)
        new = customer is None
        if customer is None:
            customer = uow.customers.add(
                Customer(id=None, phone=phone), today=business_date(uow), now=now
            )
        token = secrets.token_urlsafe(32)
        uow.sessions.add_customer(
            token_hash(token), customer.id, now, now + ctx.policies.customer_session_ttl
        )
        record(
            ctx,
            uow,
            actor=f"customer:{customer.id}",
            action="customers.login",
            target=f"customer:{customer.id}",
            request_id=request_id,
            details={"registered": new},
        )
        uow.commit()
        return CustomerSession(token, customer, new)


def resolve_customer_session(ctx: ServiceContext, token: str) -> Customer:
    with ctx.uow() as uow:
        row = uow.sessions.get_customer(token_hash(token))
        if row is None or row["revoked"] or row["expires_at"] <= ctx.clock():
            raise Unauthenticated("please log in again", code="auth.session_expired")
        customer: Customer = uow.customers.get(row["customer_id"])
        return customer


def logout_customer(ctx: ServiceContext, token: str) -> None:
    with ctx.uow() as uow:
        uow.sessions.revoke_customer(token_hash(token))
        uow.commit()


def submit_identity(
    ctx: ServiceContext,
    customer_id: int,
    name: str,
    id_number_text: str,
    *,
    request_id: str | None = None,
) -> Customer:
    """Real-name details (实名): the ID number is checked (GB 11643) and must show an adult."""
    id_number = ResidentIdNumber.parse(id_number_text)
    actor = Principal(kind="customer", id=str(customer_id))

    def body(uow: UnitOfWork) -> tuple[Customer, str, dict[str, Any]]:
        today = business_date(uow)
        if id_number.age_on(today) < 18:
            raise DomainError("borrowers must be at least 18 years old", code="customer.under_age")
        customer: Customer = uow.customers.get(customer_id)
        updated = customer.with_identity(name, id_number)
        uow.customers.save_identity(customer_id, updated.name or "", id_number)
        return (
            uow.customers.get(customer_id),
            f"customer:{customer_id}",
            {"fields": ["name", "id_number"]},
        )

    return audited(
        ctx, actor=actor, action="customers.submit_identity", request_id=request_id, body=body
    )


@dataclass(frozen=True)
class CustomerView:
    """What a given principal may see of a customer: level-3 fields masked unless allowed."""

    id: int
    phone: str
    name: str | None
    id_number: str | None
    verified: bool
    created_on: str
    masked: bool


def view_customer(
    ctx: ServiceContext,
    actor: Principal,
    customer_id: int,
    *,
    purpose: str = "customer service",
    request_id: str | None = None,
) -> CustomerView:
    """Read a customer for a staff user or partner. Every read is written to the personal-data
    access log with its result; level-3 fields are masked for roles without ``personal_data.unmask``
    (R-M4.2)."""
    fields = tuple(CUSTOMER_FIELDS)
    with ctx.uow() as uow:

        def log(result: AccessResult) -> None:
            uow.access_log.add(
                AccessLogEntry(
                    subject=actor.ref,
                    object=f"customer:{customer_id}",
                    fields=fields,
                    operation=AccessOperation.READ,
                    purpose=purpose[:120],
                    result=result,
                    occurred_at=ctx.clock(),
                    request_id=request_id,
                )
            )

        if not actor.can(Permission.CUSTOMERS_READ):
            log(AccessResult.DENIED)
            uow.commit()
            actor.require(Permission.CUSTOMERS_READ)
        customer: Customer = uow.customers.get(customer_id)
        may_unmask = actor.can(Permission.PERSONAL_DATA_UNMASK)
        view = CustomerView(
            id=customer_id,
            phone=present(str(customer.phone), CUSTOMER_FIELDS["phone"], may_unmask=may_unmask)
            or "",
            name=present(customer.name, CUSTOMER_FIELDS["name"], may_unmask=may_unmask),
            id_number=present(
                None if customer.id_number is None else str(customer.id_number),
                CUSTOMER_FIELDS["id_number"],
                may_unmask=may_unmask,
            ),
            verified=customer.verified,
            created_on=(customer.created_on.isoformat() if customer.created_on else ""),
            masked=not may_unmask,
        )
        log(AccessResult.OK if may_unmask else AccessResult.MASKED)
        uow.commit()
        return view


def list_customers(
    ctx: ServiceContext,
    actor: Principal,
    *,
    limit: int = 50,
    offset: int = 0,
    request_id: str | None = None,
) -> list[CustomerView]:
    """A page of customers, always masked (lists are for finding, not reading); logged."""
    actor.require(Permission.CUSTOMERS_READ)
    with ctx.uow() as uow:
        customers: list[Customer] = uow.customers.list(limit=limit, offset=offset)
        views = [
            CustomerView(
                id=c.id or 0,
                phone=present(str(c.phone), CUSTOMER_FIELDS["phone"], may_unmask=False) or "",
                name=present(c.name, CUSTOMER_FIELDS["name"], may_unmask=False),
                id_number=present(
                    None if c.id_number is None else str(c.id_number),
                    CUSTOMER_FIELDS["id_number"],
                    may_unmask=False,
                ),
                verified=c.verified,
                created_on=c.created_on.isoformat() if c.created_on else "",
                masked=True,
            )
            for c in customers
        ]
        if views:
            uow.access_log.add(
                AccessLogEntry(
                    subject=actor.ref,
                    object=f"customers:{offset}-{offset + len(views) - 1}",
                    fields=tuple(CUSTOMER_FIELDS),
                    operation=AccessOperation.LIST,
                    purpose="customer search",
                    result=AccessResult.MASKED,
                    occurred_at=ctx.clock(),
                    request_id=request_id,
                )
            )
            uow.commit()
        return views
