"""Wire models for the control plane's own state (`GET /v1/system/status`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from brique.domain.leadership import Lease, ReplicaStatus


class ReplicaInfo(BaseModel):
    id: str = Field(description="the replica that answered")
    leading: bool = Field(description="whether it runs the scheduling loop and housekeeping")


class LeaderInfo(BaseModel):
    id: str = Field(description="the leading replica's id")
    since: datetime = Field(description="when its term began (UTC)")
    term: int = Field(description="grows by one at each change of leader (the fencing token)")
    renewed_at: datetime = Field(description="the leader's latest scheduling cycle (UTC)")

    @classmethod
    def from_domain(cls, lease: Lease) -> LeaderInfo:
        return cls(id=lease.replica_id, since=lease.since, term=lease.term, renewed_at=lease.renewed_at)


class SystemStatusResponse(BaseModel):
    replica: ReplicaInfo
    leader: LeaderInfo | None = Field(description="the leader of record (none before any replica led)")
    database: str = Field(description="sqlite (one replica) or postgresql (one or more)")

    @classmethod
    def from_domain(cls, st: ReplicaStatus) -> SystemStatusResponse:
        leader = LeaderInfo.from_domain(st.leader) if st.leader else None
        return cls(
            replica=ReplicaInfo(id=st.replica_id, leading=st.leading), leader=leader, database=st.database
        )
