"""Console sessions: CSRF on every form, HttpOnly SameSite cookies, logout revokes, expiry."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from puhui.bootstrap import Platform
from tests.integration.conftest import PASSWORD, make_user


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "form without a CSRF token"
    return found.group(1)


def console_login(client: TestClient, username: str) -> str:
    page = client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    return csrf_of(client.get("/console").text)


def test_login_form_needs_its_csrf_token(platform: Platform, client: TestClient) -> None:
    make_user(platform, "adm", "admin")
    client.get("/console/login")
    r = client.post(
        "/console/login",
        data={"username": "adm", "password": PASSWORD, "csrf": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and r.json()["code"] == "request.csrf_failed"


def test_forms_after_login_need_the_session_token(platform: Platform, client: TestClient) -> None:
    make_user(platform, "adm", "admin")
    token = console_login(client, "adm")
    form = {
        "username": "new.user",
        "display_name": "N",
        "password": "Abcdefgh12!",
        "roles": ["auditor"],
    }
    r = client.post("/console/users", data={**form, "csrf": "wrong"}, follow_redirects=False)
    assert r.status_code == 403
    assert "new.user" not in client.get("/console/users").text
    r = client.post("/console/users", data={**form, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("message=created")
    assert "new.user" in client.get("/console/users").text


def test_console_user_form_shows_domain_errors(platform: Platform, client: TestClient) -> None:
    make_user(platform, "adm", "admin")
    token = console_login(client, "adm")
    r = client.post(
        "/console/users",
        data={
            "username": "x y",
            "display_name": "N",
            "password": "Abcdefgh12!",
            "roles": ["auditor"],
            "csrf": token,
        },
    )
    assert r.status_code == 422 and "username must be" in r.text


def test_logout_revokes_the_session(platform: Platform, client: TestClient) -> None:
    make_user(platform, "adm", "admin")
    token = console_login(client, "adm")
    stolen = client.cookies.get("puhui_console")
    client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    client.cookies.set("puhui_console", stolen)
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"


def test_sessions_expire(platform: Platform, client: TestClient) -> None:
    make_user(platform, "adm", "admin")
    console_login(client, "adm")
    assert client.get("/console", follow_redirects=False).status_code == 200
    real_clock = platform.ctx.clock
    platform.ctx.clock = lambda: real_clock() + platform.ctx.policies.session_ttl + timedelta(1)
    try:
        r = client.get("/console", follow_redirects=False)
    finally:
        platform.ctx.clock = real_clock
    assert r.status_code == 303


def test_role_aware_navigation(platform: Platform, client: TestClient) -> None:
    make_user(platform, "aud", "auditor")
    console_login(client, "aud")
    home = client.get("/console").text
    assert 'href="/console/audit"' in home and 'href="/console/users"' not in home
    r = client.get("/console/users", headers={"accept": "text/html"})
    assert r.status_code == 403 and "users.manage" in r.text
