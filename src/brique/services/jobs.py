"""Job use cases for tenants: submit (idempotent, with quotas), dry-run, list, show, cancel, events, logs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from brique.clock import Clock
from brique.domain.fleet import Fleet
from brique.domain.job_lifecycle import JobSpec, JobState, StopReason, spec_to_dict
from brique.domain.residency import closest_site, narrow
from brique.domain.tenancy import Action, Principal
from brique.errors import BriqueError, Conflict, InvalidInput, NotFound, PermissionDenied, RateLimited
from brique.executors.base import SupportsLogs
from brique.ids import IdFactory, new_id
from brique.scheduler import Decision, Place, Reject, Reserve, schedule
from brique.services import snapshots
from brique.services.audit import AuditLog, Entry
from brique.services.authz import require
from brique.services.lockbox import Lockbox
from brique.services.residency import ResidencyService
from brique.services.scheduling import SchedulingService
from brique.services.secrets import SecretsService
from brique.store.db import Database
from brique.store.logs import LogArchive
from brique.store.repos import jobs as repo
from brique.store.repos import tenancy as tenancy_repo
from brique.store.repos.jobs import StaleJob, Transition
from brique.store.tables import JobEventRow, JobRow


@dataclass(frozen=True, slots=True)
class Quotas:
    """API quotas per tenant: a token bucket on submissions and a cap on pending jobs."""

    submissions_per_minute: int = 600
    burst: int = 100
    max_pending: int = 10_000


# A check run at submission, after the project is known; it raises a BriqueError to refuse
# (e.g. a budget's hard stop). Arguments: who submits, the spec, the project id.
AdmissionCheck = Callable[[Principal, JobSpec, str], None]


@dataclass(frozen=True, slots=True)
class Submitted:
    job: JobRow
    replayed: bool  # an Idempotency-Key matched an earlier submission


@dataclass(frozen=True, slots=True)
class DryRun:
    verdict: str  # start | wait | reject
    message: str
    site: str | None
    racks: tuple[str, ...]
    reasons: tuple[tuple[str, str], ...]


class _Buckets:
    """Token buckets per org (instance state, not global)."""

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

    def refund(self, key: str) -> None:
        """Give back a token taken for a submission that was then refused (it did not count)."""
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), self.monotonic()))
            self._state[key] = (min(float(self.burst), tokens + 1), last)


class JobService:
    def __init__(
        self, db: Database, clock: Clock, fleet: Fleet, scheduling: SchedulingService,
        logs_archive: LogArchive, quotas: Quotas | None = None, ids: IdFactory = new_id,
        wake: Callable[[], None] = lambda: None,
        admission: Sequence[AdmissionCheck] = (),
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.fleet = fleet
        self.scheduling = scheduling
        self.logs_archive = logs_archive
        self._site_gpus = {
            site.id: site.gpu_count for site in fleet.sites
        }  # counted once, not per submission
        self.quotas = quotas or Quotas()
        self.ids = ids
        self.wake = wake
        self.admission = list(admission)  # services may add their checks after construction
        # sovereignty controls, wired by the runtime (None: not enforced, e.g. in narrow tests)
        self.residency: ResidencyService | None = None
        self.secrets: SecretsService | None = None
        self.lockbox: Lockbox | None = None
        self.audit: AuditLog | None = None
        self._buckets = _Buckets(self.quotas.submissions_per_minute / 60.0, self.quotas.burst)

    # -- submit ---------------------------------------------------------------------------------

    def submit(self, who: Principal, spec: JobSpec, idempotency_key: str | None = None) -> Submitted:
        require(who, Action.JOB_SUBMIT)
        assert who.org_id is not None
        request_hash = hashlib.sha256(json.dumps(spec_to_dict(spec), sort_keys=True).encode()).hexdigest()
        if idempotency_key:
            earlier = self._replay(who.org_id, idempotency_key, request_hash)
            if earlier is not None:
                return Submitted(earlier, True)
        self._check_fits_somewhere(self._resident(who.org_id, spec))  # refuse at once, before the quota
        self._check_secrets(who.org_id, spec)
        wait = self._buckets.take(who.org_id)
        if wait > 0:
            raise RateLimited(f"too many submissions for this organization; retry in {wait:.1f} s")
        try:
            row = self._insert(who, spec, idempotency_key, request_hash)
        except BriqueError:
            self._buckets.refund(who.org_id)
            raise
        except IntegrityError as exc:  # a concurrent retry with the same key won the race
            earlier = self._replay(who.org_id, idempotency_key or "", request_hash)
            if earlier is None:
                raise Conflict("could not record the job; retry") from exc
            return Submitted(earlier, True)
        self.wake()
        return Submitted(row, False)

    def _resident(self, org_id: str, spec: JobSpec) -> JobSpec:
        """The spec held to its org's and project's residency policy (a job can only narrow them)."""
        if self.residency is None:
            return spec
        with self.db.transaction() as s:
            project = tenancy_repo.find_project(s, org_id, spec.project)
            if project is None:
                raise NotFound(f"project '{spec.project}' not found", field="project")
            policy = self.residency.effective(s, org_id, project.id)
        return dataclasses.replace(spec, placement=narrow(policy, spec.placement))

    def _check_secrets(self, org_id: str, spec: JobSpec) -> None:
        if not spec.secrets:
            return
        missing = self.secrets.missing(org_id, spec.secrets) if self.secrets else list(spec.secrets)
        if missing:
            raise InvalidInput(f"unknown secret(s): {', '.join(missing)} (set them with `brique secret set`)",
                               field="secrets")  # fmt: skip

    def _insert(self, who: Principal, spec: JobSpec, key: str | None, request_hash: str) -> JobRow:
        assert who.org_id is not None
        now = self.clock.now()
        with self.db.transaction() as s:
            project = tenancy_repo.find_project(s, who.org_id, spec.project)
            if project is None:
                raise NotFound(f"project '{spec.project}' not found", field="project")
            if self.residency is not None:  # the policy as of this transaction, not as of the check above
                policy = self.residency.effective(s, who.org_id, project.id)
                spec = dataclasses.replace(spec, placement=narrow(policy, spec.placement))
                self._check_fits_somewhere(spec)
            for check in self.admission:
                check(who, spec, project.id)
            if repo.count_pending(s, who.org_id) >= self.quotas.max_pending:
                raise RateLimited(
                    f"this organization already has {self.quotas.max_pending} pending jobs (quota)"
                )
            row = JobRow(
                id=self.ids("job"), org_id=who.org_id, project_id=project.id, name=spec.name,
                state=JobState.PENDING.value, tier=spec.tier.value, gpus=spec.gpus, spec=spec_to_dict(spec),
                attempt=1, retries_left=spec.retries, gpu_ids=[], submitted_at=now, updated_at=now,
                idempotency_key=key, request_hash=request_hash, created_by=who.user_id, version=1,
            )  # fmt: skip
            repo.add_job(s, row, now, f"submitted by {who.user_id}: {spec.gpus} GPUs, tier {spec.tier.value}")
            return row

    def _replay(self, org_id: str, key: str, request_hash: str) -> JobRow | None:
        with self.db.transaction() as s:
            earlier = repo.by_idempotency_key(s, org_id, key)
        if earlier is not None and earlier.request_hash != request_hash:
            raise Conflict(
                "this Idempotency-Key was already used for a different request", field="Idempotency-Key"
            )
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
        require(who, Action.JOB_SUBMIT)
        assert who.org_id is not None
        spec = self._resident(who.org_id, spec)
        self._check_fits_somewhere(spec)
        now = self.clock.now()
        with self.db.transaction() as s:
            project = tenancy_repo.find_project(s, who.org_id, spec.project)
            if project is None:
                raise NotFound(f"project '{spec.project}' not found", field="project")
            active = repo.in_states(s, repo.ACTIVE)
            pending = [snapshots.core_job(r) for r in repo.in_states(s, ("pending",))]
            usage = {u.org_id: u.decayed_gpu_s for u in repo.usage(s).values()}
            snap = snapshots.snapshot(self.scheduling.topology, active, usage, snapshots.health(s), now)
            book = snapshots.contract_book(s)
        probe = JobRow(id="job_dryrun", org_id=who.org_id, project_id=project.id, name=spec.name,
                       state="pending", tier=spec.tier.value, gpus=spec.gpus, spec=spec_to_dict(spec),
                       submitted_at=now, gpu_ids=[])  # fmt: skip
        policy = dataclasses.replace(self.scheduling.policy, contracts=book)
        result = schedule(snap, [*pending, snapshots.core_job(probe)], policy, now.timestamp())
        return _verdict(result.for_job("job_dryrun"))

    # -- reads ----------------------------------------------------------------------------------

    def list(self, who: Principal, project: str | None, states: list[str] | None, limit: int) -> list[JobRow]:
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
                found = tenancy_repo.find_project(s, who.org_id, project)
                if found is None:
                    raise NotFound(f"project '{project}' not found", field="project")
                project_id = found.id
            org = None if who.is_operator else who.org_id
            return repo.list_jobs(s, org_id=org, project_id=project_id, states=states, limit=limit)

    def get(self, who: Principal, job_id: str) -> tuple[JobRow, list[JobEventRow], bool]:
        """The job, its events, and whether its tenant data (command, env) must be redacted for `who`."""
        require(who, Action.JOB_READ)
        with self.db.transaction() as s:
            row = self._visible(who, repo.get(s, job_id), job_id)
            events = repo.events(s, job_id=row.id, org_id=None, since=None, limit=1000)
        redact = who.is_operator and not self._operator_may_read(who, row, "job.spec")
        return row, events, redact

    def events(self, who: Principal, job_id: str | None, limit: int) -> list[JobEventRow]:
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
            row = self._visible(who, repo.get(s, job_id), job_id)
        if who.is_operator and not self._operator_may_read(who, row, "job.logs"):
            raise PermissionDenied("operators read tenant logs only under an access request the tenant approved "
                                   "(brique access request)", code="lockbox")  # fmt: skip
        attempt = attempt or row.attempt
        done = JobState(row.state).terminal or row.attempt > attempt
        archived = self.logs_archive.read(row.id, attempt, offset)
        if archived is not None:
            return archived, done
        executor = self.scheduling.executors.get(row.site_id or "")
        data = executor.read_logs(row.id, attempt, offset) if isinstance(executor, SupportsLogs) else b""
        return data, done

    # -- cancel ---------------------------------------------------------------------------------

    def cancel(self, who: Principal, job_id: str) -> JobRow:
        require(who, Action.JOB_CANCEL)
        now = self.clock.now()
        with self.db.transaction() as s:
            row = self._visible(who, repo.get(s, job_id), job_id)
            state = JobState(row.state)
            if state.terminal:
                raise Conflict(f"job {job_id} is already {state.value}", field="state")
            grace = float(row.spec.get("grace_s", 30.0))
            try:
                if state.holds_gpus:
                    if row.stop_reason != StopReason.CANCEL.value:
                        self.scheduling.request_stop(row, StopReason.CANCEL, grace, s, "cancelling",
                                                     f"cancel requested by {who.user_id}; stopping")  # fmt: skip
                    stop = (row.id, row.attempt, grace, row.site_id)
                else:
                    repo.move(s, row, Transition(JobState.CANCELLED, "cancelled", f"cancelled by {who.user_id}",
                                                 {"finished_at": now}), now)  # fmt: skip
                    stop = None
            except StaleJob as exc:
                raise Conflict(f"job {job_id} changed while cancelling; retry") from exc
        if stop is not None:
            self.scheduling.send_stop(*stop)
        self.wake()
        return row

    def _operator_may_read(self, who: Principal, row: JobRow, what: str) -> bool:
        """An operator reads tenant data only under a live, tenant-approved grant; each read is audited."""
        grant = self.lockbox.grant_for(who, row.org_id, row.id, row.project_id) if self.lockbox else None
        if grant is not None and self.audit is not None:
            self.audit.record(Entry(who.user_id, row.org_id, "lockbox.read", row.id, "allowed",
                                    details={"what": what, "grant": grant.request_id}))  # fmt: skip
        return grant is not None

    def _visible(self, who: Principal, row: JobRow | None, job_id: str) -> JobRow:
        if row is None or not (who.is_operator or row.org_id == who.org_id):
            raise NotFound(f"job '{job_id}' not found", field="job_id")
        return row


def _verdict(decision: Decision | None) -> DryRun:
    if isinstance(decision, Place):
        racks = tuple(sorted({g.rsplit("/", 2)[0] for g in decision.gpus}))
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
