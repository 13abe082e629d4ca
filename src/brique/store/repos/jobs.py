"""Jobs and their events. Every state change is a guarded UPDATE (version check) plus an event row.

Rows never leave this module: `job_row_to_domain` converts each one to a `JobRecord` (its spec
decoded once per job, cached by id: a spec never changes after submission).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, false, func, insert, or_, select, update
from sqlalchemy.orm import Session

from brique.domain.job_lifecycle import JobSpec, JobState, StopReason, spec_from_dict, spec_to_dict
from brique.domain.job_records import JobEvent, JobRecord, Transition
from brique.domain.jobs import Tier
from brique.errors import StaleWrite
from brique.store.tables import JobEventRow, JobRow, TenantUsageRow

ACTIVE = (JobState.SCHEDULED.value, JobState.RUNNING.value)

# Statements of the submit path, built once: building one per call costs more than running it.
_BY_KEY = select(JobRow).where(JobRow.org_id == bindparam("org_id"), JobRow.idempotency_key == bindparam("key"))
_INSERT_JOBS, _INSERT_EVENTS = insert(JobRow.__table__), insert(JobEventRow.__table__)
COUNT_PENDING = select(func.count()).select_from(JobRow.__table__).where(
    JobRow.__table__.c.org_id == bindparam("org_id"), JobRow.__table__.c.state == JobState.PENDING.value
)  # read on every submission: Core, run on the session's connection


def job_row_to_domain(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id, org_id=row.org_id, project_id=row.project_id, name=row.name, state=JobState(row.state),
        tier=Tier(row.tier), gpus=row.gpus, spec=spec_from_dict(row.spec),
        submitted_at=row.submitted_at, updated_at=row.updated_at, created_by=row.created_by,
        attempt=row.attempt, retries_left=row.retries_left, site_id=row.site_id, gpu_ids=tuple(row.gpu_ids),
        scheduled_at=row.scheduled_at, started_at=row.started_at, finished_at=row.finished_at,
        exit_code=row.exit_code, stop_reason=StopReason(row.stop_reason) if row.stop_reason else None,
        stop_requested_at=row.stop_requested_at, stop_deadline=row.stop_deadline, wait_code=row.wait_code,
        wait_message=row.wait_message, idempotency_key=row.idempotency_key, request_hash=row.request_hash,
        version=row.version, array_id=row.array_id, array_index=row.array_index,
        array_max_running=row.array_max_running,
    )  # fmt: skip


def event_row_to_domain(row: JobEventRow) -> JobEvent:
    return JobEvent(
        id=row.id, job_id=row.job_id, org_id=row.org_id, at=row.at, attempt=row.attempt,
        from_state=JobState(row.from_state) if row.from_state else None, to_state=JobState(row.to_state),
        code=row.code, message=row.message,
    )  # fmt: skip


def as_column(value: Any) -> Any:
    """A domain value as its column holds it (tuples as JSON lists; str enums are str already)."""
    return list(value) if isinstance(value, tuple) else value


def add_jobs(session: Session, jobs: list[tuple[JobRecord, str]]) -> None:
    """Insert jobs (a group commit's submissions) and their `submitted` events (message each): two
    multi-row core statements, no ORM unit of work on the submit path."""
    if not jobs:
        return
    docs: dict[int, dict[str, Any]] = {}
    conn = session.connection()  # Core on the session's connection: no ORM bulk-insert bookkeeping
    rows, events = [row_values(j, docs) for j, _ in jobs], [submitted_event(j, m) for j, m in jobs]
    # a lone row as a plain execute: psycopg runs an executemany in pipeline mode, costly for one row
    conn.execute(_INSERT_JOBS, rows[0] if len(rows) == 1 else rows)
    conn.execute(_INSERT_EVENTS, events[0] if len(events) == 1 else events)


def submitted_event(job: JobRecord, message: str) -> dict[str, Any]:
    """The `submitted` event row of a new job."""
    return dict(job_id=job.id, org_id=job.org_id, at=job.submitted_at, attempt=job.attempt, from_state=None,
                to_state=job.state.value, code="submitted", message=message[:1000])  # fmt: skip


def row_values(job: JobRecord, docs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A new job's row; `docs` keeps spec dicts by spec object (an array's tasks share one)."""
    spec = docs.get(id(job.spec)) or docs.setdefault(id(job.spec), spec_to_dict(job.spec))
    return dict(
        id=job.id, org_id=job.org_id, project_id=job.project_id, name=job.name, state=job.state.value,
        tier=job.tier.value, gpus=job.gpus, spec=spec, attempt=job.attempt,
        retries_left=job.retries_left, gpu_ids=list(job.gpu_ids), submitted_at=job.submitted_at,
        updated_at=job.updated_at, idempotency_key=job.idempotency_key, request_hash=job.request_hash,
        created_by=job.created_by, version=job.version, array_id=job.array_id, array_index=job.array_index,
        array_max_running=job.array_max_running,
    )  # fmt: skip


def array_tasks(session: Session, array_id: str, states: Iterable[str] | None = None) -> list[JobRecord]:
    q = select(JobRow).where(JobRow.array_id == array_id).order_by(JobRow.array_index)
    if states:
        q = q.where(JobRow.state.in_(list(states)))
    return [job_row_to_domain(row) for row in session.scalars(q)]


def array_counts(session: Session, array_id: str) -> dict[str, int]:
    """Tasks of the array per state."""
    q = select(JobRow.state, func.count()).where(JobRow.array_id == array_id).group_by(JobRow.state)
    return {state: n for state, n in session.execute(q).all()}


def add_event(
    session: Session,
    job: JobRecord,
    src: JobState | None,
    dst: JobState,
    code: str,
    message: str,
    at: datetime,
) -> None:
    session.add(
        JobEventRow(job_id=job.id, org_id=job.org_id, at=at, attempt=job.attempt,
                    from_state=src.value if src else None, to_state=dst.value, code=code, message=message[:1000])
    )  # fmt: skip


def move(session: Session, job: JobRecord, t: Transition, at: datetime) -> JobRecord:
    """Apply a transition if the job is still at the version we read; record the event.

    Raises `StaleWrite` when another writer changed the job first (reload and decide again).
    """
    after = job.moved(t, at)
    values = {key: as_column(getattr(after, key)) for key in (*t.values, "state", "updated_at", "version")}
    # synchronize_session=False: the ORM must not scan every loaded job to sync them (O(n) per update)
    stmt = update(JobRow).where(JobRow.id == job.id, JobRow.version == job.version).values(**values)
    result = session.execute(stmt.execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleWrite(job.id)
    if t.to != job.state or t.code:
        add_event(session, after, job.state, t.to, t.code, t.message, at)
    return after


def move_all(session: Session, job: JobRecord, steps: Iterable[Transition], at: datetime) -> JobRecord:
    for step in steps:
        job = move(session, job, step, at)
    return job


def get(session: Session, job_id: str) -> JobRecord | None:
    row = session.get(JobRow, job_id)
    return job_row_to_domain(row) if row is not None else None


def by_idempotency_key(session: Session, org_id: str, key: str) -> JobRecord | None:
    row = session.scalar(_BY_KEY, {"org_id": org_id, "key": key})
    return job_row_to_domain(row) if row is not None else None


def by_ids(session: Session, job_ids: Iterable[str]) -> dict[str, JobRecord]:
    rows = session.scalars(select(JobRow).where(JobRow.id.in_(list(job_ids))))
    return {row.id: job_row_to_domain(row) for row in rows}


def list_jobs(
    session: Session, *, org_id: str | None, project_id: str | None, states: Iterable[str] | None, limit: int,
    array_id: str | None = None, after: tuple[datetime, str] | None = None, offset: int = 0,
) -> list[JobRecord]:  # fmt: skip
    """Newest first (ties by id). `after`: the (submitted_at, id) of the last job of the previous page."""
    q = select(JobRow).order_by(JobRow.submitted_at.desc(), JobRow.id).limit(limit).offset(offset)
    if org_id is not None:
        q = q.where(JobRow.org_id == org_id)
    if project_id is not None:
        q = q.where(JobRow.project_id == project_id)
    if states:
        q = q.where(JobRow.state.in_(list(states)))
    if array_id is not None:
        q = q.where(JobRow.array_id == array_id)
    if after is not None:
        at, job_id = after
        q = q.where(or_(JobRow.submitted_at < at, and_(JobRow.submitted_at == at, JobRow.id > job_id)))
    return [job_row_to_domain(row) for row in session.scalars(q)]


def in_states(session: Session, states: Iterable[str]) -> list[JobRecord]:
    q = select(JobRow).where(JobRow.state.in_(list(states))).order_by(JobRow.id)
    return [job_row_to_domain(row) for row in session.scalars(q)]


def lock_for_writing(session: Session) -> None:
    """Take SQLite's write lock now, before the first read: a transaction that reads and then
    writes fails at once ("database is locked") if another writer committed in between, which a
    busy timeout cannot cure; taken first, the others wait for it instead. PostgreSQL: nothing to do
    (every change is a version-guarded UPDATE)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(JobRow).where(false()).values(version=JobRow.version))


def count_pending(session: Session, org_id: str) -> int:
    return session.connection().scalar(COUNT_PENDING, {"org_id": org_id}) or 0


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
    return [event_row_to_domain(e) for e in reversed(session.scalars(q).all())]


def started_messages(session: Session, job_ids: list[str]) -> dict[tuple[str, int], str]:
    """Each attempt's `started` event message, by (job id, attempt): what the node said ran."""
    if not job_ids:
        return {}
    q = select(JobEventRow.job_id, JobEventRow.attempt, JobEventRow.message).where(
        JobEventRow.job_id.in_(job_ids), JobEventRow.code == "started"
    )
    return {(j, a): m for j, a, m in session.execute(q)}


def usage(session: Session) -> dict[str, TenantUsageRow]:
    return {row.org_id: row for row in session.scalars(select(TenantUsageRow))}


def save_usage(session: Session, org_id: str, decayed: float, at: datetime) -> None:
    row = session.get(TenantUsageRow, org_id)
    if row is None:
        session.add(TenantUsageRow(org_id=org_id, decayed_gpu_s=decayed, updated_at=at))
    else:
        row.decayed_gpu_s = decayed
        row.updated_at = at


def replace_spec(session: Session, job: JobRecord, spec: JobSpec) -> JobRecord:
    """A pending job's spec narrowed by a policy change (version-guarded like every change)."""
    stmt = (update(JobRow).where(JobRow.id == job.id, JobRow.version == job.version)
            .values(spec=spec_to_dict(spec), version=job.version + 1))  # fmt: skip
    if session.execute(stmt.execution_options(synchronize_session=False)).rowcount != 1:  # type: ignore[attr-defined]
        raise StaleWrite(job.id)
    return dataclasses.replace(job, spec=spec, version=job.version + 1)


def stops_pending(session: Session) -> list[tuple[str, int, datetime, str | None]]:
    """(job, attempt, stop deadline, site) of every active job asked to stop."""
    q = select(JobRow.id, JobRow.attempt, JobRow.stop_deadline, JobRow.site_id).where(
        JobRow.state.in_(ACTIVE), JobRow.stop_deadline.is_not(None)
    )
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(q)]
