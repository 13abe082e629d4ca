"""The control plane's own state, for operators: which replica answered, and which one leads."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from brique.api.deps import Caller, Replicas
from brique.schemas.system import SystemStatusResponse

router = APIRouter(prefix="/v1/system", tags=["system"])


@router.get("/status", operation_id="systemStatus")
async def system_status(who: Caller, replicas: Replicas) -> SystemStatusResponse:
    return SystemStatusResponse.from_domain(await run_in_threadpool(replicas.status, who))
