"""Brique told the `grace` checkpoint model (issue 18): a stop costs its victim's GPUs x grace, so the knobs
cut the GPUs stopped: idle headroom for guarantees (`guarantee_reserve`), no non-guarantee preemption that
stops more GPUs than it starts (`preempt_gpu_ratio`), and no ping-pong of a restarted job (`spare_restarted`)."""

from __future__ import annotations

import dataclasses

from scheduler_factories import NOW, cycle, make_fleet, make_job, make_site, rack_gpus, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import ClusterSnapshot, Place, schedule

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))  # one rack of 8 GPUs
GPUS = rack_gpus(FLEET, next(FLEET.racks()).id)


def _policy(guarantee: int = 4, **kw) -> SchedulingPolicy:
    book = ContractBook.of([Contract("g", guaranteed_gpus=guarantee)] if guarantee else [])
    return SchedulingPolicy(contracts=book, **kw)


def _small(n: int, tenant: str = "other") -> list:
    return [make_job(f"s{i}", 1, tenant, submitted_at=NOW - 100 + i) for i in range(n)]


def _placed(result) -> list[str]:
    return [d.job_id for d in result.decisions if isinstance(d, Place)]


BUSY = [run(make_job("busy", 2, "other"), GPUS[:2])]  # the rack is not wholly free: 6 GPUs free


def test_the_reserve_keeps_free_gpus_idle_for_guaranteed_arrivals() -> None:
    assert len(_placed(cycle(FLEET, _small(8), BUSY, _policy()))) == 6
    assert len(_placed(cycle(FLEET, _small(8), BUSY, _policy(guarantee_reserve=2)))) == 4


def test_the_reserve_is_never_larger_than_the_guarantees_room() -> None:
    assert len(_placed(cycle(FLEET, _small(8), BUSY, _policy(guarantee=1, guarantee_reserve=4)))) == 5
    assert len(_placed(cycle(FLEET, _small(8), BUSY, _policy(guarantee=0, guarantee_reserve=4)))) == 6
    # the tenant's priority work already fills its guarantee: no room, no reserve
    full = [run(make_job("p", 4, "g", Tier.PRIORITY), GPUS[:4])]
    assert len(_placed(cycle(FLEET, _small(8), full, _policy(guarantee_reserve=4)))) == 4


def test_the_reserve_never_takes_a_wholly_free_rack_nor_a_heads_pinned_gpus() -> None:
    """So every job starts eventually: a rack whose work has all ended is there for any job."""
    assert len(_placed(cycle(FLEET, _small(8), [], _policy(guarantee_reserve=2)))) == 8
    big = make_job("big", 6, "t", submitted_at=NOW - 500)
    assert _placed(cycle(FLEET, [big], BUSY, _policy(guarantee_reserve=2))) == []  # 6 free, 2 of them kept
    assert _placed(cycle(FLEET, [big], [], _policy(guarantee_reserve=2))) == ["big"]  # once the rack is free
    pins = {"head": tuple(GPUS[2:])}  # a head drains the rest of the rack
    snap = ClusterSnapshot.of(FLEET, running=BUSY)
    result = schedule(dataclasses.replace(snap, pins=pins), _small(8), _policy(guarantee_reserve=2), NOW)
    assert len(_placed(result)) == 6  # nothing kept: every free GPU is pinned


def test_a_guaranteed_job_takes_free_gpus_before_the_reserve_is_kept() -> None:
    vip = make_job("vip", 1, "g", Tier.PRIORITY)
    result = cycle(FLEET, [vip, *_small(8)], BUSY, _policy(guarantee_reserve=2))
    placed = _placed(result)
    assert "vip" in placed and len(placed) == 1 + 3  # 6 free - vip - 2 kept (the guarantee has 3 left)


def test_a_job_outside_its_guarantee_stops_no_more_gpus_than_it_asks() -> None:
    gang = [run(make_job("gang", 8, "other", Tier.PREEMPTIBLE), GPUS, started_at=NOW - 5000)]
    job = make_job("std", 4, "t")
    assert _placed(cycle(FLEET, [job], gang, _policy(guarantee=0))) == ["std"]
    assert _placed(cycle(FLEET, [job], gang, _policy(guarantee=0, preempt_gpu_ratio=1.0))) == []
    assert _placed(cycle(FLEET, [job], gang, _policy(guarantee=0, preempt_gpu_ratio=2.0))) == ["std"]


def _restarted() -> list:
    return [run(make_job("again", 4, "other", Tier.PREEMPTIBLE), GPUS[:4], started_at=NOW - 5000, restarts=1),
            run(make_job("busy", 4, "other"), GPUS[4:], started_at=NOW - 5000)]  # fmt: skip


def test_a_restarted_job_is_spared_by_non_guarantee_preemption_but_not_by_a_guarantee() -> None:
    job = make_job("std", 4, "t")
    plain = _policy(guarantee=0, preempt_protect_s=300.0)
    assert _placed(cycle(FLEET, [job], _restarted(), plain)) == ["std"]
    spare = _policy(preempt_protect_s=300.0, spare_restarted=True)
    assert _placed(cycle(FLEET, [job], _restarted(), spare)) == []
    vip = make_job("vip", 4, "g", Tier.PRIORITY)
    result = cycle(FLEET, [vip], _restarted(), spare)
    placed = result.for_job("vip")
    assert isinstance(placed, Place) and placed.preempts == ("again",)
