"""The platform business date (营业日期): set by operations, read by every dated rule.

Domain code never calls ``date.today()``; services read the business date stored here. A new
installation starts on the calendar date of its first read (UTC+8, the bank's zone)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from puhui.domain.errors import ValidationError
from puhui.domain.identity import Permission, Principal
from puhui.services.audit import audited
from puhui.services.ports import ServiceContext, UnitOfWork

CHINA = timezone(timedelta(hours=8))
KEY = "business_date"


def business_date(uow: UnitOfWork, *, clock: datetime | None = None) -> date:
    value = uow.state.get(KEY)
    if value is not None:
        return date.fromisoformat(value)
    return (clock or datetime.now(CHINA)).astimezone(CHINA).date()


def get_business_date(ctx: ServiceContext) -> date:
    with ctx.uow() as uow:
        return business_date(uow, clock=ctx.clock())


def set_business_date(
    ctx: ServiceContext,
    actor: Principal,
    new_date: date,
    *,
    allow_backwards: bool = False,
    request_id: str | None = None,
) -> date:
    def body(uow: UnitOfWork) -> tuple[date, str, dict[str, Any]]:
        actor.require(Permission.BUSINESS_DATE_SET)
        current = business_date(uow, clock=ctx.clock())
        if new_date < current and not allow_backwards:
            raise ValidationError(
                f"the business date cannot move back from {current} to {new_date}",
                code="business_date.backwards",
                details={"current": current.isoformat(), "requested": new_date.isoformat()},
            )
        uow.state.set(KEY, new_date.isoformat())
        return (
            new_date,
            "platform:business_date",
            {"from": current.isoformat(), "to": new_date.isoformat()},
        )

    return audited(
        ctx, actor=actor, action="platform.set_business_date", request_id=request_id, body=body
    )
