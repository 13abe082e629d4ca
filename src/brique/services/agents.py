"""Node agents of `local` sites: registration, heartbeats, work assignment, liveness.

An agent heartbeats with the current truth of the attempts it runs (level-based reports)
and new log bytes; the answer lists attempts to start, to stop and to forget. Everything
the answer contains is derived from the database, so a restarted control plane gives
agents the same orders. A node whose agent is silent for `timeout_s` goes `down`; the
scheduling loop then marks its jobs `lost` (requeued while retries remain).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.fleet import ExecutorKind, Fleet, HealthState
from brique.domain.job_records import JobRecord
from brique.domain.runs import RunReport, RunState
from brique.domain.tenancy import Action, Principal
from brique.errors import Conflict, InvalidInput, NotFound
from brique.executors.base import Launch
from brique.services.authz import require
from brique.services.scheduling import SchedulingService
from brique.store.db import Database
from brique.store.logs import LogArchive
from brique.store.repos import agents as repo
from brique.store.repos import fleet as fleet_repo
from brique.store.repos import jobs as jobs_repo

AUTO = "agent: "  # prefix of node-state reasons set by liveness, cleared when the agent returns


@dataclass
class Orders:
    start: list[Launch] = field(default_factory=list)
    stop: list[tuple[str, int, float]] = field(default_factory=list)
    forget: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Chunk:
    job_id: str
    attempt: int
    offset: int
    data: bytes


class AgentService:
    def __init__(
        self, db: Database, clock: Clock, fleet: Fleet, scheduling: SchedulingService, logs: LogArchive,
        timeout_s: float = 30.0,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.scheduling = scheduling
        self.logs = logs
        self.timeout_s = timeout_s
        self.started_at = clock.now()
        self._local_nodes = {
            n.id: n.gpu_count
            for site in fleet.sites if site.executor is ExecutorKind.LOCAL
            for rack in site.racks for n in rack.nodes
        }  # fmt: skip
        self._per_node: dict[tuple[str, int], dict[str, RunReport]] = {}  # multi-node attempts
        self._lock = threading.Lock()

    def register(self, who: Principal, node_id: str, gpus: int, hostname: str) -> tuple[str, int]:
        require(who, Action.AGENT)
        expected = self._node(node_id)
        if gpus < expected:
            raise InvalidInput(f"node {node_id} is declared with {expected} GPUs in the fleet; this machine has "
                               f"{gpus}", field="gpus")  # fmt: skip
        now = self.clock.now()
        with self.db.transaction() as s:
            if repo.owner(s, node_id) not in (None, who.user_id):
                raise Conflict(f"node {node_id} is served by another agent identity", field="node_id")
            repo.register(s, node_id, who.user_id, gpus, hostname, now)
            self._revive(s, node_id)
        return node_id.split("/", 1)[0], expected

    def heartbeat(
        self, who: Principal, node_id: str, reports: list[RunReport], chunks: list[Chunk]
    ) -> Orders:
        require(who, Action.AGENT)
        self._node(node_id)
        now = self.clock.now()
        with self.db.transaction() as s:
            if repo.owner(s, node_id) != who.user_id:
                raise Conflict(f"node {node_id} has no agent registered under this identity; register first",
                               field="node_id")  # fmt: skip
            repo.heartbeat(s, node_id, now)
            self._revive(s, node_id)
            mine = {r.id: r for r in jobs_repo.in_states(s, jobs_repo.ACTIVE) if r.on_node(node_id)}
        self._store_logs(node_id, mine, chunks)
        self.scheduling.apply_reports(self._aggregate(node_id, reports, mine))
        with self.db.transaction() as s:
            current = {r.id: r for r in jobs_repo.in_states(s, jobs_repo.ACTIVE) if r.on_node(node_id)}
        return self._orders(node_id, reports, current, now)

    def expire(self) -> list[str]:
        """Mark down the local nodes whose agent is missing or silent; return their ids.

        A node that never had an agent is down at once (nothing can run there). Silence of a
        known agent is only judged once this control plane has been up for a whole timeout, so
        a restart of the control plane itself never looks like the loss of every node.
        """
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.timeout_s)
        judge_silence = cutoff >= self.started_at
        downed = []
        with self.db.transaction() as s:
            beats = repo.last_heartbeats(s)
            for node_id in self._local_nodes:
                last = beats.get(node_id)
                if last is None:
                    why = f"{AUTO}no agent registered"
                elif judge_silence and last < cutoff:
                    why = f"{AUTO}no heartbeat since {last:%Y-%m-%dT%H:%M:%SZ}"
                else:
                    continue
                state = fleet_repo.node_state(s, node_id)
                if state is not None and state[0] is HealthState.UP:
                    fleet_repo.set_node_state(s, node_id, HealthState.DOWN, why)
                    downed.append(node_id)
        return downed

    # -- helpers --------------------------------------------------------------------------------

    def _node(self, node_id: str) -> int:
        if node_id not in self._local_nodes:
            raise NotFound(f"node '{node_id}' is not a node of a local-executor site", field="node_id")
        return self._local_nodes[node_id]

    @staticmethod
    def _revive(s: Session, node_id: str) -> None:
        state = fleet_repo.node_state(s, node_id)
        if state is not None and state[0] is HealthState.DOWN and (state[1] or "").startswith(AUTO):
            fleet_repo.set_node_state(s, node_id, HealthState.UP, None)

    def _store_logs(self, node_id: str, mine: dict[str, JobRecord], chunks: list[Chunk]) -> None:
        for c in chunks:
            row = mine.get(c.job_id)
            # an agent writes only its own jobs' logs; a multi-node job's log is its first node's (rank 0)
            if row is not None and row.attempt == c.attempt and row.first_node == node_id:
                self.logs.write_at(c.job_id, c.attempt, c.offset, c.data)

    def _aggregate(self, node_id: str, reports: list[RunReport], mine: dict[str, JobRecord]) -> list[RunReport]:
        """One report per attempt: a gang over several nodes is done when every node is."""
        out = []
        with self._lock:
            for r in reports:
                row = mine.get(r.job_id)
                if row is None or row.attempt != r.attempt:
                    continue
                nodes = row.nodes
                seen = self._per_node.setdefault((r.job_id, r.attempt), {})
                seen[node_id] = r
                out.append(_combine(r, seen, nodes))
        return out

    def _orders(
        self, node_id: str, reports: list[RunReport], current: dict[str, JobRecord], now: datetime
    ) -> Orders:
        orders = Orders()
        reported = {(r.job_id, r.attempt): r for r in reports}
        for row in current.values():
            key = (row.id, row.attempt)
            if row.stop_deadline is not None:
                orders.stop.append((row.id, row.attempt, max(0.0, (row.stop_deadline - now).total_seconds())))
            elif key not in reported:
                orders.start.append(self.scheduling.launch(row))
        for key, r in reported.items():
            row = current.get(key[0])
            if row is None or row.attempt != key[1]:
                if r.state.finished:
                    orders.forget.append(key)
                    with self._lock:
                        self._per_node.pop(key, None)
                else:
                    orders.stop.append((key[0], key[1], 0.0))  # no longer ours to run
        return orders


def _combine(latest: RunReport, seen: dict[str, RunReport], nodes: set[str]) -> RunReport:
    image = next((r.image for r in seen.values() if r.image), "")  # every node ran the same image
    states = [r.state for r in seen.values()]
    for bad in (RunState.FAILED, RunState.LOST):
        if bad in states:
            return replace(next(r for r in seen.values() if r.state is bad), image=image)
    if len(seen) == len(nodes) and all(s.finished for s in states):
        stopped = [r for r in seen.values() if r.state is RunState.STOPPED]
        return replace(stopped[0] if stopped else latest, image=image)
    if any(s is RunState.RUNNING or s.finished for s in states):
        started = min((r.started_at for r in seen.values() if r.started_at), default=None)
        note = image or next((r.message for r in seen.values() if r.state is RunState.RUNNING and r.message), "")
        return RunReport(latest.job_id, latest.attempt, RunState.RUNNING, started_at=started, message=note,
                         image=image)  # fmt: skip
    return latest
