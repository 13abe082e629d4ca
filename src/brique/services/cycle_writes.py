"""Phase 4 of a scheduling cycle: persist the core's decisions (mixed into `SchedulingService`).

Waits are the bulk (10,000 waiting jobs a cycle): compared with the reason each job already
carries, only changed ones are written (one statement). Placements are written in batches
(`job_cycle.move_many`: version-guarded, with their events), each with its `job.placed` audit
record (the sovereignty report reads them per job): the first `PLACE_CHUNK` with the cycle's
other decisions, the rest in transactions of their own after its commit (`SchedulingService`);
preemptions and rejections one by one.
What the cycle wrote is kept in `Actions.moved`, so its view takes it without reading it back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from brique.domain.job_lifecycle import StopReason
from brique.domain.job_records import JobRecord
from brique.errors import StaleWrite
from brique.executors.base import Executor, Launch, RunReport
from brique.scheduler import Place, Preempt, Reject, Reserve, Wait
from brique.services.audit import Entry
from brique.store.repos import job_cycle
from brique.store.repos import jobs as repo

log = logging.getLogger("brique.scheduling")
# Placements written per transaction: the first batch with the cycle's other decisions, the rest
# (a 10,000-task array placed at once) in transactions of their own, each holding SQLite's write
# lock for ~0.2 s instead of the cycle holding it for seconds (docs/operations.md).
PLACE_CHUNK = 2000


@dataclass
class CycleStats:
    placed: int = 0
    preempted: int = 0
    waiting: int = 0
    rejected: int = 0
    finished: int = 0
    duration_ms: float = 0.0


@dataclass
class Actions:
    submit: list[Launch] = field(default_factory=list)
    stop: list[tuple[str, int, float, str]] = field(default_factory=list)  # job, attempt, grace, site
    done: list[tuple[Executor, RunReport]] = field(default_factory=list)  # finished: archive logs, forget
    audit: list[Entry] = field(default_factory=list)  # appended in one batch before commit
    waits: dict[str, tuple[str, str]] = field(default_factory=dict)  # job id -> (code, message), changed ones
    places: list[tuple[JobRecord, Place]] = field(default_factory=list)  # persisted in batches of PLACE_CHUNK
    later: list[tuple[JobRecord, Place]] = field(default_factory=list)  # those after the first batch
    moved: dict[str, JobRecord] = field(default_factory=dict)  # jobs written this cycle, as written

    def wait(self, row: JobRecord, code: str, message: str) -> None:
        """Note why `row` waits, if that is not what it says already (unchanged reasons are not rewritten)."""
        if row.wait_code != code or row.wait_message != message[:1000]:
            self.waits[row.id] = (code, message)


class Rows:
    """Every live job by id, as of now: those that held GPUs this cycle first (their new versions)."""

    def __init__(self, first: dict[str, JobRecord], then: dict[str, JobRecord]) -> None:
        self.first, self.then = first, then

    def get(self, job_id: str) -> JobRecord | None:
        return self.first.get(job_id) or self.then.get(job_id)

    def __getitem__(self, job_id: str) -> JobRecord:
        row = self.get(job_id)
        if row is None:
            raise KeyError(job_id)
        return row


class DecisionWrites:
    """The persisting half of `SchedulingService` (which provides the attributes declared here)."""

    request_stop: Callable[..., JobRecord]
    launch: Callable[[JobRecord], Launch]

    def _persist_all(
        self, s: Session, rows: Rows, decisions: tuple[object, ...], now: datetime, stats: CycleStats,
        actions: Actions,
    ) -> None:  # fmt: skip
        waits = actions.waits
        for d in decisions:
            row = rows.get(d.job_id)  # type: ignore[attr-defined]
            if row is None:
                continue
            kind = type(d)
            if kind is Wait or kind is Reserve:  # by far the most: nothing written unless the reason changed
                reasons = d.reasons  # type: ignore[attr-defined]
                stats.waiting += 1
                if not reasons:
                    code, message = "waiting", "waiting"
                else:
                    code = reasons[0].code
                    message = reasons[0].message if len(reasons) == 1 else "; ".join(r.message for r in reasons)
                if row.wait_code != code or row.wait_message != message[:1000]:
                    waits[row.id] = (str(code), message)
            else:
                self._persist(s, row, d, now, stats, actions)

    def _persist(
        self, s: Session, row: JobRecord, d: object, now: datetime, stats: CycleStats, actions: Actions
    ) -> None:
        try:
            if isinstance(d, Place):
                actions.places.append((row, d))  # persisted together, after the other decisions
            elif isinstance(d, Preempt):
                after = self.request_stop(s, row, StopReason.PREEMPT, d.grace_s, "preempting", d.reason.message)
                actions.moved[row.id] = after
                actions.stop.append((row.id, row.attempt, d.grace_s, row.site_id or ""))
                self._audit(actions, row, "job.preempted", row.site_id, {"attempt": row.attempt, "grace_s": d.grace_s,
                                                                   "reason": d.reason.message})  # fmt: skip
                stats.preempted += 1
            elif isinstance(d, Reject):
                msg = "; ".join(r.message for r in d.reasons)
                actions.moved[row.id] = repo.move(s, row, row.reject(d.reasons[0].code.value, msg, now), now)
                self._audit(actions, row, "job.rejected", None, {"reason": msg})
                stats.rejected += 1
        except StaleWrite:
            log.info("job %s changed during the cycle; deciding again next cycle", row.id)

    def _audit(self, actions: Actions, row: JobRecord, action: str, site: str | None, details: dict) -> None:
        actions.audit.append(Entry("scheduler", row.org_id, action, row.id, site=site, details=details))

    def _place_all(
        self, s: Session, now: datetime, stats: CycleStats, actions: Actions, places: list[tuple[JobRecord, Place]]
    ) -> None:
        """Persist `places` in one batch; a job changed meanwhile is decided again next cycle."""
        moves = []
        for row, d in places:
            why = d.reasons[0].message if d.reasons else "placed"
            code = d.reasons[0].code.value if d.reasons else "placed"
            moves.append((row, row.place(d.site, tuple(d.gpus), now, code, why)))
        moved = job_cycle.move_many(s, moves, now)
        actions.moved.update(moved)
        for row, d in places:
            placed = moved.get(row.id)
            if placed is None:
                log.info("job %s changed during the cycle; deciding again next cycle", row.id)
                continue
            code = d.reasons[0].code.value if d.reasons else ""
            self._audit(actions, row, "job.placed", d.site,
                        {"attempt": row.attempt, "gpus": len(d.gpus), "reason": code})  # fmt: skip
            stats.placed += 1
            if not d.preempts:
                actions.submit.append(self.launch(placed))

