"""Stops asked on a follower replica reach executors that only the leader holds.

A cancel on any replica makes the stop durable (the job's stop deadline) and tells that
replica's executors at once, which is enough for executors reachable from every replica (Slurm's
`scancel`, agents that pull their orders from the database). An executor that keeps its runs in
the leader's memory (the simulated one) only hears it from the leader: each round, the leader
sends every durable stop it has not sent yet. Level-based, so a new leader converges too.
"""

from __future__ import annotations

from brique.clock import Clock
from brique.executors.base import SupportsRestore
from brique.services.scheduling import SchedulingService
from brique.store.db import Database
from brique.store.repos import jobs as repo


class StopRelay:
    def __init__(self, db: Database, clock: Clock, scheduling: SchedulingService) -> None:
        self.db = db
        self.clock = clock
        self.scheduling = scheduling
        self._sent: set[tuple[str, int]] = set()

    def relay(self) -> int:
        """Send the stops not sent yet; returns how many were sent."""
        with self.db.transaction() as s:
            pending = repo.stops_pending(s)
        now, sent, live = self.clock.now(), 0, set()
        for job_id, attempt, deadline, site in pending:
            live.add((job_id, attempt))
            executor = self.scheduling.executors.get(site or "")
            if (job_id, attempt) in self._sent or not isinstance(executor, SupportsRestore):
                continue
            executor.stop(job_id, attempt, max(0.0, (deadline - now).total_seconds()))
            sent += 1
        self._sent = live  # forget the ones that ended
        return sent
