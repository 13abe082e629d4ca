"""Operator controls on a tenant's job: suspend, resume, cancel, each with a reason.

Who may: `operator-admin` and `operator` (`Action.JOB_OPERATE`); auditors and tenants may not.
What an operator gets back is the job's metadata (`JobResponse`): never its command, environment,
secrets or labels, and nothing here reads them.

A **suspended** job is held by the operator: it is not scheduled, holds no GPUs and is not counted
as pending against the org's quota. A pending job is suspended at once; a scheduled or running one
is stopped first (SIGTERM, its grace period, then SIGKILL) and becomes `suspended` when its
executor reports it stopped. It stays held until an operator resumes it (`brique job resume`: back
to `pending`, a new attempt if it had run) or someone cancels it (the tenant or an operator).

Every action is one transaction that moves the job, records a job event carrying the reason (the
tenant sees it in `brique events`) and an audit record with the reason; after commit, the stop
order goes to the executor and the org's webhooks (those set on its budgets, the only webhooks a
tenant configures) get a JSON POST; each delivery outcome becomes a job event too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.job_lifecycle import JobState, StopReason
from brique.domain.job_records import JobRecord, Transition
from brique.domain.tenancy import Action, Principal
from brique.errors import Conflict, InvalidInput, NotFound
from brique.services.audit import AuditLog, Entry
from brique.services.authz import require
from brique.services.scheduling import SchedulingService
from brique.services.stale import redecide_on_stale
from brique.store.db import Database
from brique.store.repos import budgets as budgets_repo
from brique.store.repos import jobs as repo

MAX_REASON = 500
Notifier = Callable[[str, dict[str, Any]], str]


@dataclass(frozen=True, slots=True)
class _Done:
    job: JobRecord
    webhooks: tuple[str, ...]
    stop: bool  # a stop order must go to the executor


class JobControls:
    def __init__(
        self, db: Database, clock: Clock, scheduling: SchedulingService, audit: AuditLog, notify: Notifier,
        wake: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.scheduling = scheduling
        self.audit = audit
        self.notify = notify
        self.wake = wake

    def suspend(self, who: Principal, job_id: str, reason: str) -> JobRecord:
        return self._act(who, job_id, "suspend", reason)

    def resume(self, who: Principal, job_id: str, reason: str | None = None) -> JobRecord:
        return self._act(who, job_id, "resume", reason or "")

    def cancel(self, who: Principal, job_id: str, reason: str | None) -> JobRecord:
        return self._act(who, job_id, "cancel", reason or "")

    # -- one unit of work, then the I/O ---------------------------------------------------------

    def _act(self, who: Principal, job_id: str, action: str, reason: str) -> JobRecord:
        require(who, Action.JOB_OPERATE)
        reason = _reason(reason, required=action != "resume")
        done = redecide_on_stale(lambda: self._decide(who, job_id, action, reason))
        job = done.job
        if done.stop:
            self.scheduling.send_stop(job.id, job.attempt, job.spec.grace_s, job.site_id)
        self._notify(done, action, reason, who)
        self.wake()
        return done.job

    def _decide(self, who: Principal, job_id: str, action: str, reason: str) -> _Done:
        with self.db.transaction() as s:
            job = repo.get(s, job_id)
            if job is None:
                raise NotFound(f"job '{job_id}' not found", field="job_id")
            done = self._move(s, who, job, action, reason)
            details = {"reason": reason, "state": done.job.state.value}
            entry = Entry(who.user_id, job.org_id, f"job.{action}", job.id, "ok", details=details)
            self.audit.append(s, entry)
        return done

    def _move(self, s: Session, who: Principal, job: JobRecord, action: str, reason: str) -> _Done:
        now = self.clock.now()
        by = f"by operator {who.user_id}" + (f": {reason}" if reason else "")
        if job.state.terminal:
            raise Conflict(f"job {job.id} is already {job.state.value}", field="state")
        hooks = tuple(sorted({b.webhook_url for b in budgets_repo.for_org(s, job.org_id) if b.webhook_url}))
        if action == "resume":
            if job.state is not JobState.SUSPENDED:
                raise Conflict(f"job {job.id} is {job.state.value}, not suspended; only a suspended job "
                               "resumes", field="state")  # fmt: skip
            return _Done(repo.move(s, job, job.resume(f"resumed {by}"), now), hooks, False)
        if action == "suspend" and job.state not in (JobState.PENDING, JobState.SCHEDULED, JobState.RUNNING):
            raise Conflict(f"job {job.id} is {job.state.value}; only a pending, scheduled or running job is "
                           "suspended", field="state")  # fmt: skip
        if job.stop_reason is not None and (action == "suspend" or job.stop_reason is StopReason.CANCEL):
            raise Conflict(f"job {job.id} is already stopping ({job.stop_reason.value})", field="state")
        if not job.state.holds_gpus:
            step = (job.suspend_waiting(f"suspended {by}") if action == "suspend"
                    else Transition(JobState.CANCELLED, "cancelled", f"cancelled {by}", {"finished_at": now}))  # fmt: skip
            return _Done(repo.move(s, job, step, now), hooks, False)
        stop = StopReason.SUSPEND if action == "suspend" else StopReason.CANCEL
        code = "suspending" if action == "suspend" else "cancelling"
        moved = self.scheduling.request_stop(s, job, stop, job.spec.grace_s, code,
                                             f"{action} {by}; stopping")  # fmt: skip
        return _Done(moved, hooks, True)

    def _notify(self, done: _Done, action: str, reason: str, who: Principal) -> None:
        """Tell the tenant's webhooks; each outcome is kept as a job event (best effort, never raises)."""
        if not done.webhooks:
            return
        job = done.job
        payload = {"type": f"job.{action}", "org_id": job.org_id, "project_id": job.project_id, "job_id": job.id,
                   "state": job.state.value, "reason": reason, "operator": who.user_id,
                   "at": self.clock.now().isoformat()}  # fmt: skip
        outcomes = [f"{url.split('?')[0][:100]}: {self.notify(url, payload)}" for url in done.webhooks]
        with self.db.transaction() as s:
            repo.add_event(s, job, job.state, job.state, "tenant_notified",
                           f"webhook for job.{action}: {'; '.join(outcomes)}", self.clock.now())  # fmt: skip


def _reason(reason: str, *, required: bool) -> str:
    reason = reason.strip()
    if required and not reason:
        raise InvalidInput("an operator must give a reason (--reason); the tenant is told it", field="reason")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise InvalidInput(f"must be at most {MAX_REASON} characters, without NUL bytes", field="reason")
    return reason
