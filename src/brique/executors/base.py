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
from datetime import datetime

from brique.domain.fleet import ExecutorKind
from brique.domain.runs import Launch, RunReport, RunState
from brique.errors import ExecutorError


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


class SupportsRestore(abc.ABC):
    """Executors that keep their runs in memory and re-adopt them after a control-plane restart."""

    @abc.abstractmethod
    def restore(self, launch: Launch, started_at: datetime) -> None:
        """Take back an attempt that was running before the restart, keeping its start time."""


class PushedReports:
    """Executors whose reports are pushed by node agents: `poll()` does not list every attempt,
    so an attempt missing from it is not lost (agent silence is judged by heartbeat expiry)."""


__all__ = [
    "Executor", "ExecutorError", "Launch", "PushedReports", "RunReport", "RunState", "SupportsLogs",
    "SupportsRestore", "capabilities",
]  # fmt: skip


def capabilities(executor: Executor) -> list[str]:
    caps = ["submit", "stop", "poll"]
    for mixin, name in ((SupportsLogs, "logs"), (SupportsRestore, "restore"), (PushedReports, "pushed_reports")):
        if isinstance(executor, mixin):
            caps.append(name)
    return caps
