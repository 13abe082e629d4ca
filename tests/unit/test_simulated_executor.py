"""The simulated executor's reports: the same object while a run is unchanged, a new one as soon as
it changes (its end, or a stop), so the control plane can skip reports it has already applied."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brique.clock import FixedClock
from brique.executors.base import Launch, RunState
from brique.executors.simulated import SimulatedExecutor

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def launch(job_id: str = "job_a", duration_s: float = 100.0) -> Launch:
    return Launch(job_id=job_id, attempt=1, name="n", org_id="org_a", project_id="prj_a", site_id="s", tier="standard",
                  command="x", gpus_by_node={"s/r1/n1": (0,)}, duration_s=duration_s)  # fmt: skip


def test_a_report_is_reused_until_the_run_ends() -> None:
    clock = FixedClock(T0)
    ex = SimulatedExecutor(clock)
    ex.submit(launch())
    first = ex.poll()[0]
    clock.at += timedelta(seconds=99)
    assert ex.poll()[0] is first and first.state is RunState.RUNNING
    clock.at += timedelta(seconds=1)
    done = ex.poll()[0]
    assert done.state is RunState.SUCCEEDED and done.finished_at == T0 + timedelta(seconds=100)


def test_a_stop_changes_the_report_at_once_and_ends_the_run_after_its_checkpoint() -> None:
    clock = FixedClock(T0)
    ex = SimulatedExecutor(clock, stop_after_s=5)
    ex.submit(launch())
    first = ex.poll()[0]
    ex.stop("job_a", 1, grace_s=30)
    again = ex.poll()[0]
    assert again is not first and again.state is RunState.RUNNING  # recomputed: ends at the stop now
    clock.at += timedelta(seconds=5)
    stopped = ex.poll()[0]
    assert stopped.state is RunState.STOPPED and stopped.finished_at == T0 + timedelta(seconds=5)
