"""Preemption cost under a checkpoint model (issue 18): `SchedulingPolicy.victim_loss`.

Under the default (`since_start`) a stop loses GPUs x time run; under `grace` a victim given
grace >= the checkpoint write time loses GPUs x its grace; under `periodic` its time run modulo
the checkpoint period. The same cost orders victims, picks the victim set and decides whether
waiting beats killing.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scheduler_factories import NOW, check_invariants, cycle, make_fleet, make_job, make_site, rack_gpus, run
from test_properties import SETTINGS, reclaimable_vip, scenarios

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SINCE_START, SchedulingPolicy, VictimLoss
from brique.scheduler import Place

FLEET = make_fleet(make_site("fr-1", racks=1, nodes=2, gpus=4))  # one rack of 8 GPUs
BOOK = ContractBook.of([Contract("g", guaranteed_gpus=2)])
GRACE = VictimLoss("grace", write_s=30.0)


def test_since_start_loses_the_time_run() -> None:
    assert SINCE_START.per_gpu(1000.0, 30.0) == 1000.0
    assert SINCE_START.per_gpu(-5.0, 30.0) == 0.0  # a handover starting later loses nothing yet


def test_grace_loses_the_grace_when_it_covers_the_write_else_the_time_run() -> None:
    assert GRACE.per_gpu(1000.0, 30.0) == 30.0
    assert GRACE.per_gpu(1000.0, 120.0) == 120.0  # a longer grace is spent too
    assert GRACE.per_gpu(1000.0, 10.0) == 1000.0  # too short to write a checkpoint
    assert VictimLoss("grace", write_s=30.0, restart_s=60.0).per_gpu(1000.0, 30.0) == 90.0
    # too little grace, but periodic checkpoints: back to the last one
    assert VictimLoss("grace", every_s=600.0).per_gpu(1000.0, 0.0) == 400.0


def test_periodic_loses_the_work_since_the_last_checkpoint() -> None:
    hourly = VictimLoss("periodic", every_s=3600.0)
    assert hourly.per_gpu(100.0, 30.0) == 100.0
    assert hourly.per_gpu(3600.0 * 5 + 200.0, 30.0) == 200.0
    assert VictimLoss("periodic", every_s=3600.0, restart_s=60.0).per_gpu(3700.0, 30.0) == 160.0


@pytest.mark.parametrize(
    "kw",
    [{"model": "lazy"}, {"model": "grace", "write_s": 0.0}, {"model": "periodic"}, {"restart_s": -1.0}],
)
def test_a_bad_victim_loss_is_refused(kw: dict) -> None:
    with pytest.raises(ValueError):
        VictimLoss(**kw)


def _rack() -> list:
    """8 GPUs, all busy: a young 4-GPU job and old smaller ones (cheapest under since-start: `big`)."""
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)

    def job(jid: str, n: int, **kw: object) -> object:
        return make_job(jid, n, "other", Tier.PREEMPTIBLE, **kw)

    return [run(job("big", 4), gpus[0:4], started_at=NOW - 100),  # 400 GPU-s / 120 under grace
            run(job("a", 1), gpus[4:5], started_at=NOW - 1000),  # 1,000 / 30
            run(job("b", 1), gpus[5:6], started_at=NOW - 1000),  # 1,000 / 30
            run(job("c", 2), gpus[6:8], started_at=NOW - 5000)]  # 10,000 / 60  # fmt: skip


def _victims(loss: VictimLoss, running: list | None = None) -> tuple[str, ...]:
    vip = make_job("vip", 2, "g", Tier.PRIORITY)
    policy = SchedulingPolicy(contracts=BOOK, preempt_by_cost=True, victim_loss=loss)
    placed = cycle(FLEET, [vip], running or _rack(), policy).for_job("vip")
    return placed.preempts  # type: ignore[union-attr]


def test_since_start_and_grace_choose_different_victims() -> None:
    # since-start: the young 4-GPU job loses least (400 GPU-s, against 2,000 or 10,000)
    assert _victims(SINCE_START) == ("big",)
    # grace: every stop costs its GPUs x 30 s, so the fewest GPUs (2), then the fewest victims
    assert _victims(GRACE) == ("c",)


def test_under_grace_a_victim_with_too_little_grace_loses_its_run() -> None:
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    running = _rack()
    # c now gets no grace: it cannot checkpoint and would lose 10,000 GPU-s; a and b lose 30 s each
    c = make_job("c", 2, "other", Tier.PREEMPTIBLE, preemption_grace_s=0.0)
    running[3] = run(c, gpus[6:8], started_at=NOW - 5000)
    assert set(_victims(GRACE, running)) == {"a", "b"}


def _waiting_or_killing(loss: VictimLoss) -> bool:
    """A standard job (no guarantee) that could start in ~1,000 s when `w` ends, or now by stopping `p`."""
    gpus = rack_gpus(FLEET, next(FLEET.racks()).id)
    p = make_job("p", 4, "other", Tier.PREEMPTIBLE, max_runtime_s=100_000.0)
    w = make_job("w", 4, "other", max_runtime_s=2000.0)
    running = [run(p, gpus[0:4], started_at=NOW - 1000), run(w, gpus[4:8], started_at=NOW - 1000)]
    job = make_job("s", 4, "acme")
    policy = SchedulingPolicy(preempt_wait_ratio=0.5, preempt_by_cost=True, victim_loss=loss)
    result = cycle(FLEET, [job], running, policy)
    return bool(result.preempts)


def test_the_wait_ratio_weighs_the_model_s_loss() -> None:
    # since-start: stopping p loses 4,000 GPU-s, more than 0.5 x 4 GPUs x ~1,000 s of waiting
    assert not _waiting_or_killing(SINCE_START)
    # grace: it loses 120 GPU-s, less than that wait is worth: kill
    assert _waiting_or_killing(GRACE)


LOSSES = [SINCE_START, GRACE, VictimLoss("grace", every_s=600.0), VictimLoss("periodic", every_s=600.0)]


@SETTINGS
@given(scenarios(), st.sampled_from(LOSSES), st.sampled_from([0.0, 0.0002, 0.002]), st.data())
def test_invariants_hold_and_decisions_are_deterministic_under_every_victim_loss(sc, loss, ratio, data):
    fleet, health, running, pending, base = sc
    policy = SchedulingPolicy(contracts=base.contracts, backfill=base.backfill, victim_loss=loss,
                              preempt_wait_ratio=ratio, preempt_by_cost=data.draw(st.booleans()),
                              preempt_protect_s=data.draw(st.sampled_from([0.0, 300.0])))  # fmt: skip
    result = cycle(fleet, pending, running, policy, health=health)
    check_invariants(fleet, pending, running, result, policy, health)
    assert cycle(fleet, pending, running, policy, health=health) == result


@SETTINGS
@given(scenarios(running_tiers=[Tier.PREEMPTIBLE, Tier.STANDARD], with_health=False), st.sampled_from(LOSSES),
       st.data())  # fmt: skip
def test_within_guarantee_priority_starts_when_reclaimable_under_every_victim_loss(sc, loss, data):
    fleet, running, job = reclaimable_vip(sc, data)
    book = ContractBook.of([Contract("g", guaranteed_gpus=job.gpus)])
    policy = SchedulingPolicy(contracts=book, preempt_by_cost=True, reclaim_standard=True, victim_loss=loss)
    result = cycle(fleet, [job], running, policy)
    assert isinstance(result.for_job("vip"), Place), result.for_job("vip")
    check_invariants(fleet, [job], running, result, policy, {})
