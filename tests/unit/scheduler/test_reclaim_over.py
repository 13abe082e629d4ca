"""`reclaim_standard_over_s`: a guarantee stops other tenants' standard work inside their guarantees only when
the plan sparing it loses more than the threshold per GPU asked, or finds nothing (issue 18, unseen tiers)."""

from __future__ import annotations

from dataclasses import replace

from scheduler_factories import NOW, cycle, make_fleet, make_job, make_site, rack_gpus, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import Place

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))  # one rack of 8 GPUs
WIDE = SchedulingPolicy(
    contracts=ContractBook.of([Contract("g", guaranteed_gpus=8), Contract("o", guaranteed_gpus=4)]),
    preempt_protect_s=300.0, restart_protect_s=60.0, preempt_by_cost=True, reclaim_standard=True,
)  # fmt: skip


def _victim(running: list, policy: SchedulingPolicy) -> tuple[str, ...]:
    placed = cycle(FLEET, [make_job("vip", 4, "g", Tier.PRIORITY)], running, policy).for_job("vip")
    assert isinstance(placed, Place)
    return placed.preempts


def _running(lent_age: float) -> list:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    return [run(make_job("young", 4, "o"), gpus[:4], started_at=NOW - 600),  # inside o's guarantee
            run(make_job("lent", 4, "x"), gpus[4:], started_at=NOW - lent_age)]  # no contract: borrowed


def test_the_plan_sparing_others_standard_work_wins_while_it_loses_less_than_the_threshold() -> None:
    assert _victim(_running(3600), WIDE) == ("young",)  # the cheapest, whoever's
    assert _victim(_running(3600), replace(WIDE, reclaim_standard_over_s=7200.0)) == ("lent",)


def test_others_standard_work_is_stopped_when_sparing_it_would_lose_more() -> None:
    assert _victim(_running(3600), replace(WIDE, reclaim_standard_over_s=1800.0)) == ("young",)


def test_others_standard_work_is_stopped_when_nothing_else_makes_room() -> None:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    running = [run(make_job("young", 4, "o"), gpus[:4], started_at=NOW - 600),
               run(make_job("mine", 4, "g", Tier.PRIORITY), gpus[4:], started_at=NOW - 60)]  # fmt: skip
    assert _victim(running, replace(WIDE, reclaim_standard_over_s=7200.0)) == ("young",)  # the guarantee holds
