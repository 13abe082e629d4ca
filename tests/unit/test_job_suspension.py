"""Suspension by an operator, without a database: who may, the moves, and the executor's report."""

from __future__ import annotations

import pytest

from brique.domain.job_lifecycle import JobState, StopReason
from brique.domain.reconcile import run_through, transitions
from brique.domain.runs import RunState
from brique.domain.tenancy import Action, Principal, Role, can
from tests.unit.test_job_records import T0, make_job, report, running


def who(role: Role) -> Principal:
    return Principal("usr_1", "key_1", role, None if role.is_operator else "org_1")


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [(Role.OPERATOR_ADMIN, Action.JOB_OPERATE, True), (Role.OPERATOR, Action.JOB_OPERATE, True),
     (Role.AUDITOR, Action.JOB_OPERATE, False), (Role.TENANT_ADMIN, Action.JOB_OPERATE, False),
     (Role.OPERATOR_ADMIN, Action.ORG_SUSPEND, True), (Role.OPERATOR, Action.ORG_SUSPEND, False),
     (Role.TENANT_ADMIN, Action.JOB_CANCEL_ANY, True), (Role.TENANT_MEMBER, Action.JOB_CANCEL_ANY, False),
     (Role.TENANT_MEMBER, Action.JOB_CANCEL, True), (Role.OPERATOR_ADMIN, Action.JOB_CANCEL_ANY, False)],
    ids=["op-admin-operates", "operator-operates", "auditor-does-not", "tenant-admin-does-not",
         "op-admin-suspends-orgs", "operator-does-not-suspend-orgs", "tenant-admin-cancels-any",
         "member-cancels-only-own", "member-cancels-own", "operators-never-take-tenant-cancel"],
)  # fmt: skip
def test_who_may(role: Role, action: Action, allowed: bool) -> None:
    assert can(who(role), action) is allowed


def test_a_pending_job_is_held_then_resumed() -> None:
    held = make_job().moved(make_job().suspend_waiting("suspended by operator usr_9: abuse"), T0)
    assert held.state is JobState.SUSPENDED and not held.state.terminal and not held.state.holds_gpus
    back = held.moved(held.resume("resumed by operator usr_9"), T0)
    assert back.state is JobState.PENDING and back.attempt == 1


def test_a_running_job_stopped_for_suspension_is_held_with_a_new_attempt() -> None:
    job = running()
    stopping = job.moved(job.stop(StopReason.SUSPEND, 30, T0, "suspending", "suspend by operator"), T0)
    steps = transitions(stopping, report(RunState.STOPPED, exit_code=143), T0)
    assert [(s.to, s.code) for s in steps] == [(JobState.SUSPENDED, "suspended")]
    held = run_through(stopping, steps, T0)
    assert (held.attempt, held.gpu_ids, held.site_id, held.stop_reason) == (2, (), None, None)


def test_a_suspended_job_can_only_resume_or_be_cancelled() -> None:
    held = make_job(JobState.SUSPENDED)
    with pytest.raises(ValueError, match="not a legal transition"):
        held.moved(held.place("fr-par-1", ("fr-par-1/r001/n01/g0",), T0, "fits", "fits"), T0)
    assert held.moved(held.cancel_pending("usr_1", T0), T0).state is JobState.CANCELLED
