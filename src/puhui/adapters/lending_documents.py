"""JSON documents of loan calculations, shared by the CLI and the API: money and rates as
decimal strings, never floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from puhui.domain.lending.apr import AnnualizedRate, RateCeilingVerdict
from puhui.domain.lending.terms import Schedule

__all__ = ["money", "schedule_document"]


def money(value: Decimal) -> str:
    return format(value, "f")


def _rate(value: Decimal, places: int = 6) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def _percent(value: Decimal) -> str:
    return f"{_rate(value * 100, 2)}%"


def _apr_document(apr: AnnualizedRate, verdict: RateCeilingVerdict) -> dict[str, Any]:
    return {
        "method": apr.method,
        "periods_per_year": _rate(apr.periods_per_year, 4),
        "periodic_irr": _rate(apr.periodic_irr, 8),
        "nominal_apr": _rate(apr.nominal_apr),
        "nominal_apr_percent": _percent(apr.nominal_apr),
        "effective_annual": _rate(apr.effective_annual),
        "effective_annual_percent": _percent(apr.effective_annual),
        "simple_rate": _rate(apr.simple_rate),
        "simple_rate_percent": _percent(apr.simple_rate),
        "total_cost": money(apr.total_cost.quantize(Decimal("0.01"))),
        "label_zh": apr.label_zh,
        "label_en": apr.label_en,
        "simple_label_zh": apr.simple_label_zh,
        "simple_label_en": apr.simple_label_en,
        "ceiling": {
            "status": verdict.status.value,
            "ceiling": _rate(verdict.ceiling),
            "lpr_cap": None if verdict.lpr_cap is None else _rate(verdict.lpr_cap),
            "message_zh": verdict.message_zh,
            "message_en": verdict.message_en,
        },
    }


def schedule_document(
    schedule: Schedule, apr: AnnualizedRate, verdict: RateCeilingVerdict
) -> dict[str, Any]:
    """The JSON document ``loan schedule`` prints: periods, totals and annualized rates."""
    periods = [
        {
            "n": p.n,
            "due_date": p.due_date.isoformat(),
            "days": p.days,
            "principal": money(p.principal),
            "interest": money(p.interest),
            "fees": money(p.fees),
            "total": money(p.total),
            "balance_after": money(p.balance_after),
        }
        for p in schedule.periods
    ]
    total = schedule.total_principal + schedule.total_interest + schedule.total_fees
    return {
        "periods": periods,
        "totals": {
            "principal": money(schedule.total_principal),
            "interest": money(schedule.total_interest),
            "fees": money(schedule.total_fees),
            "upfront_fees": money(schedule.upfront_fees),
            "total": money(total),
        },
        "apr": _apr_document(apr, verdict),
    }
