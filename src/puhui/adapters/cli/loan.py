"""``puhui loan …``: loan calculations from a terms file; no database, no settings.

``puhui loan schedule --terms terms.json [--format json|table]`` prints the repayment
schedule, its totals and the annualized rate (PBoC Announcement [2021] No. 3). Money is printed
as decimal strings, never floats. Errors print ``error [code]: message`` and exit with 2.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from puhui.adapters.cli.errors import handles_errors
from puhui.adapters.lending_documents import schedule_document
from puhui.domain.errors import ValidationError
from puhui.domain.lending.apr import (
    DEFAULT_LPR_MULTIPLE,
    DEFAULT_RATE_CEILING,
    check_rate_ceiling,
    schedule_annualized_rate,
)
from puhui.domain.lending.schedule import generate_schedule
from puhui.domain.lending.terms import LoanTerms

__all__ = ["loan_app", "read_terms", "schedule_document"]

loan_app = typer.Typer(
    help="Loan calculations: repayment schedules and annualized rates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@loan_app.callback()
def _loan() -> None:
    """Loan calculations: repayment schedules and annualized rates."""


class OutputFormat(StrEnum):
    JSON = "json"
    TABLE = "table"


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ValidationError(
            f"field(s) given twice: {', '.join(duplicated)}",
            code="terms.duplicate_field",
            details={"fields": duplicated},
        )
    return dict(pairs)


def read_terms(path: Path) -> LoanTerms:
    """Load a JSON terms file into ``LoanTerms`` (unknown fields and float money refused)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValidationError(
            f"cannot read the terms file {path}: {getattr(err, 'strerror', None) or err}",
            code="terms.unreadable_file",
        ) from None
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as err:
        raise ValidationError(
            f"the terms file is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})",
            code="terms.malformed_json",
        ) from None
    return LoanTerms.from_mapping(data)


_COLUMNS = ("n", "due_date", "days", "principal", "interest", "fees", "total", "balance_after")


def _table(document: dict[str, Any]) -> str:
    rows = [[str(p[c]) for c in _COLUMNS] for p in document["periods"]]
    totals = document["totals"]
    rows.append(
        [
            "total",
            "",
            "",
            totals["principal"],
            totals["interest"],
            totals["fees"],
            totals["total"],
            "",
        ]
    )
    header = list(_COLUMNS)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        left = {0, 1}  # n and due_date align left, numbers right
        return "  ".join(
            cell.ljust(w) if i in left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(header), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1])]
    apr = document["apr"]
    out += [
        "",
        f"fees: {totals['fees']}, of which {totals['upfront_fees']} upfront (at disbursement)",
        f"{apr['label_en']} / {apr['label_zh']}: {apr['nominal_apr_percent']}"
        f" (periodic IRR {apr['periodic_irr']} × {apr['periods_per_year']},"
        f" method {apr['method']})",
        f"effective annual rate (compounded): {apr['effective_annual_percent']}",
        f"{apr['simple_label_en']} / {apr['simple_label_zh']}: {apr['simple_rate_percent']}",
        f"rate ceiling: {apr['ceiling']['status']} — {apr['ceiling']['message_en']}",
    ]
    return "\n".join(out)


def _decimal_option(value: str, name: str) -> Decimal:
    try:
        number = Decimal(value)
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValidationError(
            f"{name} must be a decimal such as 0.24", code="apr.invalid_threshold"
        )
    return number


@loan_app.command("schedule")
@handles_errors
def schedule_command(
    terms: Annotated[
        Path, typer.Option("--terms", help="JSON terms file (see docs/loan-schedules.md).")
    ],
    output: Annotated[
        OutputFormat, typer.Option("--format", help="json (default) or an aligned table.")
    ] = OutputFormat.JSON,
    ceiling: Annotated[
        str, typer.Option(help="Annualized-rate ceiling to check against (fraction).")
    ] = str(DEFAULT_RATE_CEILING),
    lpr: Annotated[
        str | None, typer.Option(help="One-year LPR at contract date, e.g. 0.0385 (optional).")
    ] = None,
    lpr_multiple: Annotated[str, typer.Option(help="Judicial cap as a multiple of the LPR.")] = str(
        DEFAULT_LPR_MULTIPLE
    ),
) -> None:
    """Print the repayment schedule and annualized rate of a terms file (no database)."""
    loan_terms = read_terms(terms)
    schedule = generate_schedule(loan_terms)
    apr = schedule_annualized_rate(schedule)
    verdict = check_rate_ceiling(
        apr,
        ceiling=_decimal_option(ceiling, "--ceiling"),
        lpr=None if lpr is None else _decimal_option(lpr, "--lpr"),
        lpr_multiple=_decimal_option(lpr_multiple, "--lpr-multiple"),
    )
    document = schedule_document(schedule, apr, verdict)
    if output == OutputFormat.TABLE:
        typer.echo(_table(document))
    else:
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
