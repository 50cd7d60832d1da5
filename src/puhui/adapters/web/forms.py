"""Helpers for server-rendered forms: CSRF tokens (double submit before login, the session's
synchronizer token after), language choice, cookies."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response

from puhui.domain.errors import DomainError, ErrorKind

FORM_CSRF_COOKIE = "puhui_csrf"


def form_csrf(request: Request) -> str:
    """The pre-session CSRF token: reuse the cookie's, or mint one (set it with ``keep_csrf``)."""
    return request.cookies.get(FORM_CSRF_COOKIE) or secrets.token_urlsafe(24)


def keep_csrf(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        FORM_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=3600
    )


def check_csrf(expected: str | None, presented: str | None) -> None:
    if not expected or not presented or not hmac.compare_digest(expected, presented):
        raise DomainError(
            "the form has expired or did not come from this site; reload and try again",
            code="request.csrf_failed",
            kind=ErrorKind.FORBIDDEN,
        )


def language(request: Request, default: str = "zh-CN") -> str:
    lang = request.query_params.get("lang") or request.cookies.get("puhui_lang") or default
    return "en" if lang.lower().startswith("en") else "zh-CN"
