"""The staff console (/console): server-rendered, role-aware, CSRF-protected forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from puhui.adapters.web.deps import CONSOLE_COOKIE, get_ctx
from puhui.adapters.web.forms import check_csrf, form_csrf, keep_csrf
from puhui.domain.errors import DomainError, Unauthenticated
from puhui.domain.identity import ROLE_LABELS, Permission, Role, StaffUser, staff_principal
from puhui.services import audit as audit_services
from puhui.services import customers as customer_services
from puhui.services import identity as identity_services
from puhui.services import platform as platform_services

router = APIRouter(prefix="/console", include_in_schema=False)


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status
    )
    return response


def _secure(request: Request) -> bool:
    return bool(request.app.state.platform.settings.cookie_secure)


def _session(request: Request) -> tuple[StaffUser, str] | None:
    token = request.cookies.get(CONSOLE_COOKIE)
    if not token:
        return None
    try:
        return identity_services.resolve_staff_session(get_ctx(request), token)
    except Unauthenticated:
        return None


def _base(request: Request, user: StaffUser, csrf: str, active: str) -> dict[str, Any]:
    return {
        "user": user,
        "csrf": csrf,
        "active": active,
        "perms": {p.value for p in user.permissions},
        "role_labels": {r.value: ROLE_LABELS[r][0] for r in Role},
        "business_date": platform_services.get_business_date(get_ctx(request)),
    }


def _to_login() -> Response:
    return RedirectResponse("/console/login", status_code=303)


@router.get("/login")
def login_form(request: Request) -> Response:
    token = form_csrf(request)
    resp = _render(request, "console/login.html", {"csrf": token, "error": None})
    keep_csrf(resp, token, secure=_secure(request))
    return resp


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=64)],
) -> Response:
    check_csrf(request.cookies.get("puhui_csrf"), csrf)
    try:
        session = identity_services.login_staff(get_ctx(request), username, password)
    except DomainError as err:
        status = 423 if err.code == "auth.locked" else 401
        return _render(
            request,
            "console/login.html",
            {"csrf": csrf, "error": err.message, "username": username},
            status,
        )
    resp = RedirectResponse("/console", status_code=303)
    resp.set_cookie(
        CONSOLE_COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )  # a browser-session cookie; the server enforces the sliding expiry
    return resp


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=64)]) -> Response:
    found = _session(request)
    if found is not None:
        check_csrf(found[1], csrf)
        identity_services.logout_staff(get_ctx(request), request.cookies[CONSOLE_COOKIE])
    resp = _to_login()
    resp.delete_cookie(CONSOLE_COOKIE)
    return resp


@router.get("")
def home(request: Request) -> Response:
    found = _session(request)
    if found is None:
        return _to_login()
    user, csrf = found
    ctx = get_ctx(request)
    principal = staff_principal(user)
    context = _base(request, user, csrf, "home")
    context["pending"] = (
        identity_services.list_pending(ctx, principal)
        if principal.can(Permission.APPROVALS_CHECK)
        else []
    )
    context["recent"] = (
        audit_services.recent_records(ctx, principal, 10)
        if principal.can(Permission.AUDIT_READ)
        else []
    )
    return _render(request, "console/home.html", context)


@router.get("/users")
def users(request: Request, message: str | None = None) -> Response:
    found = _session(request)
    if found is None:
        return _to_login()
    user, csrf = found
    principal = staff_principal(user)
    context = _base(request, user, csrf, "users")
    context.update(
        users=identity_services.list_staff_users(get_ctx(request), principal),
        roles=list(Role),
        message=message,
        error=None,
    )
    return _render(request, "console/users.html", context)


@router.post("/users")
def create_user(
    request: Request,
    csrf: Annotated[str, Form(max_length=64)],
    username: Annotated[str, Form(max_length=40)],
    display_name: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=200)],
    roles: Annotated[list[str], Form()],
    post: Annotated[str, Form(max_length=80)] = "",
    branch: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    found = _session(request)
    if found is None:
        return _to_login()
    user, token = found
    check_csrf(token, csrf)
    principal = staff_principal(user)
    try:
        created = identity_services.create_staff_user(
            get_ctx(request),
            principal,
            identity_services.CreateStaffUser(
                username, display_name, password, tuple(roles), post, branch
            ),
        )
    except DomainError as err:
        context = _base(request, user, token, "users")
        context.update(
            users=identity_services.list_staff_users(get_ctx(request), principal),
            roles=list(Role),
            message=None,
            error=err.message,
        )
        return _render(request, "console/users.html", context, 422)
    note = "pending" if created.pending else "created"
    return RedirectResponse(f"/console/users?message={note}", status_code=303)


@router.post("/approvals/{action_id}")
def decide(
    request: Request,
    action_id: int,
    csrf: Annotated[str, Form(max_length=64)],
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
) -> Response:
    found = _session(request)
    if found is None:
        return _to_login()
    user, token = found
    check_csrf(token, csrf)
    identity_services.decide_pending_action(
        get_ctx(request), staff_principal(user), action_id, approve=decision == "approve"
    )
    return RedirectResponse("/console", status_code=303)


@router.get("/audit")
def audit(request: Request, verify: int = 0) -> Response:
    found = _session(request)
    if found is None:
        return _to_login()
    user, csrf = found
    principal = staff_principal(user)
    context = _base(request, user, csrf, "audit")
    context["records"] = audit_services.recent_records(get_ctx(request), principal, 100)
    context["verdict"] = (
        audit_services.verify_audit_chain(get_ctx(request), principal) if verify else None
    )
    return _render(request, "console/audit.html", context)


@router.get("/customers")
def customers(request: Request) -> Response:
    found = _session(request)
    if found is None:
        return _to_login()
    user, csrf = found
    context = _base(request, user, csrf, "customers")
    context["customers"] = customer_services.list_customers(
        get_ctx(request), staff_principal(user), limit=100
    )
    return _render(request, "console/customers.html", context)


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: int) -> Response:
    found = _session(request)
    if found is None:
        return _to_login()
    user, csrf = found
    context = _base(request, user, csrf, "customers")
    context["c"] = customer_services.view_customer(
        get_ctx(request), staff_principal(user), customer_id, purpose="console customer view"
    )
    return _render(request, "console/customer.html", context)
