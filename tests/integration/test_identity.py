"""Staff identity: argon2 passwords, roles, lockout, maker-checker, API keys (R-10.2i, R-M4.2)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from puhui.adapters.db import tables as t
from puhui.bootstrap import Platform
from tests.integration.conftest import PASSWORD, login, make_user


def test_passwords_are_stored_as_argon2id(platform: Platform) -> None:
    make_user(platform, "li.officer", "loan_officer")
    with platform.engine.connect() as conn:
        stored = conn.execute(sa.select(t.staff_users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_lockout_after_repeated_failures(platform: Platform, client: TestClient) -> None:
    make_user(platform, "wang.reviewer", "reviewer")
    for _ in range(platform.settings.lockout_attempts):
        r = client.post("/api/v1/auth/login", json={"username": "wang.reviewer", "password": "bad"})
        assert r.status_code == 401 and r.json()["code"] == "auth.bad_credentials"
    r = client.post("/api/v1/auth/login", json={"username": "wang.reviewer", "password": PASSWORD})
    assert r.status_code == 423 and r.json()["code"] == "auth.locked"
    # every attempt is in the audit trail
    make_user(platform, "aud", "auditor")
    headers = login(client, "aud")
    results = [
        rec["result"]
        for rec in client.get("/api/v1/audit/records?limit=50", headers=headers).json()
        if rec["action"] == "auth.login" and rec["actor"] == "staff:wang.reviewer"
    ]
    assert results.count("denied:auth.bad_credentials") == 5
    assert "denied:auth.locked" in results


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(client: TestClient) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x"})
    assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"


def test_least_privilege_roles(platform: Platform, client: TestClient) -> None:
    make_user(platform, "adm", "admin")
    me = client.get("/api/v1/me", headers=login(client, "adm")).json()
    assert "users.manage" in me["permissions"]
    assert "personal_data.unmask" not in me["permissions"], "admins do not read customer data"
    make_user(platform, "aud", "auditor")
    me = client.get("/api/v1/me", headers=login(client, "aud")).json()
    assert "audit.verify" in me["permissions"] and "users.manage" not in me["permissions"]


def test_granting_admin_needs_a_second_administrator(
    platform: Platform, client: TestClient
) -> None:
    make_user(platform, "maker", "admin")
    make_user(platform, "checker", "admin")
    maker, checker = login(client, "maker"), login(client, "checker")
    r = client.post(
        "/api/v1/staff-users",
        headers=maker,
        json={
            "username": "new.admin",
            "display_name": "N",
            "password": "Abcdefgh12!",
            "roles": ["admin"],
        },
    )
    assert r.status_code == 201 and r.json()["status"] == "pending_approval"
    action_id = r.json()["pending_action_id"]
    assert not any(
        u["username"] == "new.admin"
        for u in client.get("/api/v1/staff-users", headers=maker).json()
    )
    # the maker cannot check their own action
    r = client.post(f"/api/v1/approvals/{action_id}/approve", headers=maker, json={})
    assert r.status_code == 403 and r.json()["code"] == "maker_checker.same_user"
    # a user without the checker permission cannot either
    make_user(platform, "officer", "loan_officer")
    r = client.post(
        f"/api/v1/approvals/{action_id}/approve", headers=login(client, "officer"), json={}
    )
    assert r.status_code == 403
    r = client.post(
        f"/api/v1/approvals/{action_id}/approve", headers=checker, json={"reason": "agreed"}
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["checker"] == "staff:checker"
    assert "password_hash" not in r.json()["summary"]
    assert login(client, "new.admin", "Abcdefgh12!")
    r = client.post(f"/api/v1/approvals/{action_id}/approve", headers=checker, json={})
    assert r.status_code == 409 and r.json()["code"] == "maker_checker.not_pending"


def test_rejected_grant_creates_nobody(platform: Platform, client: TestClient) -> None:
    make_user(platform, "maker", "admin")
    make_user(platform, "checker", "admin")
    r = client.post(
        "/api/v1/staff-users",
        headers=login(client, "maker"),
        json={
            "username": "eve",
            "display_name": "E",
            "password": "Abcdefgh12!",
            "roles": ["admin"],
        },
    )
    action_id = r.json()["pending_action_id"]
    r = client.post(
        f"/api/v1/approvals/{action_id}/reject",
        headers=login(client, "checker"),
        json={"reason": "no"},
    )
    assert r.json()["status"] == "rejected"
    r = client.post("/api/v1/auth/login", json={"username": "eve", "password": "Abcdefgh12!"})
    assert r.status_code == 401


def test_api_keys_are_hashed_scoped_and_revocable(platform: Platform, client: TestClient) -> None:
    make_user(platform, "adm", "admin")
    admin = login(client, "adm")
    r = client.post(
        "/api/v1/api-keys",
        headers=admin,
        json={"partner": "某税务平台", "scopes": ["customers.read"]},
    )
    assert r.status_code == 201
    secret = r.json()["secret"]
    with platform.engine.connect() as conn:
        stored = conn.execute(sa.select(t.api_keys.c.secret_hash)).scalar_one()
    assert secret.split("_", 2)[2] not in stored
    partner = {"X-API-Key": secret}
    me = client.get("/api/v1/me", headers=partner).json()
    assert me["kind"] == "partner" and me["permissions"] == ["customers.read"]
    assert client.get("/api/v1/staff-users", headers=partner).status_code == 403
    assert client.get("/api/v1/me", headers={"X-API-Key": secret + "x"}).status_code == 401
    r = client.post(
        "/api/v1/api-keys", headers=admin, json={"partner": "Partner", "scopes": ["users.manage"]}
    )
    assert r.status_code == 422 and r.json()["code"] == "api_key.scope_not_grantable"


def test_one_transaction_per_command(platform: Platform) -> None:
    """A command that fails half-way leaves no trace: user row, roles and audit roll back."""
    import pytest

    from puhui.domain.errors import DomainError
    from puhui.domain.identity import SYSTEM
    from puhui.services.audit import audited

    def body(uow):
        uow.users.add(
            __import__("puhui.domain.identity", fromlist=["StaffUser"]).StaffUser(
                id=None, username="half", display_name="H", roles=frozenset(), password_hash="x"
            ),
            now=platform.ctx.clock(),
        )
        raise DomainError("boom", code="test.boom")

    with pytest.raises(DomainError):
        audited(platform.ctx, actor=SYSTEM, action="test", request_id=None, body=body)
    with platform.ctx.uow() as uow:
        assert uow.users.find_by_username("half") is None
        assert uow.audit.count() == 0
