"""The scheduling cycle's reads and writes of jobs: in bulk, through core statements, no ORM objects.

A cycle reads thousands of jobs and writes thousands of moves at once (a 10,000-task array placed
in one cycle); building an ORM object per row, or letting the ORM's unit of work write them, cost
more than the database itself. Rows become `JobRecord`s here directly, with specs decoded once per
distinct spec text (an array's tasks share one). Moves keep the rules of `jobs.move`: a version
guard on every UPDATE, an event row for every change of state or coded in-place change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, cast, func, insert, select, update
from sqlalchemy.orm import Session

from brique.domain.job_lifecycle import JobSpec, JobState, StopReason, spec_from_dict
from brique.domain.job_records import JobRecord, Transition
from brique.domain.jobs import Tier
from brique.errors import StaleWrite
from brique.store.repos import bulk
from brique.store.repos.id_lists import among
from brique.store.repos.jobs import as_column, move, row_values, submitted_event
from brique.store.tables import JobEventRow, JobRow

_JOBS = JobRow.__table__
_EVENTS = JobEventRow.__table__
_STATES = {s.value: s for s in JobState}
_TIERS = {t.value: t for t in Tier}
_STOPS = {s.value: s for s in StopReason}
# every column as a JobRecord field, but the JSON ones as their text (decoded here, specs once each)
_COLUMNS = [c for c in _JOBS.c if c.name not in ("spec", "gpu_ids")]
_SELECT = select(*_COLUMNS, cast(_JOBS.c.spec, Text).label("spec"), cast(_JOBS.c.gpu_ids, Text).label("gpu_ids"))
# built once and run on the session's connection: building the IN clause and the ORM's execution
# path cost more than decoding the rows of a cycle's catch-up
_IN_STATES = _SELECT.where(_JOBS.c.state.in_(bindparam("states", expanding=True)))


class SpecTexts:
    """Decoded specs by their stored text, kept one cycle after their last use: a spec is decoded
    once however many jobs share it, and a spec narrowed in place (a new text) is decoded again."""

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}
        self._seen: dict[str, JobSpec] = {}

    def __call__(self, text: str) -> JobSpec:
        spec = self._seen.get(text)
        if spec is None:
            spec = self._specs.get(text) or spec_from_dict(json.loads(text))
            self._seen[text] = spec
        return spec

    def end_cycle(self) -> None:
        self._specs, self._seen = self._seen, {}


def _record(row: Any, specs: SpecTexts) -> JobRecord:
    stop = row.stop_reason
    return JobRecord(
        id=row.id, org_id=row.org_id, project_id=row.project_id, name=row.name, state=_STATES[row.state],
        tier=_TIERS[row.tier], gpus=row.gpus, spec=specs(row.spec), submitted_at=row.submitted_at,
        updated_at=row.updated_at, created_by=row.created_by, attempt=row.attempt, retries_left=row.retries_left,
        site_id=row.site_id, gpu_ids=tuple(json.loads(row.gpu_ids)) if row.gpu_ids not in (None, "[]") else (),
        scheduled_at=row.scheduled_at, started_at=row.started_at, finished_at=row.finished_at,
        exit_code=row.exit_code, stop_reason=_STOPS[stop] if stop else None, stop_requested_at=row.stop_requested_at,
        stop_deadline=row.stop_deadline, wait_code=row.wait_code, wait_message=row.wait_message,
        idempotency_key=row.idempotency_key, request_hash=row.request_hash, version=row.version,
        array_id=row.array_id, array_index=row.array_index, array_max_running=row.array_max_running,
    )  # fmt: skip


def in_states(session: Session, states: Iterable[str], specs: SpecTexts) -> list[JobRecord]:
    rows = session.connection().execute(_IN_STATES, {"states": list(states)})
    return [_record(row, specs) for row in rows]


def by_ids(session: Session, job_ids: Sequence[str], specs: SpecTexts) -> list[JobRecord]:
    out: list[JobRecord] = []
    for ids in among(session, _JOBS.c.id, job_ids):  # on the connection: no ORM execution path
        out.extend(_record(row, specs) for row in session.connection().execute(_SELECT.where(ids)))
    return out


def stamps_since(
    session: Session, since: datetime, states: Iterable[str]
) -> tuple[list[tuple[str, int, str]], int, int]:
    """(id, version, state) of every job changed at or after `since` (enough to tell which to read),
    and the count and version sum of the jobs in `states` (what a full read would count), in one statement: one
    snapshot even under PostgreSQL's READ COMMITTED, where two statements would each see the commits
    made before it and so disagree during a burst of submissions."""
    live = (select(func.count().label("n"), func.coalesce(func.sum(_JOBS.c.version), 0).label("total"))
            .where(_JOBS.c.state.in_(list(states))).subquery())  # fmt: skip
    q = select(live.c.n, live.c.total, _JOBS.c.id, _JOBS.c.version, _JOBS.c.state).select_from(
        live.outerjoin(_JOBS, _JOBS.c.updated_at >= since)
    )
    rows = session.connection().execute(q).all()
    stamps = [(r[2], r[3], r[4]) for r in rows if r[2] is not None]
    return stamps, int(rows[0][0]), int(rows[0][1])


def move_many(session: Session, moves: list[tuple[JobRecord, Transition]], at: datetime) -> dict[str, JobRecord]:
    """`jobs.move` for many jobs at once: one UPDATE per shape of change and one multi-row event insert.
    Returns the new versions of the jobs moved; a job another writer changed first is left out (as
    `jobs.move` would raise `StaleWrite` for it)."""
    groups: dict[tuple[str, ...], list[tuple[JobRecord, JobRecord, Transition]]] = {}
    for job, t in moves:
        keys = tuple(sorted({*t.values, "state", "updated_at", "version"}))
        groups.setdefault(keys, []).append((job, job.moved(t, at), t))
    out: dict[str, JobRecord] = {}
    for keys, group in groups.items():
        out.update(_update_group(session, keys, group, at))
    return out


def _update_group(
    session: Session, keys: tuple[str, ...], group: list[tuple[JobRecord, JobRecord, Transition]], at: datetime
) -> dict[str, JobRecord]:
    stmt = (update(_JOBS).where(_JOBS.c.id == bindparam("_id"), _JOBS.c.version == bindparam("_version"))
            .values({k: bindparam(k) for k in keys}))  # fmt: skip
    rows = [{"_id": j.id, "_version": j.version, **{k: as_column(getattr(a, k)) for k in keys}} for j, a, _ in group]
    with session.begin_nested() as savepoint:
        if _execute_many(session, stmt, rows) == len(rows):
            add_events(session, [(a, j.state, t) for j, a, t in group if t.to != j.state or t.code], at)
            return {a.id: a for _, a, _ in group}
        savepoint.rollback()  # some job changed meanwhile: one by one, leaving the stale ones out
    out = {}
    for job, _, t in group:
        try:
            out[job.id] = move(session, job, t, at)
        except StaleWrite:
            continue
    return out


def add_events(session: Session, moved: list[tuple[JobRecord, JobState, Transition]], at: datetime) -> None:
    """The event rows of many moves, in one core multi-row insert."""
    if moved:
        _insert_rows(session, _EVENTS, [
            {"job_id": a.id, "org_id": a.org_id, "at": at, "attempt": a.attempt, "from_state": src.value,
             "to_state": t.to.value, "code": t.code, "message": t.message[:1000]}
            for a, src, t in moved
        ])  # fmt: skip


def add_tasks(session: Session, tasks: list[JobRecord], message: str) -> None:
    """New jobs in a large batch (an array's tasks): the rows of `jobs.add_jobs`, bound by the driver in
    one `executemany` per table (COPY on PostgreSQL). Each distinct value is converted for the database once (the tasks
    share their spec, times and owner), not once per row and column as a compiled statement does."""
    if not tasks:
        return
    docs: dict[int, dict[str, Any]] = {}  # spec dicts by spec object: the tasks share one
    _insert_rows(session, _JOBS, [row_values(j, docs) for j in tasks])
    _insert_rows(session, _EVENTS, [submitted_event(j, message) for j in tasks])


def _insert_rows(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Many rows into `table`: by COPY on PostgreSQL (`bulk.copy_rows`), else one `executemany`."""
    conn = session.connection()
    if bulk.copies(conn, rows):
        bulk.copy_rows(conn, table, rows)
    else:
        _execute_many(session, insert(table), rows)


def _execute_many(session: Session, stmt: Any, rows: list[dict[str, Any]]) -> int:
    """`stmt` for every row in one driver-level `executemany`; the rows modified. Each distinct value is
    converted for the database once (the rows of a batch share their times, spec, owner, message),
    not once per row and column as the compiled statement's parameters are; the same SQL either way."""
    conn = session.connection()
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    converters: list[tuple[int, Any, dict[int, tuple[Any, Any]]]] = []
    for i, name in enumerate(names):
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converters.append((i, process, {}))
    params: list[Any] = []
    for row in rows:
        values = [row[name] for name in names]
        for i, process, seen in converters:
            raw = values[i]
            if raw is not None:
                memo = seen.get(id(raw))  # by identity (the memo keeps `raw` alive: its id is not reused)
                if memo is None:
                    memo = seen[id(raw)] = (raw, process(raw))
                values[i] = memo[1]
        params.append(tuple(values) if compiled.positional else dict(zip(names, values, strict=True)))
    return conn.exec_driver_sql(compiled.string, params).rowcount


def set_waits(session: Session, waits: list[tuple[str, str, str]]) -> None:
    """Record why pending jobs wait: (job id, code, message), already filtered to those that changed."""
    if waits:
        stmt = update(_JOBS).where(_JOBS.c.id == bindparam("_id")).values(wait_code=bindparam("c"),
                                                                          wait_message=bindparam("m"))  # fmt: skip
        session.execute(stmt, [{"_id": j, "c": c, "m": m[:1000]} for j, c, m in waits])

