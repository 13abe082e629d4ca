"""Discrete-event simulation in virtual time, driving the real scheduler core.

The engine replays a `Trace` on a fleet: at every instant where something happens
(arrivals, completions, kills at the end of a grace period, the head job's
reservation start) it applies the events, then runs one scheduling cycle over
every pending job and applies its decisions. The cluster is kept as a
`SchedulerState` updated by deltas (start, stop signal, end) and each cycle is
`schedule_state()`: the same decisions as `schedule()` on a full snapshot, at a cost
that does not grow with the running jobs.

- `Place`: the job starts now, or when its victims' grace periods end if it
  preempted someone (the victims leave the snapshot at once: their GPUs are the
  new job's). It ends after its trace duration.
- `Preempt`: the victim gets a stop signal; it is killed `grace_s` later (unless it
  ends first) and is requeued with its original submit time. Under the default
  checkpoint model (`none`) the work done before the stop signal is lost and redone;
  under `grace` a job given enough grace resumes with what it has left (`checkpoint.py`).
- `Reserve`: a wake-up at the reservation's start time (only the latest one counts).
- `Reject`: the job can never run; it is reported, not dropped silently.

Cycles are skipped only when their result is known: nothing is pending (the result
is empty), or, under `fifo` (one tenant, no backfill, no preemption), the head job
was reserved in the last cycle and no GPU has been freed since: capacity can only
grow when a job ends, so the head still cannot start and everything behind it
waits (`head_blocked`). Arrivals and wake-ups alone then change nothing. A test
checks that runs with and without this elision give identical job records.
Nothing here reads a clock: `timer` (e.g. `time.perf_counter`) is injected and only
feeds the timing fields (`wall_s`, `cycle_ms_*`); `None` leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from brique.domain.contracts import ContractBook
from brique.domain.jobs import Job, RunningJob, Tier
from brique.scheduler import (
    CycleResult,
    Place,
    Preempt,
    ReasonCode,
    Reject,
    Reserve,
    SchedulerState,
    Topology,
    admission,
    schedule_groups,
    schedule_state,
)
from brique.simulator.checkpoint import NO_CHECKPOINT, CheckpointModel, Checkpoints
from brique.simulator.events import END, REQUEUE, WAKE, EventQueue
from brique.simulator.pending import PendingIndex
from brique.simulator.policies import PolicySpec
from brique.simulator.predict import Predictor
from brique.simulator.timeline import Timeline
from brique.simulator.traces import Trace

Timer = Callable[[], float]
DUE = -2  # the job field of a WAKE for a deferred decision (`CycleResult.wake_at`), always honoured
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SimConfig:
    """grace_s: preemption grace period of every job. slo_window_s: priority SLO bound.
    buckets: about this many time buckets over the submission span (plots, fairness).
    elide_blocked: under `fifo`, skip cycles that provably decide nothing (see module doc).
    in_place: the core reads the pending groups in place (`schedule_groups`); False hands it every
    pending job in one list (`schedule_state`), the reference: decisions are the same (a test checks).
    checkpoint: what a preempted job keeps (`checkpoint.py`): `none` by default, the same for every policy.
    """

    grace_s: float = 30.0
    slo_window_s: float = 60.0
    buckets: int = 200
    elide_blocked: bool = True
    in_place: bool = True
    checkpoint: CheckpointModel = NO_CHECKPOINT


@dataclass(slots=True)
class JobRecord:
    """What happened to one trace job."""

    first_start: float = -1.0
    end: float = -1.0
    rejected: str = ""  # reason code when rejected
    preempted: int = 0
    within_guarantee: bool = False  # priority job within its tenant's guarantee at submission
    site: int = -1
    waiting_since: float = 0.0


@dataclass(slots=True)
class Run:
    """Raw outcome of one policy over one trace (metrics.py turns it into numbers)."""

    policy: str
    trace: Trace
    topology: Topology
    contracts: ContractBook
    records: list[JobRecord]
    timeline: Timeline
    site_gpu_s: list[float]
    lost_gpu_s: float = 0.0
    preemptions: int = 0
    cycles: int = 0
    events: int = 0
    cycle_s: list[float] = field(default_factory=list)
    wall_s: float | None = None
    reject_reasons: dict[str, int] = field(default_factory=dict)
    stops: list[tuple[int, float, float, bool]] = field(
        default_factory=list
    )  # job, run start, signal, for a guarantee
    prediction: dict[str, float | int] | None = None  # runtime predictor accuracy (`predict.py`)
    checkpoint: CheckpointModel = field(default_factory=CheckpointModel)


class Engine:
    def __init__(
        self,
        trace: Trace,
        topology: Topology,
        spec: PolicySpec,
        contracts: ContractBook,
        config: SimConfig | None = None,
        timer: Timer | None = None,
    ) -> None:
        self.trace, self.topo, self.spec, self.cfg = trace, topology, spec, config or SimConfig()
        self.policy = spec.policy(contracts, self.cfg.checkpoint)
        self.book = contracts
        self.timer = timer
        self.jobs = trace.jobs
        self.limit = max([1.0] + [max(j.duration_s, j.est_duration_s or 0.0) for j in self.jobs])
        self.run = Run(spec.name, trace, topology, contracts, [JobRecord() for _ in self.jobs], Timeline(self.cfg.buckets),
                       [0.0] * len(topology.sites))  # fmt: skip
        self.events = EventQueue()
        self.pending = PendingIndex()  # per (tenant, tier), canonical order: cycles read it in place
        self.running: dict[int, RunningJob] = {}
        self.state = SchedulerState(topology, contracts=self.policy.contracts)  # kept by deltas
        self.attempt: list[int] = [0] * len(self.jobs)
        self.core: list[Job | None] = [None] * len(self.jobs)
        self.usage: dict[str, float] = {}
        self.held: dict[str, int] = {}  # core tenant -> GPUs held (for usage decay)
        self.prio_held: dict[str, int] = {}  # real tenant -> priority-tier GPUs held
        self.prio_claimed: dict[str, int] = {}  # real tenant -> GPUs of its within-guarantee jobs not started yet
        self.wake_at = -1.0
        self.pins: dict[str, tuple[str, ...]] = {}  # job -> GPUs of its last head reservation
        self.due: set[float] = set()  # times of pending WAKEs for deferred decisions
        self.blocked = False  # fifo: the head is blocked, so only a freed GPU can change anything
        self.signal_at: dict[int, tuple[float, float]] = {}  # stopping job -> (signal, grace)
        self.progress = Checkpoints(self.cfg.checkpoint, [j.duration_s for j in self.jobs])
        self.run.checkpoint = self.cfg.checkpoint
        self.clock = 0.0
        self.predictor = Predictor() if spec.predict_runtimes else None
        self.predicted: dict[int, float | None] = {}
        self.site_of_gpu = {
            gid: topology.rack_site[topology.gpu_rack[i]] for gid, i in topology.gpu_index.items()
        }

    # ---------- main loop ----------

    def simulate(self, progress: Progress | None = None) -> Run:
        t0 = self.timer() if self.timer else 0.0
        nxt, n = 0, len(self.jobs)
        while nxt < n or len(self.events):
            now = self._next_time(nxt)
            self._decay(now)
            acted = freed = False
            if len(self.events) and self.events.next_time() == now:
                batch = self.events.pop_instant()
                self.run.events += len(batch)
                got = self._apply(batch, now)
                acted, freed = got > 0, got > 1
            while nxt < n and self.jobs[nxt].submit_s == now:
                self._arrive(nxt, now)
                nxt, acted = nxt + 1, True
                self.run.events += 1
            if acted and self.pending and (freed or not self.blocked):
                self._cycle(now)
                if progress is not None and self.run.cycles % 512 == 0:
                    progress(nxt, n)
        if self.predictor is not None:
            self.run.prediction = self.predictor.accuracy()
        if self.timer:
            self.run.wall_s = self.timer() - t0
        return self.run

    def _next_time(self, nxt: int) -> float:
        t = self.jobs[nxt].submit_s if nxt < len(self.jobs) else float("inf")
        return min(t, self.events.next_time()) if len(self.events) else t

    def _decay(self, now: float) -> None:
        dt = now - self.clock
        if dt > 0:
            hl, usage, held = self.policy.fair_share_half_life_s, self.usage, self.held
            factor = 2.0 ** (-dt / hl)  # `decay_usage`, with its factor computed once per instant
            for t in usage:  # every tenant that ever held GPUs (`_hold` enters them)
                usage[t] = usage[t] * factor + held.get(t, 0) * dt
            self.clock = now

    def _apply(self, events: list[tuple[float, int, int, int, int]], now: float) -> int:
        """Apply one instant's events: 0 none mattered, 1 only a wake-up, 2 a job ended or was requeued."""
        got = 0
        for _, kind, i, attempt in ((e[0], e[1], e[3], e[4]) for e in events):
            if kind == END and attempt == self.attempt[i] and i in self.running:
                self._end(i, now)
                got = 2
            elif kind == REQUEUE and attempt == self.attempt[i]:
                self._requeue(i, now)
                got = 2
            elif kind == WAKE and (now == self.wake_at or i == DUE):
                self.due.discard(now)
                got = max(got, 1)
        return got

    # ---------- job lifecycle ----------

    def _arrive(self, i: int, now: float) -> None:
        tj = self.jobs[i]
        est = tj.est_duration_s
        if self.predictor is not None:
            self.predicted[i] = guess = self.predictor.predict(tj.tenant, tj.gpus)
            if guess is not None:  # never beyond the user's walltime: the job is killed there (Tsafrir et al.)
                est = min(guess, self.limit) if est is None else min(guess, est, self.limit)
        job = Job(id=f"{i:08d}", tenant=self.spec.core_tenant(tj.tenant), gpus=tj.gpus,
                  tier=self.spec.core_tier(tj.tier), submitted_at=tj.submit_s, max_runtime_s=self.limit,
                  estimated_runtime_s=est, preemption_grace_s=self.cfg.grace_s)  # fmt: skip
        self.core[i] = job
        rec = self.run.records[i]
        rec.waiting_since = now
        if tj.tier == Tier.PRIORITY:
            # Within: what the tenant holds, plus what its earlier within-guarantee jobs still wait for, fits.
            # (Three 8-GPU jobs submitted at once with 8 GPUs of guarantee left: one of them is within.)
            guarantee = self.book.terms(tj.tenant).total_guarantee
            claimed = self.prio_claimed.get(tj.tenant, 0)
            rec.within_guarantee = self.prio_held.get(tj.tenant, 0) + claimed + tj.gpus <= guarantee
            if rec.within_guarantee:
                self.prio_claimed[tj.tenant] = claimed + tj.gpus
        why = admission(self.state, job, self.policy, now)  # what a cycle would reject it for, now
        if why:
            self._record_reject(i, why[0].code.value)
        else:
            self.pending.add(i, job)

    def _start(self, i: int, gpus: tuple[str, ...], at: float, now: float) -> None:
        job = self.pending.pop(i)
        self.pins.pop(job.id, None)
        tj, rec = self.jobs[i], self.run.records[i]
        self.running[i] = rj = RunningJob(job, gpus, at, restarts=rec.preempted)
        self.state.apply_started(rj)
        self.run.timeline.waited(tj.tenant, rec.waiting_since, at, tj.gpus)
        if rec.first_start < 0:
            rec.first_start = at
            self._unclaim(i)
        rec.site = self.site_of_gpu[gpus[0]]
        self._hold(i, +1)
        self.events.push(at + self.progress.length(i), END, i, self.attempt[i])

    def _end(self, i: int, now: float) -> None:
        """Job `i`'s run is over at `now`: completed, or killed after a stop signal."""
        rj = self.running.pop(i)
        self.state.apply_finished(rj.job.id)
        self._account(i, rj.started_at, now)
        self._hold(i, -1)
        if rj.stopping_at is None or now >= rj.started_at + self.progress.length(i):
            self._complete(i, now)
            return
        self._lose(i, rj, *self.signal_at.pop(i, (now, 0.0)))
        self._requeue(i, now)

    def _complete(self, i: int, at: float) -> None:
        self.run.records[i].end = at
        if boot := self.progress.overhead(i):  # its last run resumed from a checkpoint
            self.run.lost_gpu_s += boot * self.jobs[i].gpus
        if self.predictor is not None:
            tj = self.jobs[i]
            self.predictor.completed(tj.tenant, tj.gpus, tj.duration_s, self.predicted.get(i))

    def _requeue(self, i: int, now: float) -> None:
        self.attempt[i] += 1
        self.run.records[i].waiting_since = now
        job = self.core[i]
        assert job is not None
        self.pending.add(i, job)

    def _unclaim(self, i: int) -> None:
        """Job `i` started or was rejected: its GPUs no longer count as claimed within its guarantee."""
        if self.run.records[i].within_guarantee:
            tenant = self.jobs[i].tenant
            self.prio_claimed[tenant] -= self.jobs[i].gpus

    def _account(self, i: int, t0: float, t1: float) -> None:
        tj, rec = self.jobs[i], self.run.records[i]
        if t1 > t0:
            self.run.site_gpu_s[rec.site] += (t1 - t0) * tj.gpus
            self.run.timeline.ran(tj.tenant, t0, t1, tj.gpus)

    def _hold(self, i: int, sign: int) -> None:
        tj = self.jobs[i]
        core = self.spec.core_tenant(tj.tenant)
        self.held[core] = self.held.get(core, 0) + sign * tj.gpus
        self.usage.setdefault(core, 0.0)
        if tj.tier == Tier.PRIORITY:
            self.prio_held[tj.tenant] = self.prio_held.get(tj.tenant, 0) + sign * tj.gpus

    # ---------- one cycle ----------

    def _cycle(self, now: float) -> None:
        timer = self.timer
        c0 = timer() if timer is not None else 0.0
        result = self._decide(now)
        if timer is not None:
            self.run.cycle_s.append(timer() - c0)
        self.run.cycles += 1
        self.blocked = self.spec.single_tenant and self.cfg.elide_blocked and bool(result.reserves)
        stops = {d.job_id: d for d in result.decisions if isinstance(d, Preempt)}
        for d in result.decisions:
            if isinstance(d, Place):
                self._place(d, stops, now)
            elif isinstance(d, Reserve):
                self.pins[d.job_id] = d.gpus
                self._wake(d.start_at, now)
            elif isinstance(d, Reject):
                self._reject(int(d.job_id), d, now)
        due = result.wake_at
        if due is not None and due > now and due not in self.due:  # a deferred reclaim falls due then
            self.due.add(due)
            self.events.push(due, WAKE, DUE)
        for victim, p in stops.items():  # stop signals not tied to a placement (reservation drains)
            self._stop(int(victim), p.grace_s, now, handover=False, guarantee=_for_guarantee(p))

    def _decide(self, now: float) -> CycleResult:
        """One cycle over every pending job: the core reads the groups only as far as it examines them."""
        if self.cfg.in_place:
            return schedule_groups(self.state, self.pending.groups, self.policy, now, self.usage,
                                   demand=self.pending.gpus, waits=False, pins=self.pins, floors=self.pending.floors)  # fmt: skip
        return schedule_state(self.state, self.pending.ordered(), self.policy, now, self.usage, waits=False,
                              ordered=True, pins=self.pins)  # fmt: skip

    def _place(self, d: Place, stops: dict[str, Preempt], now: float) -> None:
        delay = 0.0
        for v in d.preempts:
            p = stops.pop(v, None)
            grace = self.cfg.grace_s if p is None else p.grace_s
            delay = max(delay, grace)
            self._stop(int(v), grace, now, handover=True, guarantee=p is not None and _for_guarantee(p))
        self._start(int(d.job_id), d.gpus, now + delay, now)

    def _stop(self, i: int, grace_s: float, now: float, handover: bool, guarantee: bool = False) -> None:
        """Stop signal to running job `i`; killed at `now + grace_s` unless it ends first.

        handover: its GPUs already belong to a placed job, so it leaves the snapshot now
        and its run is accounted up to its end at once.
        """
        rj = self.running.get(i)
        if rj is None or rj.stopping_at is not None:
            return
        self.run.preemptions += 1
        self.run.stops.append((i, rj.started_at, now, guarantee))
        kill = now + grace_s
        natural = rj.started_at + self.progress.length(i)
        if not handover:
            self.signal_at[i] = (now, grace_s)
            self.running[i] = RunningJob(rj.job, rj.gpus, rj.started_at, stopping_at=kill, restarts=rj.restarts)
            self.state.apply_stopping(rj.job.id, kill)
            if kill < natural:
                self.attempt[i] += 1  # the END at `natural` is stale; the kill ends it
                self.events.push(kill, END, i, self.attempt[i])
            return
        del self.running[i]
        self.state.apply_finished(rj.job.id)
        self.attempt[i] += 1
        end = min(natural, kill)
        self._account(i, rj.started_at, end)
        self._hold(i, -1)
        if natural <= kill:
            self._complete(i, natural)
        else:
            self._lose(i, rj, now, grace_s)
            self.events.push(kill, REQUEUE, i, self.attempt[i])

    def _lose(self, i: int, rj: RunningJob, signal: float, grace_s: float) -> None:
        self.run.lost_gpu_s += self.progress.stopped(i, signal - rj.started_at, grace_s) * len(rj.gpus)
        self.run.records[i].preempted += 1

    def _wake(self, start_at: float, now: float) -> None:
        if start_at > now and start_at != self.wake_at:
            self.wake_at = start_at
            self.events.push(start_at, WAKE)

    def _reject(self, i: int, d: Reject, now: float) -> None:
        self.pending.pop(i)
        self.pins.pop(d.job_id, None)
        self._record_reject(i, d.reasons[0].code.value if d.reasons else "rejected")

    def _record_reject(self, i: int, code: str) -> None:
        self.run.records[i].rejected = code
        self._unclaim(i)
        self.run.reject_reasons[code] = self.run.reject_reasons.get(code, 0) + 1


def _for_guarantee(p: Preempt) -> bool:
    return p.reason.code == ReasonCode.PREEMPTED_FOR_GUARANTEE
