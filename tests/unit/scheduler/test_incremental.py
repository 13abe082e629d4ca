"""Pins that the incremental path (`SchedulerState` + deltas + `schedule_state`) decides exactly
what `schedule` decides on the equivalent full snapshot, and never changes the caller's state."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduler_factories import NOW, make_fleet, make_job, make_site, run

from brique.domain.contracts import AdvanceReservation, Contract, ContractBook
from brique.domain.fleet import HealthState
from brique.domain.jobs import Tier
from brique.domain.policy import ANYWHERE, SchedulingPolicy, country_only
from brique.scheduler import (
    ClusterSnapshot,
    Place,
    Preempt,
    SchedulerState,
    Topology,
    schedule,
    schedule_state,
)
from brique.scheduler.backfill import earliest_start, expected_ends, kept_start
from brique.scheduler.capacity import Capacity
from brique.scheduler.preempt import VictimIndex

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANTS = ["t0", "t1", "t2"]
SIZES = [1, 2, 3, 4, 5, 8, 12, 16, 24, 40]


def state_view(state: SchedulerState) -> dict:
    """Everything a cycle reads from the state, keyed by job id (allocation keys differ)."""
    ids = {k: a.job.id for k, a in state.allocs.items()}
    return {
        "free": bytes(state.free),
        "usable": (bytes(state.usable), state.tray_usable, state.rack_usable),
        "racks": (state.rack_free, state.site_free, state.masks),
        "buckets": [[list(b) for b in site] for site in state.buckets],
        "full": [list(f) for f in state.full],
        "owner": [ids.get(k) for k in state.gpu_alloc],
        "allocs": sorted((a.job.id, a.gpus, a.stopping, a.stop_at, a.protected, a.borrowed) for a in state.allocs.values()),
        "ledger": (state.ledger.held, state.ledger.wide_left, state.ledger.site_left),
        "ends": [[e[:2] for e in state.ends_at(t)] for t in (NOW, NOW + 400.0, NOW + 4_000.0)],
        "preemptible": sorted(ids[k] for k in state.preemptible),
        "pre_rack": state.pre_rack,
    }  # fmt: skip


@st.composite
def worlds(draw):
    sites = [
        make_site(f"s{i}", ["FR", "DE"][i % 2], racks=draw(st.integers(1, 3)), nodes=draw(st.integers(1, 4)),
                  gpus=draw(st.sampled_from([2, 4])))
        for i in range(draw(st.integers(1, 2)))
    ]  # fmt: skip
    fleet = make_fleet(*sites)
    contracts = [
        Contract(t, guaranteed_gpus=draw(st.integers(0, 12)), weight=draw(st.sampled_from([1.0, 2.0])),
                 may_borrow=draw(st.booleans()), borrow_cap=draw(st.sampled_from([None, 0, 8])))
        for t in TENANTS
    ]  # fmt: skip
    if draw(st.booleans()):
        contracts.append(Contract("t1", guaranteed_gpus=draw(st.integers(1, 8)), site="s0"))
    policy = SchedulingPolicy(contracts=ContractBook.of(contracts), backfill=draw(st.booleans()))
    steps = draw(
        st.lists(st.tuples(st.sampled_from("cccsfxh"), st.integers(0, 10**6)), min_size=1, max_size=14)
    )
    return fleet, policy, steps


def _pending(draw, n: int, tag: str):
    return [
        make_job(f"{tag}-{i}", draw(st.sampled_from(SIZES)), draw(st.sampled_from(TENANTS)),
                 draw(st.sampled_from(list(Tier))), placement=draw(st.sampled_from([ANYWHERE, country_only("FR")])),
                 submitted_at=NOW - draw(st.integers(0, 1000)), max_runtime_s=draw(st.sampled_from([600.0, 3600.0])),
                 estimated_runtime_s=draw(st.sampled_from([None, 60.0, 1200.0])))
        for i in range(n)
    ]  # fmt: skip


@SETTINGS
@given(worlds(), st.data())
def test_incremental_matches_from_scratch(world, data):
    """Random starts, stops, ends, health changes and cycles: both paths decide the same, state untouched."""
    fleet, policy, steps = world
    topo = Topology.from_fleet(fleet)
    state = SchedulerState(topo, contracts=policy.contracts)
    running, health, now = {}, {}, NOW
    gpus = [g.id for g in fleet.gpus()]
    nodes = [n.id for n in fleet.nodes()]
    for k, (kind, seed) in enumerate(steps):
        now += 7.0
        if _run_step(kind, seed, k, now, data, gpus, running, state):
            pass  # a start, finish or stop signal
        elif kind == "h":
            key = data.draw(st.sampled_from(nodes + gpus[:3]))
            health[key] = data.draw(st.sampled_from(list(HealthState)))
            state.set_health(key, health[key])
        elif kind == "c":
            pending = _pending(data.draw, data.draw(st.integers(0, 12)), f"p{k}")
            res = ()
            if data.draw(st.booleans()):
                start = now + data.draw(st.sampled_from([-10.0, 20.0, 900.0]))
                res = (
                    AdvanceReservation("rsv", "s0", start, start + 3600, gpus=data.draw(st.integers(1, 8))),
                )
            usage = {t: data.draw(st.sampled_from([0.0, 1e5, 1e7])) for t in TENANTS}
            snap = ClusterSnapshot.of(
                topo, running=running.values(), usage=usage, reservations=res, health=health
            )
            before = state_view(state)
            expect = schedule(snap, pending, policy, now)
            got = schedule_state(state, pending, policy, now, usage=usage, reservations=res)
            assert got == expect
            assert state_view(state) == before  # the cycle left the caller's state as it was
            assert schedule_state(state, pending, policy, now, usage=usage, reservations=res) == expect
            _apply(expect, {j.id: j for j in pending}, running, state, now)
        fresh = SchedulerState(topo, running.values(), health, policy.contracts)
        fresh.ledger.refresh()
        state.ledger.refresh()
        assert state_view(state) == state_view(fresh)
        # the kept ends are backfill's expected ends, from scratch
        scratch = sorted((a.expected_end(now), a.job.id) for a in state.allocs.values())
        assert [e[:2] for e in state.ends_at(now)] == scratch


def _run_step(kind, seed, k, now, data, gpus, running, state, starts="s", estimate=None) -> bool:
    """One change to running work made outside the scheduler, to `running` and `state` alike: a start
    (a kind in `starts`, on any idle GPUs, healthy or not; its estimate from `estimate`, default by the
    seed), a finish ("f") or a stop signal ("x"); False: not one."""
    busy = {g for r in running.values() for g in r.gpus}
    idle = [g for g in gpus if g not in busy]
    if kind in starts and idle:
        n = 1 + seed % min(len(idle), 8)
        estimated = [None, 300.0][seed % 2] if estimate is None else estimate()
        job = make_job(f"x{k}", n, TENANTS[seed % 3], list(Tier)[seed % 3],
                       max_runtime_s=[600.0, 3600.0][seed % 2], estimated_runtime_s=estimated)  # fmt: skip
        running[job.id] = rj = run(job, data.draw(st.permutations(idle))[:n], started_at=now - seed % 900)
        state.apply_started(rj)
    elif kind == "f" and running:
        jid = sorted(running)[seed % len(running)]
        del running[jid]
        state.apply_finished(jid)
    elif kind == "x" and running:
        jid = sorted(running)[seed % len(running)]
        if running[jid].stopping_at is None:
            r = running[jid]
            running[jid] = run(r.job, r.gpus, started_at=r.started_at, stopping_at=now + 30)
            state.apply_stopping(jid, now + 30)
    else:
        return False
    return True


def _apply(result, jobs, running, state, now):
    """As a service would: preempted jobs get a stop signal (victims of a placement leave), placed jobs start."""
    handed = {v for d in result.places for v in d.preempts}
    for d in result.decisions:
        if isinstance(d, Preempt) and d.job_id in running and d.job_id not in handed:
            r = running[d.job_id]
            running[d.job_id] = run(r.job, r.gpus, started_at=r.started_at, stopping_at=now + d.grace_s)
            state.apply_stopping(d.job_id, now + d.grace_s)
    for d in result.decisions:
        if isinstance(d, Place):
            for v in d.preempts:
                if v in running:
                    del running[v]
                    state.apply_finished(v)
            running[d.job_id] = rj = run(jobs[d.job_id], d.gpus, started_at=now)
            state.apply_started(rj)


def test_state_rejects_a_job_started_twice():
    fleet = make_fleet(make_site("s0", racks=1, nodes=1))
    state = SchedulerState(Topology.from_fleet(fleet))
    rj = run(make_job("a", 1), [next(iter(fleet.gpus())).id])
    state.apply_started(rj)
    with pytest.raises(ValueError, match="already holds GPUs"):
        state.apply_started(rj)


def test_switching_contracts_reclassifies():
    """A state built for one contract book gives the right answer for another policy."""
    fleet = make_fleet(make_site("s0", racks=1, nodes=2))
    topo = Topology.from_fleet(fleet)
    gpus = [g.id for g in fleet.gpus()]
    running = [run(make_job("a", 4, "t0", Tier.PRIORITY), gpus[:4])]
    state = SchedulerState(topo, running)
    vip = make_job("vip", 8, "t1", Tier.PRIORITY)
    policy = SchedulingPolicy(contracts=ContractBook.of([Contract("t1", guaranteed_gpus=8)]))
    expect = schedule(ClusterSnapshot.of(topo, running=running), [vip], policy, NOW)
    assert schedule_state(state, [vip], policy, NOW) == expect
    assert isinstance(expect.for_job("vip"), Place)


@SETTINGS
@given(worlds(), st.data())
def test_answers_kept_across_cycles_match_a_fresh_state(world, data):
    """Cycles on one kept state (heads' reservations and first fits kept while no delta came, the tier's
    per-rack bound) decide what cycles on a state built afresh decide, instant after instant."""
    fleet, base, steps = world
    policy = SchedulingPolicy(
        contracts=base.contracts, backfill=True, preempt_for_standard=data.draw(st.booleans()),
        preempt_wait_ratio=data.draw(st.sampled_from([0.0, 0.01])), preempt_protect_s=data.draw(st.sampled_from([0.0, 300.0])),
        max_job_test=data.draw(st.integers(1, 6)),
    )  # fmt: skip
    topo = Topology.from_fleet(fleet)
    state = SchedulerState(topo, contracts=policy.contracts)
    running: dict = {}
    gpus = [g.id for g in fleet.gpus()]
    order = data.draw(st.permutations(gpus))
    at = 0
    for i in range(data.draw(st.integers(0, 10))):  # a busy fleet: heads get reservations
        n = data.draw(st.sampled_from([1, 2, 4]))
        if at + n > len(order):
            break
        job = make_job(f"r{i}", n, TENANTS[i % 3], list(Tier)[data.draw(st.integers(0, 2))], max_runtime_s=3600.0,
                       estimated_runtime_s=data.draw(st.sampled_from([None, 100.0, 1500.0])))  # fmt: skip
        running[job.id] = rj = run(job, order[at : at + n], started_at=NOW - data.draw(st.integers(0, 3000)))
        state.apply_started(rj)
        at += n
    pending = _pending(data.draw, data.draw(st.integers(1, 12)), "p")
    now = NOW
    for k, (kind, seed) in enumerate(steps):
        now += data.draw(st.sampled_from([0.0, 5.0, 700.0]))
        _run_step(kind, seed, k, now, data, gpus, running, state)
        cap = Capacity(state, now)  # the tier's bound is what its victim index offers per rack
        index = VictimIndex(cap, lambda a: a.job.tier == Tier.PREEMPTIBLE, among=state.preemptible)
        assert state.pre_rack == [sum(index.in_rack.get(r, {}).values()) for r in range(len(topo.rack_span))]
        usage = {t: data.draw(st.sampled_from([0.0, 1e5])) for t in TENANTS}
        for _ in range(2):  # twice at one instant: the second cycle reads what the first kept
            fresh = SchedulerState(topo, running.values(), contracts=policy.contracts)
            expect = schedule_state(fresh, pending, policy, now, usage=usage)
            got = schedule_state(state, pending, policy, now, usage=usage)
            assert (got, got.examined) == (expect, expect.examined)
        if data.draw(st.booleans()):
            left = {j.id: j for j in pending}
            _apply(expect, left, running, state, now)
            pending = [j for j in pending if not isinstance(expect.for_job(j.id), Place)]


@SETTINGS
@given(worlds(), st.data())
def test_a_kept_head_walk_matches_a_fresh_one(world, data):
    """`backfill.kept_start` (an earlier walk reused when it provably ends the same way) against
    `earliest_start`, for every size, as jobs start, end and get stop signals and time passes."""
    fleet, policy, steps = world
    topo = Topology.from_fleet(fleet)
    state = SchedulerState(topo, contracts=policy.contracts)
    running: dict = {}
    gpus = [g.id for g in fleet.gpus()]
    memo: dict = {}
    sites = tuple(range(len(topo.sites)))
    now = NOW
    for k, (kind, seed) in enumerate(steps * 2):
        now += data.draw(st.sampled_from([0.0, 5.0, 700.0]))
        _run_step(kind, seed, k, now, data, gpus, running, state, starts="sc",
                  estimate=lambda: data.draw(st.sampled_from([None, 100.0, 300.0])))  # fmt: skip
        cap = Capacity(state, now)
        ends = expected_ends(cap, state)
        limit = state.sites.rack_limit(sites)
        for g in range(1, limit + 1):
            assert kept_start(cap, sites, g, limit, ends, None, memo) == earliest_start(cap, sites, g, limit, ends=ends)
