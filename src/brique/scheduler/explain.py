"""Reason builders: one function per reason code, one sentence each.

Messages start with the verdict (`waiting:`, `rejected:`, `reserved:`, `placed:`,
`preempted:`) so a line of `brique jobs why` reads on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Final

from brique.domain.jobs import Job
from brique.scheduler.decisions import Reason, ReasonCode


def _where(g: int, label: str, rack: bool) -> str:
    scope = "one rack (NVLink domain)" if rack else "one site"
    return f"{g} GPUs in {scope} meeting policy '{label}'"


@lru_cache(maxsize=4096)  # a head's start is formatted again cycle after cycle: a pure function, memoised
def _at(when: float) -> str:
    """An absolute time: unlike a countdown, the sentence stays the same from cycle to cycle, so the
    control plane rewrites a job's wait reason only when it really changes."""
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def no_capacity(g: int, label: str, rack: bool, largest: int) -> Reason:
    return Reason(
        ReasonCode.NO_CAPACITY,
        f"waiting: needs {_where(g, label, rack)}; largest free block there is {largest}",
    )


def behind_reservation(g: int, label: str, head: str, start: float, now: float) -> Reason:
    return Reason(
        ReasonCode.BEHIND_RESERVATION,
        f"waiting: {g} GPUs meeting policy '{label}' are held for job {head}, "
        f"reserved to start at {_at(start)}; this job would not end before then",
    )


def borrow(kind: str, job: Job, over: int, guarantee: int, cap: int | None) -> Reason:
    if kind == "no_borrowing":
        return Reason(
            ReasonCode.NO_BORROWING,
            f"waiting: tenant {job.tenant} may not borrow; {job.gpus} more GPUs would take it "
            f"{over} beyond its guarantee of {guarantee}",
        )
    return Reason(
        ReasonCode.BORROW_CAP,
        f"waiting: tenant {job.tenant} would borrow {over} GPUs beyond its guarantee of {guarantee}; "
        f"its borrowing cap is {cap}",
    )


def reservation_not_started(job: Job, start: float, now: float) -> Reason:
    return Reason(
        ReasonCode.RESERVATION_NOT_STARTED,
        f"waiting: reservation {job.reservation} starts in {start - now:.0f} s",
    )


def project_quota(job: Job, used: int, quota: int) -> Reason:
    return Reason(
        ReasonCode.PROJECT_QUOTA,
        f"waiting: project {job.project} holds {used} GPUs of its quota of {quota}; this job needs {job.gpus} more",
    )


def reservation_full(job: Job, free: int) -> Reason:
    return Reason(
        ReasonCode.RESERVATION_FULL,
        f"waiting: needs {job.gpus} GPUs in reservation {job.reservation}; {free} of its GPUs are free",
    )


def head_blocked(head: str) -> Reason:
    return Reason(ReasonCode.HEAD_BLOCKED, f"waiting: backfill is off and job {head} is ahead in the queue")


def not_examined(depth: int) -> Reason:
    return Reason(
        ReasonCode.NOT_EXAMINED,
        f"waiting: not examined this cycle; {depth} jobs ahead of it in queue order could not start "
        "(queue depth per cycle, like Slurm's bf_max_job_test)",
    )


def reserved(g: int, label: str, start: float, now: float, rack: bool) -> Reason:
    return _reserved(g, label, start, rack)


@lru_cache(maxsize=4096)  # a kept head is reserved again cycle after cycle with the same start: memoised
def _reserved(g: int, label: str, start: float, rack: bool) -> Reason:
    return Reason(
        ReasonCode.RESERVED,
        f"reserved: needs {_where(g, label, rack)}; earliest start at {_at(start)}, "
        "when running jobs are expected to end",
    )


def no_site(label: str) -> Reason:
    return Reason(ReasonCode.NO_SITE, f"rejected: no site in the fleet meets policy '{label}'")


def too_large(g: int, label: str, rack: bool, most: int) -> Reason:
    where = "qualifying rack" if rack else "qualifying site"
    return Reason(
        ReasonCode.TOO_LARGE,
        f"rejected: needs {_where(g, label, rack)}; the largest {where} has {most}",
    )


def over_guarantee(job: Job, most: int) -> Reason:
    return Reason(
        ReasonCode.OVER_GUARANTEE_NO_BORROW,
        f"rejected: needs {job.gpus} GPUs; tenant {job.tenant}'s contract allows at most {most} at once",
    )


def unknown_reservation(job: Job) -> Reason:
    return Reason(
        ReasonCode.UNKNOWN_RESERVATION, f"rejected: reservation {job.reservation} does not exist or is over"
    )


def reservation_too_small(job: Job, size: int) -> Reason:
    return Reason(
        ReasonCode.RESERVATION_TOO_SMALL,
        f"rejected: needs {job.gpus} GPUs; reservation {job.reservation} holds {size}",
    )


def placed(code: ReasonCode, job: Job) -> Reason:
    if code is ReasonCode.BACKFILL:  # the same value every time: one shared Reason (only the asked text is built)
        return _BACKFILLED
    if code is ReasonCode.FAIR_SHARE:
        return _FAIR_SHARE
    if code is ReasonCode.WITHIN_GUARANTEE:
        return Reason(code, f"placed: within tenant {job.tenant}'s guarantee")
    if code is ReasonCode.IN_RESERVATION:
        return Reason(code, f"placed: inside reservation {job.reservation}")
    raise KeyError(code)


_FAIR_SHARE: Final = Reason(ReasonCode.FAIR_SHARE, "placed: idle capacity, fair-share order")
_BACKFILLED: Final = Reason(ReasonCode.BACKFILL, "placed: backfilled without delaying the reserved head job")


def preempted_for(job: Job, within_guarantee: bool) -> Reason:
    if within_guarantee:
        return Reason(
            ReasonCode.PREEMPTED_FOR_GUARANTEE,
            f"preempted: frees GPUs for job {job.id} of tenant {job.tenant}, within its guarantee",
        )
    return Reason(
        ReasonCode.PREEMPTED_FOR_JOB,
        f"preempted: preemptible work yields to {job.tier.value} job {job.id} of tenant {job.tenant}",
    )


def drained(reservation: str) -> Reason:
    return Reason(
        ReasonCode.RESERVATION_DRAIN,
        f"preempted: its GPUs are held for reservation {reservation}, which starts before it would end",
    )
