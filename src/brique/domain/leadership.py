"""Which replica of the control plane leads (runs the scheduling loop and housekeeping).

Every replica serves the API; exactly one leads. The lease row is the durable record of the
current leader: `term` grows by one at each change of leader and is the fencing token a
leader's writes are checked against (see `brique.services.replicas`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

SCHEDULER_LEASE = "scheduler"


@dataclass(frozen=True, slots=True)
class Lease:
    """The leader of record: who, since when, under which term, last seen when."""

    name: str
    replica_id: str
    term: int
    since: datetime
    renewed_at: datetime


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """One replica's view: its own id, whether it leads, and the leader of record."""

    replica_id: str
    leading: bool
    database: str
    leader: Lease | None
