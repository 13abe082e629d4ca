"""Cost-aware reclaims (issue 18): wait while the start promise allows it, and lose the least work."""

from __future__ import annotations

from scheduler_factories import NOW, cycle, make_fleet, make_job, make_site, rack_gpus, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import Place

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))  # one rack of 8 GPUs
BOOK = ContractBook.of([Contract("g", guaranteed_gpus=4)])
ROOMY = ContractBook.of([Contract("g", guaranteed_gpus=8)])  # room left for a like job arriving meanwhile
PROMISED = SchedulingPolicy(contracts=ROOMY, preempt_by_cost=True, guarantee_start_s=60.0)


def _full(started_at: float = NOW - 600) -> list:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    return [
        run(make_job(f"b{i}", 4, "other"), gpus[4 * i : 4 * i + 4], started_at=started_at) for i in range(2)
    ]


def test_a_guaranteed_job_waits_for_gpus_to_free_up_while_its_promise_allows() -> None:
    vip = make_job("vip", 4, "g", Tier.PRIORITY, submitted_at=NOW - 10)
    result = cycle(FLEET, [vip], _full(), PROMISED)
    assert not result.preempts and not isinstance(result.for_job("vip"), Place)
    # due when preempting now still starts it within 60 s of its submission: 60 - 30 s grace - 1 s margin
    assert result.wake_at == NOW - 10 + 60 - 30 - 1
    due = cycle(FLEET, [vip], _full(), PROMISED, now=NOW + 19)
    placed = due.for_job("vip")
    assert isinstance(placed, Place) and len(placed.preempts) == 1 and due.wake_at is None


def test_a_guaranteed_job_preempts_at_once_when_its_promise_is_due_or_off() -> None:
    late = make_job("vip", 4, "g", Tier.PRIORITY, submitted_at=NOW - 40)
    assert isinstance(cycle(FLEET, [late], _full(), PROMISED).for_job("vip"), Place)
    fresh = make_job("vip", 4, "g", Tier.PRIORITY, submitted_at=NOW)
    off = SchedulingPolicy(contracts=ROOMY, preempt_by_cost=True)
    result = cycle(FLEET, [fresh], _full(), off)
    assert isinstance(result.for_job("vip"), Place) and result.wake_at is None
    tight = SchedulingPolicy(contracts=BOOK, preempt_by_cost=True, guarantee_start_s=60.0)
    result = cycle(FLEET, [fresh], _full(), tight)  # its guarantee would keep no room for another such job
    assert isinstance(result.for_job("vip"), Place) and result.wake_at is None


def _mixed() -> list:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)

    def job(jid: str, n: int) -> object:
        return make_job(jid, n, "other", Tier.PREEMPTIBLE)

    return [run(job("x1", 1), gpus[0:1], started_at=NOW - 100),  # 100 GPU-s
            run(job("x2", 1), gpus[1:2], started_at=NOW - 200),  # 200 GPU-s
            run(job("y", 2), gpus[2:4], started_at=NOW - 5000),  # 10,000 GPU-s
            run(job("big", 4), gpus[4:8], started_at=NOW - 1000)]  # 4,000 GPU-s  # fmt: skip


def test_by_cost_victims_are_the_set_losing_least_not_the_cheapest_first() -> None:
    vip = make_job("vip", 4, "g", Tier.PRIORITY)
    placed = cycle(FLEET, [vip], _mixed(), SchedulingPolicy(contracts=BOOK, preempt_by_cost=True)).for_job(
        "vip"
    )
    assert isinstance(placed, Place) and placed.preempts == ("big",)  # 4,000 GPU-s, not 4,300 with x1 and x2


def test_default_victim_order_stays_cheapest_first() -> None:
    vip = make_job("vip", 4, "g", Tier.PRIORITY)
    placed = cycle(FLEET, [vip], _mixed(), SchedulingPolicy(contracts=BOOK)).for_job("vip")
    assert isinstance(placed, Place) and set(placed.preempts) == {"x1", "x2", "big"}


def test_entitlement_cap_holds_a_tenant_at_its_share_while_another_waits() -> None:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    book = ContractBook.of([Contract("big", weight=1), Contract("small", weight=1)])
    running = [
        run(make_job("b0", 4, "big"), gpus[:4])
    ]  # big holds 4 of 8: its entitlement with small waiting
    pending = [make_job("b1", 1, "big", submitted_at=NOW - 200, max_runtime_s=60), make_job("s1", 8, "small")]
    capped = cycle(FLEET, pending, running, SchedulingPolicy(contracts=book, entitlement_cap_s=0.0))
    assert not isinstance(capped.for_job("b1"), Place)  # small (entitled to 4) gets the free GPUs first
    free = cycle(FLEET, pending, running, SchedulingPolicy(contracts=book))
    assert isinstance(free.for_job("b1"), Place)  # backfilled: s1 cannot start anyway
    alone = cycle(FLEET, pending[:1], running, SchedulingPolicy(contracts=book, entitlement_cap_s=0.0))
    assert isinstance(alone.for_job("b1"), Place)  # nobody below its entitlement waits


def test_by_cost_plans_for_multi_rack_jobs_take_what_partly_reclaimable_racks_give() -> None:
    fleet = make_fleet(make_site("fr-1", racks=2, nodes=2, gpus=4))  # two racks of 8 GPUs
    racks = [r.id for r in fleet.racks()]
    a, b = rack_gpus(fleet, racks[0]), rack_gpus(fleet, racks[1])
    running = [run(make_job("mine", 6, "g", Tier.PRIORITY), a[2:]),  # protected: rack a is not wholly reclaimable
               run(make_job("a1", 1, "other", Tier.PREEMPTIBLE), a[:1], started_at=NOW - 100),
               run(make_job("a2", 1, "other", Tier.PREEMPTIBLE), a[1:2], started_at=NOW - 200),
               run(make_job("b1", 8, "other", Tier.PREEMPTIBLE), b, started_at=NOW - 50)]  # fmt: skip
    vip = make_job("vip", 10, "g", Tier.PRIORITY)
    book = ContractBook.of([Contract("g", guaranteed_gpus=16)])
    placed = cycle(fleet, [vip], running, SchedulingPolicy(contracts=book, preempt_by_cost=True)).for_job(
        "vip"
    )
    assert isinstance(placed, Place) and set(placed.preempts) == {
        "a1",
        "a2",
        "b1",
    }  # rack b whole, 2 of rack a
