"""``puhui loan schedule``: a terms file in, a schedule out; no database involved.

The sub-app is mounted the way ``main.py`` mounts it (``app.add_typer(loan_app, name="loan")``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from puhui.adapters.cli.loan import loan_app

runner = CliRunner()
cli = typer.Typer()
cli.add_typer(loan_app, name="loan")

TERMS: dict[str, Any] = {
    "principal": "10000",
    "annual_rate": "0.12",
    "repayments": 12,
    "disbursement_date": "2024-01-15",
}


def write(tmp_path: Path, content: str | dict[str, Any]) -> Path:
    path = tmp_path / "terms.json"
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


def schedule(path: Path, *extra: str) -> Result:
    return runner.invoke(cli, ["loan", "schedule", "--terms", str(path), *extra])


def test_json_schedule(tmp_path: Path) -> None:
    result = schedule(write(tmp_path, TERMS))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    first = document["periods"][0]
    assert first == {
        "n": 1,
        "due_date": "2024-02-15",
        "days": 31,
        "principal": "788.49",
        "interest": "100.00",
        "fees": "0.00",
        "total": "888.49",
        "balance_after": "9211.51",
    }
    assert len(document["periods"]) == 12
    assert document["periods"][-1]["balance_after"] == "0.00"
    assert document["totals"] == {
        "principal": "10000.00",
        "interest": "661.86",
        "fees": "0.00",
        "upfront_fees": "0.00",
        "total": "10661.86",
    }
    apr = document["apr"]
    assert apr["nominal_apr_percent"] == "12.00%"
    assert apr["effective_annual_percent"] == "12.68%"
    assert apr["method"] == "irr"
    assert apr["ceiling"]["status"] == "ok"
    # money is always a decimal string, never a JSON number
    assert all(isinstance(v, str) for v in document["totals"].values())


def test_worked_example_apr(tmp_path: Path) -> None:
    terms = {
        **TERMS,
        "principal": "100000",
        "annual_rate": "0.06",
        "interest_method": "flat",
        "fees": [{"kind": "upfront", "amount": "1000"}],
    }
    apr = json.loads(schedule(write(tmp_path, terms)).stdout)["apr"]
    assert (apr["nominal_apr_percent"], apr["effective_annual_percent"]) == ("12.80%", "13.58%")


def test_table_format(tmp_path: Path) -> None:
    result = schedule(write(tmp_path, TERMS), "--format", "table")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "n",
        "due_date",
        "days",
        "principal",
        "interest",
        "fees",
        "total",
        "balance_after",
    ]
    rows = lines[2:14]
    assert rows[0].split() == [
        "1",
        "2024-02-15",
        "31",
        "788.49",
        "100.00",
        "0.00",
        "888.49",
        "9211.51",
    ]
    # aligned: every row as wide as the header, numbers right-aligned under their column
    assert len({len(row) for row in rows}) == 1
    assert lines[0].index("balance_after") + len("balance_after") == len(rows[0])
    assert "12.00%" in result.stdout


def test_rate_ceiling_options(tmp_path: Path) -> None:
    path = write(tmp_path, TERMS)
    above = json.loads(schedule(path, "--ceiling", "0.10").stdout)["apr"]["ceiling"]
    assert above["status"] == "above_ceiling"
    lpr = json.loads(schedule(path, "--lpr", "0.0250").stdout)["apr"]["ceiling"]
    assert (lpr["status"], lpr["lpr_cap"]) == ("above_lpr_cap", "0.100000")


def test_no_database_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUHUI_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert schedule(write(tmp_path, TERMS)).exit_code == 0


BAD: list[tuple[str | dict[str, Any], str]] = [
    ('{"principal": "10000", ', "terms.malformed_json"),
    ("not json at all", "terms.malformed_json"),
    ("[1, 2]", "terms.not_an_object"),
    ({**TERMS, "principal": "0"}, "terms.non_positive_principal"),
    ({**TERMS, "principal": "-5"}, "terms.non_positive_principal"),
    ({**TERMS, "repayments": 0}, "terms.invalid_repayments"),
    ({**TERMS, "annual_rate": "12"}, "terms.rate_out_of_range"),
    ({**TERMS, "tenor_months": 12}, "terms.unknown_field"),
    ({**TERMS, "principal": 10000.5}, "terms.invalid_number"),
    ({**TERMS, "first_repayment_date": "2024-01-01"}, "terms.date_before_disbursement"),
    ({k: v for k, v in TERMS.items() if k != "annual_rate"}, "terms.missing_field"),
    (
        '{"principal": "1", "principal": "2", "annual_rate": "0.1", "repayments": 1,'
        ' "disbursement_date": "2024-01-01"}',
        "terms.duplicate_field",
    ),
    (
        {**TERMS, "conventions": "fineract_progressive", "amortization": "bullet"},
        "terms.unsupported_by_conventions",
    ),
]


@pytest.mark.parametrize(("content", "code"), BAD)
def test_bad_terms_exit_2_with_a_code(
    tmp_path: Path, content: str | dict[str, Any], code: str
) -> None:
    result = schedule(write(tmp_path, content))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error [{code}]: ")
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert result.stdout == ""


def test_missing_file(tmp_path: Path) -> None:
    result = schedule(tmp_path / "absent.json")
    assert result.exit_code == 2
    assert result.stderr.startswith("error [terms.unreadable_file]: ")


def test_bad_threshold_option(tmp_path: Path) -> None:
    result = schedule(write(tmp_path, TERMS), "--ceiling", "lots")
    assert result.exit_code == 2
    assert result.stderr.startswith("error [apr.invalid_threshold]: ")
