"""Bad input gets a clear RFC 9457 problem and changes nothing (R-10.2, DESIGN non-negotiables)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from puhui.bootstrap import Platform
from tests.integration.conftest import login, make_user, table_counts

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code)
    assert body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.fixture
def admin(platform: Platform, client: TestClient) -> dict[str, str]:
    make_user(platform, "root.admin", "admin")
    return login(client, "root.admin")


def test_unknown_path_and_wrong_method_are_problems(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "http.not_found")
    assert_problem(client.delete("/healthz"), 405, "http.method_not_allowed")
    assert_problem(client.get("/no/such/page"), 404, "http.not_found")


def test_html_clients_get_an_html_404_outside_the_api(client: TestClient) -> None:
    r = client.get("/no/such/page", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = client.get("/api/v1/none", headers={"accept": "text/html"})
    assert r.headers["content-type"].startswith(PROBLEM)


BAD_BODIES = [
    ("malformed json", b'{"username": "a", ', 400, "request.malformed_json"),
    ("not an object", b"[1, 2, 3]", 422, "request.invalid_fields"),
    (
        "wrong types",
        b'{"username": 12, "display_name": "x", "password": "x", "roles": "admin"}',
        422,
        "request.invalid_fields",
    ),
    (
        "unknown field",
        b'{"username": "abc", "display_name": "A", "password": "Abcdefgh12!", '
        b'"roles": ["auditor"], "is_superuser": true}',
        422,
        "request.unknown_field",
    ),
    ("missing field", b'{"username": "abc"}', 422, "request.invalid_fields"),
    (
        "weak password",
        b'{"username": "abc", "display_name": "A", "password": "short", "roles": ["auditor"]}',
        422,
        "identity.weak_password",
    ),
    (
        "unknown role",
        b'{"username": "abc", "display_name": "A", "password": "Abcdefgh12!", "roles": ["god"]}',
        422,
        "identity.unknown_role",
    ),
    (
        "bad username",
        b'{"username": "A B", "display_name": "A", "password": "Abcdefgh12!", '
        b'"roles": ["auditor"]}',
        422,
        "identity.invalid_username",
    ),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "code"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_bodies_are_refused_and_change_nothing(
    platform: Platform,
    client: TestClient,
    admin: dict[str, str],
    case: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    before = table_counts(platform)
    r = client.post(
        "/api/v1/staff-users", content=body, headers={**admin, "content-type": "application/json"}
    )
    problem = assert_problem(r, status, code)
    if code.startswith("request.") and status == 422:
        assert problem["errors"], "schema problems list the offending fields"
    assert table_counts(platform) == before


def test_body_over_the_limit_is_413_and_changes_nothing(
    platform: Platform, client: TestClient, admin: dict[str, str]
) -> None:
    before = table_counts(platform)
    big = b'{"username": "' + b"a" * (70 * 1024) + b'"}'
    r = client.post(
        "/api/v1/staff-users", content=big, headers={**admin, "content-type": "application/json"}
    )
    body = assert_problem(r, 413, "request.too_large")
    assert body["max_bytes"] == 64 * 1024

    def chunks():
        for _ in range(80):
            yield b"x" * 1024

    r = client.post(
        "/api/v1/staff-users",
        content=chunks(),
        headers={**admin, "content-type": "application/json"},
    )
    assert r.status_code == 413
    assert table_counts(platform) == before


INVALID_IDENTIFIERS = [
    ("id_number", "110105194912310020", "identifier.id_number.check_digit"),
    ("id_number", "11010519491231002", "identifier.id_number.format"),
    ("id_number", "990105194912310021", "identifier.id_number.region"),
    ("id_number", "110105194902310024", "identifier.id_number.birth_date"),
    ("uscc", "91350100M000100Y44", "identifier.uscc.check_char"),
    ("uscc", "91350100M00010", "identifier.uscc.format"),
    ("mobile", "12345678901", "identifier.mobile.format"),
    ("bank_card", "4111111111111112", "identifier.bank_card.checksum"),
]


@pytest.mark.parametrize(("kind", "value", "code"), INVALID_IDENTIFIERS)
def test_invalid_identifiers_get_precise_codes(
    client: TestClient, kind: str, value: str, code: str
) -> None:
    r = client.post("/api/v1/identifiers/validate", json={"kind": kind, "value": value})
    body = assert_problem(r, 422, code)
    assert value not in body["detail"], "personal data is never echoed back"


def test_valid_identifiers_are_decoded(client: TestClient) -> None:
    r = client.post(
        "/api/v1/identifiers/validate", json={"kind": "id_number", "value": "11010519491231002x"}
    )
    assert r.status_code == 200
    assert r.json()["birth_date"] == "1949-12-31"
    assert r.json()["sex"].lower().startswith("f")
    r = client.post(
        "/api/v1/identifiers/validate", json={"kind": "uscc", "value": "91350100M000100Y43"}
    )
    assert r.status_code == 200 and r.json()["region_code"] == "350100"


def test_invalid_id_number_on_identity_changes_nothing(
    platform: Platform, client: TestClient
) -> None:
    client.post("/api/v1/customer/login-code", json={"phone": "13512345678"})
    code = platform.sms.last_code("13512345678")
    token = client.post(
        "/api/v1/customer/session", json={"phone": "13512345678", "code": code}
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    before = table_counts(platform)
    r = client.put(
        "/api/v1/customer/me/identity",
        headers=headers,
        json={"name": "张三", "id_number": "110105194912310020"},
    )
    assert_problem(r, 422, "identifier.id_number.check_digit")
    r = client.post("/api/v1/customer/login-code", json={"phone": "1351234"})
    assert_problem(r, 422, "identifier.mobile.format")
    assert table_counts(platform) == before


def test_unauthenticated_and_forbidden(platform: Platform, client: TestClient) -> None:
    assert_problem(client.get("/api/v1/staff-users"), 401, "auth.unauthenticated")
    assert_problem(
        client.get("/api/v1/staff-users", headers={"Authorization": "Bearer nope"}),
        401,
        "auth.session_expired",
    )
    make_user(platform, "only.auditor", "auditor")
    headers = login(client, "only.auditor")
    r = client.post(
        "/api/v1/staff-users",
        headers=headers,
        json={
            "username": "x.y",
            "display_name": "X",
            "password": "Abcdefgh12!",
            "roles": ["auditor"],
        },
    )
    body = assert_problem(r, 403, "auth.forbidden")
    assert body["details"]["permission"] == "users.manage"
