"""Jobs and their events. Every state change is a guarded UPDATE (version check) plus an event row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from brique.domain.job_lifecycle import JobState, can_move
from brique.store.tables import ContractRow, JobEventRow, JobRow, TenantUsageRow

ACTIVE = (JobState.SCHEDULED.value, JobState.RUNNING.value)


@dataclass(frozen=True, slots=True)
class Transition:
    """A move of one job from its current state, with the columns that change alongside."""

    to: JobState
    code: str
    message: str
    values: dict[str, Any]


class StaleJob(Exception):
    """The job changed under us (another writer won); reload and decide again."""


def add_job(session: Session, row: JobRow, at: datetime, message: str) -> None:
    session.add(row)
    session.flush()
    add_event(session, row, None, JobState(row.state), "submitted", message, at)


def add_event(
    session: Session, job: JobRow, src: JobState | None, dst: JobState, code: str, message: str, at: datetime
) -> None:
    session.add(
        JobEventRow(job_id=job.id, org_id=job.org_id, at=at, attempt=job.attempt,
                    from_state=src.value if src else None, to_state=dst.value, code=code, message=message[:1000])
    )  # fmt: skip


def move(session: Session, job: JobRow, t: Transition, at: datetime) -> JobRow:
    """Apply a transition if the job is still at the version we read; record the event."""
    src = JobState(job.state)
    if t.to != src and not can_move(src, t.to):
        raise ValueError(f"job {job.id}: {src} -> {t.to} is not a legal transition")
    values = {**t.values, "state": t.to.value, "updated_at": at, "version": job.version + 1}
    # synchronize_session=False: the ORM must not scan every loaded job to sync them (O(n) per update);
    # the one row we changed is updated in place below, without marking it dirty (no second UPDATE).
    stmt = update(JobRow).where(JobRow.id == job.id, JobRow.version == job.version).values(**values)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleJob(job.id)
    for key, value in values.items():
        set_committed_value(job, key, value)
    if t.to != src or t.code:
        add_event(session, job, src, t.to, t.code, t.message, at)
    return job


def set_waits(session: Session, waits: list[tuple[JobRow, str, str]]) -> None:
    """Record why pending jobs wait, in one statement for those whose reason changed."""
    changed = [
        (job, code, msg[:1000])
        for job, code, msg in waits
        if (job.wait_code, job.wait_message) != (code, msg[:1000])
    ]
    if not changed:
        return
    session.execute(update(JobRow), [{"id": j.id, "wait_code": c, "wait_message": m} for j, c, m in changed])
    for job, code, msg in changed:
        set_committed_value(job, "wait_code", code)
        set_committed_value(job, "wait_message", msg)


def get(session: Session, job_id: str) -> JobRow | None:
    return session.get(JobRow, job_id)


def by_idempotency_key(session: Session, org_id: str, key: str) -> JobRow | None:
    return session.scalar(select(JobRow).where(JobRow.org_id == org_id, JobRow.idempotency_key == key))


def list_jobs(
    session: Session, *, org_id: str | None, project_id: str | None, states: Iterable[str] | None, limit: int
) -> list[JobRow]:
    q = select(JobRow).order_by(JobRow.submitted_at.desc(), JobRow.id).limit(limit)
    if org_id is not None:
        q = q.where(JobRow.org_id == org_id)
    if project_id is not None:
        q = q.where(JobRow.project_id == project_id)
    if states:
        q = q.where(JobRow.state.in_(list(states)))
    return list(session.scalars(q))


def in_states(session: Session, states: Iterable[str]) -> list[JobRow]:
    return list(session.scalars(select(JobRow).where(JobRow.state.in_(list(states))).order_by(JobRow.id)))


def count_pending(session: Session, org_id: str) -> int:
    q = select(func.count()).select_from(JobRow).where(JobRow.org_id == org_id, JobRow.state == "pending")
    return session.scalar(q) or 0


def events(
    session: Session, *, job_id: str | None, org_id: str | None, since: datetime | None, limit: int
) -> list[JobEventRow]:
    """The `limit` most recent events, oldest first."""
    q = select(JobEventRow).order_by(JobEventRow.id.desc()).limit(limit)
    if job_id is not None:
        q = q.where(JobEventRow.job_id == job_id)
    if org_id is not None:
        q = q.where(JobEventRow.org_id == org_id)
    if since is not None:
        q = q.where(JobEventRow.at >= since)
    return list(reversed(session.scalars(q).all()))


def contracts(session: Session) -> list[ContractRow]:
    return list(session.scalars(select(ContractRow).order_by(ContractRow.org_id, ContractRow.id)))


def usage(session: Session) -> dict[str, TenantUsageRow]:
    return {row.org_id: row for row in session.scalars(select(TenantUsageRow))}


def save_usage(session: Session, org_id: str, decayed: float, at: datetime) -> None:
    row = session.get(TenantUsageRow, org_id)
    if row is None:
        session.add(TenantUsageRow(org_id=org_id, decayed_gpu_s=decayed, updated_at=at))
    else:
        row.decayed_gpu_s = decayed
        row.updated_at = at
