"""Loan servicing through the API on both databases: book, disburse, repay, prepay, reverse;
the general ledger balances and equals each loan's replayed journal (R-10.2e,f, R-10.3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.domain.lending.ledger import TrialBalance
from puhui.services.platform import set_business_date
from tests.integration.conftest import login, make_user, table_counts

TERMS = {
    "principal": "12000.00",
    "annual_rate": "0.12",
    "repayments": 12,
    "disbursement_date": "2026-01-15",
    "amortization": "equal_principal",
}


@pytest.fixture
def officer(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "li.officer", "loan_officer")
    set_business_date(platform.ctx, SYSTEM, date(2026, 1, 15), allow_backwards=True)
    return login(client, "li.officer")


def on(platform: Platform, day: str) -> None:
    set_business_date(platform.ctx, SYSTEM, date.fromisoformat(day))


def assert_gl_equals_replay(platform: Platform, loan_id: int) -> None:
    with platform.ctx.uow() as uow:
        loan = uow.loans.get(loan_id)
        posted = uow.loans.gl_balances(loan_id)
    truth = TrialBalance.of(loan.current_journal())
    assert truth.balanced
    assert {a: v for a, v in posted.items() if v} == {
        a: truth.balance(a)
        for a in posted.keys() | {r.account for r in truth.rows}
        if truth.balance(a)
    }


def test_book_disburse_repay_and_close(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    r = client.post(
        "/api/v1/loans", headers=officer, json={"terms": TERMS, "product_code": "MICRO-BIZ"}
    )
    assert r.status_code == 201, r.text
    loan = r.json()
    loan_id = loan["loan_id"]
    assert loan["status"] == "approved" and len(loan["schedule"]["periods"]) == 12
    first = loan["schedule"]["periods"][0]
    assert first["principal"] == "1000.00" and first["due_date"] == "2026-02-15"
    r = client.post(f"/api/v1/loans/{loan_id}/disbursement", headers=officer)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    on(platform, "2026-02-15")
    r = client.post(
        f"/api/v1/loans/{loan_id}/repayments", headers=officer, json={"amount": first["total"]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["principal_outstanding"] == "11000.00"
    assert_gl_equals_replay(platform, loan_id)
    # full prepayment on a later day closes the loan
    on(platform, "2026-03-01")
    r = client.post(f"/api/v1/loans/{loan_id}/prepayments", headers=officer, json={})
    assert r.status_code == 200 and r.json()["status"] == "closed", r.text
    assert_gl_equals_replay(platform, loan_id)
    tb = client.get("/api/v1/ledger/trial-balance", headers=officer).json()
    assert tb["balanced"] is True
    balances = {a["code"]: a["balance"] for a in tb["accounts"]}
    assert balances["130301"] == "0.00"  # principal receivable fully repaid


def test_reversal_replays_later_transactions(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    loan_id = client.post(
        "/api/v1/loans", headers=officer, json={"terms": TERMS, "product_code": "MICRO-BIZ"}
    ).json()["loan_id"]
    client.post(f"/api/v1/loans/{loan_id}/disbursement", headers=officer).raise_for_status()
    on(platform, "2026-02-15")
    view = client.get(f"/api/v1/loans/{loan_id}", headers=officer).json()
    due = view["schedule"]["periods"][0]["total"]
    client.post(
        f"/api/v1/loans/{loan_id}/repayments", headers=officer, json={"amount": due}
    ).raise_for_status()
    txn = client.get(f"/api/v1/loans/{loan_id}", headers=officer).json()["transactions"][-1]
    assert txn["type"] == "repayment"
    on(platform, "2026-02-20")
    r = client.post(f"/api/v1/loans/{loan_id}/transactions/{txn['id']}/reversal", headers=officer)
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["principal_outstanding"] == "12000.00"
    assert state["days_past_due"] == 5 and state["class"] == "special_mention"
    assert_gl_equals_replay(platform, loan_id)


BAD = [
    ({"amount": "-5"}, "loan.non_positive_amount"),
    ({"amount": "0"}, "loan.non_positive_amount"),
    ({"amount": "999999"}, "loan.overpayment"),
    ({"amount": 5}, "request.invalid_fields"),
    ({"amount": "5", "extra": 1}, "request.unknown_field"),
]


@pytest.mark.parametrize(("body", "code"), BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_repayments_change_nothing(
    platform: Platform, client: TestClient, officer: dict[str, str], body: dict, code: str
) -> None:
    loan_id = client.post(
        "/api/v1/loans", headers=officer, json={"terms": TERMS, "product_code": "MICRO-BIZ"}
    ).json()["loan_id"]
    client.post(f"/api/v1/loans/{loan_id}/disbursement", headers=officer).raise_for_status()
    before = table_counts(platform)
    r = client.post(f"/api/v1/loans/{loan_id}/repayments", headers=officer, json=body)
    assert r.status_code in (409, 422) and r.json()["code"] == code, r.text
    assert table_counts(platform) == before


def test_bad_terms_and_closed_loans(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    before = table_counts(platform)
    for terms, code in (
        ({**TERMS, "principal": "0"}, "terms.non_positive_principal"),
        ({**TERMS, "repayments": 0}, "terms.invalid_repayments"),
        ({**TERMS, "annual_rate": "0.36"}, "product.rate_out_of_range"),
        ({**TERMS, "principal": 12000.5}, "terms.invalid_number"),
        ({**TERMS, "colour": "red"}, "terms.unknown_field"),
        ({**TERMS, "first_repayment_date": "2026-01-01"}, "terms.date_before_disbursement"),
    ):
        r = client.post(
            "/api/v1/loans", headers=officer, json={"terms": terms, "product_code": "MICRO-BIZ"}
        )
        assert r.status_code == 422 and r.json()["code"] == code, (code, r.text)
    assert table_counts(platform) == before
    loan_id = client.post(
        "/api/v1/loans", headers=officer, json={"terms": TERMS, "product_code": "MICRO-BIZ"}
    ).json()["loan_id"]
    r = client.post(f"/api/v1/loans/{loan_id}/repayments", headers=officer, json={"amount": "10"})
    assert r.status_code in (409, 422)
    client.post(f"/api/v1/loans/{loan_id}/disbursement", headers=officer).raise_for_status()
    client.post(f"/api/v1/loans/{loan_id}/prepayments", headers=officer, json={}).raise_for_status()
    before = table_counts(platform)
    r = client.post(f"/api/v1/loans/{loan_id}/repayments", headers=officer, json={"amount": "10"})
    assert r.status_code == 409 and r.json()["code"] == "loan.not_repayable"
    assert table_counts(platform) == before


def test_eod_then_repayment_trues_up_the_ledger(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    from puhui.adapters.batch.eod import run_eod

    loan_id = client.post(
        "/api/v1/loans", headers=officer, json={"terms": TERMS, "product_code": "MICRO-BIZ"}
    ).json()["loan_id"]
    client.post(f"/api/v1/loans/{loan_id}/disbursement", headers=officer).raise_for_status()
    for day in range(15, 32):
        run_eod(platform.engine, date(2026, 1, day))
    on(platform, "2026-02-01")
    with platform.ctx.uow() as uow:
        provisional = uow.loans.gl_balances(loan_id)
    assert provisional, "end of day posted accruals"
    client.post(
        f"/api/v1/loans/{loan_id}/repayments", headers=officer, json={"amount": "100.00"}
    ).raise_for_status()
    assert_gl_equals_replay(platform, loan_id)


def test_quote_shows_the_irr_rate(client: TestClient) -> None:
    r = client.post(
        "/api/v1/loan-quotes",
        json={
            "principal": "100000",
            "annual_rate": "0.1090",
            "repayments": 12,
            "disbursement_date": "2026-01-01",
            "fees": [{"kind": "upfront", "amount": "1000"}],
        },
    )
    assert r.status_code == 200, r.text
    apr = r.json()["apr"]
    assert apr["label_en"] and apr["simple_label_en"] and apr["ceiling"]["status"] == "ok"
    assert abs(Decimal(apr["nominal_apr"]) - Decimal("0.1280")) < Decimal("0.002")


def test_products_limit_what_can_be_booked(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    products = {p["code"]: p for p in client.get("/api/v1/products").json()}
    assert {"MICRO-BIZ", "INDIV-BIZ", "CONSUMER"} <= set(products)
    assert products["CONSUMER"]["max_principal"] == "200000"
    before = table_counts(platform)
    for product, terms, code in (
        ("CONSUMER", {**TERMS, "principal": "250000"}, "product.amount_out_of_range"),
        (
            "CONSUMER",
            {**TERMS, "amortization": "equal_principal"},
            "product.amortization_not_offered",
        ),
        (
            "CONSUMER",
            {**TERMS, "amortization": "bullet", "repayments": 13},
            "product.bullet_too_long",
        ),
        ("INDIV-BIZ", {**TERMS, "repayments": 30}, "product.term_out_of_range"),
        ("INDIV-BIZ", {**TERMS, "annual_rate": "0.02"}, "product.rate_out_of_range"),
        ("NOPE", TERMS, "product.not_found"),
    ):
        r = client.post(
            "/api/v1/loans", headers=officer, json={"terms": terms, "product_code": product}
        )
        assert r.json().get("code") == code, (product, code, r.text)
        assert r.status_code in (404, 422)
    # within the product's rate range, but fees push the annualized cost over the ceiling
    costly = {
        **TERMS,
        "amortization": "equal_installments",
        "annual_rate": "0.23",
        "fees": [{"kind": "upfront", "rate": "0.03"}],
    }
    r = client.post(
        "/api/v1/loans", headers=officer, json={"terms": costly, "product_code": "CONSUMER"}
    )
    assert r.status_code == 422 and r.json()["code"] == "loan.rate_above_ceiling", r.text
    assert Decimal(r.json()["details"]["apr"]) > Decimal("0.24")
    assert table_counts(platform) == before
    r = client.post(
        "/api/v1/loans",
        headers=officer,
        json={"terms": {**TERMS, "amortization": "equal_installments"}, "product_code": "CONSUMER"},
    )
    assert r.status_code == 201 and r.json()["product_code"] == "CONSUMER"
    # a one-year consumer bullet loan is allowed (REFERENCE §2: at most one year)
    one_year = {**TERMS, "amortization": "bullet", "repayments": 12}
    r = client.post(
        "/api/v1/loans", headers=officer, json={"terms": one_year, "product_code": "CONSUMER"}
    )
    assert r.status_code == 201, r.text


def test_write_off_needs_a_checker_then_recovery(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    loan_id = client.post(
        "/api/v1/loans", headers=officer, json={"terms": TERMS, "product_code": "MICRO-BIZ"}
    ).json()["loan_id"]
    client.post(f"/api/v1/loans/{loan_id}/disbursement", headers=officer).raise_for_status()
    on(platform, "2026-09-01")
    r = client.post(
        f"/api/v1/loans/{loan_id}/write-off-requests",
        headers=officer,
        json={"reason": "debtor absconded; recovery efforts exhausted"},
    )
    assert r.status_code == 202, r.text
    pending = r.json()["pending_action_id"]
    assert client.get(f"/api/v1/loans/{loan_id}", headers=officer).json()["status"] == "overdue"
    # the officer cannot check their own request, and lacks approvals.check anyway
    assert (
        client.post(f"/api/v1/approvals/{pending}/approve", headers=officer, json={}).status_code
        == 403
    )
    make_user(platform, "zhao.reviewer", "reviewer")
    r = client.post(
        f"/api/v1/approvals/{pending}/approve",
        headers=login(client, "zhao.reviewer"),
        json={"reason": "ok"},
    )
    assert r.status_code == 200, r.text
    view = client.get(f"/api/v1/loans/{loan_id}", headers=officer).json()
    assert view["status"] == "written_off" and view["class"] == "loss"
    assert view["ledger"].get("130301", "0.00") == "0.00"  # off the books
    r = client.post(
        f"/api/v1/loans/{loan_id}/recoveries", headers=officer, json={"amount": "500.00"}
    )
    assert r.status_code == 200, r.text
    assert_gl_equals_replay(platform, loan_id)
    r = client.post(
        f"/api/v1/loans/{loan_id}/write-off-requests",
        headers=officer,
        json={"reason": "again please"},
    )
    assert r.status_code == 409
    # ending recovery takes two people too; afterwards nothing more can be recovered
    r = client.post(
        f"/api/v1/loans/{loan_id}/charge-off-requests", headers=officer, json={"reason": "x"}
    )
    assert r.status_code == 422 and r.json()["code"] == "loan.charge_off_reason"
    r = client.post(
        f"/api/v1/loans/{loan_id}/charge-off-requests",
        headers=officer,
        json={"reason": "court ruled the claim unrecoverable"},
    )
    assert r.status_code == 202, r.text
    r = client.post(
        f"/api/v1/approvals/{r.json()['pending_action_id']}/approve",
        headers=login(client, "zhao.reviewer"),
        json={"reason": "ruling on file"},
    )
    assert r.status_code == 200, r.text
    view = client.get(f"/api/v1/loans/{loan_id}", headers=officer).json()
    assert view["status"] == "charged_off"
    assert_gl_equals_replay(platform, loan_id)
    r = client.post(f"/api/v1/loans/{loan_id}/recoveries", headers=officer, json={"amount": "1.00"})
    assert r.status_code == 409


def test_a_charged_fee_is_collected_with_the_next_installment(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    loan_id = client.post(
        "/api/v1/loans", headers=officer, json={"terms": TERMS, "product_code": "MICRO-BIZ"}
    ).json()["loan_id"]
    client.post(f"/api/v1/loans/{loan_id}/disbursement", headers=officer).raise_for_status()
    for bad in ("-5.00", "0", "abc"):
        r = client.post(f"/api/v1/loans/{loan_id}/fees", headers=officer, json={"amount": bad})
        assert r.status_code == 422, r.text
    r = client.post(f"/api/v1/loans/{loan_id}/fees", headers=officer, json={"amount": "25.00"})
    assert r.status_code == 200, r.text
    assert_gl_equals_replay(platform, loan_id)
    with platform.engine.connect() as conn:
        closing = conn.execute(
            sa.select(t.loan_positions.c.closing).where(t.loan_positions.c.loan_id == loan_id)
        ).scalar_one()
    assert closing == "replay"  # end of day now closes it by replay
