"""The `local` executor, server side: agents on the nodes pull their work and push reports.

Nothing is sent to an agent: `brique agent` heartbeats to the control plane, which answers
with the attempts placed on its node (to start) and those to stop (derived from the
database, so nothing is lost if the server restarts). The agent's reports are applied by
the agents service as they arrive; `poll()` therefore has nothing to add.
"""

from __future__ import annotations

from brique.domain.fleet import ExecutorKind
from brique.executors.base import Executor, Launch, PushedReports, RunReport


class LocalExecutor(Executor, PushedReports):
    kind = ExecutorKind.LOCAL

    def submit(self, launch: Launch) -> None:
        """Agents pull scheduled attempts on their next heartbeat."""

    def stop(self, job_id: str, attempt: int, grace_s: float) -> None:
        """Agents pull stop requests (the job's stop deadline) on their next heartbeat."""

    def poll(self) -> list[RunReport]:
        return []
