"""Liveness, readiness and Prometheus metrics (unauthenticated, no tenant data)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from brique.api.deps import runtime
from brique.api.errors import error_json

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", response_model=None)
def readyz(request: Request) -> dict[str, str] | Response:
    rt = runtime(request)
    try:
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any database failure means "not ready"
        return error_json(503, "unavailable", f"database not reachable: {type(exc).__name__}")
    return {"status": "ready", "database": rt.db.engine.dialect.name, "fleet": rt.fleet.fleet.name}


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
