"""The ASGI application: JSON API, staff console and customer portal in one FastAPI app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from puhui import __version__
from puhui.adapters.web import (
    api,
    api_contracts,
    api_decisions,
    api_fraud,
    api_loans,
    console,
    portal,
)
from puhui.adapters.web.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from puhui.adapters.web.problems import install_problem_handlers
from puhui.bootstrap import Platform, build_platform
from puhui.logging_setup import configure_logging
from puhui.settings import Settings, get_settings

HERE = Path(__file__).parent


def create_app(platform: Platform | None = None) -> FastAPI:
    platform = platform or build_platform(get_settings())
    settings: Settings = platform.settings
    configure_logging(settings.log_level, json_logs=settings.log_json)
    app = FastAPI(
        title="Puhui API",
        version=__version__,
        description=(
            "Puhui (普惠) digital lending platform for inclusive finance. Errors are RFC 9457 "
            "`application/problem+json` with a stable `code`."
        ),
    )
    app.state.platform = platform
    app.state.templates = Jinja2Templates(directory=str(HERE / "templates"))
    install_problem_handlers(app)

    @app.get("/healthz", tags=["platform"])
    def healthz() -> dict[str, str]:
        with platform.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return {"status": "ok", "version": __version__, "database": platform.engine.dialect.name}

    app.include_router(api.router)
    app.include_router(api_loans.router)
    app.include_router(api_decisions.router)
    app.include_router(api_contracts.router)
    app.include_router(api_fraud.router)
    app.include_router(console.router)
    app.include_router(portal.router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
