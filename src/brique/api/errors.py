"""The one mapping from the error tree (and request validation) to HTTP JSON errors."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Scope

from brique.errors import BriqueError
from brique.schemas.errors import ErrorResponse, first_problem

log = logging.getLogger("brique.api")
ERRORS = {
    401: "no valid API key",
    402: "a budget's hard stop refuses the job",
    403: "the caller's role does not allow it",
    404: "no such resource (or not the caller's)",
    409: "conflicts with the current state",
    413: "request body too large",
    422: "invalid input: the message names the field and the rule",
    429: "rate limited (see Retry-After)",
    503: "the database cannot be reached",
}
# What every /v1 operation may answer besides success, declared in the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text} for status, text in ERRORS.items()
}
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 431: "headers_too_large"}


def error_json(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _allowed_methods(app: FastAPI, scope: Scope) -> str:
    """Every method some operation takes at this path, read from the OpenAPI document (Starlette
    names only the first matching route's methods, and there is one route per method)."""
    methods: set[str] = set()
    for template, operations in app.openapi().get("paths", {}).items():
        if compile_path(template)[0].match(scope["path"]):
            methods |= {m.upper() for m in operations if m.upper() in HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def brique_error(exc: BriqueError) -> JSONResponse:
    """The one answer to an error of the tree (a 429's wait as Retry-After)."""
    wait = getattr(exc, "retry_after_s", None)
    headers = {"Retry-After": str(max(1, math.ceil(wait)))} if wait else None
    return error_json(exc.status, exc.code, exc.message, exc.field, headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BriqueError)
    async def _brique(_: Request, exc: BriqueError) -> JSONResponse:
        return brique_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = first_problem(exc.errors())
        return error_json(422, "invalid_input", f"{field}: {message}" if field else message, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        if exc.status_code == 405:
            allowed = _allowed_methods(app, request.scope)
            message = f"method {request.method} is not allowed here (allowed: {allowed})"
            return error_json(405, code, message, headers={"Allow": allowed})
        return error_json(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RecursionError)
    async def _too_deep(_: Request, exc: RecursionError) -> JSONResponse:
        return error_json(422, "invalid_input", "input is nested too deeply")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_json(500, "internal", "internal error; the operator can find it in the server log")
