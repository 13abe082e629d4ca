"""A stored job as the services see it: its spec, state, current attempt and the rules that move it.

`JobRecord` is what crosses layers (the store converts its rows once, the API converts it
once to a response); it never touches a database. A change is a `Transition`: the target
state, a reason (code + sentence, kept as the job's event) and the fields that change with
it. `JobRecord.moved(t, at)` checks the move is legal and returns the next version; the
store persists it with a version guard, so a stale writer can never overwrite newer state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from brique.domain.fleet import node_of, racks_of
from brique.domain.job_lifecycle import JobSpec, JobState, StopReason, can_move
from brique.domain.jobs import Tier

# Fields cleared when an attempt gives its GPUs back.
RELEASE: dict[str, Any] = {
    "gpu_ids": (),
    "site_id": None,
    "stop_reason": None,
    "stop_requested_at": None,
    "stop_deadline": None,
}


@dataclass(frozen=True, slots=True)
class Transition:
    """A move of one job from its current state, with the fields that change alongside.

    `to` equal to the current state is an in-place change (e.g. a stop being requested);
    it is still recorded as an event when it has a `code`.
    """

    to: JobState
    code: str
    message: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One state change of a job, with its reason. Append-only."""

    id: int
    job_id: str
    org_id: str
    at: datetime
    attempt: int
    from_state: JobState | None
    to_state: JobState
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job and its current attempt. `version` increases with every state change."""

    id: str
    org_id: str
    project_id: str
    name: str
    state: JobState
    tier: Tier
    gpus: int
    spec: JobSpec
    submitted_at: datetime
    updated_at: datetime
    created_by: str
    attempt: int = 1
    retries_left: int = 0
    site_id: str | None = None
    gpu_ids: tuple[str, ...] = ()
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    stop_reason: StopReason | None = None
    stop_requested_at: datetime | None = None
    stop_deadline: datetime | None = None
    wait_code: str | None = None
    wait_message: str | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None
    version: int = 1
    array_id: str | None = None  # a task of a job array (domain/arrays.py)
    array_index: int | None = None
    array_max_running: int | None = None

    # -- derived ----------------------------------------------------------------------------------

    @property
    def racks(self) -> list[str]:
        return racks_of(self.gpu_ids)

    @property
    def nodes(self) -> set[str]:
        return {node_of(g) for g in self.gpu_ids}

    @property
    def first_node(self) -> str:
        """The node of rank 0 (its log is the job's log)."""
        return node_of(min(self.gpu_ids))

    def on_node(self, node_id: str) -> bool:
        prefix = node_id + "/"
        return any(g.startswith(prefix) for g in self.gpu_ids)

    @property
    def where(self) -> str:
        return f"{self.site_id}: {', '.join(self.racks)} ({self.gpus} GPUs)"

    def past_max_runtime(self, now: datetime) -> bool:
        """Running, not yet asked to stop, and past its max runtime."""
        at = self.times_out_at
        return at is not None and now >= at

    @property
    def times_out_at(self) -> datetime | None:
        """When it reaches its max runtime: None unless running and not yet asked to stop."""
        if self.state is not JobState.RUNNING or self.stop_reason is not None or self.started_at is None:
            return None
        return self.started_at + timedelta(seconds=self.spec.max_runtime_s)

    # -- moves ------------------------------------------------------------------------------------

    def moved(self, t: Transition, at: datetime) -> JobRecord:
        """The next version of this job after `t`; refuses an illegal move."""
        if t.to != self.state and not can_move(self.state, t.to):
            raise ValueError(f"job {self.id}: {self.state} -> {t.to} is not a legal transition")
        # the fields read by name: 2.5x faster than dataclasses.replace (20,000 moves for a 10,000-task array)
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields.update(t.values, state=t.to, updated_at=at, version=self.version + 1)
        return JobRecord(**fields)

    def stop(self, reason: StopReason, grace_s: float, at: datetime, code: str, message: str) -> Transition:
        """Mark a job holding GPUs as stopping: the stop is durable before any executor hears of it."""
        values = {"stop_reason": reason, "stop_requested_at": at, "stop_deadline": at + timedelta(seconds=grace_s)}
        return Transition(self.state, code, message, values)

    def cancel_pending(self, by: str, at: datetime) -> Transition:
        return Transition(JobState.CANCELLED, "cancelled", f"cancelled by {by}", {"finished_at": at})

    def suspend_waiting(self, message: str) -> Transition:
        """Hold a job that holds no GPUs (pending): it leaves the queue until resumed."""
        return Transition(JobState.SUSPENDED, "suspended", message, {"wait_code": None, "wait_message": None})

    def resume(self, message: str) -> Transition:
        return Transition(JobState.PENDING, "resumed", message, {})

    def place(self, site: str, gpus: tuple[str, ...], at: datetime, code: str, why: str) -> Transition:
        values = {"gpu_ids": gpus, "site_id": site, "scheduled_at": at, "wait_code": None, "wait_message": None}
        msg = f"placed on {site}: {', '.join(racks_of(gpus))} ({len(gpus)} GPUs); {why}"
        return Transition(JobState.SCHEDULED, code, msg, values)

    def reject(self, code: str, message: str, at: datetime) -> Transition:
        return Transition(JobState.FAILED, code, message, {"finished_at": at})

    def launch_failed(self, why: str) -> Transition:
        values = {"gpu_ids": (), "site_id": None, "scheduled_at": None}
        return Transition(JobState.PENDING, "launch_failed", f"launch failed: {why}; requeued", values)


_FIELDS = tuple(f.name for f in dataclasses.fields(JobRecord))
