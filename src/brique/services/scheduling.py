"""The control plane's scheduling loop: reconcile, decide, persist, then act.

One `cycle()`:
  1. reconcile  - apply every executor's current truth to the jobs (level-based, idempotent)
  2. deadlines  - jobs past their max runtime get a stop (reason: timeout)
  3. decide     - build a snapshot from the store, run the pure core `schedule()`
  4. persist    - write Place/Preempt/Wait/Reserve/Reject in one transaction, with events
                  (placements beyond the first `PLACE_CHUNK`: in transactions of their own after it)
  5. act        - only then tell executors to start or stop attempts (each batch after its commit)

Crash safety follows from the order: a decision is durable before any executor hears of it;
a job left `scheduled` by a crash is submitted again (executors make submit idempotent per
job+attempt), a stop left pending is sent again by `resume()`, and executor reports converge
the rest. No accepted job is lost and none runs twice.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import operator
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.arrays import LIMIT_CODE, held_by_limit, task_env
from brique.domain.fleet import HealthState, gpus_by_node, node_of
from brique.domain.inference import DEPLOYMENT_LABEL
from brique.domain.job_lifecycle import JobState, StopReason
from brique.domain.job_records import JobRecord, Transition
from brique.domain.jobs import Job
from brique.domain.policy import SchedulingPolicy
from brique.domain.reconcile import transitions
from brique.domain.reservations import Reservation, reservation_for
from brique.errors import ExecutorError, StaleWrite
from brique.executors.base import (
    Executor,
    Launch,
    PushedReports,
    RunReport,
    RunState,
    SupportsLogs,
    SupportsRestore,
)  # fmt: skip
from brique.scheduler import Place, Topology, schedule, schedule_state
from brique.services import snapshots
from brique.services.audit import AuditLog
from brique.services.cycle_writes import PLACE_CHUNK, Actions, CycleStats, DecisionWrites, Rows
from brique.services.projects import ProjectGovernanceService
from brique.services.secrets_hook import SecretResolver
from brique.store.db import Database
from brique.store.logs import LogArchive
from brique.store.repos import job_cycle
from brique.store.repos import jobs as repo
from brique.store.repos import projects as projects_repo
from brique.store.repos import reservations as reservations_repo

log = logging.getLogger("brique.scheduling")
PENDING = (JobState.PENDING.value,)
_by_id = operator.attrgetter("id")
INBOX_MAX = 100_000  # jobs noted by this process between two cycles (more are read back instead)


def _dead_node(row: JobRecord, down: set[str]) -> str | None:
    """The first node (or GPU) under the job that is down, if any."""
    for gpu in row.gpu_ids:
        node = node_of(gpu)
        if node in down or gpu in down:
            return node
    return None


def _array_env(row: JobRecord) -> dict[str, str]:
    return task_env(row.array_id, row.array_index or 0) if row.array_id else {}


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a cycle: its thousands of short-lived objects (decisions,
    reports) would otherwise be promoted and trigger full collections of the whole heap (100+ ms
    each with 15,000 live jobs). They die by reference counting when the cycle ends."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class SchedulingService(DecisionWrites):
    def __init__(
        self, db: Database, clock: Clock, topology: Topology, executors: dict[str, Executor],
        secrets: SecretResolver, logs: LogArchive, audit: AuditLog, policy: SchedulingPolicy | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.topology = topology
        self.executors = executors  # site id -> executor
        self.policy = policy or SchedulingPolicy()
        self.secrets = secrets
        self.logs = logs
        self.audit = audit
        self._lock = threading.Lock()  # one cycle at a time in this process
        self._jobs = snapshots.JobCache()  # decoded core jobs, reused across cycles
        self._view = snapshots.JobView()  # pending and active jobs, fed by the rows changed since
        self._quiet: dict[str, tuple[int, RunReport]] = {}  # job -> (version, report) that moved nothing
        self._deadline: dict[str, tuple[int, datetime | None]] = {}  # job -> (version, when it times out)
        self._queue: tuple[list[JobRecord], list[Job]] | None = None  # the last queue handed to the core
        self._kept = snapshots.KeptState(topology)  # the core's state, fed by differences in running work
        self._inbox: list[JobRecord] = []  # jobs this process just committed, for the view (`noted`)
        self._inbox_lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------

    def resume(self) -> None:
        """After a (re)start: re-adopt simulated runs and re-send stops that were pending."""
        with self.db.transaction() as s:
            active = repo.in_states(s, repo.ACTIVE)
        for row in active:
            executor = self.executors.get(row.site_id or "")
            if isinstance(executor, SupportsRestore) and row.state is JobState.RUNNING and row.started_at:
                executor.restore(self.launch(row), row.started_at)
            if row.stop_deadline is not None and executor is not None:
                remaining = max(0.0, (row.stop_deadline - self.clock.now()).total_seconds())
                executor.stop(row.id, row.attempt, remaining)

    def noted(self, rows: list[JobRecord]) -> None:
        """Jobs another use case of this process just committed (an array's 10,000 tasks): the next
        cycle's view takes them as they are instead of reading them back (its stamps and checksum
        still check them). Bounded: a replica that does not lead keeps no more than `INBOX_MAX`."""
        with self._inbox_lock:
            if len(self._inbox) + len(rows) <= INBOX_MAX:
                self._inbox.extend(rows)

    def cycle(self, fence: Callable[[Session], None] | None = None) -> CycleStats:
        """One cycle. Executors are polled before, and told after, a single short transaction (and
        one more per `PLACE_CHUNK` placements past the first). `fence` runs first in each: it raises
        if this replica no longer leads."""
        with self._lock:
            started = time.perf_counter()
            with _gc_paused():  # the cycle's objects are gone when collection resumes
                stats = self._cycle(fence)
            stats.duration_ms = (time.perf_counter() - started) * 1000
            return stats

    def _cycle(self, fence: Callable[[Session], None] | None) -> CycleStats:
        stats = CycleStats()
        actions = Actions()
        now = self.clock.now()
        reports = self._poll()
        try:
            with self.db.transaction() as s:
                if fence is not None:
                    fence(s)
                repo.lock_for_writing(s)
                hl = self._work(s, reports, now, stats, actions)
        except BaseException:
            self._view.drop()  # what it noted may not have been committed
            self._kept.drop()
            raise
        self._view.note(actions.moved.values())
        self._view.note_waits(actions.waits)
        self._act(actions)
        if actions.later:
            self._place_rest(fence, actions.later, hl, now, stats)
        return stats

    def _place_rest(
        self, fence: Callable[[Session], None] | None, places: list[tuple[JobRecord, Place]],
        hl: dict[str, HealthState], now: datetime, stats: CycleStats,
    ) -> None:  # fmt: skip
        """The cycle's placements after the first batch, `PLACE_CHUNK` per transaction, each launched
        after its commit. A crash between two leaves the rest pending (decided again; none launched
        unrecorded, none twice); a job changed meanwhile is left out by its version guard; if node
        health changed, the rest waits for the next cycle (decided on the new health)."""
        for i in range(0, len(places), PLACE_CHUNK):
            time.sleep(0)  # let a writer waiting on the lock in before the next batch
            part = Actions()
            try:
                with self.db.transaction() as s:
                    if fence is not None:
                        fence(s)
                    repo.lock_for_writing(s)
                    if snapshots.health(s) != hl:
                        log.info("node health changed during the cycle; %d placements left to the next",
                                 len(places) - i)  # fmt: skip
                        return
                    self._place_all(s, now, stats, part, places[i : i + PLACE_CHUNK])
                    self.audit.append_many(s, part.audit)
            except BaseException:
                self._view.drop()
                self._kept.drop()
                raise
            self._view.note(part.moved.values())
            self._act(part)

    def _work(
        self, s: Session, reports: dict[tuple[str, int], tuple[RunReport, Executor]], now: datetime,
        stats: CycleStats, actions: Actions,
    ) -> dict[str, HealthState]:  # fmt: skip
        """Phases 1-4 in the cycle's transaction; the node health they decided on."""
        view = self._view
        with self._inbox_lock:
            inbox, self._inbox = self._inbox, []
        view.refresh(s, now, inbox)
        hl = snapshots.health(s)
        jobs = dict(view.active)  # updated in place with each job's new version
        stats.finished = self._reconcile(s, jobs, reports, hl, now, actions)
        self._deadlines(s, jobs, now, actions)
        # waiting jobs, with those requeued just now (lost, retried): placed again this cycle
        requeued = [r for r in jobs.values() if r.state is JobState.PENDING]
        pending = sorted([*view.queue(), *requeued], key=_by_id) if requeued else view.queue()
        rows = Rows(jobs, view.pending)
        active = [r for r in jobs.values() if r.state.holds_gpus]
        self._decide(s, active, pending, rows, hl, now, stats, actions)
        return hl

    def apply_reports(self, reports: list[RunReport]) -> None:
        """Apply reports pushed by agents (the same convergence rules as polled ones)."""
        now = self.clock.now()
        with self.db.transaction() as s:
            for report in reports:
                row = repo.get(s, report.job_id)
                if row is not None:
                    self._apply(s, row, transitions(row, report, now), now)

    def request_stop(
        self, s: Session, job: JobRecord, reason: StopReason, grace_s: float, code: str, msg: str
    ) -> JobRecord:
        """Mark a job holding GPUs as stopping (durable first); the caller's commit is followed by `send_stop`."""
        now = self.clock.now()
        return repo.move(s, job, job.stop(reason, grace_s, now, code, msg), now)

    def send_stop(self, job_id: str, attempt: int, grace_s: float, site_id: str | None) -> None:
        executor = self.executors.get(site_id or "")
        if executor is not None:
            executor.stop(job_id, attempt, grace_s)

    def launch(self, row: JobRecord) -> Launch:
        spec = row.spec
        return Launch(
            job_id=row.id, attempt=row.attempt, name=row.name, org_id=row.org_id, project_id=row.project_id,
            site_id=row.site_id or "", tier=row.tier.value, command=spec.command,
            gpus_by_node=gpus_by_node(row.gpu_ids),
            env={**spec.env, **self.secrets(row.org_id, spec.secrets), **_array_env(row)}, image=spec.image,
            max_runtime_s=spec.max_runtime_s, grace_s=spec.grace_s, duration_s=spec.simulated_runtime_s,
            serves=DEPLOYMENT_LABEL in spec.labels,
        )  # fmt: skip

    # -- 1. reconcile ---------------------------------------------------------------------------

    def _poll(self) -> dict[tuple[str, int], tuple[RunReport, Executor]]:
        reports: dict[tuple[str, int], tuple[RunReport, Executor]] = {}
        for executor in {id(e): e for e in self.executors.values()}.values():
            for report in executor.poll():
                reports[(report.job_id, report.attempt)] = (report, executor)
        return reports

    def _reconcile(
        self, s: Session, jobs: dict[str, JobRecord], reports: dict[tuple[str, int], tuple[RunReport, Executor]],
        hl: dict[str, HealthState], now: datetime, actions: Actions,
    ) -> int:  # fmt: skip
        """Apply reports to `jobs` (updated in place with each job's new version)."""
        finished = 0
        down = {k for k, v in hl.items() if v is HealthState.DOWN}
        unknown: list[str] = []
        single: list[tuple[JobRecord, Transition, RunReport, Executor]] = []
        quiet, self._quiet = self._quiet, {}
        for row in list(jobs.values()):
            dead = _dead_node(row, down) if down else None
            found = reports.get((row.id, row.attempt))
            if dead is not None:
                finished += self._node_lost(s, jobs, row, dead, now, actions)
            elif found is None:
                unknown.append(row.id)
            else:
                report, owner = found
                last = quiet.get(row.id)  # the same report on the same version moves nothing again
                if last is not None and last[0] == row.version and (last[1] is report or last[1] == report):
                    self._quiet[row.id] = last
                    continue
                steps = transitions(row, report, now)
                if not steps and not report.state.finished:
                    self._quiet[row.id] = (row.version, report)
                    continue
                if len(steps) == 1:  # the common case (started, ended): applied in one batch below
                    single.append((row, steps[0], report, owner))
                    continue
                applied = self._apply(s, row, steps, now, jobs, actions)
                finished += applied
                if report.state.finished and (applied or not steps):  # recorded (or nothing to record)
                    actions.done.append((owner, report))
        moved = job_cycle.move_many(s, [(row, step) for row, step, _, _ in single], now)
        actions.moved.update(moved)
        for row, _, report, owner in single:
            after = moved.get(row.id)  # None: another writer changed it first
            if after is not None:
                jobs[row.id] = after
                finished += int(after.state is not JobState.RUNNING)
                if report.state.finished:
                    actions.done.append((owner, report))
        if unknown:
            self._unknowns(s, jobs, unknown, now, actions)
        return finished

    def _unknowns(
        self, s: Session, jobs: dict[str, JobRecord], unknown: list[str], now: datetime, actions: Actions
    ) -> None:
        # GPUs still held by jobs in their stop grace period (after this cycle's reports)
        stopping = {g for r in jobs.values() if r.stop_reason is not None and r.state.holds_gpus
                    for g in r.gpu_ids}  # fmt: skip
        for job_id in unknown:
            row = jobs[job_id]
            if row.stop_reason is not None or not stopping.intersection(row.gpu_ids):
                self._unknown(s, jobs, row, self.executors.get(row.site_id or ""), now, actions)

    def _node_lost(
        self,
        s: Session,
        jobs: dict[str, JobRecord],
        row: JobRecord,
        node: str,
        now: datetime,
        actions: Actions,
    ) -> int:
        """A node under the job went down: the attempt is lost (requeued if retries remain)."""
        actions.stop.append((row.id, row.attempt, 0.0, row.site_id or ""))
        lost = RunReport(row.id, row.attempt, RunState.LOST, message=f"node {node} went down")
        return self._apply(s, row, transitions(row, lost, now), now, jobs, actions)

    def _archive_logs(self, executor: Executor, report: RunReport) -> None:
        if self.logs is not None and isinstance(executor, SupportsLogs):
            data = executor.read_logs(report.job_id, report.attempt, 0, 1 << 30)
            self.logs.write(report.job_id, report.attempt, data)

    def _unknown(
        self, s: Session, jobs: dict[str, JobRecord], row: JobRecord, executor: Executor | None, now: datetime,
        actions: Actions,
    ) -> None:  # fmt: skip
        """An active job its executor does not know: submit it if scheduled, else it was lost.

        A job placed on GPUs that preempted jobs still hold (in their grace period) is held back
        by the caller until they are gone; this is also how it starts once they are. A job asked to
        stop (cancel, preemption, timeout) before any executor ran it ends without running.
        """
        if row.state is JobState.SCHEDULED and row.stop_reason is not None:
            never_ran = RunReport(row.id, row.attempt, RunState.STOPPED, message="stopped before it started")
            self._apply(s, row, transitions(row, never_ran, now), now, jobs, actions)
            return
        if executor is None or isinstance(executor, PushedReports):
            return
        if row.state is JobState.SCHEDULED:
            actions.submit.append(self.launch(row))
            return
        lost = RunReport(row.id, row.attempt, RunState.LOST, message="its executor no longer knows this job")
        self._apply(s, row, transitions(row, lost, now), now, jobs, actions)

    @staticmethod
    def _apply(
        s: Session, row: JobRecord, steps: list[Transition], now: datetime,
        jobs: dict[str, JobRecord] | None = None, actions: Actions | None = None,
    ) -> int:  # fmt: skip
        """Persist `steps`; 1 if the job left the running states. `jobs` and `actions` get its new version."""
        try:
            after = repo.move_all(s, row, steps, now)
        except StaleWrite:
            return 0
        if jobs is not None:
            jobs[row.id] = after
        if actions is not None and after is not row:
            actions.moved[row.id] = after
        return int(bool(steps) and after.state is not JobState.RUNNING)

    # -- 2. deadlines ---------------------------------------------------------------------------

    def _deadlines(self, s: Session, jobs: dict[str, JobRecord], now: datetime, actions: Actions) -> None:
        known, self._deadline = self._deadline, {}
        for row in list(jobs.values()):
            due = known.get(row.id)  # a job's deadline changes only with its version
            if due is None or due[0] != row.version:
                due = (row.version, row.times_out_at)
            self._deadline[row.id] = due
            if due[1] is None or now < due[1]:
                continue
            grace, limit = row.spec.grace_s, row.spec.max_runtime_s
            try:
                jobs[row.id] = self.request_stop(s, row, StopReason.TIMEOUT, grace, "timeout",
                                                 f"max runtime of {limit:g} s reached; stopping")  # fmt: skip
            except StaleWrite:
                continue
            actions.moved[row.id] = jobs[row.id]
            actions.stop.append((row.id, row.attempt, grace, row.site_id or ""))

    # -- 3-4. decide and persist ----------------------------------------------------------------

    def _decide(
        self, s: Session, active: list[JobRecord], pending: list[JobRecord], rows: Rows,
        hl: dict[str, HealthState], now: datetime, stats: CycleStats, actions: Actions,
    ) -> None:  # fmt: skip
        """Decide for `pending` and persist the decisions."""
        usage = snapshots.advance_usage(s, active, now, self.policy.fair_share_half_life_s)
        held = held_by_limit(pending, active)
        for job_id, why in held.items():
            actions.wait(rows[job_id], LIMIT_CODE, why)
        if held:
            pending = [r for r in pending if r.id not in held]
        booked = reservations_repo.live(s, now)  # approved capacity reservations not over
        if pending or booked:
            governance = projects_repo.all_governance(s)  # read once: quotas, weights and shares
            quotas, weights = ProjectGovernanceService.policy_terms(governance)
            policy = dataclasses.replace(self.policy, contracts=snapshots.contract_book(s, governance),
                                         project_quotas=quotas, project_weights=weights)  # fmt: skip
            if booked:  # jobs (running ones too) are tagged with their org's reservation: a fresh snapshot
                jobs = self._in_reservations(booked, now)
                snap = snapshots.snapshot(self.topology, active, usage, hl, now, jobs)
                snap = dataclasses.replace(snap, reservations=tuple(r.to_core() for r in booked))
                result = schedule(snap, [jobs(r) for r in pending], policy, now.timestamp())
            else:  # the common case: the state kept across cycles, fed the differences in running work
                state = self._kept.update(active, hl, now, self._jobs)
                result = schedule_state(state, self._core_queue(pending), policy, now.timestamp(), usage=usage)
            self._jobs.end_cycle()
            self._persist_all(s, rows, result.decisions, now, stats, actions)
            first, actions.later = actions.places[:PLACE_CHUNK], actions.places[PLACE_CHUNK:]
            self._place_all(s, now, stats, actions, first)
        job_cycle.set_waits(s, [(j, code, msg) for j, (code, msg) in actions.waits.items()])
        self.audit.append_many(s, actions.audit)

    def _core_queue(self, pending: list[JobRecord]) -> list[Job]:
        """The core's jobs for `pending`: the same list as last cycle's when `pending` is (no job changed)."""
        last = self._queue
        if last is not None and last[0] is pending:
            return last[1]
        known = {(r.id, r.version): j for r, j in zip(*last, strict=True)} if last is not None else {}
        core = [known.get((r.id, r.version)) or self._jobs(r) for r in pending]
        self._queue = (pending, core)
        return core

    def _in_reservations(self, booked: list[Reservation], now: datetime) -> Callable[[JobRecord], Job]:
        """Core jobs, each of an org with an active reservation run in it (issue 16)."""
        if not booked:
            return self._jobs
        sites = {site.id: site for site in self.topology.sites}

        def job(row: JobRecord) -> Job:
            core = self._jobs(row)
            rid = reservation_for(core, row.site_id if row.gpu_ids else None, booked, sites, now)
            return core if rid == core.reservation else dataclasses.replace(core, reservation=rid)

        return job

    # -- 5. act ---------------------------------------------------------------------------------

    def _act(self, actions: Actions) -> None:
        for owner, report in actions.done:  # recorded durably: the executor may drop it now
            self._archive_logs(owner, report)
            owner.forget(report.job_id, report.attempt)
        for job_id, attempt, grace, site in actions.stop:
            self.send_stop(job_id, attempt, grace, site)
        for launch in actions.submit:
            executor = self.executors.get(launch.site_id)
            if executor is None:
                self._launch_failed(launch, f"no executor serves site {launch.site_id}")
                continue
            try:
                executor.submit(launch)
            except ExecutorError as exc:
                self._launch_failed(launch, str(exc))
            except Exception as exc:  # one bad launch must never block the others
                log.exception("launch of %s failed", launch.key)
                self._launch_failed(launch, f"internal error ({type(exc).__name__})")

    def _launch_failed(self, launch: Launch, why: str) -> None:
        now = self.clock.now()
        with self.db.transaction() as s:
            row = repo.get(s, launch.job_id)
            if row is None or row.attempt != launch.attempt or row.state is not JobState.SCHEDULED:
                return
            try:
                repo.move(s, row, row.launch_failed(why), now)
            except StaleWrite:
                return
