"""The customer portal (/): mobile-first, works without JavaScript, zh-CN by default."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from puhui.adapters.web.deps import PORTAL_COOKIE, get_ctx
from puhui.adapters.web.forms import check_csrf, form_csrf, keep_csrf, language
from puhui.adapters.web.i18n import t
from puhui.domain.customers import Customer
from puhui.domain.errors import DomainError, Unauthenticated
from puhui.domain.privacy import MaskKind, mask
from puhui.services import customers as customer_services

router = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    lang = language(request, request.app.state.platform.settings.default_language)
    token = form_csrf(request)
    base = {
        "lang": lang,
        "t": lambda key: t(key, lang),
        "csrf": token,
        "other_lang": "en" if lang == "zh-CN" else "zh-CN",
    }
    resp: Response = request.app.state.templates.TemplateResponse(
        request, name, {**base, **context}, status_code=status
    )
    secure = bool(request.app.state.platform.settings.cookie_secure)
    keep_csrf(resp, token, secure=secure)
    if request.query_params.get("lang"):
        resp.set_cookie("puhui_lang", lang, samesite="lax", secure=secure, max_age=31536000)
    return resp


def _customer(request: Request) -> Customer | None:
    token = request.cookies.get(PORTAL_COOKIE)
    if not token:
        return None
    try:
        return customer_services.resolve_customer_session(get_ctx(request), token)
    except Unauthenticated:
        return None


@router.get("/")
def home(request: Request) -> Response:
    return _render(request, "portal/home.html", {"customer": _customer(request)})


@router.get("/login")
def login_form(request: Request) -> Response:
    return _render(request, "portal/login.html", {"phone": "", "sent": False, "error": None})


@router.post("/login/code")
def send_code(
    request: Request,
    phone: Annotated[str, Form(max_length=24)],
    csrf: Annotated[str, Form(max_length=64)],
) -> Response:
    check_csrf(request.cookies.get("puhui_csrf"), csrf)
    try:
        customer_services.request_login_code(get_ctx(request), phone)
    except DomainError as err:
        return _render(
            request, "portal/login.html", {"phone": phone, "sent": False, "error": err.message}, 422
        )
    return _render(request, "portal/login.html", {"phone": phone, "sent": True, "error": None})


@router.post("/login")
def login(
    request: Request,
    phone: Annotated[str, Form(max_length=24)],
    code: Annotated[str, Form(max_length=8)],
    csrf: Annotated[str, Form(max_length=64)],
) -> Response:
    check_csrf(request.cookies.get("puhui_csrf"), csrf)
    try:
        session = customer_services.login_customer(get_ctx(request), phone, code)
    except DomainError as err:
        return _render(
            request, "portal/login.html", {"phone": phone, "sent": True, "error": err.message}, 401
        )
    resp = RedirectResponse("/me", status_code=303)
    resp.set_cookie(
        PORTAL_COOKIE,
        session.token,
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.platform.settings.cookie_secure),
        max_age=int(get_ctx(request).policies.customer_session_ttl.total_seconds()),
    )
    return resp


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=64)]) -> Response:
    check_csrf(request.cookies.get("puhui_csrf"), csrf)
    token = request.cookies.get(PORTAL_COOKIE)
    if token:
        customer_services.logout_customer(get_ctx(request), token)
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(PORTAL_COOKIE)
    return resp


def _me_context(customer: Customer) -> dict[str, Any]:
    return {
        "customer": customer,
        "phone": mask(str(customer.phone), MaskKind.PHONE),
        "name": mask(customer.name, MaskKind.NAME),
        "id_number": mask(
            None if customer.id_number is None else str(customer.id_number), MaskKind.ID_NUMBER
        ),
        "error": None,
    }


@router.get("/me")
def me(request: Request) -> Response:
    customer = _customer(request)
    if customer is None:
        return RedirectResponse("/login", status_code=303)
    return _render(request, "portal/me.html", _me_context(customer))


@router.post("/me/identity")
def identity(
    request: Request,
    name: Annotated[str, Form(max_length=40)],
    id_number: Annotated[str, Form(max_length=24)],
    csrf: Annotated[str, Form(max_length=64)],
) -> Response:
    check_csrf(request.cookies.get("puhui_csrf"), csrf)
    customer = _customer(request)
    if customer is None:
        return RedirectResponse("/login", status_code=303)
    assert customer.id is not None
    try:
        customer_services.submit_identity(get_ctx(request), customer.id, name, id_number)
    except DomainError as err:
        context = _me_context(customer)
        context["error"] = err.message
        return _render(request, "portal/me.html", context, 422)
    return RedirectResponse("/me", status_code=303)
