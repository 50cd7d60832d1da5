"""The JSON API under /api/v1. Each route parses, calls one service, renders."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from puhui.adapters.web import schemas as s
from puhui.adapters.web.deps import CtxDep, CustomerDep, PrincipalDep, RequestIdDep
from puhui.domain.identifiers import (
    BankCardNumber,
    MobileNumber,
    ResidentIdNumber,
    UnifiedSocialCreditCode,
)
from puhui.domain.identity import PendingAction, StaffUser
from puhui.domain.privacy import MaskKind, mask
from puhui.services import audit as audit_services
from puhui.services import customers as customer_services
from puhui.services import identity as identity_services
from puhui.services import platform as platform_services

router = APIRouter(prefix="/api/v1")


def _user_out(user: StaffUser) -> s.StaffUserOut:
    return s.StaffUserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=sorted(r.value for r in user.roles),
        post=user.post,
        branch=user.branch,
        active=user.active,
        locked=user.locked_until is not None,
    )


def _pending_out(p: PendingAction) -> s.PendingActionOut:
    summary = {k: v for k, v in p.payload.items() if "password" not in k}
    return s.PendingActionOut(
        id=p.id,
        action=p.action,
        maker=p.maker,
        status=p.status.value,
        checker=p.checker,
        summary=summary,
    )


# --- staff authentication -----------------------------------------------------------------


@router.post("/auth/login", response_model=s.SessionOut, tags=["auth"])
def login(body: s.LoginIn, ctx: CtxDep, rid: RequestIdDep) -> s.SessionOut:
    session = identity_services.login_staff(ctx, body.username, body.password, request_id=rid)
    return s.SessionOut(
        token=session.token,
        csrf_token=session.csrf_token,
        username=session.user.username,
        roles=sorted(r.value for r in session.user.roles),
        permissions=sorted(p.value for p in session.user.permissions),
    )


@router.get("/me", response_model=s.MeOut, tags=["auth"])
def me(principal: PrincipalDep) -> s.MeOut:
    return s.MeOut(
        kind=principal.kind,
        id=principal.id,
        display=principal.display,
        permissions=sorted(p.value for p in principal.permissions),
    )


# --- staff users, approvals, API keys -------------------------------------------------------


@router.get("/staff-users", response_model=list[s.StaffUserOut], tags=["users"])
def staff_users(ctx: CtxDep, principal: PrincipalDep) -> list[s.StaffUserOut]:
    return [_user_out(u) for u in identity_services.list_staff_users(ctx, principal)]


@router.post("/staff-users", response_model=s.CreatedStaffUserOut, status_code=201, tags=["users"])
def create_staff_user(
    body: s.StaffUserIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> s.CreatedStaffUserOut:
    created = identity_services.create_staff_user(
        ctx,
        principal,
        identity_services.CreateStaffUser(
            username=body.username,
            display_name=body.display_name,
            password=body.password,
            roles=tuple(body.roles),
            post=body.post,
            branch=body.branch,
        ),
        request_id=rid,
    )
    if created.pending is not None:
        return s.CreatedStaffUserOut(
            status="pending_approval", pending_action_id=created.pending.id
        )
    assert created.user is not None
    return s.CreatedStaffUserOut(status="created", user=_user_out(created.user))


@router.get("/approvals", response_model=list[s.PendingActionOut], tags=["approvals"])
def approvals(ctx: CtxDep, principal: PrincipalDep) -> list[s.PendingActionOut]:
    return [_pending_out(p) for p in identity_services.list_pending(ctx, principal)]


@router.post(
    "/approvals/{action_id}/approve", response_model=s.PendingActionOut, tags=["approvals"]
)
def approve(
    action_id: int, body: s.DecisionIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> s.PendingActionOut:
    return _pending_out(
        identity_services.decide_pending_action(
            ctx, principal, action_id, approve=True, reason=body.reason, request_id=rid
        )
    )


@router.post("/approvals/{action_id}/reject", response_model=s.PendingActionOut, tags=["approvals"])
def reject(
    action_id: int, body: s.DecisionIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> s.PendingActionOut:
    return _pending_out(
        identity_services.decide_pending_action(
            ctx, principal, action_id, approve=False, reason=body.reason, request_id=rid
        )
    )


@router.post("/api-keys", response_model=s.ApiKeyOut, status_code=201, tags=["partners"])
def create_api_key(
    body: s.ApiKeyIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> s.ApiKeyOut:
    issued = identity_services.create_api_key(
        ctx, principal, body.partner, list(body.scopes), request_id=rid
    )
    return s.ApiKeyOut(
        id=issued.key.id,
        partner=issued.key.partner,
        prefix=issued.key.prefix,
        scopes=sorted(p.value for p in issued.key.scopes),
        secret=issued.secret,
    )


# --- platform --------------------------------------------------------------------------------


@router.get("/business-date", response_model=s.BusinessDateOut, tags=["platform"])
def get_business_date(ctx: CtxDep) -> s.BusinessDateOut:
    return s.BusinessDateOut(business_date=platform_services.get_business_date(ctx))


@router.put("/business-date", response_model=s.BusinessDateOut, tags=["platform"])
def put_business_date(
    body: s.BusinessDateIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> s.BusinessDateOut:
    new: date = platform_services.set_business_date(
        ctx, principal, body.business_date, allow_backwards=body.allow_backwards, request_id=rid
    )
    return s.BusinessDateOut(business_date=new)


# --- customers (self-service) ----------------------------------------------------------------


@router.post("/customer/login-code", status_code=202, tags=["customer"])
def customer_login_code(body: s.PhoneIn, ctx: CtxDep, rid: RequestIdDep) -> dict[str, str]:
    message_id = customer_services.request_login_code(ctx, body.phone, request_id=rid)
    return {"status": "sent", "message_id": message_id, "provider": ctx.sms.name}


@router.post("/customer/session", response_model=s.CustomerSessionOut, tags=["customer"])
def customer_session(
    body: s.CustomerLoginIn, ctx: CtxDep, rid: RequestIdDep
) -> s.CustomerSessionOut:
    session = customer_services.login_customer(ctx, body.phone, body.code, request_id=rid)
    assert session.customer.id is not None
    return s.CustomerSessionOut(
        token=session.token, customer_id=session.customer.id, new_customer=session.new_customer
    )


@router.get("/customer/me", response_model=s.CustomerOut, tags=["customer"])
def customer_me(customer: CustomerDep) -> s.CustomerOut:
    # The customer sees their own data masked too: screens are looked at over shoulders.
    return s.CustomerOut(
        id=customer.id or 0,
        phone=mask(str(customer.phone), MaskKind.PHONE) or "",
        name=mask(customer.name, MaskKind.NAME),
        id_number=mask(
            None if customer.id_number is None else str(customer.id_number), MaskKind.ID_NUMBER
        ),
        verified=customer.verified,
        created_on=customer.created_on.isoformat() if customer.created_on else "",
        masked=True,
    )


@router.put("/customer/me/identity", response_model=s.CustomerOut, tags=["customer"])
def customer_identity(
    body: s.IdentityIn, ctx: CtxDep, customer: CustomerDep, rid: RequestIdDep
) -> s.CustomerOut:
    assert customer.id is not None
    updated = customer_services.submit_identity(
        ctx, customer.id, body.name, body.id_number, request_id=rid
    )
    return customer_me(updated)


# --- customers (staff and partners) ----------------------------------------------------------


@router.get("/customers", response_model=list[s.CustomerOut], tags=["customers"])
def customers(
    ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep, limit: int = 50, offset: int = 0
) -> list[s.CustomerOut]:
    views = customer_services.list_customers(
        ctx, principal, limit=max(1, min(limit, 200)), offset=max(0, offset), request_id=rid
    )
    return [s.CustomerOut(**v.__dict__) for v in views]


@router.get("/customers/{customer_id}", response_model=s.CustomerOut, tags=["customers"])
def customer(
    customer_id: int, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> s.CustomerOut:
    view = customer_services.view_customer(ctx, principal, customer_id, request_id=rid)
    return s.CustomerOut(**view.__dict__)


# --- identifiers -----------------------------------------------------------------------------


@router.post("/identifiers/validate", tags=["identifiers"])
def validate_identifier(body: s.IdentifierIn) -> dict[str, object]:
    """Check and decode a Chinese identifier (GB 11643, GB 32100, mobile, Luhn).
    Invalid values answer 422 with the precise code."""
    if body.kind == "id_number":
        rid_ = ResidentIdNumber.parse(body.value)
        return {
            "valid": True,
            "kind": body.kind,
            "region_code": rid_.region_code,
            "province": rid_.province,
            "birth_date": rid_.birth_date.isoformat(),
            "sex": rid_.sex.value,
        }
    if body.kind == "uscc":
        code = UnifiedSocialCreditCode.parse(body.value)
        return {
            "valid": True,
            "kind": body.kind,
            "region_code": code.region_code,
            "registration_authority": code.registration_authority,
            "organization_code": code.organization_code,
        }
    if body.kind == "mobile":
        return {"valid": True, "kind": body.kind, "normalized": str(MobileNumber.parse(body.value))}
    card = BankCardNumber.parse(body.value)
    return {"valid": True, "kind": body.kind, "bin": card.bin, "last4": card.last4}


# --- audit -------------------------------------------------------------------------------------


@router.get("/audit/records", response_model=list[s.AuditRecordOut], tags=["audit"])
def audit_records(ctx: CtxDep, principal: PrincipalDep, limit: int = 50) -> list[s.AuditRecordOut]:
    return [
        s.AuditRecordOut(
            seq=r.seq,
            occurred_at=r.occurred_at.isoformat(),
            actor=r.actor,
            action=r.action,
            target=r.target,
            result=r.result,
            request_id=r.request_id,
            record_hash=r.record_hash,
        )
        for r in audit_services.recent_records(ctx, principal, max(1, min(limit, 500)))
    ]


@router.get("/audit/verify", response_model=s.ChainVerdictOut, tags=["audit"])
def audit_verify(ctx: CtxDep, principal: PrincipalDep) -> s.ChainVerdictOut:
    v = audit_services.verify_audit_chain(ctx, principal)
    return s.ChainVerdictOut(
        ok=v.ok,
        checked=v.checked,
        first_bad_seq=v.first_bad_seq,
        problem=v.problem,
        message=v.message,
    )
