"""Integration fixtures: every test runs on a fresh, migrated SQLite file and on a fresh
PostgreSQL database cloned from a migrated template (the cluster is started by
``scripts/with-postgres.sh``, which ``make test`` wraps around pytest)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from puhui.adapters.db.engine import make_engine, normalize_url
from puhui.adapters.db.migrate import upgrade
from puhui.adapters.web.app import create_app
from puhui.bootstrap import Platform, build_platform
from puhui.domain.identity import SYSTEM
from puhui.services.identity import CreateStaffUser, create_staff_user
from puhui.settings import Settings

PG_URL = os.environ.get("PUHUI_TEST_POSTGRES_URL")
TEMPLATE_DB = "puhui_template"
PASSWORD = "Correct-Horse-42"


def _admin_url(url: str) -> str:
    return normalize_url(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> str | None:
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but PUHUI_TEST_POSTGRES_URL is not set: PostgreSQL did not start")
        return None
    admin = sa.create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        conn.exec_driver_sql(f"CREATE DATABASE {TEMPLATE_DB}")
    admin.dispose()
    url = sa.engine.make_url(_admin_url(PG_URL)).set(database=TEMPLATE_DB)
    upgrade(url.render_as_string(hide_password=False))
    return TEMPLATE_DB


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "puhui.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    if template is None:
        pytest.skip("PostgreSQL not available (run through `make test`)")
    assert PG_URL is not None
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield (
        sa.engine.make_url(_admin_url(PG_URL))
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=db_url,
        sms_log_path=str(tmp_path / "sms.log"),
        log_json=True,
        log_level="WARNING",
        max_body_bytes=64 * 1024,
    )


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    engine = make_engine(settings.database_url)
    yield build_platform(settings, engine=engine)
    engine.dispose()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


def make_user(platform: Platform, username: str, *roles: str) -> None:
    create_staff_user(
        platform.ctx,
        SYSTEM,
        CreateStaffUser(username, username.title(), PASSWORD, tuple(roles), post="测试岗"),
    )


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def table_counts(platform: Platform) -> dict[str, int]:
    from puhui.adapters.db.tables import metadata

    with platform.engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }
