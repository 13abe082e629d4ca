"""Runs scheduling cycles in a background thread: every `interval_s`, or at once when woken.

Every replica runs this loop, but only the leader (see `brique.services.replicas`) does the
work: before each round it checks that it still leads (or takes the lead if it is free), and
each cycle's transaction is fenced by its leader term. A replica that becomes leader first
re-adopts what the previous leader left running (`resume`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from brique.errors import NotLeader
from brique.services.replicas import Leadership
from brique.services.scheduling import CycleStats, SchedulingService
from brique.workers.cycle_history import CycleHistory

log = logging.getLogger("brique.scheduler_loop")
# After a round the loop rests REST_FACTOR times as long as the round took, at least MIN_REST_S and at
# most half an interval: wake-ups that arrive meanwhile (a burst of submissions) are coalesced into
# the next round, which keeps scheduling to about a quarter of one core during a burst while a job
# that fits still waits well under a second for its placement. While wake-ups keep arriving during
# the rests (a stream of submissions), it rests at least BURST_REST_S: fewer, larger rounds cost less
# CPU per job (about 0.4 ms less per submission in `benchmarks/api_burst.py`), and a job still
# starts within half a second; a lone submission after a quiet rest is placed at once.
# A round in such a stream that changed nothing (placed, preempted, rejected, saw finish nothing: the
# fleet is full or the queue blocked) rests a whole interval: its successor can only place the
# stream's newest jobs in what little is free, and with 10,000 jobs pending each such round took a
# quarter of the process's interpreter away from the submissions.
REST_FACTOR = 3.0
MIN_REST_S = 0.1
BURST_REST_S = 0.25


class SchedulerLoop:
    def __init__(
        self,
        scheduling: SchedulingService,
        interval_s: float = 1.0,
        housekeeping: Sequence[Callable[[], object]] = (),
        leadership: Leadership | None = None,
        every_round: Sequence[Callable[[], object]] = (),
    ) -> None:
        """housekeeping: called at most once per interval, before a cycle (e.g. marking nodes of silent agents down).
        every_round: called before every cycle, wake-ups included (e.g. relaying stops asked on followers).
        leadership: who leads among replicas (default: this process alone, always)."""
        self.scheduling = scheduling
        self.housekeeping = tuple(housekeeping)
        self.every_round = tuple(every_round)  # cheap tasks a wake-up must not wait an interval for
        self.interval_s = interval_s
        self.leadership = leadership or Leadership(scheduling.db, scheduling.clock, "rep_local")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leading = False
        self._chores_at = float("-inf")  # monotonic time of the last housekeeping round
        self.cycles = 0
        self.last: CycleStats | None = None  # the latest cycle's figures, for /metrics
        self.placed_total = 0
        self.preempted_total = 0
        self.busy_s = 0.0  # the cycles' summed durations (wall)
        self.busy_cpu_s = 0.0  # and their CPU: what the loop takes from the API in this process
        self.history = CycleHistory()  # this replica's cycle durations, for the console's chart

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._take_lead()
            self.leadership.start(self.wake)
            self._thread = threading.Thread(target=self._run, name="brique-scheduler", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Run a cycle now in this process (if it leads)."""
        self._wake.set()

    def request_cycle(self) -> None:
        """Run a cycle soon on whichever replica leads (here at once, elsewhere by NOTIFY).
        A follower's own loop is not woken: it only retries the lead every `interval_s`."""
        if self.leading:
            self._wake.set()
        else:
            self.leadership.request_cycle()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.leadership.stop()
        self.leading = False

    def _take_lead(self) -> bool:
        """Lead if we can; on becoming leader, re-adopt runs and re-send stops first."""
        try:
            leads = self.leadership.ensure()
            if leads and not self.leading:
                self.scheduling.resume()
        except Exception:  # the database is away: try again next round
            log.exception("leadership check failed")
            leads = False
        self.leading = leads
        return leads

    def _run(self) -> None:
        streaming = False  # woken again during the last rest
        while not self._stop.is_set():
            self._wake.clear()
            if self._take_lead():
                self._round()
                self._stop.wait(self._rest_s(streaming))
                streaming = self._wake.is_set()
            # A submission commits its job and its audit record in one transaction before it wakes us:
            # there is nothing left for a woken cycle to wait for.
            self._wake.wait(self.interval_s)

    def _rest_s(self, streaming: bool) -> float:
        last = self.last
        took = last.duration_ms / 1000 if last else 0.0
        if streaming and last is not None and not (last.placed or last.preempted or last.rejected or last.finished):
            return max(self.interval_s, min(REST_FACTOR * took, 2 * self.interval_s))
        floor = BURST_REST_S if streaming else MIN_REST_S
        return min(max(REST_FACTOR * took, floor), self.interval_s / 2)

    def _round(self) -> None:
        self._run_tasks(self.every_round)
        cpu = time.thread_time()
        try:
            stats = self.scheduling.cycle(fence=self.leadership.fence)
            self.busy_cpu_s += time.thread_time() - cpu
            self.cycles += 1
            self.last = stats
            self.busy_s += stats.duration_ms / 1000
            self.history.record(self.scheduling.clock.now(), stats.duration_ms)
            self.placed_total += stats.placed
            self.preempted_total += stats.preempted
            if stats.placed or stats.preempted or stats.rejected or stats.finished:
                log.info("cycle: %s", stats)
        except NotLeader:
            log.warning("another replica took the lead; this one stops scheduling")
            self.leading = False
        except Exception:  # keep the loop alive; the next cycle retries from durable state
            log.exception("scheduling cycle failed")
        # after the cycle: work just submitted is placed first (metering 10,000 new jobs took a second)
        self._chores()

    def _chores(self) -> None:
        """Housekeeping once per interval: a wake-up (a submission) asks for a cycle, not for chores."""
        if time.monotonic() - self._chores_at < self.interval_s:
            return
        self._chores_at = time.monotonic()
        self._run_tasks(self.housekeeping)

    @staticmethod
    def _run_tasks(tasks: Sequence[Callable[[], object]]) -> None:
        for task in tasks:
            try:
                task()
            except Exception:  # one failing chore must not stop scheduling
                log.exception("housekeeping task %s failed", getattr(task, "__qualname__", task))
