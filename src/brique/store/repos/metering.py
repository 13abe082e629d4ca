"""Usage records and the collector's cursor over job events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from brique.domain.job_records import JobRecord
from brique.domain.metering import AttemptInterval, EventFact, RowTimes, UsageRecord
from brique.store.billing_tables import MeteringCursorRow, UsageRecordRow
from brique.store.repos.id_lists import among
from brique.store.tables import JobEventRow, JobRow

CURSOR = "job_events"


def usage_row_to_domain(row: UsageRecordRow) -> UsageRecord:
    return UsageRecord(job_id=row.job_id, job_name=row.job_name, attempt=row.attempt, org_id=row.org_id,
                       project_id=row.project_id, tier=row.tier, site_id=row.site_id, gpus=row.gpus,
                       started_at=row.started_at, ended_at=row.ended_at, end_code=row.end_code)  # fmt: skip


def event_to_fact(row: JobEventRow) -> EventFact:
    return EventFact(row.at, row.attempt, row.from_state, row.to_state, row.code, row.message)


def row_times(job: JobRecord | UsageJob) -> RowTimes:
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


# -- in bulk: the collector refreshes thousands of jobs at once (an array placed in one cycle) -------

_USAGE = UsageRecordRow.__table__
Kept = tuple[int, datetime, datetime | None, str | None, str]  # row id, started, ended, end code, site


class UsageJob(Protocol):
    """The columns of a job that its usage records copy (a row of `usage_jobs`)."""

    id: str
    name: str
    org_id: str
    project_id: str
    tier: str
    gpus: int
    site_id: str | None
    attempt: int
    state: str
    started_at: datetime | None
    finished_at: datetime | None


def usage_jobs(session: Session, job_ids: list[str]) -> dict[str, UsageJob]:
    """Those columns of these jobs (not whole rows: thousands are read at once)."""
    j = JobRow.__table__.c
    cols = (j.id, j.name, j.org_id, j.project_id, j.tier, j.gpus, j.site_id, j.attempt, j.state, j.started_at,
            j.finished_at)  # fmt: skip
    out: dict[str, UsageJob] = {}
    for ids in among(session, j.id, job_ids):
        out.update((r.id, r) for r in session.connection().execute(select(*cols).where(ids)))
    return out


def events_of(session: Session, job_ids: list[str]) -> dict[str, list[EventFact]]:
    """Each job's events in order, in one query per chunk of ids."""
    e = JobEventRow.__table__.c
    out: dict[str, list[EventFact]] = {j: [] for j in job_ids}
    for ids in among(session, e.job_id, job_ids):
        q = select(e.job_id, e.at, e.attempt, e.from_state, e.to_state, e.code, e.message).where(ids).order_by(e.id)
        for job_id, *fact in session.connection().execute(q):
            out[job_id].append(EventFact(*fact))
    return out


def kept_records(session: Session, job_ids: list[str]) -> dict[str, dict[int, Kept]]:
    """The usage records already stored for these jobs: job -> attempt -> its fields."""
    u = _USAGE.c
    out: dict[str, dict[int, Kept]] = {}
    for ids in among(session, u.job_id, job_ids):
        q = select(u.job_id, u.attempt, u.id, u.started_at, u.ended_at, u.end_code, u.site_id).where(ids)
        for job_id, attempt, *kept in session.connection().execute(q):
            out.setdefault(job_id, {})[attempt] = (kept[0], kept[1], kept[2], kept[3], kept[4])
    return out


def plan_upsert(
    job: UsageJob, intervals: Iterable[AttemptInterval], have: dict[int, Kept], now: datetime
) -> tuple[list[dict], list[dict]]:
    """One record per attempt: rows to insert (new attempts) and to update by id (those that changed)."""
    inserts, updates = [], []
    for i in intervals:
        row = have.get(i.attempt)
        site = i.site_id or (row[4] if row else None) or job.site_id or ""
        if row is None:
            inserts.append(dict(job_id=job.id, job_name=job.name, attempt=i.attempt, org_id=job.org_id,
                                project_id=job.project_id, tier=job.tier, site_id=site, gpus=job.gpus,
                                started_at=i.started_at, ended_at=i.ended_at, end_code=i.end_code, updated_at=now))  # fmt: skip
        elif row[1:] != (i.started_at, i.ended_at, i.end_code, site):
            updates.append(dict(_id=row[0], started_at=i.started_at, ended_at=i.ended_at, end_code=i.end_code,
                                site_id=site, updated_at=now))  # fmt: skip
    return inserts, updates


def write(session: Session, inserts: list[dict], updates: list[dict]) -> None:
    """Planned inserts and updates, one core statement each."""
    if inserts:
        session.execute(insert(_USAGE), inserts)
    if updates:
        keys = ("started_at", "ended_at", "end_code", "site_id", "updated_at")
        stmt = update(_USAGE).where(_USAGE.c.id == bindparam("_id")).values({k: bindparam(k) for k in keys})
        session.execute(stmt, updates)


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
