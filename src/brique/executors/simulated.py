"""The simulated executor: GPUs are virtual, a job 'runs' for its spec's sleep (or estimate).

It lets `make up` show a full 18,000-GPU cloud on a laptop while the control plane around
it (scheduler loop, persistence, reconciliation, cancel, preemption) runs for real. State
lives in memory; after a control-plane restart the service re-adopts running attempts with
`restore()` from the database, so simulated jobs keep their original start time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from brique.clock import Clock
from brique.domain.fleet import ExecutorKind
from brique.executors.base import Executor, Launch, RunReport, RunState, SupportsLogs, SupportsRestore


@dataclass
class _Run:
    launch: Launch
    started_at: datetime
    ends_at: datetime
    stopped_at: datetime | None = None
    report: RunReport | None = None  # the last one polled, still true until `changes_at`
    changes_at: datetime | None = None

    def state(self, now: datetime) -> tuple[RunState, datetime | None]:
        if self.stopped_at is not None and self.stopped_at <= self.ends_at:
            return (RunState.STOPPED, self.stopped_at) if now >= self.stopped_at else (RunState.RUNNING, None)
        if now >= self.ends_at:
            return RunState.SUCCEEDED, self.ends_at
        return RunState.RUNNING, None


class SimulatedExecutor(Executor, SupportsLogs, SupportsRestore):
    kind = ExecutorKind.SIMULATED

    def __init__(self, clock: Clock, stop_after_s: float = 0.0) -> None:
        """stop_after_s: how long a simulated job takes to checkpoint after a stop (capped by grace)."""
        self.clock = clock
        self.stop_after_s = stop_after_s
        self._runs: dict[tuple[str, int], _Run] = {}
        self._lock = threading.Lock()

    def submit(self, launch: Launch) -> None:
        self._adopt(launch, self.clock.now())

    def restore(self, launch: Launch, started_at: datetime) -> None:
        """Re-adopt an attempt that was running before a restart, keeping its start time."""
        self._adopt(launch, started_at)

    def _adopt(self, launch: Launch, started_at: datetime) -> None:
        # No cap at max runtime here: the control plane enforces max runtime for every executor.
        duration = launch.duration_s if launch.duration_s is not None else launch.max_runtime_s
        with self._lock:
            self._runs.setdefault(
                (launch.job_id, launch.attempt),
                _Run(launch, started_at, started_at + timedelta(seconds=duration)),
            )

    def stop(self, job_id: str, attempt: int, grace_s: float) -> None:
        with self._lock:
            run = self._runs.get((job_id, attempt))
            if run is not None and run.stopped_at is None:
                run.stopped_at = self.clock.now() + timedelta(seconds=min(grace_s, self.stop_after_s))
                run.report = None

    def poll(self) -> list[RunReport]:
        now = self.clock.now()
        with self._lock:  # held while reports are cached: a stop clears the cached one
            return [self._report(run, now) for run in self._runs.values()]

    @staticmethod
    def _report(run: _Run, now: datetime) -> RunReport:
        """The same report object while nothing changed (a control plane skips reports it has seen)."""
        report = run.report
        if report is not None and (run.changes_at is None or now < run.changes_at):
            return report
        state, finished = run.state(now)
        report = RunReport(
            job_id=run.launch.job_id, attempt=run.launch.attempt, state=state,
            exit_code=0 if state is RunState.SUCCEEDED else None, started_at=run.started_at,
            finished_at=finished,
        )  # fmt: skip
        if state is RunState.RUNNING:
            ends = run.ends_at if run.stopped_at is None else min(run.ends_at, run.stopped_at)
            run.report, run.changes_at = report, ends
        else:
            run.report, run.changes_at = report, None  # finished: final
        return report

    def forget(self, job_id: str, attempt: int) -> None:
        with self._lock:
            self._runs.pop((job_id, attempt), None)

    def read_logs(self, job_id: str, attempt: int, offset: int = 0, limit: int = 1 << 20) -> bytes:
        with self._lock:
            run = self._runs.get((job_id, attempt))
        if run is None:
            return b""
        return _synthetic_log(run, self.clock.now()).encode()[offset : offset + limit]


def _synthetic_log(run: _Run, now: datetime) -> str:
    launch = run.launch
    racks = sorted({node.rsplit("/", 1)[0] for node in launch.gpus_by_node})
    where = f"{len(launch.gpus_by_node)} nodes in {', '.join(racks)}"
    lines = [
        f"{run.started_at:%Y-%m-%dT%H:%M:%SZ} [simulated] {launch.name}: {launch.gpu_count} GPUs on {where}",
        f"{run.started_at:%Y-%m-%dT%H:%M:%SZ} [simulated] $ {launch.command}",
    ]
    state, finished = run.state(now)
    if state is RunState.STOPPED and finished:
        lines.append(
            f"{finished:%Y-%m-%dT%H:%M:%SZ} [simulated] stop signal received; checkpointed and exited"
        )
    elif state is RunState.SUCCEEDED and finished:
        lines.append(f"{finished:%Y-%m-%dT%H:%M:%SZ} [simulated] finished, exit code 0")
    return "\n".join(lines) + "\n"
