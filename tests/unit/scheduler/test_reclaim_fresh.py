"""`reclaim_fresh_only`: a guarantee's wide reclaim spares other tenants' restarted standard work (issue 18)."""

from __future__ import annotations

from dataclasses import replace

from scheduler_factories import NOW, cycle, make_fleet, make_job, make_site, rack_gpus, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import Place

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))  # one rack of 8 GPUs
WIDE = SchedulingPolicy(
    contracts=ContractBook.of([Contract("g", guaranteed_gpus=8), Contract("o", guaranteed_gpus=4),
                               Contract("t", guaranteed_gpus=4)]),
    preempt_protect_s=300.0, restart_protect_s=60.0, preempt_by_cost=True, reclaim_standard=True,
)  # fmt: skip
FRESH = replace(WIDE, reclaim_fresh_only=True)


def _victim(running: list, policy: SchedulingPolicy) -> tuple[str, ...]:
    placed = cycle(FLEET, [make_job("vip", 4, "g", Tier.PRIORITY)], running, policy).for_job("vip")
    assert isinstance(placed, Place)
    return placed.preempts


def test_a_restarted_job_of_another_tenant_is_spared_by_a_fresh_only_reclaim() -> None:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    running = [run(make_job("again", 4, "o"), gpus[:4], started_at=NOW - 600, restarts=1),
               run(make_job("old", 4, "t"), gpus[4:], started_at=NOW - 3600)]  # fmt: skip
    assert _victim(running, WIDE) == ("again",)  # the cheapest, outside its 60 s window
    assert _victim(running, FRESH) == ("old",)  # never preempted: stopped instead


def test_a_restarted_job_is_still_reclaimed_when_it_is_borrowed_work() -> None:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    running = [run(make_job("lent", 4, "x"), gpus[:4], started_at=NOW - 600, restarts=1),  # no contract: borrowed
               run(make_job("old", 4, "t"), gpus[4:], started_at=NOW - 3600)]  # fmt: skip
    assert _victim(running, FRESH) == ("lent",)
