"""Fair-share-aware backfill and tiers (issue 18, Jain): a tenant below its entitlement gets a firm
reservation, and its preemptible jobs take its fair-share turn (a reservation, never a preemption)."""

from __future__ import annotations

from scheduler_factories import NOW, cycle, make_fleet, make_job, make_site, rack_gpus, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import Place, Reserve

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))  # one rack of 8 GPUs
BOOK = ContractBook.of([Contract("big", weight=1), Contract("small", weight=1)])
GPUS = rack_gpus(FLEET, next(FLEET.racks()).id)
# big holds 6 of 8 GPUs, expected to end in 900 s; with small asking 8, each is entitled to 4
BIG = [run(make_job("b0", 6, "big", estimated_runtime_s=1000), GPUS[:6], started_at=NOW - 100)]
SHORT = make_job("b1", 2, "big", estimated_runtime_s=100)  # would end long before the head's start


def _policy(**kw: object) -> SchedulingPolicy:
    return SchedulingPolicy(contracts=BOOK, entitlement_cap_s=21_600.0, **kw)  # type: ignore[arg-type]


def test_the_head_of_a_tenant_below_its_entitlement_gets_a_firm_reservation() -> None:
    head = make_job("s1", 4, "small", submitted_at=NOW - 200)  # half a rack: node 2's 2 free GPUs + b0b's
    split = [run(make_job("b0a", 4, "big", estimated_runtime_s=100_000), GPUS[:4], started_at=NOW - 100),
             run(make_job("b0b", 2, "big", estimated_runtime_s=1000), GPUS[4:6], started_at=NOW - 100)]  # fmt: skip
    loose = cycle(FLEET, [head, SHORT], split, _policy())
    assert isinstance(loose.for_job("s1"), Reserve)
    assert isinstance(loose.for_job("b1"), Place)  # EASY: backfilled onto held GPUs by its estimate
    firm = cycle(FLEET, [head, SHORT], split, _policy(firm_under_entitled=True))
    assert isinstance(firm.for_job("s1"), Reserve)
    assert not isinstance(firm.for_job("b1"), Place)  # the held GPUs drain for small's head
    gang = make_job("s1", 8, "small", submitted_at=NOW - 200)  # over half a rack: the usual EASY hold
    assert isinstance(
        cycle(FLEET, [gang, SHORT], BIG, _policy(firm_under_entitled=True)).for_job("b1"), Place
    )


def test_a_firm_reservation_is_only_for_a_tenant_below_its_entitlement() -> None:
    # small holds 6 (above its entitlement of 6 - 0.5) and goes first (big's history weighs more): its
    # 8-GPU head gets the usual EASY reservation, and big's short job backfills onto the held GPUs
    running = [run(make_job("s0", 6, "small", estimated_runtime_s=1000), GPUS[:6], started_at=NOW - 100)]
    head = make_job("s1", 8, "small", submitted_at=NOW - 300, estimated_runtime_s=3_600)  # not capped
    got = cycle(FLEET, [head, SHORT], running, _policy(firm_under_entitled=True), usage={"big": 1e8})
    assert isinstance(got.for_job("s1"), Reserve)
    assert isinstance(got.for_job("b1"), Place)


def test_preemptible_jobs_of_a_tenant_below_its_entitlement_take_its_turn_but_never_preempt() -> None:
    b0 = make_job("b0", 6, "big", Tier.PREEMPTIBLE, estimated_runtime_s=1000)
    old = [run(b0, GPUS[:6], started_at=NOW - 100)]
    p1 = make_job("p1", 8, "small", Tier.PREEMPTIBLE, submitted_at=NOW - 200)
    policy = dict(preempt_for_standard=True, preempt_wait_ratio=0.0)
    scavenging = cycle(FLEET, [p1, SHORT], old, _policy(**policy))
    assert not isinstance(scavenging.for_job("p1"), Reserve)  # scavenges: takes only what is idle
    assert isinstance(scavenging.for_job("b1"), Place)
    entitled = cycle(FLEET, [p1, SHORT], old, _policy(entitled_preemptible=True, **policy))
    assert isinstance(entitled.for_job("p1"), Reserve)  # small's turn: the EASY reservation
    assert not entitled.preempts  # still never preempts, even preemptible work
    standard = make_job("p1", 8, "small", submitted_at=NOW - 200)
    assert cycle(FLEET, [standard], old, _policy(**policy)).preempts  # a standard job would have


def test_priority_work_beyond_the_guarantee_is_capped_like_any_other() -> None:
    # big holds its entitlement of 4; small (asking 8, below its own) comes later in the order
    running = [run(make_job("b0", 4, "big"), GPUS[:4], started_at=NOW - 100)]
    prio = make_job("bp", 2, "big", Tier.PRIORITY, estimated_runtime_s=86_400)  # over the 6 h cap
    waiting = make_job("s1", 8, "small", submitted_at=NOW - 300)
    usage = {"small": 1e8}
    off = cycle(FLEET, [prio, waiting], running, _policy(), usage=usage)
    assert isinstance(off.for_job("bp"), Place)
    on = cycle(FLEET, [prio, waiting], running, _policy(cap_priority=True), usage=usage)
    assert not isinstance(on.for_job("bp"), Place)


def test_a_tenant_far_over_its_entitlement_gets_the_shorter_cap() -> None:
    two_hours = make_job("b1", 1, "big", estimated_runtime_s=7_200)  # under the 6 h cap, over the 1 h one
    waiting = make_job("s1", 8, "small", submitted_at=NOW - 300)
    far = {"entitlement_far_over": 1.5, "entitlement_far_cap_s": 3_600.0}
    policy = SchedulingPolicy(contracts=BOOK, entitlement_cap_s=21_600.0, **far)  # type: ignore[arg-type]
    usage = {"small": 1e8}
    held6 = cycle(FLEET, [two_hours, waiting], BIG, policy, usage=usage)  # 6 >= 1.5 x 4
    assert not isinstance(held6.for_job("b1"), Place)
    near = SchedulingPolicy(contracts=BOOK, entitlement_cap_s=21_600.0)
    assert isinstance(cycle(FLEET, [two_hours, waiting], BIG, near, usage=usage).for_job("b1"), Place)
