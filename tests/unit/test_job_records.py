"""The stored job's rules, without a database: legal moves, stops, placement and reconcile."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from brique.domain.fleet import gpu_index, gpus_by_node, node_of, rack_of, racks_of
from brique.domain.job_lifecycle import JobSpec, JobState, StopReason
from brique.domain.job_records import JobRecord, Transition
from brique.domain.jobs import DEFAULT_GRACE_S, DEFAULT_MAX_RUNTIME_S, Tier
from brique.domain.reconcile import run_through, transitions
from brique.domain.runs import RunReport, RunState

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
GPUS = ("fr-par-1/r001/n01/g0", "fr-par-1/r001/n01/g1", "fr-par-1/r002/n03/g2")


def make_job(state: JobState = JobState.PENDING, **kw: object) -> JobRecord:
    spec = JobSpec(name="train", project="llm", command="python train.py", gpus=3,
                   retries=int(kw.pop("retries", 0)))  # type: ignore[arg-type]  # fmt: skip
    base = JobRecord(id="job_1", org_id="org_1", project_id="prj_1", name="train", state=state, tier=Tier.STANDARD,
                     gpus=3, spec=spec, submitted_at=T0, updated_at=T0, created_by="usr_1",
                     retries_left=spec.retries)  # fmt: skip
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def running(**kw: object) -> JobRecord:
    return make_job(JobState.RUNNING, site_id="fr-par-1", gpu_ids=GPUS, scheduled_at=T0, started_at=T0, **kw)


def report(state: RunState, attempt: int = 1, **kw: object) -> RunReport:
    return RunReport("job_1", attempt, state, **kw)  # type: ignore[arg-type]


# -- moves -------------------------------------------------------------------------------------


def test_a_move_bumps_the_version_and_applies_values() -> None:
    job = make_job()
    after = job.moved(job.place("fr-par-1", GPUS, T0, "fits", "fits in one rack"), T0 + timedelta(seconds=1))
    assert (after.state, after.version, after.site_id, after.gpu_ids) == (JobState.SCHEDULED, 2, "fr-par-1", GPUS)
    assert after.updated_at == T0 + timedelta(seconds=1)
    assert job.state is JobState.PENDING  # the record is a value: the old version is untouched


@pytest.mark.parametrize(
    ("src", "dst"),
    [(JobState.PENDING, JobState.RUNNING), (JobState.SUCCEEDED, JobState.PENDING), (JobState.CANCELLED,
                                                                                     JobState.RUNNING)],
    ids=["pending-cannot-run-unplaced", "succeeded-is-final", "cancelled-is-final"],
)  # fmt: skip
def test_illegal_moves_are_refused(src: JobState, dst: JobState) -> None:
    with pytest.raises(ValueError, match="not a legal transition"):
        make_job(src).moved(Transition(dst, "x", "x", {}), T0)


def test_a_stop_is_an_in_place_change_with_a_deadline() -> None:
    job = running()
    t = job.stop(StopReason.PREEMPT, 45.0, T0, "preempting", "a priority job needs the GPUs")
    after = job.moved(t, T0)
    assert after.state is JobState.RUNNING and after.stop_reason is StopReason.PREEMPT
    assert after.stop_deadline == T0 + timedelta(seconds=45)


def test_place_message_names_site_racks_and_gpus() -> None:
    t = make_job().place("fr-par-1", GPUS, T0, "fits", "best fit")
    assert t.message == "placed on fr-par-1: fr-par-1/r001, fr-par-1/r002 (3 GPUs); best fit"
    assert t.values["wait_code"] is None


def test_past_max_runtime_only_for_running_jobs_not_yet_stopping() -> None:
    late = T0 + timedelta(seconds=DEFAULT_MAX_RUNTIME_S)
    assert running().past_max_runtime(late)
    assert not running().past_max_runtime(late - timedelta(seconds=1))
    assert not running(stop_reason=StopReason.CANCEL).past_max_runtime(late)
    assert not make_job().past_max_runtime(late)


def test_defaults_are_the_named_constants() -> None:
    spec = make_job().spec
    assert (spec.max_runtime_s, spec.grace_s) == (DEFAULT_MAX_RUNTIME_S, DEFAULT_GRACE_S)


# -- reconcile ---------------------------------------------------------------------------------


def test_running_report_starts_a_scheduled_job() -> None:
    job = make_job(JobState.SCHEDULED, site_id="fr-par-1", gpu_ids=GPUS)
    [step] = transitions(job, report(RunState.RUNNING, started_at=T0), T0)
    assert step.to is JobState.RUNNING and step.values == {"started_at": T0}
    assert "fr-par-1: fr-par-1/r001, fr-par-1/r002 (3 GPUs)" in step.message


def test_the_started_event_carries_what_the_executor_says_ran() -> None:
    job = make_job(JobState.SCHEDULED, site_id="fr-par-1", gpu_ids=GPUS)
    [step] = transitions(job, report(RunState.RUNNING, started_at=T0, message="image x:1 (sha256:ab)"), T0)
    assert step.message.endswith("(3 GPUs); image x:1 (sha256:ab)")


def test_a_run_that_ended_between_two_looks_still_records_its_start_and_image() -> None:
    job = make_job(JobState.SCHEDULED, site_id="fr-par-1", gpu_ids=GPUS)
    ended = report(RunState.SUCCEEDED, exit_code=0, started_at=T0, finished_at=T0 + timedelta(seconds=1),
                   image="image x:1 (sha256:ab)")  # fmt: skip
    start, done = transitions(job, ended, T0)
    assert (start.code, start.to, done.code, done.to) == ("started", JobState.RUNNING, "succeeded", JobState.SUCCEEDED)
    assert start.message.endswith("(3 GPUs); image x:1 (sha256:ab)") and start.values == {"started_at": T0}
    assert run_through(job, [start, done], T0).started_at == T0
    # an attempt stopped before it ever started has no start to record
    never = transitions(job, report(RunState.STOPPED, message="stopped before it started"), T0)
    assert [t.code for t in never] == ["cancelled"]


def test_a_failure_reason_follows_the_exit_code() -> None:
    [step] = transitions(running(), report(RunState.FAILED, exit_code=137, message="out of memory"), T0)
    assert step.message.startswith("exited with code 137: out of memory;")


def test_reports_for_another_attempt_or_a_finished_job_are_ignored() -> None:
    assert transitions(running(), report(RunState.FAILED, attempt=2), T0) == []
    assert transitions(make_job(JobState.SUCCEEDED), report(RunState.FAILED), T0) == []


def test_a_success_ends_the_job() -> None:
    after = run_through(running(), transitions(running(), report(RunState.SUCCEEDED, exit_code=0), T0), T0)
    assert after.state is JobState.SUCCEEDED and after.exit_code == 0


def test_a_failure_with_a_retry_left_requeues_as_the_next_attempt() -> None:
    job = running(retries=2)
    after = run_through(job, transitions(job, report(RunState.FAILED, exit_code=3), T0), T0)
    assert (after.state, after.attempt, after.retries_left) == (JobState.PENDING, 2, 1)
    assert after.gpu_ids == () and after.site_id is None and after.started_at is None


def test_a_failure_without_retries_fails_the_job() -> None:
    [step] = transitions(running(), report(RunState.FAILED, exit_code=3), T0)
    assert (step.to, step.code) == (JobState.FAILED, "failed")
    assert "exited with code 3; no retries left" in step.message


@pytest.mark.parametrize(
    ("reason", "final", "attempt"),
    [(StopReason.CANCEL, JobState.CANCELLED, 1), (StopReason.TIMEOUT, JobState.FAILED, 1),
     (StopReason.PREEMPT, JobState.PENDING, 2)],
    ids=["cancel-ends", "timeout-fails", "preemption-always-requeues"],
)  # fmt: skip
def test_a_stopped_attempt_ends_by_its_stop_reason(reason: StopReason, final: JobState, attempt: int) -> None:
    job = running(stop_reason=reason)
    after = run_through(job, transitions(job, report(RunState.STOPPED), T0), T0)
    assert (after.state, after.attempt, after.stop_reason) == (final, attempt, None)


def test_a_lost_node_passes_through_lost_then_retries_or_fails() -> None:
    steps = transitions(running(retries=1), report(RunState.LOST, message="node down"), T0)
    assert [s.to for s in steps] == [JobState.LOST, JobState.PENDING]
    steps = transitions(running(), report(RunState.LOST), T0)
    assert [(s.to, s.code) for s in steps] == [(JobState.LOST, "lost"), (JobState.FAILED, "no_retries")]


def test_applying_the_same_report_twice_changes_nothing_more() -> None:
    job = running()
    once = run_through(job, transitions(job, report(RunState.SUCCEEDED), T0), T0)
    assert transitions(once, report(RunState.SUCCEEDED), T0) == []


# -- GPU ids -----------------------------------------------------------------------------------


def test_gpu_ids_parse_into_node_rack_and_index() -> None:
    gpu = "fr-par-1/r001/n07/g2"
    assert (node_of(gpu), rack_of(gpu), gpu_index(gpu)) == ("fr-par-1/r001/n07", "fr-par-1/r001", 2)
    assert racks_of(GPUS) == ["fr-par-1/r001", "fr-par-1/r002"]
    assert gpus_by_node(GPUS) == {"fr-par-1/r001/n01": (0, 1), "fr-par-1/r002/n03": (2,)}
