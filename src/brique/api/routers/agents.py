"""The node agent protocol: register, then heartbeat (reports and logs in, orders out)."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request

from brique.api.deps import Agents, Caller
from brique.errors import PermissionDenied
from brique.schemas.agents import (
    AgentRegisterRequest,
    AgentRegisterResponse,
    AttemptRef,
    HeartbeatRequest,
    HeartbeatResponse,
    LaunchModel,
    StopOrder,
)
from brique.services.agents import Chunk

router = APIRouter(prefix="/v1/agent", tags=["agents"])


@router.post("/register", operation_id="registerAgent")
def register(body: AgentRegisterRequest, who: Caller, agents: Agents) -> AgentRegisterResponse:
    site, gpus = agents.register(who, body.node_id, body.gpus, body.hostname)
    return AgentRegisterResponse(node_id=body.node_id, site=site, gpus=gpus,
                                 heartbeat_interval_s=max(1.0, agents.timeout_s / 6))  # fmt: skip


@router.post("/heartbeat", operation_id="agentHeartbeat")
def heartbeat(body: HeartbeatRequest, who: Caller, agents: Agents, request: Request) -> HeartbeatResponse:
    _require_private_channel(request)
    chunks = [Chunk(c.job_id, c.attempt, c.offset, c.data.encode()) for c in body.logs]
    orders = agents.heartbeat(who, body.node_id, [r.to_domain() for r in body.reports], chunks)
    return HeartbeatResponse(
        start=[LaunchModel.from_domain(x) for x in orders.start],
        stop=[StopOrder(job_id=j, attempt=a, grace_s=g) for j, a, g in orders.stop],
        forget=[AttemptRef(job_id=j, attempt=a) for j, a in orders.forget],
    )


def _require_private_channel(request: Request) -> None:
    """Launch orders carry decrypted secrets: only over HTTPS, or plain HTTP from this machine."""
    if request.url.scheme == "https":
        return
    host = request.client.host if request.client else ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise PermissionDenied("agents must connect over HTTPS (start `brique up` with --tls-cert and --tls-key): "
                           "launch orders carry decrypted secrets")  # fmt: skip
