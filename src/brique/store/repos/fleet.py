"""Fleet persistence: bulk insert on first load, fingerprint check on restart."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from brique.domain.fleet import Fleet, HealthState
from brique.store.tables import FleetRow, GpuRow, JobRow, NodeRow, RackRow, SiteRow


def fleet_fingerprint(fleet: Fleet) -> str:
    """A digest of everything the fleet file defines (not of runtime health states)."""
    doc = [
        (s.id, s.name, s.region, s.country, s.jurisdiction, s.operator.name, s.operator.country,
         sorted(s.certifications), s.pue, s.grid_gco2e_per_kwh, s.executor.value,
         [(r.id, r.gpu_model, r.gpu_power_w, [(n.id, n.cpus, n.gpu_count) for n in r.nodes])
          for r in s.racks])
        for s in fleet.sites
    ]  # fmt: skip
    return hashlib.sha256(json.dumps([fleet.name, doc]).encode()).hexdigest()


def stored_fingerprint(session: Session, name: str) -> str | None:
    return session.scalar(select(FleetRow.fingerprint).where(FleetRow.name == name))


def replace_fleet(session: Session, fleet: Fleet, source: str, now: datetime) -> None:
    """Write the fleet, keeping the health state of nodes and GPUs that still exist."""
    node_states, gpu_states = unhealthy_states(session)
    session.execute(delete(GpuRow))
    session.execute(delete(NodeRow))
    session.execute(delete(RackRow))
    session.execute(delete(SiteRow))
    session.execute(delete(FleetRow))
    fp = fleet_fingerprint(fleet)
    session.execute(insert(FleetRow), [dict(name=fleet.name, fingerprint=fp, source=source, loaded_at=now)])
    session.execute(insert(SiteRow), [_site_values(fleet.name, i, s) for i, s in enumerate(fleet.sites)])
    racks = list(fleet.racks())
    session.execute(insert(RackRow), [_rack_values(r) for r in racks])
    nodes = [n for r in racks for n in r.nodes]
    session.execute(insert(NodeRow), [_node_values(n, node_states.get(n.id, "up")) for n in nodes])
    gpu_rows = [
        dict(id=g.id, node_id=g.node_id, index=g.index, state=gpu_states.get(g.id, "up"))
        for n in nodes
        for g in n.gpus
    ]
    session.execute(insert(GpuRow), gpu_rows)


def _site_values(fleet_name: str, position: int, s) -> dict:  # type: ignore[no-untyped-def]
    return dict(
        id=s.id, fleet_name=fleet_name, position=position, name=s.name, region=s.region,
        country=s.country, jurisdiction=s.jurisdiction, operator_name=s.operator.name,
        operator_country=s.operator.country, certifications=sorted(s.certifications), pue=s.pue,
        grid_gco2e_per_kwh=s.grid_gco2e_per_kwh, executor=s.executor.value,
    )  # fmt: skip


def _rack_values(r) -> dict:  # type: ignore[no-untyped-def]
    return dict(id=r.id, site_id=r.site_id, index=r.index, gpu_model=r.gpu_model, gpu_power_w=r.gpu_power_w)


def _node_values(n, state: str) -> dict:  # type: ignore[no-untyped-def]
    return dict(id=n.id, rack_id=n.rack_id, index=n.index, cpus=n.cpus, gpu_count=n.gpu_count, state=state)


_NODES_NOT_UP = select(NodeRow.__table__.c.id, NodeRow.__table__.c.state).where(NodeRow.__table__.c.state != "up")
_GPUS_NOT_UP = select(GpuRow.__table__.c.id, GpuRow.__table__.c.state).where(GpuRow.__table__.c.state != "up")


def unhealthy_states(session: Session) -> tuple[dict[str, str], dict[str, str]]:
    """Node and GPU states that differ from `up` (the rare case; cheap to load)."""
    conn = session.connection()  # read every cycle: statements built once, no ORM execution path
    return dict(conn.execute(_NODES_NOT_UP).all()), dict(conn.execute(_GPUS_NOT_UP).all())


@dataclass(frozen=True, slots=True)
class NodeRecord:
    id: str
    rack_id: str
    site_id: str
    index: int
    cpus: int
    gpu_count: int
    state: str
    state_reason: str | None
    gpus_down: int


def list_nodes(
    session: Session, *, site_id: str | None, rack_id: str | None, state: str | None, limit: int, offset: int
) -> list[NodeRecord]:
    gpus_bad = (
        select(GpuRow.node_id, func.count().label("bad"))
        .where(GpuRow.state != "up")
        .group_by(GpuRow.node_id)
        .subquery()
    )
    q = (
        select(NodeRow, RackRow.site_id, func.coalesce(gpus_bad.c.bad, 0))
        .join(RackRow, RackRow.id == NodeRow.rack_id)
        .outerjoin(gpus_bad, gpus_bad.c.node_id == NodeRow.id)
        .order_by(NodeRow.id)
    )
    if site_id:
        q = q.where(RackRow.site_id == site_id)
    if rack_id:
        q = q.where(NodeRow.rack_id == rack_id)
    if state:
        q = q.where(NodeRow.state == state)
    rows = session.execute(q.limit(limit).offset(offset)).all()
    return [
        NodeRecord(n.id, n.rack_id, site, n.index, n.cpus, n.gpu_count, n.state, n.state_reason, bad)
        for n, site, bad in rows
    ]


def node_state(session: Session, node_id: str) -> tuple[HealthState, str | None] | None:
    """(state, reason) of a node, None when the fleet has no such node."""
    row = session.get(NodeRow, node_id)
    return None if row is None else (HealthState(row.state), row.state_reason)


def set_node_state(session: Session, node_id: str, state: HealthState, reason: str | None) -> bool:
    result = session.execute(
        update(NodeRow)
        .where(NodeRow.id == node_id)
        .values(state=state.value, state_reason=reason, version=NodeRow.version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def allocated_by_site(session: Session) -> dict[str, int]:
    """GPUs held by scheduled or running jobs, per site."""
    q = (
        select(JobRow.site_id, func.sum(JobRow.gpus))
        .where(JobRow.state.in_(("scheduled", "running")), JobRow.site_id.is_not(None))
        .group_by(JobRow.site_id)
    )
    return {site: int(n or 0) for site, n in session.execute(q).all()}
