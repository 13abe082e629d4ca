"""Fleet reads (any authenticated identity) and node health changes (operators)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from brique.api.deps import Caller, Fleet
from brique.api.params import Offset
from brique.schemas.fleet import (
    CapacityResponse,
    NodeResponse,
    NodeStateRequest,
    RackResponse,
    SiteCapacityResponse,
    SiteResponse,
    StateCounts,
)

router = APIRouter(prefix="/v1/fleet", tags=["fleet"])


@router.get("/sites", operation_id="listSites")
def list_sites(who: Caller, fleet: Fleet) -> list[SiteResponse]:
    return [SiteResponse.from_domain(s) for s in fleet.sites(who)]


@router.get("/sites/{site_id}", operation_id="getSite")
def get_site(site_id: str, who: Caller, fleet: Fleet) -> SiteResponse:
    return SiteResponse.from_domain(fleet.site(who, site_id))


@router.get("/capacity", operation_id="getCapacity")
def capacity(who: Caller, fleet: Fleet) -> CapacityResponse:
    sites = [
        SiteCapacityResponse(site=c.site.id, country=c.site.country, racks=c.racks,
                             nodes=StateCounts(**c.nodes), gpus=StateCounts(**c.gpus), gpus_allocated=c.allocated,
                             gpus_reserved=c.reserved)
        for c in fleet.capacity(who)
    ]  # fmt: skip
    gpus = StateCounts(
        **{state: sum(getattr(s.gpus, state) for s in sites) for state in ("up", "draining", "down")}
    )
    return CapacityResponse(
        fleet=fleet.fleet.name, total_racks=fleet.fleet.rack_count, total_nodes=fleet.fleet.node_count,
        total_gpus=fleet.fleet.gpu_count, gpus=gpus,
        gpus_allocated=sum(s.gpus_allocated for s in sites), gpus_reserved=sum(s.gpus_reserved for s in sites),
        sites=sites,
    )  # fmt: skip


@router.get("/racks", operation_id="listRacks")
def list_racks(who: Caller, fleet: Fleet, site: str | None = None) -> list[RackResponse]:
    return [
        RackResponse(id=r.rack.id, site=r.rack.site_id, index=r.rack.index, gpu_model=r.rack.gpu_model,
                     gpu_power_w=r.rack.gpu_power_w, nodes=StateCounts(**r.nodes), gpus=StateCounts(**r.gpus))
        for r in fleet.racks(who, site)
    ]  # fmt: skip


@router.get("/nodes", operation_id="listNodes")
def list_nodes(
    who: Caller,
    fleet: Fleet,
    site: str | None = None,
    rack: str | None = None,
    state: str | None = None,
    limit: int = Query(default=500, ge=1, le=5000),
    offset: Offset = 0,
) -> list[NodeResponse]:
    records = fleet.nodes(who, site_id=site, rack_id=rack, state=state, limit=limit, offset=offset)
    return [
        NodeResponse(id=n.id, rack=n.rack_id, site=n.site_id, index=n.index, cpus=n.cpus, gpus=n.gpu_count,
                     gpus_not_up=n.gpus_down, state=n.state, state_reason=n.state_reason)  # type: ignore[arg-type]
        for n in records
    ]  # fmt: skip


@router.put("/nodes/{node_id:path}/state", operation_id="setNodeState")
def set_node_state(node_id: str, body: NodeStateRequest, who: Caller, fleet: Fleet) -> NodeResponse:
    fleet.set_node_state(who, node_id, body.state, body.reason)
    rack = node_id.rsplit("/", 1)[0]
    found = fleet.nodes(who, site_id=None, rack_id=rack, state=None, limit=100, offset=0)
    n = next(r for r in found if r.id == node_id)
    return NodeResponse(
        id=n.id,
        rack=n.rack_id,
        site=n.site_id,
        index=n.index,
        cpus=n.cpus,
        gpus=n.gpu_count,
        gpus_not_up=n.gpus_down,
        state=n.state,
        state_reason=n.state_reason,
    )  # type: ignore[arg-type]
