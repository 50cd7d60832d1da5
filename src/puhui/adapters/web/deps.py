"""Request dependencies: the service context and who is calling.

Staff authenticate with ``Authorization: Bearer <session token>`` (from ``POST
/api/v1/auth/login``); partners with ``X-API-Key``; customers with
``Authorization: Bearer`` from ``POST /api/v1/customer/session``.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import Depends, Request

from puhui.domain.customers import Customer
from puhui.domain.errors import Unauthenticated
from puhui.domain.identity import Principal, staff_principal
from puhui.logging_setup import request_id_var
from puhui.services import customers as customer_services
from puhui.services import identity as identity_services
from puhui.services.ports import ServiceContext

CONSOLE_COOKIE = "puhui_console"
PORTAL_COOKIE = "puhui_portal"


def get_ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.platform.ctx
    return ctx


# The dependencies that neither block nor touch the database are ``async``: FastAPI runs a sync
# dependency in its thread pool, one hand-off (and a thread switch under load) per call.


async def _ctx(request: Request) -> ServiceContext:
    return get_ctx(request)


async def get_request_id() -> str | None:
    return request_id_var.get()


def _reading(ctx: ServiceContext) -> ServiceContext:
    """``ctx`` whose units of work only read (on SQLite: no write lock), for looking up an API
    key: authentication reads one row, and must not queue behind the writers of decisions and
    postings for the database's write lock. A read-only unit of work refuses to commit, so a
    lookup that started to write would fail loudly rather than silently lose its change."""
    if ctx.read_only_uow is None:
        return ctx
    return dataclasses.replace(ctx, uow=ctx.read_only_uow)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def current_principal(request: Request, ctx: Annotated[ServiceContext, Depends(_ctx)]) -> Principal:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return identity_services.resolve_api_key(_reading(ctx), api_key)
    token = _bearer(request)
    if token:
        user, _ = identity_services.resolve_staff_session(ctx, token)
        return staff_principal(user)
    raise Unauthenticated(
        "log in first (Bearer session token) or present an X-API-Key", code="auth.unauthenticated"
    )


def current_customer(request: Request, ctx: Annotated[ServiceContext, Depends(_ctx)]) -> Customer:
    token = _bearer(request) or request.cookies.get(PORTAL_COOKIE)
    if not token:
        raise Unauthenticated("log in with your phone first", code="auth.unauthenticated")
    return customer_services.resolve_customer_session(ctx, token)


CtxDep = Annotated[ServiceContext, Depends(_ctx)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
CustomerDep = Annotated[Customer, Depends(current_customer)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]
