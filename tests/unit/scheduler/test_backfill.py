"""EASY backfill around the head job's reservation, and advance reservations."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler_factories import NOW, cycle, make_fleet, make_job, make_site, place_of, rack_gpus, rack_of, run

from brique.domain.contracts import AdvanceReservation
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import Place, ReasonCode, Reserve, Wait

FLEET = make_fleet(make_site("fr-1", racks=2, nodes=4, gpus=4))  # two racks of 16
R1, R2 = rack_gpus(FLEET, "fr-1/r001"), rack_gpus(FLEET, "fr-1/r002")
HOUR = 3600.0


def busy() -> list:
    # r001: 12 busy until NOW+1h (estimate); r002: 16 busy until NOW+10h
    return [
        run(
            make_job("a", 12, max_runtime_s=10 * HOUR, estimated_runtime_s=2 * HOUR),
            R1[:12],
            started_at=NOW - HOUR,
        ),
        run(make_job("b", 16, max_runtime_s=10 * HOUR), R2, started_at=NOW),
    ]


def at(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_head_gets_reservation_at_earliest_expected_end():
    res = cycle(FLEET, [make_job("head", 16)], busy())
    r = res.for_job("head")
    assert isinstance(r, Reserve)
    assert r.start_at == NOW + HOUR
    assert {rack_of(g) for g in r.gpus} == {"fr-1/r001"}
    assert r.reasons[0].code == ReasonCode.RESERVED
    assert r.reasons[0].message == (
        "reserved: needs 16 GPUs in one rack (NVLink domain) meeting policy 'anywhere'; "
        f"earliest start at {at(NOW + HOUR)}, when running jobs are expected to end"
    )


def test_short_job_backfills_into_held_gpus():
    short = make_job("short", 4, submitted_at=NOW, max_runtime_s=2 * HOUR, estimated_runtime_s=HOUR / 2)
    res = cycle(FLEET, [make_job("head", 16), short], busy())
    p = place_of(res, "short")
    assert p.reasons[0].code == ReasonCode.BACKFILL
    assert set(p.gpus) <= set(R1[12:])


def test_long_job_does_not_delay_head():
    long = make_job("long", 4, submitted_at=NOW, max_runtime_s=5 * HOUR)
    res = cycle(FLEET, [make_job("head", 16), long], busy())
    w = res.for_job("long")
    assert isinstance(w, Wait)
    assert [x.code for x in w.reasons] == [ReasonCode.NO_CAPACITY, ReasonCode.BEHIND_RESERVATION]
    assert w.reasons[1].message == (
        f"waiting: 16 GPUs meeting policy 'anywhere' are held for job head, reserved to start at {at(NOW + HOUR)}; "
        "this job would not end before then"
    )


def test_backfill_off_keeps_strict_order():
    short = make_job("short", 4, submitted_at=NOW, max_runtime_s=HOUR / 2)
    res = cycle(FLEET, [make_job("head", 16), short], busy(), policy=SchedulingPolicy(backfill=False))
    w = res.for_job("short")
    assert isinstance(w, Wait) and w.reasons[0].code == ReasonCode.HEAD_BLOCKED


def test_overdue_estimate_falls_back_to_max_runtime():
    running = [run(make_job("a", 16, max_runtime_s=10 * HOUR, estimated_runtime_s=HOUR), R1, started_at=NOW - 2 * HOUR),
               run(make_job("b", 16, max_runtime_s=10 * HOUR), R2, started_at=NOW)]  # fmt: skip
    r = cycle(FLEET, [make_job("head", 16)], running).for_job("head")
    assert isinstance(r, Reserve) and r.start_at == NOW + 8 * HOUR


# ---------- advance reservations ----------


def test_advance_reservation_holds_gpus_ahead_of_window():
    res_ = AdvanceReservation("rsv", "fr-1", start=NOW + HOUR, end=NOW + 5 * HOUR, gpus=16, tenant="acme")
    long = make_job("long", 16, max_runtime_s=2 * HOUR)
    short = make_job("short", 16, max_runtime_s=HOUR / 2, submitted_at=NOW)
    res = cycle(FLEET, [long, short], [], reservations=[res_])
    # one rack held for the window; the long job takes the other, the short one backfills the gap
    assert {rack_of(g) for g in place_of(res, "long").gpus} != {
        rack_of(g) for g in place_of(res, "short").gpus
    }


def test_only_short_work_enters_the_gap():
    res_ = AdvanceReservation("rsv", "fr-1", start=NOW + HOUR, end=NOW + 5 * HOUR, gpus=32)
    res = cycle(FLEET, [make_job("long", 4, max_runtime_s=2 * HOUR), make_job("short", 4, max_runtime_s=HOUR,
                                                                              submitted_at=NOW)], reservations=[res_])  # fmt: skip
    assert not isinstance(res.for_job("long"), Place)
    assert isinstance(res.for_job("short"), Place)


def test_reservation_jobs_run_inside_window_only():
    res_ = AdvanceReservation(
        "rsv", "fr-1", start=NOW + HOUR, end=NOW + 5 * HOUR, racks=("fr-1/r002",), tenant="acme"
    )
    job = make_job("mine", 8, tenant="acme", reservation="rsv")
    before = cycle(FLEET, [job], reservations=[res_]).for_job("mine")
    assert isinstance(before, Wait) and before.reasons[0].code == ReasonCode.RESERVATION_NOT_STARTED
    assert before.reasons[0].message == "waiting: reservation rsv starts in 3600 s"
    inside = cycle(
        FLEET, [job, make_job("other", 16, submitted_at=NOW)], reservations=[res_], now=NOW + 2 * HOUR
    )
    assert {rack_of(g) for g in place_of(inside, "mine").gpus} == {"fr-1/r002"}
    assert place_of(inside, "mine").reasons[0].code == ReasonCode.IN_RESERVATION
    assert {rack_of(g) for g in place_of(inside, "other").gpus} == {"fr-1/r001"}


def test_reservation_drains_work_that_would_overrun_the_start():
    res_ = AdvanceReservation("rsv", "fr-1", start=NOW + 60, end=NOW + HOUR, racks=("fr-1/r001",))
    running = [run(make_job("x", 16, max_runtime_s=10 * HOUR, preemption_grace_s=120), R1)]
    res = cycle(FLEET, [], running, reservations=[res_])
    assert [(p.job_id, p.reason.code) for p in res.preempts] == [("x", ReasonCode.RESERVATION_DRAIN)]
    assert res.preempts[0].reason.message == (
        "preempted: its GPUs are held for reservation rsv, which starts before it would end"
    )
    # far from the start (beyond the grace period): not yet
    far = AdvanceReservation("rsv", "fr-1", start=NOW + HOUR, end=NOW + 2 * HOUR, racks=("fr-1/r001",))
    assert cycle(FLEET, [], running, reservations=[far]).preempts == ()


def test_unknown_or_too_small_reservation_is_rejected():
    res_ = AdvanceReservation("rsv", "fr-1", start=NOW, end=NOW + HOUR, gpus=8)
    res = cycle(
        FLEET,
        [make_job("a", 4, reservation="nope"), make_job("b", 12, reservation="rsv")],
        reservations=[res_],
    )
    assert res.for_job("a").reasons[0].message == "rejected: reservation nope does not exist or is over"
    assert res.for_job("b").reasons[0].message == "rejected: needs 12 GPUs; reservation rsv holds 8"


def test_reservation_full_reason():
    res_ = AdvanceReservation("rsv", "fr-1", start=NOW - 10, end=NOW + HOUR, gpus=8)
    running = [run(make_job("m", 6, reservation="rsv"), R1[:6])]
    w = cycle(FLEET, [make_job("b", 4, reservation="rsv")], running, reservations=[res_]).for_job("b")
    assert isinstance(w, Wait)
    assert w.reasons[0].message == "waiting: needs 4 GPUs in reservation rsv; 2 of its GPUs are free"


def test_expected_ends_follow_the_domain_rule():
    """`expected_ends` inlines `Alloc.expected_end`: estimate, else max runtime, stop time, never before now."""
    from brique.scheduler import SchedulerState, Topology
    from brique.scheduler.backfill import expected_ends
    from brique.scheduler.capacity import Capacity

    now = 1_000.0
    fleet = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))
    state = SchedulerState(Topology.from_fleet(fleet))
    gpus = [g.id for g in fleet.gpus()]
    for k, (job, started) in enumerate(
        [
            (make_job("a", 1, estimated_runtime_s=500.0, max_runtime_s=900.0), 800.0),  # estimate ahead
            (make_job("b", 1, estimated_runtime_s=50.0, max_runtime_s=900.0), 800.0),  # overdue: max
            (make_job("c", 1, max_runtime_s=100.0), 800.0),  # past its max runtime: now
            (make_job("d", 1, max_runtime_s=100.0), 990.0),  # stopping (below)
            (make_job("e", 1, estimated_runtime_s=5_000.0, max_runtime_s=900.0), 800.0),  # capped
        ]
    ):
        state.apply_started(run(job, gpus[k : k + 1], started_at=started))
    state.apply_stopping("d", 1_020.0)
    cap = Capacity(state, now)  # `state=None`: the pass over every allocation, not the state's sorted ends
    got = expected_ends(cap)
    assert got == sorted((a.expected_end(now), a.job.id, i) for i, a in cap.allocs.items())
    assert [end for end, _, _ in got] == [1_000.0, 1_020.0, 1_300.0, 1_700.0, 1_700.0]
    assert got == expected_ends(cap, state)


def test_starts_before_agrees_with_earliest_start():
    """`starts_before` (the cost-aware preemption check's early-exit walk) answers as `earliest_start`
    does, with and without holds, stopping work, jobs within a rack, across racks and sites."""
    import random

    from brique.domain.jobs import Tier
    from brique.scheduler import SchedulerState, Topology
    from brique.scheduler.backfill import earliest_start, expected_ends, starts_before
    from brique.scheduler.capacity import Capacity, Hold

    fr, de = make_site("fr-1", racks=3, nodes=2, gpus=4), make_site("de-1", "DE", racks=2, nodes=2, gpus=4)
    fleet = make_fleet(fr, de)
    topo = Topology.from_fleet(fleet)
    gpus = [g.id for g in fleet.gpus()]
    rng = random.Random(7)
    for trial in range(300):
        state = SchedulerState(topo)
        idle = list(gpus)
        rng.shuffle(idle)
        for k in range(rng.randint(0, 12)):
            n = min(len(idle), rng.choice([1, 2, 3, 4, 8]))
            if not n:
                break
            job = make_job(f"j{trial}-{k}", n, tier=rng.choice(list(Tier)), max_runtime_s=rng.choice([600.0, 7200.0]),
                           estimated_runtime_s=rng.choice([None, 300.0, 3000.0]))  # fmt: skip
            state.apply_started(run(job, idle[:n], started_at=NOW - rng.choice([0.0, 400.0, 5000.0])))
            idle = idle[n:]
        for jid in list(state.by_job)[: rng.randint(0, 2)]:
            state.apply_stopping(jid, NOW + 30.0)
        cap = Capacity(state, NOW)
        if rng.random() < 0.5:
            free = [x for x in range(topo.gpu_count) if cap.free[x]]
            busy_gpus = [x for x in range(topo.gpu_count) if cap.gpu_alloc[x] >= 0]
            some = rng.sample(free + busy_gpus, min(6, len(free + busy_gpus)))
            cap.hold(Hold("h", NOW + 900.0, False, gpus=some))
        ends = expected_ends(cap, state)
        for sites in ((0,), (1,), (0, 1)):
            limit = max(topo.max_rack(s) for s in sites)
            for g in (1, 2, 4, 6, 8, 12, 20):
                for before in (NOW + 1.0, NOW + 400.0, NOW + 4000.0, NOW + 1e6):
                    want = earliest_start(cap, sites, g, limit, before, ends, pick=False) is not None
                    got = starts_before(cap, sites, g, limit, before, ends)
                    assert got == want, (trial, sites, g, before)
        cap.revert()
