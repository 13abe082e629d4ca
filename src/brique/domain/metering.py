"""Metering: from a job's state-transition events to the intervals its attempts held GPUs.

Pure functions over plain values (no store, no clock).

An attempt is billed from the control plane's `started` event (`to_state == running`) to the
first event that leaves `running` (succeeded, failed, cancelled, preempted, lost, or a retry
back to pending). Stop requests (`cancelling`, `preempting`, `timeout`) are `running -> running`
events and do not end the interval: a job keeps its GPUs through its grace period.

An attempt that ends while still `scheduled` (the executor ran it and finished it between two
polls) is billed from the executor-reported start to its end when the job row still carries
them (it ended on its current attempt); otherwise it never held GPUs as far as the control
plane knows, and is not billed.

Timestamps are truncated to the whole second, so billed seconds are integers and add up
exactly across period boundaries (a month's usage + the next month's = the whole interval).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

RUNNING = "running"
SCHEDULED = "scheduled"
_PLACED = re.compile(r"^placed on ([A-Za-z0-9._-]+):")


@dataclass(frozen=True, slots=True)
class EventFact:
    """The part of a job event metering needs."""

    at: datetime
    attempt: int
    from_state: str | None
    to_state: str
    code: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class RowTimes:
    """The job row's current attempt and its executor-reported times."""

    attempt: int
    state: str
    started_at: datetime | None
    finished_at: datetime | None
    site_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptInterval:
    attempt: int
    started_at: datetime
    ended_at: datetime | None  # None: still running
    end_code: str | None
    site_id: str | None


def whole_second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def site_from_message(message: str) -> str | None:
    """The site of a `placed on <site>: …` scheduling event."""
    found = _PLACED.match(message)
    return found.group(1) if found else None


def attempt_intervals(events: Sequence[EventFact], row: RowTimes | None = None) -> list[AttemptInterval]:
    """The GPU-holding interval of each attempt of one job, from its events in order."""
    out: list[AttemptInterval] = []
    sites: dict[int, str] = {}
    open_: tuple[int, datetime] | None = None
    for e in events:
        if e.to_state == SCHEDULED and e.from_state != SCHEDULED:
            site = site_from_message(e.message)
            if site:
                sites[e.attempt] = site
        if e.to_state == RUNNING and e.from_state != RUNNING:
            open_ = (e.attempt, e.at)
        elif e.from_state == RUNNING and e.to_state != RUNNING and open_ is not None:
            out.append(AttemptInterval(open_[0], open_[1], e.at, e.code, sites.get(open_[0])))
            open_ = None
        elif e.from_state == SCHEDULED and e.to_state not in (SCHEDULED, RUNNING):
            quick = _ran_while_scheduled(e, row, sites)
            if quick is not None:
                out.append(quick)
    if open_ is not None:
        out.append(AttemptInterval(open_[0], open_[1], None, None, sites.get(open_[0])))
    return [_truncated(i) for i in out if i.ended_at is None or i.ended_at > i.started_at]


def _ran_while_scheduled(e: EventFact, row: RowTimes | None, sites: dict[int, str]) -> AttemptInterval | None:
    if row is None or row.attempt != e.attempt or row.started_at is None or row.finished_at is None:
        return None
    return AttemptInterval(e.attempt, row.started_at, row.finished_at, e.code, sites.get(e.attempt) or row.site_id)


def _truncated(i: AttemptInterval) -> AttemptInterval:
    end = whole_second(i.ended_at) if i.ended_at is not None else None
    return AttemptInterval(i.attempt, whole_second(i.started_at), end, i.end_code, i.site_id)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One attempt of one job holding `gpus` GPUs in `site_id` from `started_at` to `ended_at`."""

    job_id: str
    job_name: str
    attempt: int
    org_id: str
    project_id: str
    tier: str
    site_id: str
    gpus: int
    started_at: datetime
    ended_at: datetime | None
    end_code: str | None = None

    def window(self, lo: datetime, hi: datetime, now: datetime) -> tuple[datetime, datetime] | None:
        """The part of the interval inside [lo, hi), an open one counted up to `now`."""
        end = self.ended_at if self.ended_at is not None else whole_second(now)
        start, stop = max(self.started_at, lo), min(end, hi)
        return (start, stop) if stop > start else None

    def seconds(self, lo: datetime, hi: datetime, now: datetime) -> int:
        w = self.window(lo, hi, now)
        return int((w[1] - w[0]).total_seconds()) if w else 0

    def gpu_seconds(self, lo: datetime, hi: datetime, now: datetime) -> int:
        return self.gpus * self.seconds(lo, hi, now)


def total_gpu_seconds(records: Iterable[UsageRecord], lo: datetime, hi: datetime, now: datetime) -> int:
    return sum(r.gpu_seconds(lo, hi, now) for r in records)


MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of next month) in UTC for 'YYYY-MM'."""
    found = MONTH.fullmatch(month)
    if found is None or not 1 <= int(found[1]) <= 9000:
        raise ValueError(f"month '{month}' is not YYYY-MM (e.g. 2026-01)")
    year, mon = int(found[1]), int(found[2])
    start = datetime(year, mon, 1, tzinfo=UTC)
    nxt = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC)
    return start, nxt



def month_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at the first instant of each UTC month, so no piece spans two months."""
    out = []
    cur = start
    while cur < end:
        nxt = datetime(cur.year + cur.month // 12, cur.month % 12 + 1, 1, tzinfo=UTC)
        out.append((cur, min(nxt, end)))
        cur = min(nxt, end)
    return out
