"""After `make run`'s steps (migrate, demo load twice — idempotent — serve): health, OpenAPI
docs, the console login with a demo user and the portal, in a real browser."""

from __future__ import annotations

import json
import urllib.request

from tests.e2e.conftest import Server

DEMO_PASSWORD = "Puhui-demo-2026"


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers["content-type"], r.read().decode()


def test_healthz_and_openapi(server: Server) -> None:
    status, _, body = get(f"{server.url}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, ctype, body = get(f"{server.url}/openapi.json")
    assert status == 200 and "json" in ctype
    paths = json.loads(body)["paths"]
    assert "/api/v1/auth/login" in paths and "/api/v1/customers/{customer_id}" in paths
    status, ctype, body = get(f"{server.url}/docs")
    assert status == 200 and "text/html" in ctype and "swagger" in body.lower()


def test_console_login_with_a_demo_user(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console")
    assert page.url.endswith("/console/login")
    page.fill("#username", "officer")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console")
    assert "李信贷" in page.inner_text("[data-testid=console-welcome]")
    cookie = next(c for c in page.context.cookies() if c["name"] == "puhui_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    # a loan officer may read customers in clear; the page is access-logged
    page.click("nav >> text=客户 Customers")
    page.wait_for_url("**/console/customers")
    page.click("a[href='/console/customers/1']")
    assert page.inner_text("[data-testid=phone]") == "13800138001"
    page.click("text=退出 Log out")
    page.wait_for_url("**/console/login")


def test_console_masks_for_the_analyst_and_shows_audit_to_the_auditor(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/login")
    page.fill("#username", "analyst")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto("/console/customers/1")
    assert page.inner_text("[data-testid=phone]") == "138****8001"
    page.click("text=退出 Log out")
    page.fill("#username", "auditor")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto("/console/audit?verify=1")
    assert "intact" in page.inner_text("[data-testid=verdict]")


def test_wrong_password_shows_an_error(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/login")
    page.fill("#username", "reviewer")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    assert "wrong username or password" in page.inner_text("[data-testid=login-error]")


def test_portal_home_renders_in_chinese_and_english(phone_page) -> None:  # type: ignore[no-untyped-def]
    phone_page.goto("/")
    assert phone_page.inner_text("[data-testid=portal-title]").startswith("普惠")
    assert phone_page.get_attribute("html", "lang") == "zh-CN"
    phone_page.click("text=English")
    assert "Online loans" in phone_page.inner_text("[data-testid=portal-title]")
    phone_page.click("text=中文")
    assert phone_page.inner_text("[data-testid=portal-title]").startswith("普惠")


def test_portal_phone_login_and_real_name_without_javascript(phone_page, server: Server) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from puhui.domain.identifiers import make_resident_id

    phone = "13611112222"
    phone_page.goto("/login")
    phone_page.fill("#phone", phone)
    phone_page.click("button[type=submit]")
    assert "SANDBOX" in phone_page.inner_text("main")
    phone_page.fill("#code", server.last_code(phone))
    phone_page.click("button[type=submit]")
    assert phone_page.url.endswith("/me")
    assert phone_page.inner_text("[data-testid=me-phone]") == "136****2222"
    phone_page.fill("#name", "王小二")
    phone_page.fill("#id_number", "110105194912310020")  # wrong check digit
    phone_page.click("form[action='/me/identity'] button[type=submit]")
    assert "check digit" in phone_page.inner_text("[role=alert]")
    phone_page.fill("#name", "王小二")
    phone_page.fill("#id_number", make_resident_id("110105", date(1990, 1, 2), 7))
    phone_page.click("form[action='/me/identity'] button[type=submit]")
    verified = phone_page.inner_text("[data-testid=me-verified]")
    assert "已实名" in verified and "王*" in verified


def test_pages_fit_a_360px_phone(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=server.url, viewport={"width": 360, "height": 740})
    page = context.new_page()
    for path in ("/", "/login", "/console/login"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    page.screenshot(path=str(server.sms_log.parent / "portal-360.png"))
    context.close()
