"""Sub-ledger ↔ GL reconciliation after online servicing and end of day; the loan CLI."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from puhui.adapters.batch.eod import run_eod
from puhui.adapters.cli.main import app as cli
from puhui.bootstrap import Platform
from puhui.domain.identity import SYSTEM
from puhui.services import servicing
from puhui.services.platform import set_business_date
from tests.integration.conftest import login, make_user

TERMS = {
    "principal": "24000.00",
    "annual_rate": "0.0875",
    "repayments": 6,
    "disbursement_date": "2026-03-03",
    "amortization": "equal_installments",
}


def test_book_repay_eod_and_reconcile(platform: Platform, client: TestClient) -> None:
    set_business_date(platform.ctx, SYSTEM, date(2026, 3, 3), allow_backwards=True)
    ids = []
    for amortization in ("equal_installments", "equal_principal", "interest_only"):
        loan_id = servicing.book_loan(
            platform.ctx, SYSTEM, {**TERMS, "amortization": amortization}, product_code="MICRO-BIZ"
        )
        servicing.disburse(platform.ctx, SYSTEM, loan_id)
        ids.append(loan_id)
    day = date(2026, 3, 4)
    while day <= date(2026, 6, 10):
        set_business_date(platform.ctx, SYSTEM, day)
        if day.day == 3:  # the first loan pays its installment on the due date
            due = servicing.view_loan(platform.ctx, SYSTEM, ids[0]).state
            owed = sum((i.unpaid.total for i in due.installments if i.due_date <= day), start=0)
            if owed:
                servicing.repay(platform.ctx, SYSTEM, ids[0], str(owed))
        run_eod(platform.engine, day)
        day += timedelta(days=1)
    make_user(platform, "aud", "auditor")
    body = client.get("/api/v1/ledger/reconciliation", headers=login(client, "aud")).json()
    assert body["reconciled"] is True, body
    assert (
        client.get("/api/v1/ledger/trial-balance", headers=login(client, "aud")).json()["balanced"]
        is True
    )
    classes = client.get("/api/v1/portfolio/classification", headers=login(client, "aud")).json()[
        "classes"
    ]
    assert {c["class"] for c in classes} >= {"normal", "special_mention"}


def test_loan_commands(platform: Platform, tmp_path: Path) -> None:
    env = {"PUHUI_DATABASE_URL": platform.settings.database_url, "PUHUI_ENVIRONMENT": "test"}
    run = CliRunner()
    terms = tmp_path / "terms.json"
    terms.write_text(json.dumps(TERMS), encoding="utf-8")
    assert (
        run.invoke(
            cli, ["business-date", "set", "2026-03-03", "--allow-backwards"], env=env
        ).exit_code
        == 0
    )
    r = run.invoke(cli, ["loan", "book", "--terms", str(terms), "--product", "MICRO-BIZ"], env=env)
    assert r.exit_code == 0 and "loan 1 approved" in r.output, r.output
    assert run.invoke(cli, ["loan", "disburse", "1"], env=env).exit_code == 0
    assert run.invoke(cli, ["business-date", "set", "2026-04-03"], env=env).exit_code == 0
    r = run.invoke(cli, ["loan", "repay", "1", "99999999"], env=env)
    assert r.exit_code == 2 and "loan.overpayment" in r.output
    r = run.invoke(cli, ["loan", "repay", "1", "1000.00"], env=env)
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["loan", "show", "1"], env=env)
    found = re.search(r"#(\d+) 2026-04-03 repayment 1,000.00", r.output)
    assert found, r.output
    r = run.invoke(cli, ["loan", "reverse", "1", found.group(1)], env=env)
    assert r.exit_code == 0, r.output
    r = run.invoke(cli, ["loan", "prepay", "1"], env=env)
    assert r.exit_code == 0 and "closed" in r.output, r.output
    r = run.invoke(cli, ["ledger", "reconcile"], env=env)
    assert r.exit_code == 0 and "reconciled" in r.output, r.output
