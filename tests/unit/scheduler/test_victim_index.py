"""Pins that the lazy victim index (racks read from `SchedulerState.candidates` only where a plan looks,
`preempt._plan_in_rack`'s bounded walk) gives exactly the plans of the index built at once over all
running work, and that the candidates kept by the state's deltas are those of a state built afresh."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduler_factories import NOW, make_fleet, make_job, make_site, run

from brique.domain.fleet import HealthState
from brique.domain.jobs import Tier
from brique.domain.policy import SINCE_START, VictimLoss
from brique.scheduler import SchedulerState, Topology, preempt, victims
from brique.scheduler.capacity import Alloc, Capacity, Hold

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANTS = ["t0", "t1", "t2"]


@st.composite
def worlds(draw):
    """A fleet, a state fed random starts (some restarted, some stopping) and finishes, some health."""
    sites = [
        make_site(f"s{i}", racks=draw(st.integers(1, 4)), nodes=draw(st.integers(1, 3)), gpus=draw(st.sampled_from([2, 4])))
        for i in range(draw(st.integers(1, 2)))
    ]  # fmt: skip
    fleet = make_fleet(*sites)
    topo = Topology.from_fleet(fleet)
    state = SchedulerState(topo)
    gpus = [g.id for g in fleet.gpus()]
    running: dict[str, object] = {}
    for k in range(draw(st.integers(0, 24))):
        busy = {g for r in running.values() for g in r.gpus}  # type: ignore[attr-defined]
        idle = [g for g in gpus if g not in busy]
        if running and draw(st.integers(0, 4)) == 0:
            jid = draw(st.sampled_from(sorted(running)))
            del running[jid]
            state.apply_finished(jid)
            continue
        if not idle:
            continue
        n = draw(st.integers(1, min(len(idle), 8)))
        job = make_job(f"x{k}", n, draw(st.sampled_from(TENANTS)), draw(st.sampled_from(list(Tier))),
                       preemption_grace_s=draw(st.sampled_from([0.0, 30.0, 120.0])))  # fmt: skip
        started = NOW - draw(st.one_of(st.sampled_from([0.0, 100.0, 400.0]), st.floats(0.0, 5_000.0), st.floats(-50.0, 1e5)))
        rj = run(job, draw(st.permutations(idle))[:n], started_at=started, restarts=draw(st.sampled_from([0, 0, 1])))
        running[job.id] = rj
        state.apply_started(rj)
        if draw(st.integers(0, 5)) == 0:
            state.apply_stopping(job.id, NOW + 30)
    if draw(st.booleans()):
        node = draw(st.sampled_from([n.id for n in fleet.nodes()]))
        state.set_health(node, HealthState.DOWN)
    for a in state.allocs.values():  # protection comes from the ledger in a cycle; any flags will do here
        a.protected = a.job.tier == Tier.PRIORITY and draw(st.booleans())
    return fleet, state, running


KINDS = {
    "tier": lambda a: a.job.tier == Tier.PREEMPTIBLE and NOW - a.started_at >= 300.0,
    "reclaim": lambda a: not (a.restarted and NOW - a.started_at < 60.0),
    "borrowed": lambda a: a.job.tier == Tier.PREEMPTIBLE or a.job.tenant == "t1",
}
LOSSES = [SINCE_START, VictimLoss("grace", write_s=30.0), VictimLoss("periodic", every_s=500.0)]


def _pair(cap: Capacity, state: SchedulerState, kind: str, by_cost: bool, loss: VictimLoss):
    eligible = KINDS[kind]
    eager = preempt.VictimIndex(cap, eligible, by_cost, None, loss)
    pools = state.candidates.rack_pre if kind == "tier" else state.candidates.rack
    return eager, preempt.VictimIndex(cap, eligible, by_cost, loss=loss, pools=pools)


@SETTINGS
@given(worlds(), st.data())
def test_lazy_index_plans_as_the_eager_one(world, data):
    """Random running work, kinds of victims, loss models, sizes, sites, stops and holds: same plans."""
    _, state, _ = world
    topo = state.topo
    cap = Capacity(state, NOW)
    try:
        kind = data.draw(st.sampled_from(sorted(KINDS)))
        by_cost = data.draw(st.booleans())
        loss = data.draw(st.sampled_from(LOSSES))
        eager, lazy = _pair(cap, state, kind, by_cost, loss)
        site_sets = [(s,) for s in range(len(topo.sites))] + [tuple(range(len(topo.sites)))]
        for _ in range(data.draw(st.integers(1, 6))):
            step = data.draw(st.sampled_from(["plan", "plan", "stop", "hold"]))
            if step == "stop" and state.allocs:
                i = data.draw(st.sampled_from(sorted(state.allocs)))
                if not cap.allocs[i].stopping:
                    cap.stop(i)
                    eager.remove(cap, i)
                    lazy.remove(cap, i)
            elif step == "hold":
                gpus = data.draw(st.lists(st.integers(0, topo.gpu_count - 1), max_size=6, unique=True))
                gpus = [x for x in gpus if x not in cap.held]
                cap.hold(Hold("head", NOW + 600.0, False, gpus=gpus))
                eager.exclude(cap, gpus)
                lazy.exclude(cap, gpus)
            else:
                sites = data.draw(st.sampled_from(site_sets))
                limit = max(topo.rack_size)
                g = data.draw(st.sampled_from([1, 2, 3, 4, 6, 8, limit, limit + 2, 2 * limit]))
                expect = preempt.plan(cap, sites, g, limit, eager)
                got = preempt.plan(cap, sites, g, limit, lazy)
                assert got == expect
                if got is not None:
                    assert [lazy.keys[v] for v in got.victims] == [eager.keys[v] for v in got.victims]
    finally:
        cap.revert()


def _view(state: SchedulerState) -> tuple:
    ids = {k: a.job.id for k, a in state.allocs.items()}
    c = state.candidates
    racks = [[(s, ids[k]) for s, k in entries] for entries in c.rack]
    pre = [[(s, ids[k]) for s, k in entries] for entries in c.rack_pre]
    return racks, pre, [(s, ids[k]) for s, k in c.pre]


@SETTINGS
@given(worlds())
def test_candidates_kept_by_deltas_match_a_fresh_state(world):
    _, state, running = world
    fresh = SchedulerState(state.topo, running.values(), state.health)
    assert _view(state) == _view(fresh)


@SETTINGS
@given(worlds(), st.sampled_from(sorted(KINDS)))
def test_youngest_is_the_least_age_of_any_candidate(world, kind):
    _, state, _ = world
    eligible = KINDS[kind]

    def ok(a: Alloc) -> bool:
        return not (a.stopping or a.placed_now or a.protected) and eligible(a)

    ages = [max(0.0, NOW - a.started_at) for a in state.allocs.values() if ok(a) and a.job.tier == Tier.PREEMPTIBLE]
    assert victims.youngest(state.candidates.pre, state.allocs, eligible, NOW) == min(ages, default=float("inf"))


def test_a_rack_read_later_for_its_bound_can_still_win():
    """Rack 1's youngest candidate is younger (70 s) than rack 0's (100 s), so rack 1 is read first, but
    it is a 2-GPU job (140 GPU-s) and rack 0's 1-GPU job (100 GPU-s) is the cheaper victim: rack 0's
    bound (100 GPU-s) is below the best found, so it is read, and wins."""
    fleet = make_fleet(make_site("s0", racks=2, nodes=1, gpus=2))
    topo = Topology.from_fleet(fleet)
    r0, r1 = ([g.id for n in r.nodes for g in n.gpus] for r in fleet.racks())
    state = SchedulerState(topo)
    for jid, gpus, age in (("young", r0[:1], 100.0), ("old", r0[1:], 5_000.0), ("pair", r1, 70.0)):
        state.apply_started(run(make_job(jid, len(gpus), tier=Tier.PREEMPTIBLE), gpus, started_at=NOW - age))
    cap = Capacity(state, NOW)
    eager, lazy = _pair(cap, state, "reclaim", True, SINCE_START)
    got = preempt.plan(cap, (0,), 1, 2, lazy)
    assert got == preempt.plan(cap, (0,), 1, 2, eager)
    assert got is not None and [cap.allocs[v].job.id for v in got.victims] == ["young"]
    assert set(lazy.in_rack) == {0, 1}
    cap.revert()


def test_holding_an_unusable_gpu_takes_nothing_from_the_index():
    """A hold on a GPU of a down node that a candidate holds: that GPU was never counted, so both indexes
    still offer the candidate's usable GPUs in that rack (found by the property test above)."""
    fleet = make_fleet(make_site("s0", racks=1, nodes=2, gpus=2))
    topo = Topology.from_fleet(fleet)
    state = SchedulerState(topo)
    node1 = [n.id for n in fleet.nodes()][1]
    gpus = [g.id for g in fleet.gpus()]
    state.apply_started(run(make_job("pre", 4, "t0", Tier.PREEMPTIBLE), gpus, started_at=NOW - 1_000.0))
    state.set_health(node1, HealthState.DOWN)  # two of its four GPUs are no longer usable
    cap = Capacity(state, NOW)
    try:
        down = next(x for x in range(topo.gpu_count) if not cap.usable[x])
        indexes = _pair(cap, state, "tier", False, SINCE_START)
        for index in indexes:
            index.rack(0)  # read before the hold
        cap.hold(Hold("head", NOW + 600.0, False, gpus=[down]))
        for index in indexes:
            index.exclude(cap, [down])
            got = preempt.plan(cap, (0,), 2, 4, index)
            assert got is not None and got.victims == [0]
    finally:
        cap.revert()
