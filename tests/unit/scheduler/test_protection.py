"""The protection window binds every preemption of a restarted job, a guarantee's included (issue 18)."""

from __future__ import annotations

from scheduler_factories import NOW, cycle, make_fleet, make_job, make_site, rack_gpus, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import Place

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))  # one rack of 8 GPUs
POLICY = SchedulingPolicy(
    contracts=ContractBook.of([Contract("g", guaranteed_gpus=4)]), preempt_protect_s=300.0, preempt_by_cost=True
)


def _fill(young_restarts: int) -> list:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    young = make_job("young", 4, "other", Tier.PREEMPTIBLE)
    old = make_job("old", 4, "other", Tier.PREEMPTIBLE)
    return [run(young, gpus[:4], started_at=NOW - 60, restarts=young_restarts),
            run(old, gpus[4:], started_at=NOW - 3600)]  # fmt: skip


def test_guarantee_reclaims_the_cheapest_job_when_it_was_never_preempted() -> None:
    result = cycle(FLEET, [make_job("vip", 4, "g", Tier.PRIORITY)], _fill(0), POLICY)
    placed = result.for_job("vip")
    assert isinstance(placed, Place) and placed.preempts == ("young",)


def test_guarantee_spares_a_restarted_job_inside_its_window() -> None:
    result = cycle(FLEET, [make_job("vip", 4, "g", Tier.PRIORITY)], _fill(1), POLICY)
    placed = result.for_job("vip")
    assert isinstance(placed, Place) and placed.preempts == ("old",)  # costlier, but outside its window


def test_guarantee_waits_when_only_restarted_work_inside_its_window_could_make_room() -> None:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    running = [run(make_job(f"r{i}", 4, "other", Tier.PREEMPTIBLE), gpus[4 * i : 4 * i + 4],
                   started_at=NOW - 60, restarts=1) for i in range(2)]  # fmt: skip
    result = cycle(FLEET, [make_job("vip", 4, "g", Tier.PRIORITY)], running, POLICY)
    assert not isinstance(result.for_job("vip"), Place)  # it waits (as the EASY head)
    assert not result.preempts
    later = cycle(FLEET, [make_job("vip", 4, "g", Tier.PRIORITY)], running, POLICY, now=NOW + 300)
    assert isinstance(later.for_job("vip"), Place)  # the window over, the guarantee is honoured


def test_a_shorter_restart_window_binds_guarantees_and_the_longer_one_the_rest() -> None:
    split = SchedulingPolicy(contracts=POLICY.contracts, preempt_protect_s=300.0, restart_protect_s=30.0,
                             preempt_by_cost=True)  # fmt: skip
    result = cycle(FLEET, [make_job("vip", 4, "g", Tier.PRIORITY)], _fill(1), split)
    placed = result.for_job("vip")
    assert isinstance(placed, Place) and placed.preempts == ("young",)  # restarted 60 s ago: past 30 s
