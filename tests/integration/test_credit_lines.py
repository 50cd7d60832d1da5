"""Revolving credit lines through the API on both databases: draw within the limit, daily
interest on what is drawn, repay any time, reverse; the ledger equals the replay (R-10.3)."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.domain.lending.ledger import TrialBalance
from puhui.services.platform import set_business_date
from tests.integration.conftest import login, make_user, table_counts

LINE = {
    "limit": "100000.00",
    "annual_rate": "0.073",
    "expires_on": "2027-01-01",
    "days_in_year": 365,
}


@pytest.fixture
def officer(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "li.officer", "loan_officer")
    set_business_date(platform.ctx, SYSTEM, date(2026, 1, 1), allow_backwards=True)
    return login(client, "li.officer")


def on(platform: Platform, day: str) -> None:
    set_business_date(platform.ctx, SYSTEM, date.fromisoformat(day))


def test_draw_accrue_repay(platform: Platform, client: TestClient, officer: dict[str, str]) -> None:
    r = client.post("/api/v1/credit-lines", headers=officer, json={"terms": LINE})
    assert r.status_code == 201, r.text
    line_id = r.json()["credit_line_id"]
    assert r.json()["available"] == "100000.00"
    r = client.post(
        f"/api/v1/credit-lines/{line_id}/drawdowns", headers=officer, json={"amount": "30000.00"}
    )
    assert r.status_code == 200 and r.json()["available"] == "70000.00", r.text
    on(platform, "2026-01-11")  # 7.3 % / 365 on 30,000: 6.00 a day
    view = client.get(f"/api/v1/credit-lines/{line_id}", headers=officer).json()
    assert view["interest_outstanding"] == "66.00"  # at the end of today: 11 days
    r = client.post(
        f"/api/v1/credit-lines/{line_id}/repayments", headers=officer, json={"amount": "10060.00"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["principal_outstanding"] == "20000.00"
    # it paid the 10 days before today; today's interest runs on the 20,000 left
    assert r.json()["interest_outstanding"] == "4.00"
    assert r.json()["available"] == "80000.00"
    with platform.ctx.uow() as uow:
        line = uow.credit_lines.get(line_id)
        posted = uow.credit_lines.gl_balances(line_id)
    truth = TrialBalance.of(line.current_journal())
    assert truth.balanced
    assert posted == {
        a.code: truth.balance(a) for a in {r.account for r in truth.rows} if truth.balance(a)
    }


def test_refusals_change_nothing(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    line_id = client.post("/api/v1/credit-lines", headers=officer, json={"terms": LINE}).json()[
        "credit_line_id"
    ]
    before = table_counts(platform)
    for path, amount, code in (
        ("drawdowns", "100000.01", "credit_line.over_limit"),
        ("drawdowns", "50.00", "credit_line.below_minimum"),
        ("drawdowns", "-1", "credit_line.non_positive_amount"),
        ("repayments", "10.00", "credit_line.overpayment"),
    ):
        r = client.post(
            f"/api/v1/credit-lines/{line_id}/{path}", headers=officer, json={"amount": amount}
        )
        assert r.status_code in (409, 422) and r.json()["code"] == code, (code, r.text)
    r = client.post(
        "/api/v1/credit-lines", headers=officer, json={"terms": {**LINE, "colour": "red"}}
    )
    assert r.status_code == 422 and r.json()["code"] == "credit_line.unknown_field"
    r = client.post("/api/v1/credit-lines", headers=officer, json={"terms": {**LINE, "limit": "0"}})
    assert r.status_code == 422
    assert table_counts(platform) == before


def test_overdue_drawdown_blocks_new_ones(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    line_id = client.post(
        "/api/v1/credit-lines",
        headers=officer,
        json={"terms": {**LINE, "term_days_per_drawdown": 30}},
    ).json()["credit_line_id"]
    client.post(
        f"/api/v1/credit-lines/{line_id}/drawdowns", headers=officer, json={"amount": "1000.00"}
    ).raise_for_status()
    on(platform, "2026-02-05")
    view = client.get(f"/api/v1/credit-lines/{line_id}", headers=officer).json()
    assert view["status"] == "overdue" and view["days_past_due"] == 5
    assert view["class"] == "special_mention"
    r = client.post(
        f"/api/v1/credit-lines/{line_id}/drawdowns", headers=officer, json={"amount": "500.00"}
    )
    assert r.status_code == 409 and r.json()["code"] == "credit_line.overdue_blocked"


def test_a_drawdown_fee_through_the_api(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    terms = {**LINE, "drawdown_fee_rate": "0.004", "drawdown_fee": "5.00"}
    r = client.post("/api/v1/credit-lines", headers=officer, json={"terms": terms})
    assert r.status_code == 201, r.text
    line_id = r.json()["credit_line_id"]
    r = client.post(
        f"/api/v1/credit-lines/{line_id}/drawdowns", headers=officer, json={"amount": "10000.00"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["fee_outstanding"] == "45.00"  # 0.4 % of 10,000 + 5.00
    with platform.ctx.uow() as uow:
        assert uow.credit_lines.gl_balances(line_id)["122101"] == 45
    bad = client.post(
        "/api/v1/credit-lines",
        headers=officer,
        json={"terms": {**LINE, "drawdown_fee_rate": "0.5"}},
    )
    assert bad.status_code == 422 and bad.json()["code"] == "credit_line.invalid_drawdown_fee"
