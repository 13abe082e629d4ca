"""Usage records and the collector's cursor over job events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from brique.domain.job_records import JobRecord
from brique.domain.metering import AttemptInterval, EventFact, RowTimes, UsageRecord
from brique.store.billing_tables import MeteringCursorRow, UsageRecordRow
from brique.store.tables import JobEventRow

CURSOR = "job_events"


def usage_row_to_domain(row: UsageRecordRow) -> UsageRecord:
    return UsageRecord(job_id=row.job_id, job_name=row.job_name, attempt=row.attempt, org_id=row.org_id,
                       project_id=row.project_id, tier=row.tier, site_id=row.site_id, gpus=row.gpus,
                       started_at=row.started_at, ended_at=row.ended_at, end_code=row.end_code)  # fmt: skip


def event_to_fact(row: JobEventRow) -> EventFact:
    return EventFact(row.at, row.attempt, row.from_state, row.to_state, row.code, row.message)


def row_times(job: JobRecord) -> RowTimes:
    return RowTimes(job.attempt, job.state, job.started_at, job.finished_at, job.site_id)


def cursor(session: Session) -> int:
    row = session.get(MeteringCursorRow, CURSOR)
    return row.last_event_id if row else 0


def save_cursor(session: Session, last_event_id: int, at: datetime) -> None:
    row = session.get(MeteringCursorRow, CURSOR)
    if row is None:
        session.add(MeteringCursorRow(name=CURSOR, last_event_id=last_event_id, updated_at=at))
    elif last_event_id > row.last_event_id:
        row.last_event_id = last_event_id
        row.updated_at = at


def touched_jobs(
    session: Session, after_id: int, limit: int, seen: set[int] | None = None
) -> tuple[list[str], int]:
    """Ids of jobs with events after `after_id` (at most `limit` events read), and the last id read.

    Events in `seen` (already applied) are skipped, and the others added to it."""
    q = (select(JobEventRow.id, JobEventRow.job_id, JobEventRow.from_state).where(JobEventRow.id > after_id)
         .order_by(JobEventRow.id).limit(limit))  # fmt: skip
    rows = session.execute(q).all()
    seen = set() if seen is None else seen
    # a submission (no previous state) holds no GPU time: nothing to meter
    jobs = sorted({job for eid, job, src in rows if src is not None and eid not in seen})
    seen.update(eid for eid, _, _ in rows)
    return jobs, (rows[-1][0] if rows else after_id)


def job_events(session: Session, job_id: str) -> list[EventFact]:
    q = select(JobEventRow).where(JobEventRow.job_id == job_id).order_by(JobEventRow.id)
    return [event_to_fact(e) for e in session.scalars(q)]


def existing(session: Session, job_id: str) -> dict[int, UsageRecordRow]:
    q = select(UsageRecordRow).where(UsageRecordRow.job_id == job_id)
    return {r.attempt: r for r in session.scalars(q)}


def upsert(session: Session, job: JobRecord, intervals: Iterable[AttemptInterval], now: datetime) -> int:
    """Insert or update one record per attempt; returns how many rows changed."""
    have = existing(session, job.id)
    changed = 0
    for i in intervals:
        row = have.get(i.attempt)
        site = i.site_id or (row.site_id if row else None) or job.site_id or ""
        if row is None:
            session.add(UsageRecordRow(job_id=job.id, job_name=job.name, attempt=i.attempt, org_id=job.org_id,
                                       project_id=job.project_id, tier=job.tier.value, site_id=site, gpus=job.gpus,
                                       started_at=i.started_at, ended_at=i.ended_at, end_code=i.end_code,
                                       updated_at=now))  # fmt: skip
            changed += 1
        elif (row.started_at, row.ended_at, row.end_code, row.site_id) != (
            i.started_at,
            i.ended_at,
            i.end_code,
            site,
        ):
            row.started_at, row.ended_at, row.end_code, row.site_id = (
                i.started_at,
                i.ended_at,
                i.end_code,
                site,
            )
            row.updated_at = now
            changed += 1
    return changed


def records(
    session: Session, *, org_id: str | None, lo: datetime, hi: datetime, job_id: str | None = None
) -> list[UsageRecord]:
    """Records overlapping [lo, hi) (open ones included), oldest first."""
    q = (select(UsageRecordRow)
         .where(UsageRecordRow.started_at < hi,
                or_(UsageRecordRow.ended_at.is_(None), UsageRecordRow.ended_at > lo))
         .order_by(UsageRecordRow.started_at, UsageRecordRow.job_id, UsageRecordRow.attempt))  # fmt: skip
    if org_id is not None:
        q = q.where(UsageRecordRow.org_id == org_id)
    if job_id is not None:
        q = q.where(UsageRecordRow.job_id == job_id)
    return [usage_row_to_domain(r) for r in session.scalars(q)]


def job_records(session: Session, job_id: str) -> list[UsageRecord]:
    q = select(UsageRecordRow).where(UsageRecordRow.job_id == job_id).order_by(UsageRecordRow.attempt)
    return [usage_row_to_domain(r) for r in session.scalars(q)]
