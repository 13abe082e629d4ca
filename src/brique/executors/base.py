"""The executor interface: one small base class plus capability mixins.

The control plane decides (the scheduler core), persists the decision, then tells an
executor to act. Executors never decide placement and never enforce sovereignty
policy: they run exactly the GPUs they are given and report what really happened.

Required of every executor:
    submit(launch)            start one attempt of a job on the given GPUs (idempotent per job+attempt)
    stop(job_id, attempt, grace_s)
                              ask it to stop: SIGTERM (or equivalent) now, kill after grace_s
    poll()                    the current truth for every attempt the executor knows about

Optional capabilities are mixins (`SupportsLogs`); `capabilities(executor)` derives the
feature list, nobody keeps one by hand. Reports are *level*-based (current state, not
events), so a control plane that crashed and restarted converges by polling again.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from brique.domain.fleet import ExecutorKind


class RunState(StrEnum):
    """What an executor can say about one attempt."""

    STARTING = "starting"  # accepted, not yet running (queued in Slurm, process spawning)
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # exit code 0
    FAILED = "failed"  # non-zero exit, or could not start
    STOPPED = "stopped"  # ended because stop() was called (cancel or preemption)
    LOST = "lost"  # the node or the executor lost it (node down, slurm NODE_FAIL)

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.STOPPED, RunState.LOST)


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything an executor needs to run one attempt of a job.

    gpus_by_node: fleet node id -> GPU indices on that node (what CUDA_VISIBLE_DEVICES lists).
    env: the job's environment, secrets already injected (never log it).
    command: run with `/bin/sh -c`.
    duration_s: for the simulated executor: how long the job "runs" (its spec's sleep or estimate).
    """

    job_id: str
    attempt: int
    name: str
    org_id: str
    project_id: str
    site_id: str
    tier: str
    command: str
    gpus_by_node: Mapping[str, tuple[int, ...]]
    env: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None
    max_runtime_s: float = 86_400.0
    grace_s: float = 30.0
    duration_s: float | None = None

    @property
    def gpu_count(self) -> int:
        return sum(len(v) for v in self.gpus_by_node.values())

    @property
    def key(self) -> str:
        """Unique per attempt; executors use it as their own idempotency key."""
        return f"{self.job_id}.{self.attempt}"


@dataclass(frozen=True, slots=True)
class RunReport:
    """The executor's current truth about one attempt."""

    job_id: str
    attempt: int
    state: RunState
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""


class ExecutorError(Exception):
    """The backend refused or failed an operation; `message` is safe to show to the tenant."""


class Executor(abc.ABC):
    kind: ExecutorKind

    @abc.abstractmethod
    def submit(self, launch: Launch) -> None:
        """Start the attempt. Calling it again for the same job+attempt must not start a second copy."""

    @abc.abstractmethod
    def stop(self, job_id: str, attempt: int, grace_s: float) -> None:
        """Signal the attempt to stop now and kill it after `grace_s` seconds. Unknown attempts: no-op."""

    @abc.abstractmethod
    def poll(self) -> list[RunReport]:
        """Current state of every attempt this executor knows about (finished ones until forgotten)."""

    def forget(self, job_id: str, attempt: int) -> None:  # noqa: B027 - optional hook
        """The control plane has recorded the final state; the executor may drop its bookkeeping."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, connections)."""


class SupportsLogs(abc.ABC):
    """Executors that can return a job's combined stdout/stderr."""

    @abc.abstractmethod
    def read_logs(self, job_id: str, attempt: int, offset: int = 0, limit: int = 1 << 20) -> bytes:
        """Bytes of the log from `offset` (empty when nothing new)."""


def capabilities(executor: Executor) -> list[str]:
    caps = ["submit", "stop", "poll"]
    if isinstance(executor, SupportsLogs):
        caps.append("logs")
    return caps
