"""Level-3 personal data: encrypted at rest, masked by role, every read logged (R-M4.2, R-11.2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from puhui.domain.identifiers import make_resident_id
from tests.integration.conftest import login, make_user

PHONE = "13912345678"
NAME = "欧阳明珠"
ID_NUMBER = make_resident_id("330106", date(1986, 5, 17), 123)


def register(platform: Platform, client: TestClient) -> int:
    assert client.post("/api/v1/customer/login-code", json={"phone": PHONE}).status_code == 202
    code = platform.sms.last_code(PHONE)
    r = client.post("/api/v1/customer/session", json={"phone": PHONE, "code": code})
    assert r.status_code == 200 and r.json()["new_customer"] is True
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    r = client.put(
        "/api/v1/customer/me/identity", headers=headers, json={"name": NAME, "id_number": ID_NUMBER}
    )
    assert r.status_code == 200, r.text
    assert r.json()["verified"] is True
    return int(r.json()["id"])


def test_level3_fields_are_unreadable_in_the_raw_database(
    platform: Platform, client: TestClient
) -> None:
    customer_id = register(platform, client)
    with platform.engine.connect() as conn:
        row = (
            conn.execute(sa.select(t.customers).where(t.customers.c.id == customer_id))
            .mappings()
            .one()
        )
    raw_values = " ".join(str(v) for v in row.values())
    for secret in (PHONE, NAME, ID_NUMBER, ID_NUMBER[-4:] + ID_NUMBER[:6]):
        assert secret not in raw_values
    assert row["id_number_enc"].startswith("pv1.")
    url = platform.settings.database_url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        platform.engine.dispose()
        blob = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for secret in (PHONE, NAME, ID_NUMBER):
            assert secret.encode() not in blob, "clear text found in the SQLite file"


def test_masked_for_a_role_without_the_right_clear_for_one_with_it(
    platform: Platform, client: TestClient
) -> None:
    customer_id = register(platform, client)
    make_user(platform, "qian.analyst", "risk_analyst")
    make_user(platform, "li.officer", "loan_officer")
    masked = client.get(
        f"/api/v1/customers/{customer_id}", headers=login(client, "qian.analyst")
    ).json()
    assert masked["masked"] is True
    assert masked["phone"] == "139****5678"
    assert masked["id_number"] == ID_NUMBER[:6] + "********" + ID_NUMBER[-4:]
    assert masked["name"].startswith("欧") and NAME not in masked["name"]
    clear = client.get(
        f"/api/v1/customers/{customer_id}", headers=login(client, "li.officer")
    ).json()
    assert (clear["phone"], clear["name"], clear["id_number"]) == (PHONE, NAME, ID_NUMBER)


def test_every_read_writes_an_access_log_record(platform: Platform, client: TestClient) -> None:
    customer_id = register(platform, client)
    make_user(platform, "qian.analyst", "risk_analyst")
    make_user(platform, "li.officer", "loan_officer")
    make_user(platform, "adm", "admin")
    client.get(
        f"/api/v1/customers/{customer_id}",
        headers=login(client, "qian.analyst"),
    ).raise_for_status()
    client.get(
        f"/api/v1/customers/{customer_id}",
        headers=login(client, "li.officer"),
    ).raise_for_status()
    assert (
        client.get(f"/api/v1/customers/{customer_id}", headers=login(client, "adm")).status_code
        == 403
    )
    with platform.ctx.uow() as uow:
        log = uow.access_log.list(object_ref=f"customer:{customer_id}")
    seen = {(e.subject, e.result) for e in log}
    assert ("staff:qian.analyst", "masked") in seen
    assert ("staff:li.officer", "ok") in seen
    assert ("staff:adm", "denied") in seen
    for entry in log:
        assert entry.operation == "read" and entry.occurred_at.tzinfo is not None
        assert set(entry.fields) == {"phone", "name", "id_number"}


def test_lookup_by_blind_index_and_key_rotation(platform: Platform, client: TestClient) -> None:
    from puhui.adapters.crypto.fieldcrypt import FieldCipher, Keyring
    from puhui.adapters.db.uow import SqlUnitOfWork
    from puhui.domain.identifiers import MobileNumber

    customer_id = register(platform, client)
    with platform.ctx.uow() as uow:
        assert uow.customers.find_by_phone(MobileNumber.parse(PHONE)).id == customer_id
    # rotate: add a new active key, re-encrypt, old key still decrypts nothing is lost
    old = platform.keyring
    new_spec = (
        platform.settings.field_keys.split(";")[0] + ",k2:" + "MDEyMzQ1Njc4OWFiY2RlZg==;active=k2"
    )
    rotated = Keyring.from_spec(
        new_spec,
        algorithm=platform.settings.field_algorithm,
        index_key_b64=platform.settings.index_key,
    )
    with SqlUnitOfWork(platform.engine, FieldCipher(rotated)) as uow:
        assert uow.customers.rotate_keys() == 1
        uow.commit()
    with platform.engine.connect() as conn:
        token = conn.execute(sa.select(t.customers.c.id_number_enc)).scalar_one()
    assert token.split(".")[1] == "k2"
    with SqlUnitOfWork(platform.engine, FieldCipher(rotated)) as uow:
        again = uow.customers.get(customer_id)
    assert str(again.id_number) == ID_NUMBER and again.name == NAME
    assert old.active_key_id != "k2"


def test_deidentified_export(platform: Platform, client: TestClient, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from puhui.adapters.cli.main import app as cli

    register(platform, client)
    out = tmp_path / "export"
    result = CliRunner().invoke(
        cli,
        ["data", "export", "--deidentified", "--out", str(out)],
        env={"PUHUI_DATABASE_URL": platform.settings.database_url, "PUHUI_ENVIRONMENT": "test"},
    )
    assert result.exit_code == 0, result.output
    text = (out / "customers.jsonl").read_text(encoding="utf-8")
    for secret in (PHONE, NAME, ID_NUMBER):
        assert secret not in text
    assert '"birth_year": 1986' in text
    refused = CliRunner().invoke(
        cli,
        ["data", "export", "--out", str(out)],
        env={"PUHUI_DATABASE_URL": platform.settings.database_url, "PUHUI_ENVIRONMENT": "test"},
    )
    assert refused.exit_code == 2 and "export.identified_refused" in refused.output


def test_lists_are_always_masked_and_logged(platform: Platform, client: TestClient) -> None:
    register(platform, client)
    make_user(platform, "li.officer", "loan_officer")
    rows = client.get("/api/v1/customers", headers=login(client, "li.officer")).json()
    assert rows and all(r["masked"] for r in rows)
    assert rows[0]["phone"] == "139****5678"
    with platform.ctx.uow() as uow:
        entries = uow.access_log.list()
    assert any(e.operation == "list" and e.subject == "staff:li.officer" for e in entries)
