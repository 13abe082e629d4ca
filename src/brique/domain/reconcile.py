"""From what an executor reports to the job's next state(s): the convergence rules.

Executors report levels (the current truth of an attempt), so applying the same report
twice is harmless and a restarted control plane converges by polling again. A report
for an older attempt than the job's current one is ignored.

    report      job was             becomes
    RUNNING     scheduled           running
    SUCCEEDED   scheduled/running   succeeded
    FAILED      scheduled/running   pending (retry left: attempt+1) | failed
    STOPPED     stop = cancel       cancelled
    STOPPED     stop = preempt      preempted -> pending (preemption always requeues)
    STOPPED     stop = timeout      failed (max runtime reached)
    STOPPED     stop = suspend      suspended (held; resuming starts attempt+1)
    LOST        scheduled/running   lost -> pending (retry left) | failed
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from brique.domain.job_lifecycle import JobState, StopReason
from brique.domain.job_records import RELEASE, JobRecord, Transition
from brique.domain.runs import RunReport, RunState


def transitions(job: JobRecord, report: RunReport, now: datetime) -> list[Transition]:
    if report.attempt != job.attempt or not job.state.holds_gpus:
        return []
    if report.state is RunState.RUNNING and job.state is JobState.SCHEDULED:
        return [_start(job, report, report.image or report.message, now)]
    if not report.state.finished:
        return []
    if job.state is JobState.SCHEDULED and report.started_at is not None:
        # It ran and ended between two looks: its start (and the image it ran) is recorded first,
        # so the evidence of where and what ran does not depend on how often the node is polled.
        start = _start(job, report, report.image, now)
        return [start, *transitions(job.moved(start, now), report, now)]
    ended = {"finished_at": report.finished_at or now, "exit_code": report.exit_code}
    if report.state is RunState.SUCCEEDED:
        return [Transition(JobState.SUCCEEDED, "succeeded", "exited with code 0", ended | _started(job, report))]
    if report.state is RunState.STOPPED:
        return _stopped(job, ended | _started(job, report))
    if report.state is RunState.LOST:
        lost = Transition(JobState.LOST, "lost", report.message or "the node running it was lost", ended)
        return [lost, *_retry_or_fail(job, "node lost")]
    detail = f"exited with code {report.exit_code}" if report.exit_code is not None else report.message or "failed"
    if report.exit_code is not None and report.message:
        detail += f": {report.message}"  # e.g. the agent's "out of memory" after exit 137
    return _retry_or_fail(job, detail, ended | _started(job, report), from_failure=True)


def _stopped(job: JobRecord, ended: dict[str, Any]) -> list[Transition]:
    reason = job.stop_reason or StopReason.CANCEL
    if reason is StopReason.CANCEL:
        return [Transition(JobState.CANCELLED, "cancelled", "stopped on request", ended | RELEASE)]
    if reason is StopReason.TIMEOUT:
        return [Transition(JobState.FAILED, "timeout", "stopped at its max runtime", ended | RELEASE)]
    if reason is StopReason.SUSPEND:
        return [Transition(JobState.SUSPENDED, "suspended", "stopped; held by an operator",
                           ended | _next_attempt(job))]  # fmt: skip
    preempted = Transition(JobState.PREEMPTED, "preempted", "stopped after its grace period", ended)
    requeue = Transition(JobState.PENDING, "requeued", f"requeued as attempt {job.attempt + 1} after preemption",
                         _next_attempt(job))  # fmt: skip
    return [preempted, requeue]


def _retry_or_fail(
    job: JobRecord, detail: str, ended: dict[str, Any] | None = None, from_failure: bool = False
) -> list[Transition]:
    ended = ended or {}
    if job.retries_left > 0:
        left = job.retries_left - 1
        msg = f"{detail}; requeued as attempt {job.attempt + 1} ({left} retries left)"
        return [Transition(JobState.PENDING, "retry", msg, ended | _next_attempt(job) | {"retries_left": left})]
    code = "failed" if from_failure else "no_retries"
    return [Transition(JobState.FAILED, code, f"{detail}; no retries left", ended | RELEASE)]


def _next_attempt(job: JobRecord) -> dict[str, Any]:
    return RELEASE | {"attempt": job.attempt + 1, "scheduled_at": None, "started_at": None, "finished_at": None,
                      "exit_code": None}  # fmt: skip


def _start(job: JobRecord, report: RunReport, note: str, now: datetime) -> Transition:
    message = f"running on {job.where}" + (f"; {note}" if note else "")  # e.g. the image that ran
    return Transition(JobState.RUNNING, "started", message, {"started_at": report.started_at or now})


def _started(job: JobRecord, report: RunReport) -> dict[str, Any]:
    return {} if job.started_at else {"started_at": report.started_at}


def run_through(job: JobRecord, steps: list[Transition], at: datetime) -> JobRecord:
    """The job after all `steps` (what the store persists one by one)."""
    for step in steps:
        job = job.moved(step, at)
    return job
