"""Job use cases for tenants: submit (idempotent, with quotas), dry-run, list, show, cancel, events, logs."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from brique.clock import Clock
from brique.domain.fleet import Fleet, racks_of
from brique.domain.job_lifecycle import JobSpec, JobState, StopReason, spec_to_dict
from brique.domain.job_records import JobEvent, JobRecord
from brique.domain.policy import PlacementPolicy
from brique.domain.residency import closest_site, narrow
from brique.domain.tenancy import Action, Principal, Project, can
from brique.errors import (
    BriqueError,
    Conflict,
    Duplicate,
    InvalidInput,
    LockboxRequired,
    NotFound,
    RateLimited,
)  # fmt: skip
from brique.executors.base import SupportsLogs
from brique.ids import IdFactory, new_id
from brique.scheduler import Decision, Place, Reject, Reserve, schedule
from brique.services import snapshots
from brique.services.audit import AuditLog, Entry
from brique.services.authz import may_cancel, require, tenant_org
from brique.services.group_commit import GroupCommit
from brique.services.job_arrays import JobArrays
from brique.services.job_controls import JobControls, Notifier
from brique.services.lockbox import Lockbox
from brique.services.pending_quota import PendingBound
from brique.services.residency import ResidencyService
from brique.services.scheduling import SchedulingService
from brique.services.secrets import SecretsService
from brique.services.stale import redecide_on_stale
from brique.store.db import Database
from brique.store.logs import LogArchive
from brique.store.repos import jobs as repo
from brique.store.repos import submissions as submissions_repo
from brique.store.repos import tenancy as tenancy_repo


@dataclass(frozen=True, slots=True)
class Quotas:
    """API quotas per tenant: a token bucket on submissions and a cap on pending jobs."""

    submissions_per_minute: int = 600
    burst: int = 100
    max_pending: int = 10_000


# The audit record of the request that submits, given whether it replayed an earlier submission:
# written in the submission's own transaction (one transaction per submission, not two).
RequestAudit = Callable[[bool], Entry]

# A check run inside the submission's transaction, once the project is known; it raises a
# BriqueError to refuse (e.g. a budget's hard stop). Arguments: the session, who submits, the
# spec (held to its residency policy), the project id.
AdmissionCheck = Callable[[Session, Principal, JobSpec, str], None]


@dataclass(frozen=True, slots=True)
class Submitted:
    job: JobRecord
    replayed: bool  # an Idempotency-Key matched an earlier submission


@dataclass(frozen=True, slots=True)
class _Pending:
    """A submission waiting for its group commit, checked and ready to be written."""

    who: Principal
    org_id: str
    spec: JobSpec
    key: str | None
    request_hash: str | None  # with a key only
    audit: RequestAudit | None
    at: datetime  # submitted_at: when the request came in


@dataclass(slots=True)
class _BatchMemo:
    """What one transaction already read for earlier submissions of its batch (same transaction: no
    staleness): the project and its residency policy per (org, project ref), the pending count per org
    (the batch's own jobs included)."""

    places: dict[tuple[str, str], tuple[str, PlacementPolicy]] = dataclasses.field(default_factory=dict)
    pending: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DryRun:
    verdict: str  # start | wait | reject
    message: str
    site: str | None
    racks: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]


class _Buckets:
    """Token buckets per org (instance state, not global): one org's flood never drains another's."""

    def __init__(
        self, rate_per_s: float, burst: int, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.monotonic = monotonic
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take a token; return 0 if allowed, else the seconds until one is available."""
        with self._lock:
            now = self.monotonic()
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._state[key] = (tokens, now)
                return (1 - tokens) / self.rate
            self._state[key] = (tokens - 1, now)
            return 0.0

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token again (0: one is there), taking none."""
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), self.monotonic()))
            tokens = min(self.burst, tokens + (self.monotonic() - last) * self.rate)
            return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


class JobService(JobArrays):
    def __init__(
        self, db: Database, clock: Clock, fleet: Fleet, scheduling: SchedulingService, logs_archive: LogArchive,
        residency: ResidencyService, secrets: SecretsService, lockbox: Lockbox, audit: AuditLog,
        quotas: Quotas | None = None, admission: Sequence[AdmissionCheck] = (),
        wake: Callable[[], None] = lambda: None, ids: IdFactory = new_id, notify: Notifier | None = None,
        gather_s: float = 0.0,
    ) -> None:  # fmt: skip
        """gather_s: group commit's wait for concurrent submissions to join a transaction (`GroupCommit`)."""
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.scheduling = scheduling
        self.logs_archive = logs_archive
        self.residency = residency
        self.secrets = secrets
        self.lockbox = lockbox
        self.audit = audit
        self._site_gpus = {site.id: site.gpu_count for site in fleet.sites}  # counted once, not per submission
        self.quotas = quotas or Quotas()
        self.admission = tuple(admission)
        self.wake = wake
        self.ids = ids
        self._buckets = _Buckets(self.quotas.submissions_per_minute / 60.0, self.quotas.burst)
        self._pending_bound = PendingBound()  # skips most pending counts
        self._writer: GroupCommit[_Pending, Submitted] = GroupCommit(self._submit_batch, gather_s=gather_s)
        # operators' suspend / resume / cancel (tenant webhooks told through `notify`)
        self.controls = JobControls(db, clock, scheduling, audit, notify or (lambda url, payload: "not sent"),
                                    wake)  # fmt: skip

    def submission_batches(self) -> tuple[int, int]:
        """(transactions, submissions) group commit has run in this process (for /metrics)."""
        return self._writer.batches, self._writer.items

    # -- rate limit -----------------------------------------------------------------------------

    def throttle(self, who: Principal) -> None:
        """Count one submission attempt of the caller's org, valid or not (dry runs too); refuse it
        when the org is over its rate. No database work: a flooding tenant is refused cheaply."""
        if who.org_id is None:
            return
        wait = self._buckets.take(who.org_id)
        if wait > 0:
            raise self._rate_limited(wait)

    def refusal(self, org_id: str) -> RateLimited | None:
        """The 429 for an org already out of submissions, found in memory alone (the API answers it
        before authenticating or reading the body), or None."""
        wait = self._buckets.wait(org_id)
        return self._rate_limited(wait) if wait > 0 else None

    def _rate_limited(self, wait: float) -> RateLimited:
        q = self.quotas
        return RateLimited(f"too many submissions for this organization (limit {q.submissions_per_minute} per "
                           f"minute, bursts of {q.burst}, invalid ones and dry runs included); retry in "
                           f"{math.ceil(wait)} s", retry_after_s=wait)  # fmt: skip

    # -- submit ---------------------------------------------------------------------------------

    def submit(
        self, who: Principal, spec: JobSpec, idempotency_key: str | None = None, audit: RequestAudit | None = None
    ) -> Submitted:
        """One unit of work: replay check, quota, project, residency, fit, secrets, admission, insert,
        and the request's audit record (`audit`) when the caller has one. Concurrent submissions are
        committed together (`GroupCommit`): the answer comes once the commit that holds this one is done."""
        pending = self._pending(who, spec, idempotency_key, audit)
        try:
            submitted = self._writer.run(pending)
        except Duplicate:  # a concurrent retry with the same key won the race
            return self._replay_after_race(pending)
        return self._accepted(submitted)

    async def submit_async(
        self, who: Principal, spec: JobSpec, idempotency_key: str | None = None, audit: RequestAudit | None = None
    ) -> Submitted:
        """`submit` for a caller on an event loop (the API): the checks that need no database run here,
        the rest in the group commit's writer thread, and the loop is never blocked."""
        pending = self._pending(who, spec, idempotency_key, audit)
        try:
            submitted = await self._writer.run_async(pending)
        except Duplicate:
            return await asyncio.to_thread(self._replay_after_race, pending)
        return self._accepted(submitted)

    def _pending(
        self, who: Principal, spec: JobSpec, idempotency_key: str | None, audit: RequestAudit | None
    ) -> _Pending:
        """The submission as the writer takes it, after the checks that read nothing (role, rate)."""
        org_id = tenant_org(who, Action.JOB_SUBMIT)
        self.throttle(who)
        request_hash = None  # only a keyed submission can be replayed: only its request is compared
        if idempotency_key is not None:
            request_hash = hashlib.sha256(json.dumps(spec_to_dict(spec), sort_keys=True).encode()).hexdigest()
        return _Pending(who, org_id, spec, idempotency_key, request_hash, audit, self.clock.now())

    def _replay_after_race(self, p: _Pending) -> Submitted:
        with self.db.transaction() as s:
            earlier = self._replay(s, p.org_id, p.key or "", p.request_hash)
            if earlier is not None and p.audit is not None:
                self.audit.append(s, p.audit(True))
        if earlier is None:
            raise Conflict("could not record the job; retry") from None
        return Submitted(earlier, True)

    def _accepted(self, submitted: Submitted) -> Submitted:
        if not submitted.replayed:
            self.wake()
        return submitted

    def _submit_batch(self, batch: Sequence[_Pending]) -> list[Submitted | BaseException]:
        """Submissions in one transaction: each is checked on its own (a refused one gets its error
        and writes nothing), the accepted ones are inserted with one statement per table and their
        audit records appended under one lock of the audit head. If the transaction itself fails,
        each submission is tried again alone, so one bad submission never fails the others."""
        if len(batch) == 1:
            return [self._alone(batch[0])]
        outcomes: list[Submitted | BaseException | None] = [None] * len(batch)
        later: list[int] = []  # a key already used in this batch: after it, alone (a replay)
        try:
            with self.db.transaction() as s:
                admitted = self._check_batch(s, batch, outcomes, later)
                repo.add_jobs(s, admitted)
                entries = [p.audit(o.replayed) for p, o in zip(batch, outcomes, strict=True)
                           if p.audit is not None and isinstance(o, Submitted)]  # fmt: skip
                self.audit.append_many(s, entries)  # last: the head's lock is held only until the commit
        except Exception:
            return [self._alone(p) for p in batch]
        for i in later:
            outcomes[i] = self._alone(batch[i])
        return outcomes  # type: ignore[return-value]

    def _check_batch(
        self, s: Session, batch: Sequence[_Pending], outcomes: list[Submitted | BaseException | None],
        later: list[int],
    ) -> list[tuple[JobRecord, str]]:  # fmt: skip
        """Each submission's checks (reads only), in order: the jobs to insert; refusals in `outcomes`."""
        keys: set[tuple[str, str]] = set()
        memo = _BatchMemo()
        admitted: list[tuple[JobRecord, str]] = []
        for i, p in enumerate(batch):
            if p.key is not None:
                if (p.org_id, p.key) in keys:
                    later.append(i)
                    continue
                keys.add((p.org_id, p.key))
            try:
                earlier = self._replay(s, p.org_id, p.key, p.request_hash) if p.key else None
                if earlier is not None:
                    outcomes[i] = Submitted(earlier, True)
                    continue
                job, message = self._prepare(s, p, memo)
            except BriqueError as exc:
                outcomes[i] = exc
                continue
            outcomes[i] = Submitted(job, False)
            admitted.append((job, message))
        return admitted

    def _alone(self, p: _Pending) -> Submitted | BaseException:
        try:
            return self._submit(p)
        except Exception as exc:
            return exc

    def _submit(self, p: _Pending) -> Submitted:
        with self.db.transaction() as s:
            earlier = self._replay(s, p.org_id, p.key, p.request_hash) if p.key else None
            if earlier is None:
                job, message = self._prepare(s, p, _BatchMemo())
                repo.add_jobs(s, [(job, message)])
                submitted = Submitted(job, False)
            else:
                submitted = Submitted(earlier, True)
            if p.audit is not None:  # last: the audit head's lock is held only until the commit
                self.audit.append(s, p.audit(submitted.replayed))
        return submitted

    def _prepare(self, s: Session, p: _Pending, memo: _BatchMemo) -> tuple[JobRecord, str]:
        """The job to insert and its `submitted` event's message, or refuse (reads only)."""
        who, org_id, spec = p.who, p.org_id, p.spec
        project_id, spec = self._admit(s, who, org_id, spec, memo)
        pending = memo.pending[org_id]  # read with the submission's context by `_admit`
        if pending >= self.quotas.max_pending:
            raise RateLimited(f"this organization already has {self.quotas.max_pending} pending jobs (quota)")
        memo.pending[org_id] = pending + 1  # the batch's own jobs count for the next ones
        self._pending_bound.admitted(org_id)
        job = JobRecord(
            id=self.ids("job"), org_id=org_id, project_id=project_id, name=spec.name, state=JobState.PENDING,
            tier=spec.tier, gpus=spec.gpus, spec=spec, submitted_at=p.at, updated_at=p.at,
            created_by=who.user_id, retries_left=spec.retries, idempotency_key=p.key, request_hash=p.request_hash,
        )  # fmt: skip
        return job, f"submitted by {who.user_id}: {spec.gpus} GPUs, tier {spec.tier.value}"

    def _admit(
        self, s: Session, who: Principal, org_id: str, spec: JobSpec, memo: _BatchMemo | None = None
    ) -> tuple[str, JobSpec]:
        """The project id and the spec held to its residency policy as of this transaction, or refuse.
        `memo`: what this transaction already read for an earlier submission of the same batch."""
        memo = memo or _BatchMemo()
        place = memo.places.get((org_id, spec.project))
        if place is None:
            known = org_id in memo.pending  # an earlier submission of the batch read it
            bound = None if known else self._pending_bound.known(org_id, self.quotas.max_pending)
            count = not known and bound is None
            ctx = submissions_repo.context(s, org_id, spec.project, count)  # project, policies, pending: one read
            if ctx is None:
                raise NotFound(f"project '{spec.project}' not found", field="project")
            policy = self.residency.of(ctx.org_policy, ctx.project_policy)
            place = memo.places[(org_id, spec.project)] = (ctx.project.id, policy)
            if ctx.pending is not None:
                self._pending_bound.counted(org_id, ctx.pending)
                memo.pending[org_id] = ctx.pending
            elif bound is not None:
                memo.pending[org_id] = bound
        project_id, policy = place
        spec = dataclasses.replace(spec, placement=narrow(policy, spec.placement))  # a job can only narrow
        self._check_fits_somewhere(spec)
        missing = self.secrets.missing(s, org_id, spec.secrets)
        if missing:
            raise InvalidInput(f"unknown secret(s): {', '.join(missing)} (set them with `brique secret set`)",
                               field="secrets")  # fmt: skip
        for check in self.admission:
            check(s, who, spec, project_id)
        return project_id, spec

    @staticmethod
    def _project(s: Session, org_id: str, ref: str) -> Project:
        project = tenancy_repo.find_project(s, org_id, ref)
        if project is None:
            raise NotFound(f"project '{ref}' not found", field="project")
        return project

    @staticmethod
    def _replay(s: Session, org_id: str, key: str, request_hash: str | None) -> JobRecord | None:
        earlier = repo.by_idempotency_key(s, org_id, key)
        if earlier is not None and earlier.request_hash != request_hash:
            raise Conflict("this Idempotency-Key was already used for a different request", field="Idempotency-Key")
        return earlier

    def _check_fits_somewhere(self, spec: JobSpec) -> None:
        """Refuse at once what no site can ever run, naming the rule and the closest site."""
        allowed = [site for site in self.fleet.sites if spec.placement.allows(site)]
        if not allowed:
            _, violations = closest_site(spec.placement, self.fleet)
            why = "; ".join(violations)
            raise InvalidInput(f"no site meets placement policy '{spec.placement.label}' (closest: {why})",
                               field="placement")  # fmt: skip
        largest = max(self._site_gpus[site.id] for site in allowed)
        if spec.gpus > largest:
            raise InvalidInput(f"asks {spec.gpus} GPUs; the largest site meeting policy "
                               f"'{spec.placement.label}' has {largest}", field="gpus")  # fmt: skip

    # -- dry run --------------------------------------------------------------------------------

    def dry_run(self, who: Principal, spec: JobSpec) -> DryRun:
        """What the scheduler would do with `spec` now (one read-only unit of work, nothing written)."""
        org_id = tenant_org(who, Action.JOB_SUBMIT)
        self.throttle(who)
        now = self.clock.now()
        with self.db.transaction() as s:
            project = self._project(s, org_id, spec.project)
            policy = self.residency.effective(s, org_id, project.id)
            spec = dataclasses.replace(spec, placement=narrow(policy, spec.placement))
            self._check_fits_somewhere(spec)
            active = repo.in_states(s, repo.ACTIVE)
            pending = [snapshots.core_job(r) for r in repo.in_states(s, (JobState.PENDING.value,))]
            usage = {u.org_id: u.decayed_gpu_s for u in repo.usage(s).values()}
            snap = snapshots.snapshot(self.scheduling.topology, active, usage, snapshots.health(s), now)
            book = snapshots.contract_book(s)
        probe = JobRecord(id="job_dryrun", org_id=org_id, project_id=project.id, name=spec.name,
                          state=JobState.PENDING, tier=spec.tier, gpus=spec.gpus, spec=spec, submitted_at=now,
                          updated_at=now, created_by=who.user_id)  # fmt: skip
        sched_policy = dataclasses.replace(self.scheduling.policy, contracts=book)
        result = schedule(snap, [*pending, snapshots.core_job(probe)], sched_policy, now.timestamp())
        return _verdict(result.for_job(probe.id))

    # -- reads ----------------------------------------------------------------------------------

    def list(
        self, who: Principal, project: str | None, states: list[str] | None, limit: int,
        array_id: str | None = None, after: tuple[datetime, str] | None = None, offset: int = 0,
    ) -> list[JobRecord]:  # fmt: skip
        require(who, Action.JOB_READ)
        for st in states or []:
            if st not in {s.value for s in JobState}:
                raise InvalidInput(f"unknown state '{st}'", field="state")
        with self.db.transaction() as s:
            project_id = None
            if project:
                if who.org_id is None:
                    raise InvalidInput(
                        "operators list jobs fleet-wide; --project needs a tenant key", field="project"
                    )
                project_id = self._project(s, who.org_id, project).id
            org = None if who.is_operator else who.org_id
            return repo.list_jobs(s, org_id=org, project_id=project_id, states=states, limit=limit,
                                  array_id=array_id, after=after, offset=offset)  # fmt: skip

    def get(self, who: Principal, job_id: str) -> tuple[JobRecord, list[JobEvent], bool]:
        """The job, its events, and whether its tenant data (command, env) must be redacted for `who`."""
        require(who, Action.JOB_READ)
        with self.db.transaction() as s:
            job = self._visible(who, repo.get(s, job_id), job_id)
            events = repo.events(s, job_id=job.id, org_id=None, since=None, limit=1000)
            redact = who.is_operator and not self._operator_may_read(s, who, job, "job.spec")
        return job, events, redact

    def events(self, who: Principal, job_id: str | None, limit: int) -> list[JobEvent]:
        require(who, Action.JOB_READ)
        with self.db.transaction() as s:
            if job_id is not None:
                self._visible(who, repo.get(s, job_id), job_id)
            org = None if who.is_operator else who.org_id
            return repo.events(s, job_id=job_id, org_id=org, since=None, limit=limit)

    def logs(
        self, who: Principal, job_id: str, offset: int, attempt: int | None = None
    ) -> tuple[bytes, bool]:
        """Log bytes from `offset` and whether the attempt is over (no more will come)."""
        if not who.is_operator:
            require(who, Action.JOB_LOGS)
        with self.db.transaction() as s:
            job = self._visible(who, repo.get(s, job_id), job_id)
            if who.is_operator and not self._operator_may_read(s, who, job, "job.logs"):
                raise LockboxRequired("operators read tenant logs only under an access request the tenant "
                                      "approved (brique access request)")  # fmt: skip
        attempt = attempt or job.attempt
        done = job.state.terminal or job.attempt > attempt
        archived = self.logs_archive.read(job.id, attempt, offset)
        if archived is not None:
            return archived, done
        executor = self.scheduling.executors.get(job.site_id or "")
        data = executor.read_logs(job.id, attempt, offset) if isinstance(executor, SupportsLogs) else b""
        return data, done

    # -- cancel ---------------------------------------------------------------------------------

    def cancel(self, who: Principal, job_id: str, reason: str | None = None) -> JobRecord:
        """Members cancel their own jobs, tenant admins any of their org's; operators (with a reason)
        go through `controls`, which never shows them the job's data."""
        if who.is_operator and can(who, Action.JOB_OPERATE):
            return self.controls.cancel(who, job_id, reason)
        require(who, Action.JOB_CANCEL)
        why = f": {reason.strip()[:500]}" if reason and reason.strip() else ""
        job = redecide_on_stale(lambda: self._cancel(who, job_id, why))
        if job.state.holds_gpus:
            self.scheduling.send_stop(job.id, job.attempt, job.spec.grace_s, job.site_id)
        self.wake()
        return job

    def _cancel(self, who: Principal, job_id: str, why: str) -> JobRecord:
        now = self.clock.now()
        with self.db.transaction() as s:
            job = self._visible(who, repo.get(s, job_id), job_id)
            may_cancel(who, job)
            if job.state.terminal:
                raise Conflict(f"job {job_id} is already {job.state.value}", field="state")
            if not job.state.holds_gpus:
                return repo.move(s, job, job.cancel_pending(who.user_id + why, now), now)
            if job.stop_reason is not StopReason.CANCEL:
                return self.scheduling.request_stop(s, job, StopReason.CANCEL, job.spec.grace_s, "cancelling",
                                                    f"cancel requested by {who.user_id}{why}; stopping")  # fmt: skip
            return job

    def _operator_may_read(self, s: Session, who: Principal, job: JobRecord, what: str) -> bool:
        """An operator reads tenant data only under a live, tenant-approved grant; each read is audited."""
        grant = self.lockbox.grant_for(s, who, job.org_id, job.id, job.project_id)
        if grant is not None:
            self.audit.append(s, Entry(who.user_id, job.org_id, "lockbox.read", job.id, "allowed",
                                       details={"what": what, "grant": grant.request_id}))  # fmt: skip
        return grant is not None

    @staticmethod
    def _visible(who: Principal, job: JobRecord | None, job_id: str) -> JobRecord:
        if job is None or not (who.is_operator or job.org_id == who.org_id):
            raise NotFound(f"job '{job_id}' not found", field="job_id")
        return job


def _verdict(decision: Decision | None) -> DryRun:
    if isinstance(decision, Place):
        racks = tuple(racks_of(decision.gpus))
        where = (
            f"{decision.site}/{racks[0].split('/', 1)[1]}"
            if len(racks) == 1
            else f"{decision.site} ({len(racks)} racks)"
        )
        pre = f", after preempting {len(decision.preempts)} job(s)" if decision.preempts else ""
        reasons = tuple((r.code.value, r.message) for r in decision.reasons)
        return DryRun("start", f"would start now on {where}{pre}", decision.site, racks, reasons)
    if decision is None:
        return DryRun("wait", "no decision", None, (), ())
    reasons = tuple((r.code.value, r.message) for r in decision.reasons)  # type: ignore[union-attr]
    text = "; ".join(m for _, m in reasons)
    if isinstance(decision, Reserve):
        return DryRun("wait", f"would wait, first in line: {text}", None, (), reasons)
    verdict = "reject" if isinstance(decision, Reject) else "wait"
    return DryRun(
        verdict, f"would {'never run' if verdict == 'reject' else 'wait'}: {text}", None, (), reasons
    )
