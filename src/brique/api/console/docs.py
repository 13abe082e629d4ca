"""Swagger UI at /docs and ReDoc at /redoc, from assets vendored in the package (work offline)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from brique.api.console.web import console

router = APIRouter(include_in_schema=False)
SWAGGER = "/console/static/vendor/swagger-ui-dist-5.35.0"
REDOC = "/console/static/vendor/redoc-2.5.4"


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    return console(request).templates.TemplateResponse(request, "swagger.html", {"base": SWAGGER})


@router.get("/redoc")
def redoc(request: Request) -> Response:
    return console(request).templates.TemplateResponse(request, "redoc.html", {"base": REDOC})
