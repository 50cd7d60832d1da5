"""E-contracts through the API on both databases (R-9.4, R-10.2(d,g), R-11.3(d,e), R-9.5(g)):
an approved application is offered its loan contract, the borrower signs it with a one-time
code, the branch seals it, both with trusted time-stamps and evidence log leaves; the exported
evidence bundle verifies with ``puhui-verify`` and no database; the loan is booked from the
contract; the archives find all of it. Refusals — an expired offer, a second signature, a wrong
code, someone else's contract, an application not approved, an amount above the limit, a bad
account number — answer with a clear problem and change nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from puhui.adapters.db import tables as t
from puhui.adapters.providers.datasources import sandbox_uscc
from puhui.adapters.verify import verify_bytes
from puhui.bootstrap import Platform
from puhui.domain.identifiers import luhn_complete
from puhui.domain.identity import SYSTEM
from puhui.services.platform import set_business_date
from tests.integration.conftest import login, make_user, table_counts
from tests.integration.test_decisions import TODAY, application, decide, grant, person

PROBLEM = "application/problem+json"
MOBILE = "13812345678"  # the applicant's mobile in test_decisions.application
CARD = luhn_complete("621700123456789012")
NAME = "张三"


@pytest.fixture
def officer(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "li.officer", "loan_officer")
    set_business_date(platform.ctx, SYSTEM, TODAY, allow_backwards=True)
    return login(client, "li.officer")


@pytest.fixture
def auditor(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "zhao.auditor", "auditor")
    return login(client, "zhao.auditor")


def customer_session(
    client: TestClient, platform: Platform, resident_id: str, phone: str = MOBILE
) -> dict[str, str]:
    """Log in by phone and code, then verify the identity (name + ID number)."""
    assert client.post("/api/v1/customer/login-code", json={"phone": phone}).status_code == 202
    code = platform.sms.last_code(phone)
    r = client.post("/api/v1/customer/session", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = client.put(
        "/api/v1/customer/me/identity",
        headers=headers,
        json={"name": NAME, "id_number": resident_id},
    )
    assert r.status_code == 200, r.text
    return headers


def approved(client: TestClient, officer: dict[str, str], app_id: str, code: int = 900) -> int:
    rid = person(code)
    grant(client, officer, rid)
    d = decide(client, officer, application(app_id, rid, sandbox_uscc("Y00", serial=code)))
    assert d["status"] == "approved", d["reasons"]
    return int(d["application_id"])


def offer(client: TestClient, officer: dict[str, str], app: int, **body: Any) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/applications/{app}/contract",
        headers=officer,
        json={"disbursement_account": CARD, **body},
    )
    assert r.status_code == 201, r.text
    contract: dict[str, Any] = r.json()
    return contract


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def sign(client: TestClient, platform: Platform, customer: dict[str, str], contract_id: str) -> Any:
    url = f"/api/v1/customer/contracts/{contract_id}"
    assert client.post(f"{url}/signing-code", headers=customer).status_code == 202
    code = platform.sms.last_code(MOBILE)
    return client.post(f"{url}/signature", headers=customer, json={"code": code})


def test_offer_sign_seal_export_verify_book_and_find(
    platform: Platform,
    client: TestClient,
    officer: dict[str, str],
    auditor: dict[str, str],
    tmp_path: Path,
) -> None:
    app = approved(client, officer, "APP-CONTRACT-1")
    c = offer(client, officer, app)
    assert c["status"] == "offered" and c["template"]["id"] == "loan_contract"
    terms = c["terms"]
    assert Decimal(terms["loan_terms"]["principal"]) <= Decimal(terms["approved_limit"])
    assert Decimal(terms["apr_irr"]) >= Decimal(terms["loan_terms"]["annual_rate"]) - Decimal(
        "0.0001"
    )
    assert (
        terms["disbursement_account_masked"].endswith(CARD[-4:])
        and "*" in (terms["disbursement_account_masked"])
    )
    pdf = client.get(f"/api/v1/contracts/{c['contract_id']}/pdf", headers=officer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    customer = customer_session(client, platform, person(900))
    mine = client.get("/api/v1/customer/contracts", headers=customer).json()
    assert [m["contract_id"] for m in mine] == [c["contract_id"]]
    own_pdf = client.get(f"/api/v1/customer/contracts/{c['contract_id']}/pdf", headers=customer)
    assert own_pdf.content == pdf.content
    message = platform.sms.messages_to(MOBILE)[-1]["text"]

    r = sign(client, platform, customer, c["contract_id"])
    assert r.status_code == 200, r.text
    signed = r.json()
    assert signed["status"] == "sealed"  # the branch's seal follows the signature
    assert [h["to"] for h in signed["history"]] == ["offered", "signed", "sealed"]
    assert set(signed["evidence_leaves"]) == {"contract_signed", "contract_sealed"}
    sms = platform.sms.messages_to(MOBILE)[-1]["text"]
    assert c["contract_number"] in sms and "借款金额" in sms and sms != message

    bundle = client.get(f"/api/v1/contracts/{c['contract_id']}/evidence-bundle", headers=auditor)
    assert bundle.status_code == 200, bundle.text
    report = verify_bytes(bundle.content)
    assert report.exit_code == 0, "\n".join(report.lines())
    document = json.loads(bundle.content)
    assert document["notary_receipt"] is not None
    assert [e["leaf"]["event_type"] for e in document["evidence"]] == [
        "contract_signed",
        "contract_sealed",
    ]
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle.content)
    run = subprocess.run(
        [sys.executable, "-m", "puhui.adapters.verify", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    tampered = bytearray(bundle.content)
    at = bundle.content.index(b'"document_digest": "') + len(b'"document_digest": "')
    tampered[at] = ord("0") if tampered[at] != ord("0") else ord("1")
    assert verify_bytes(bytes(tampered)).exit_code == 1

    booked = client.post(f"/api/v1/contracts/{c['contract_id']}/loan", headers=officer)
    assert booked.status_code == 201, booked.text
    loan_id = booked.json()["loan_id"]
    after = client.get(f"/api/v1/contracts/{c['contract_id']}", headers=officer).json()
    assert (after["status"], after["loan_id"]) == ("archived", loan_id)
    loan = client.get(f"/api/v1/loans/{loan_id}", headers=officer)
    assert loan.status_code == 200, loan.text

    found = client.get(
        "/api/v1/archives", headers=auditor, params={"resident_id": person(900)}
    ).json()
    kinds = {(i["kind"], i["type"]) for i in found}
    assert ("contract", "loan_contract") in kinds
    assert ("authorization", "credit_report") in kinds
    assert {("evidence", "contract_signed"), ("evidence", "contract_sealed")} <= kinds
    assert ("evidence", "decision_made") in kinds
    by_loan = client.get("/api/v1/archives", headers=auditor, params={"loan_id": loan_id}).json()
    assert [i["reference"] for i in by_loan if i["kind"] == "contract"] == [
        f"contract:{c['contract_id']}"
    ]
    only = client.get(
        "/api/v1/archives",
        headers=auditor,
        params={"contract_id": c["contract_id"], "type": "evidence"},
    ).json()
    assert {i["kind"] for i in only} == {"evidence"}
    with platform.engine.connect() as conn:
        actions = [
            r[0] for r in conn.execute(sa.select(t.audit_log.c.action).order_by(t.audit_log.c.seq))
        ]
    for action in (
        "contracts.offer",
        "contracts.request_signing_code",
        "contracts.sign",
        "contracts.seal",
        "contracts.export_evidence",
        "contracts.book_loan",
        "archives.search",
    ):
        assert action in actions


def test_a_second_signature_and_a_wrong_code_change_nothing(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    app = approved(client, officer, "APP-CONTRACT-2")
    c = offer(client, officer, app)
    customer = customer_session(client, platform, person(900))
    url = f"/api/v1/customer/contracts/{c['contract_id']}"
    assert client.post(f"{url}/signing-code", headers=customer).status_code == 202
    code = platform.sms.last_code(MOBILE)
    wrong = "000000" if code != "000000" else "111111"
    before = table_counts(platform)
    problem(client.post(f"{url}/signature", headers=customer, json={"code": wrong}), 401,
            "otp.wrong_code")  # fmt: skip
    counts = table_counts(platform)
    assert counts["contracts"] == before["contracts"]
    assert counts["evidence_leaves"] == before["evidence_leaves"]
    status = client.get(f"/api/v1/contracts/{c['contract_id']}", headers=officer).json()
    assert status["status"] == "offered"

    r = client.post(f"{url}/signature", headers=customer, json={"code": code})
    assert r.status_code == 200, r.text
    before = table_counts(platform)
    problem(client.post(f"{url}/signing-code", headers=customer), 409, "contract.already_signed")
    problem(client.post(f"{url}/signature", headers=customer, json={"code": code}), 409,
            "contract.already_signed")  # fmt: skip
    problem(client.post(f"/api/v1/contracts/{c['contract_id']}/seal", headers=officer), 409,
            "contract.already_sealed")  # fmt: skip
    assert table_counts(platform) == {**before, "audit_log": table_counts(platform)["audit_log"]}


def lapse(platform: Platform, contract_id: str) -> None:
    """Move the offer a week into the past: offered 8 days ago, expired yesterday."""
    now = platform.ctx.clock()
    with platform.engine.begin() as conn:
        conn.execute(
            sa.update(t.contracts)
            .where(t.contracts.c.contract_id == contract_id)
            .values(created_at=now - timedelta(days=8), offer_expires_at=now - timedelta(days=1))
        )


def test_an_expired_offer_cannot_be_signed(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    app = approved(client, officer, "APP-CONTRACT-3")
    c = offer(client, officer, app)
    customer = customer_session(client, platform, person(900))
    url = f"/api/v1/customer/contracts/{c['contract_id']}"
    assert client.post(f"{url}/signing-code", headers=customer).status_code == 202
    code = platform.sms.last_code(MOBILE)
    lapse(platform, c["contract_id"])  # a week has passed without a signature
    before = table_counts(platform)
    body = problem(
        client.post(f"{url}/signature", headers=customer, json={"code": code}),
        409,
        "contract.offer_expired",
    )
    assert body["details"]["contract_id"] == c["contract_id"]
    assert table_counts(platform) == before
    problem(client.post(f"{url}/signing-code", headers=customer), 409, "contract.offer_expired")
    withdrawn = client.post(
        f"/api/v1/contracts/{c['contract_id']}/withdrawal",
        headers=officer,
        json={"reason": "客户未在有效期内签署"},
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = offer(client, officer, app)  # a new offer once the old one is withdrawn
    assert again["contract_id"] != c["contract_id"]


def test_bad_offers_and_strangers_are_refused_and_nothing_is_saved(
    platform: Platform, client: TestClient, officer: dict[str, str]
) -> None:
    app = approved(client, officer, "APP-CONTRACT-4")
    before = table_counts(platform)
    url = f"/api/v1/applications/{app}/contract"
    cases = [
        ({"disbursement_account": "6217001234567890123"}, 422, "identifier.bank_card.checksum"),
        ({"disbursement_account": CARD, "amount": "99999999"}, 422, "contract.above_limit"),
        ({"disbursement_account": CARD, "amount": "-5"}, 422, "contract.invalid_amount"),
        ({"disbursement_account": CARD, "language": "fr"}, 422, "contract.invalid_language"),
        ({"disbursement_account": CARD, "repayment_method": "balloon"}, 422, None),
        ({"disbursement_account": CARD, "surprise": 1}, 422, None),
    ]
    for body, status, code in cases:
        r = client.post(url, headers=officer, json=body)
        assert r.status_code == status, (body, r.text)
        if code is not None:
            assert r.json()["code"] == code, (body, r.json())
    problem(client.post("/api/v1/applications/999999/contract", headers=officer,
                        json={"disbursement_account": CARD}), 404,
            "risk.application.not_found")  # fmt: skip
    counts = table_counts(platform)
    assert counts["contracts"] == before["contracts"] == 0

    declined_rid = person(901)  # the sandbox's sanction-list hit: declined
    grant(client, officer, declined_rid)
    d = decide(
        client, officer, application("APP-CONTRACT-5", declined_rid, sandbox_uscc("Y00", serial=7))
    )
    assert d["status"] != "approved"
    problem(client.post(f"/api/v1/applications/{d['application_id']}/contract",
                        headers=officer, json={"disbursement_account": CARD}), 409,
            "contract.application_not_approved")  # fmt: skip

    c = offer(client, officer, app)
    problem(client.post(url, headers=officer, json={"disbursement_account": CARD}), 409,
            "contract.exists")  # fmt: skip
    stranger = customer_session(client, platform, person(900, day=16), phone="13912345678")
    problem(client.get(f"/api/v1/customer/contracts/{c['contract_id']}/pdf", headers=stranger),
            404, "contract.not_found")  # fmt: skip
    problem(client.post(f"/api/v1/customer/contracts/{c['contract_id']}/signing-code",
                        headers=stranger), 404, "contract.not_found")  # fmt: skip
    assert client.get("/api/v1/customer/contracts", headers=stranger).json() == []
    problem(client.get(f"/api/v1/contracts/{c['contract_id']}/evidence-bundle",
                       headers=officer), 409, "contract.not_sealed")  # fmt: skip
    problem(client.get("/api/v1/archives", headers=officer), 422, "archives.no_filter")
    problem(client.get("/api/v1/archives", headers=officer,
                       params={"loan_id": 1, "type": "letters"}), 422,
            "archives.invalid_type")  # fmt: skip


def test_cli_exports_a_bundle_watches_the_log_and_searches_archives(
    platform: Platform, client: TestClient, officer: dict[str, str], tmp_path: Path
) -> None:
    from tests.integration.test_cli import run

    app = approved(client, officer, "APP-CONTRACT-6")
    c = offer(client, officer, app)
    customer = customer_session(client, platform, person(900))
    assert sign(client, platform, customer, c["contract_id"]).status_code == 200

    watched = run(platform, "evidence", "watch", "--interval", "0", "--rounds", "2")
    assert watched.exit_code == 0, watched.output
    assert watched.output.count("signed") == 1 and "notarized (SBX-" in watched.output
    out = tmp_path / "c.bundle.json"
    exported = run(platform, "evidence", "bundle", c["contract_id"], "--out", str(out))
    assert exported.exit_code == 0, exported.output
    check = subprocess.run(
        [sys.executable, "-m", "puhui.adapters.verify", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "✗" not in check.stdout

    found = run(platform, "archives", "search", "--application", str(app), "--type", "evidence")
    assert found.exit_code == 0, found.output
    types = {json.loads(line)["type"] for line in found.output.splitlines()}
    assert {"application_submitted", "decision_made", "contract_signed"} <= types
    bad = run(platform, "archives", "search", "--loan", "1", "--from", "2026-13-01")
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
