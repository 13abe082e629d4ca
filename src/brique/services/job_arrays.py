"""Job arrays, Slurm's habit: N tasks of one spec in one request (`--array 0-9999%50`), each an ordinary
job with its index, seen and cancelled as a whole. Mixed into `JobService`, whose admission, quota,
rate limit and stop plumbing every task goes through."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from brique.domain.arrays import ArraySpec
from brique.domain.job_lifecycle import JobSpec, JobState, StopReason, spec_to_dict
from brique.domain.job_records import JobRecord
from brique.domain.tenancy import Action, Principal
from brique.errors import NotFound, RateLimited
from brique.services.authz import may_cancel, require, tenant_org
from brique.store.repos import job_cycle
from brique.store.repos import jobs as repo

if TYPE_CHECKING:
    from brique.clock import Clock
    from brique.ids import IdFactory
    from brique.services.audit import AuditLog
    from brique.services.jobs import RequestAudit
    from brique.services.scheduling import SchedulingService
    from brique.store.db import Database


@dataclass(frozen=True, slots=True)
class ArrayInfo:
    """A job array as a whole: its tasks counted per state."""

    id: str
    name: str
    org_id: str
    tasks: int
    max_running: int | None
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class SubmittedArray:
    array: ArrayInfo
    replayed: bool


class JobArrays:
    """The array use cases of `JobService` (which provides the attributes declared here)."""

    db: Database
    clock: Clock
    audit: AuditLog
    ids: IdFactory
    quotas: Any
    scheduling: SchedulingService
    wake: Callable[[], None]
    throttle: Callable[[Principal], None]
    _admit: Callable[..., tuple[str, JobSpec]]
    _replay: Callable[..., JobRecord | None]

    def submit_array(
        self, who: Principal, spec: JobSpec, array: ArraySpec, idempotency_key: str | None = None,
        audit: RequestAudit | None = None,
    ) -> SubmittedArray:
        """N tasks of one spec in one transaction (two multi-row inserts); the key names the whole array.
        The request's audit record (`audit`) is written in that transaction too: written after it, it
        would wait behind the placement cycle the submission wakes (SQLite's write lock)."""
        org_id = tenant_org(who, Action.JOB_SUBMIT)
        doc = {"spec": spec_to_dict(spec), "array": list(array.indices), "max_running": array.max_running}
        request_hash = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
        key = idempotency_key
        with self.db.transaction("this Idempotency-Key was just used; retry", field="Idempotency-Key") as s:
            earlier = self._replay(s, org_id, key, request_hash) if key else None
            if earlier is not None and earlier.array_id is not None:
                if audit is not None:
                    self.audit.append(s, audit(True))
                return SubmittedArray(self._array(s, earlier.array_id), True)
            self.throttle(who)  # one request, one token, whatever its size (refused ones count too)
            array_id, tasks = self._insert_tasks(s, who, org_id, spec, array, key, request_hash)
            if audit is not None:  # last: the audit head's lock is held only until the commit
                self.audit.append(s, audit(False))
            info = ArrayInfo(array_id, spec.name, org_id, len(array.indices), array.max_running,
                             {JobState.PENDING.value: len(array.indices)})  # fmt: skip
        self.scheduling.noted(tasks)  # committed: the loop takes them as they are, without reading them back
        self.wake()
        return SubmittedArray(info, False)

    def _insert_tasks(
        self, s: Session, who: Principal, org_id: str, spec: JobSpec, array: ArraySpec, key: str | None,
        request_hash: str,
    ) -> tuple[str, list[JobRecord]]:  # fmt: skip
        project_id, spec = self._admit(s, who, org_id, spec)
        pending = repo.count_pending(s, org_id)
        if pending + len(array.indices) > self.quotas.max_pending:
            raise RateLimited(f"{len(array.indices):,} more tasks would pass this organization's quota of "
                              f"{self.quotas.max_pending:,} pending jobs ({pending:,} pending now)")  # fmt: skip
        now, array_id = self.clock.now(), self.ids("arr")
        tasks = [JobRecord(
            id=self.ids("job"), org_id=org_id, project_id=project_id, name=spec.name, state=JobState.PENDING,
            tier=spec.tier, gpus=spec.gpus, spec=spec, submitted_at=now, updated_at=now, created_by=who.user_id,
            retries_left=spec.retries, idempotency_key=key if n == 0 else None,
            request_hash=request_hash if n == 0 else None, array_id=array_id, array_index=index,
            array_max_running=array.max_running,
        ) for n, index in enumerate(array.indices)]  # fmt: skip
        job_cycle.add_tasks(s, tasks, f"submitted by {who.user_id} in array {array_id}: {spec.gpus} GPUs, "
                                 f"tier {spec.tier.value}")  # fmt: skip
        return array_id, tasks

    def get_array(self, who: Principal, array_id: str) -> ArrayInfo:
        require(who, Action.JOB_READ)
        with self.db.transaction() as s:
            info = self._array(s, array_id)
        if not (who.is_operator or info.org_id == who.org_id):
            raise NotFound(f"array '{array_id}' not found", field="array_id")
        return info

    def cancel_array(self, who: Principal, array_id: str) -> ArrayInfo:
        """Cancel every task not finished yet (pending ones at once, running ones with their grace)."""
        require(who, Action.JOB_CANCEL)
        self.get_array(who, array_id)  # visibility first
        now, stops = self.clock.now(), []
        with self.db.transaction() as s:
            for job in repo.array_tasks(s, array_id, [st.value for st in JobState if not st.terminal]):
                may_cancel(who, job)  # members cancel only their own arrays
                if not job.state.holds_gpus:
                    repo.move(s, job, job.cancel_pending(who.user_id, now), now)
                elif job.stop_reason is not StopReason.CANCEL:
                    job = self.scheduling.request_stop(s, job, StopReason.CANCEL, job.spec.grace_s, "cancelling",
                                                       f"array cancelled by {who.user_id}; stopping")  # fmt: skip
                    stops.append(job)
        for job in stops:
            self.scheduling.send_stop(job.id, job.attempt, job.spec.grace_s, job.site_id)
        self.wake()
        return self.get_array(who, array_id)

    @staticmethod
    def _array(s: Session, array_id: str) -> ArrayInfo:
        first = repo.list_jobs(s, org_id=None, project_id=None, states=None, limit=1, array_id=array_id)
        if not first:
            raise NotFound(f"array '{array_id}' not found", field="array_id")
        counts = repo.array_counts(s, array_id)
        job = first[0]
        return ArrayInfo(array_id, job.name, job.org_id, sum(counts.values()), job.array_max_running, counts)
