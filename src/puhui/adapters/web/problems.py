"""RFC 9457 problem details for every error the API returns.

Domain errors keep their stable ``code``; framework errors (404, 405, malformed JSON, schema
violations, oversized bodies) get codes of their own, so a client never sees an error that is
not ``application/problem+json``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from puhui.domain.errors import DomainError, ErrorKind
from puhui.logging_setup import request_id_var

log = logging.getLogger("puhui.web")

PROBLEM = "application/problem+json"
STATUS = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.LOCKED: 423,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAVAILABLE: 503,
}
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    423: "Locked",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://puhui.dev/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api") or path in ("/healthz", "/openapi.json"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _html_error(request: Request, status: int, detail: str) -> Response:
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "detail": detail},
        status_code=status,
    )
    return response


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        status = STATUS[exc.kind]
        if wants_html(request):
            return _html_error(request, status, exc.message)
        extra = {"details": exc.details} if exc.details else None
        return problem(status, exc.code, exc.message, instance=request.url.path, extra=extra)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem(
                400,
                "request.malformed_json",
                "the request body is not valid JSON",
                instance=request.url.path,
            )
        fields = [
            {
                "location": ".".join(str(p) for p in e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in errors
        ]
        unknown = [f for f in fields if f["type"] == "extra_forbidden"]
        code = (
            "request.unknown_field"
            if unknown and len(unknown) == len(fields)
            else ("request.invalid_fields")
        )
        return problem(
            422,
            code,
            "the request does not match the schema",
            instance=request.url.path,
            extra={"errors": fields},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        codes = {
            404: "http.not_found",
            405: "http.method_not_allowed",
            401: "auth.unauthenticated",
            413: "request.too_large",
        }
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(status, "Error")
        if wants_html(request):
            return _html_error(request, status, detail)
        return problem(
            status,
            codes.get(status, f"http.{status}"),
            detail,
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem(
            500,
            "internal",
            "an unexpected error occurred; it has been logged",
            instance=request.url.path,
        )
