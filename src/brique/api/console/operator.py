"""Operator pages: the fleet heatmap (one cell per rack), a rack's nodes and jobs with drain/undrain,
site cards, and the tenants."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response

from brique.api import deps
from brique.api.console.web import ConsoleRoute, Posted, SignedIn, back_to, page
from brique.domain.fleet import HealthState
from brique.errors import NotFound
from brique.schemas.jobs import JobDetailResponse, JobResponse

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
ACTIVE = ["scheduled", "running"]
SHARE_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)  # colour classes a0..a4 of the allocated share


def _allocated(request: Request, viewer) -> tuple[Counter[str], dict[str, list]]:  # type: ignore[no-untyped-def]
    """GPUs held per rack, and the jobs holding each rack, read through the job service."""
    per_rack: Counter[str] = Counter()
    jobs: dict[str, list] = defaultdict(list)
    for row in deps.job_service(request).list(viewer.who, None, ACTIVE, 10_000):
        job = JobDetailResponse.from_domain(row, [], redact=True)
        racks = Counter(g.rsplit("/", 2)[0] for g in job.gpu_ids)
        per_rack.update(racks)
        for rack in racks:
            jobs[rack].append(job)
    return per_rack, jobs


def share_class(used: int, total: int) -> str:
    share = used / total if total else 0.0
    return f"a{sum(share > step for step in SHARE_STEPS[:-1])}"


def health_class(gpus: dict[str, int]) -> str:
    return "h-down" if gpus.get("down") else "h-draining" if gpus.get("draining") else "h-up"


@router.get("/fleet", operation_id="consoleFleet")
def fleet_page(request: Request, viewer: SignedIn,
               colour: Annotated[Literal["allocation", "health", "site"], Query()] = "allocation") -> Response:  # fmt: skip
    fleet = deps.fleet_service(request)
    capacity = fleet.capacity(viewer.who)
    used, holders = _allocated(request, viewer) if viewer.operator else (Counter(), {})
    racks = fleet.racks(viewer.who, None)
    site_index = {c.site.id: i for i, c in enumerate(capacity)}
    cells = [
        {"id": r.rack.id, "site": r.rack.site_id, "gpus": r.rack.gpu_count, "used": used[r.rack.id],
         "health": health_class(r.gpus), "down": r.gpus.get("down", 0), "draining": r.gpus.get("draining", 0),
         "share": share_class(used[r.rack.id], r.rack.gpu_count), "site_class": f"s{site_index[r.rack.site_id] % 6}",
         "jobs": ", ".join(j.id for j in holders.get(r.rack.id, [])[:5])}  # operators: ids, never names
        for r in racks
    ]  # fmt: skip
    by_site = {c.site.id: [cell for cell in cells if cell["site"] == c.site.id] for c in capacity}
    queue = _queue_depth(request, viewer) if viewer.operator else None
    cycles = _cycle_times(request) if viewer.operator else None
    return page(request, "fleet.html", viewer, capacity=capacity, by_site=by_site, colour=colour,
                total_racks=len(cells), total_gpus=sum(c["gpus"] for c in cells),
                total_used=sum(c["used"] for c in cells), queue=queue, cycles=cycles)  # fmt: skip


def _cycle_times(request: Request) -> dict:
    """This replica's scheduling cycles per minute (median and max) over the queue chart's hours."""
    loop = deps.scheduler_loop(request)
    now = deps.job_service(request).clock.now()
    points = loop.history.points(now, QUEUE_HOURS)
    peak = max((p.max_ms for p in points), default=0.0)
    return {"points": points, "peak": peak or 1.0, "leading": loop.leading, "hours": QUEUE_HOURS,
            "start": now - timedelta(hours=QUEUE_HOURS), "span_s": QUEUE_HOURS * 3600,
            "ticks": [now - timedelta(hours=QUEUE_HOURS - i) for i in range(QUEUE_HOURS + 1)],
            "last": loop.last.duration_ms if loop.last else None}  # fmt: skip


QUEUE_HOURS = 6
QUEUE_POINTS = 73  # one every 5 minutes


def _queue_depth(request: Request, viewer) -> dict:  # type: ignore[no-untyped-def]
    """Jobs waiting over the last hours, from each job's first wait (submitted until placed or ended)."""
    jobs = deps.job_service(request)
    now = jobs.clock.now()
    start = now - timedelta(hours=QUEUE_HOURS)
    waits = []
    for row in jobs.list(viewer.who, None, None, 10_000):
        j = JobResponse.from_domain(row, redact=True)
        end = j.scheduled_at or j.finished_at or now
        if end >= start:
            waits.append((j.submitted_at, end))
    step = (now - start) / (QUEUE_POINTS - 1)
    times = [start + step * i for i in range(QUEUE_POINTS)]
    depth = [sum(1 for a, b in waits if a <= t < b or (t == now and b == now)) for t in times]
    return {
        "times": times,
        "depth": depth,
        "peak": max(depth, default=0) or 1,
        "now": depth[-1],
        "hours": QUEUE_HOURS,
    }


@router.get("/fleet/racks/{rack_id:path}", operation_id="consoleRack")
def rack_page(request: Request, rack_id: str, viewer: SignedIn) -> Response:
    nodes = deps.fleet_service(request).nodes(viewer.who, site_id=None, rack_id=rack_id, state=None,
                                              limit=500, offset=0)  # fmt: skip
    if not nodes:
        raise NotFound(f"rack '{rack_id}' not found", field="rack")
    _, jobs = _allocated(request, viewer) if viewer.operator else (Counter(), {})
    on_node: dict[str, list] = defaultdict(list)
    for job in jobs.get(rack_id, []):
        for node in sorted({g.rsplit("/", 1)[0] for g in job.gpu_ids if g.startswith(rack_id + "/")}):
            on_node[node].append(job)
    return page(request, "rack.html", viewer, rack_id=rack_id, nodes=nodes, on_node=on_node,
                may_manage=viewer.may("fleet.manage"), states=[s.value for s in HealthState])  # fmt: skip


@router.post("/fleet/nodes/{node_id:path}/state", operation_id="consoleSetNodeState")
def set_node_state(
    request: Request, node_id: str, viewer: Posted,
    state: Annotated[HealthState, Form()], reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:  # fmt: skip
    deps.fleet_service(request).set_node_state(viewer.who, node_id, state, reason.strip() or None)
    return back_to(f"/console/fleet/racks/{node_id.rsplit('/', 1)[0]}")


@router.get("/tenants", operation_id="consoleTenants")
def tenants_page(request: Request, viewer: SignedIn) -> Response:
    orgs = deps.tenancy_service(request).list_orgs(viewer.who)
    return page(request, "tenants.html", viewer, orgs=orgs)
