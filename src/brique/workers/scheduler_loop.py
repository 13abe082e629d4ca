"""Runs scheduling cycles in a background thread: every `interval_s`, or at once when woken."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from brique.services.scheduling import CycleStats, SchedulingService

log = logging.getLogger("brique.scheduler_loop")


class SchedulerLoop:
    def __init__(
        self,
        scheduling: SchedulingService,
        interval_s: float = 1.0,
        housekeeping: Sequence[Callable[[], object]] = (),
    ) -> None:
        """housekeeping: called before each cycle (e.g. marking nodes of silent agents down)."""
        self.scheduling = scheduling
        self.housekeeping = tuple(housekeeping)
        self.interval_s = interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._chores_at = float("-inf")  # monotonic time of the last housekeeping round
        self.cycles = 0
        self.last: CycleStats | None = None  # the latest cycle's figures, for /metrics
        self.placed_total = 0
        self.preempted_total = 0

    def start(self) -> None:
        if self._thread is None:
            self.scheduling.resume()
            self._thread = threading.Thread(target=self._run, name="brique-scheduler", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self._chores()
            try:
                stats = self.scheduling.cycle()
                self.cycles += 1
                self.last = stats
                self.placed_total += stats.placed
                self.preempted_total += stats.preempted
                if stats.placed or stats.preempted or stats.rejected or stats.finished:
                    log.info("cycle: %s", stats)
            except Exception:  # keep the loop alive; the next cycle retries from durable state
                log.exception("scheduling cycle failed")
            # A burst of submissions wakes the loop over and over: resting as long as the last cycle
            # took keeps scheduling to at most half the CPU, the other half serving the API.
            took = self.last.duration_ms / 1000 if self.last else 0.0
            self._stop.wait(min(took, self.interval_s / 2))
            self._wake.wait(self.interval_s)

    def _chores(self) -> None:
        """Housekeeping once per interval: a wake-up (a submission) asks for a cycle, not for chores."""
        if time.monotonic() - self._chores_at < self.interval_s:
            return
        self._chores_at = time.monotonic()
        for task in self.housekeeping:
            try:
                task()
            except Exception:  # one failing chore must not stop scheduling
                log.exception("housekeeping task %s failed", getattr(task, "__qualname__", task))
