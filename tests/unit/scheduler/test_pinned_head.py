"""A firm head reservation stays on the racks it drained (`ClusterSnapshot.pins`, `schedule_state(pins=)`);
tenants below their entitlement take their turns first (`under_entitled_first`)."""

from __future__ import annotations

import dataclasses
import math

from scheduler_factories import NOW, make_fleet, make_job, make_site, rack_gpus, rack_of, run

from brique.domain.contracts import Contract, ContractBook
from brique.domain.policy import SchedulingPolicy
from brique.scheduler import ClusterSnapshot, Place, Reserve, SchedulerState, schedule, schedule_state

FLEET = make_fleet(make_site("fr-1", racks=2, nodes=4, gpus=4))  # two racks of 16
R1, R2 = rack_gpus(FLEET, "fr-1/r001"), rack_gpus(FLEET, "fr-1/r002")
HOUR = 3600.0
BOOK = ContractBook.of([Contract("big"), Contract("small")])
FIRM = SchedulingPolicy(contracts=BOOK, entitlement_cap_s=6 * HOUR, firm_under_entitled=True)


def busy() -> list:
    # r001: 4 GPUs drained (free), 12 busy, expected to end in 5 h; r002: 16 busy, expected to end in 1 h
    return [
        run(make_job("a", 12, "big", max_runtime_s=50 * HOUR, estimated_runtime_s=6 * HOUR), R1[4:]),
        run(make_job("b", 16, "big", max_runtime_s=50 * HOUR, estimated_runtime_s=2 * HOUR), R2),
    ]


HEAD = make_job("head", 8, "small")  # small holds nothing, below its entitlement: a firm head


def reserve(policy: SchedulingPolicy, pins: dict[str, tuple[str, ...]]) -> Reserve:
    snap = ClusterSnapshot.of(FLEET, running=busy())
    snap = ClusterSnapshot(snap.topology, snap.running, pins=pins)
    got = schedule(snap, [HEAD], policy, NOW).for_job("head")
    assert isinstance(got, Reserve)
    return got


def racks(r: Reserve) -> set[str]:
    return {rack_of(g) for g in r.gpus}


def test_without_a_pin_the_head_takes_the_earliest_rack() -> None:
    r = reserve(FIRM, {})
    assert racks(r) == {"fr-1/r002"} and r.start_at == NOW - 1000 + 2 * HOUR


def test_a_firm_head_stays_on_the_rack_of_its_last_reservation() -> None:
    r = reserve(FIRM, {"head": tuple(R1[:8])})
    assert racks(r) == {"fr-1/r001"} and r.start_at == NOW - 1000 + 6 * HOUR
    assert set(R1[:4]) <= set(r.gpus)  # the GPUs it drained stay held


def test_a_pin_binds_only_firm_heads() -> None:
    easy = SchedulingPolicy(contracts=BOOK, entitlement_cap_s=6 * HOUR)
    assert racks(reserve(easy, {"head": tuple(R1[:8])})) == {"fr-1/r002"}
    other = {"someone-else": tuple(R1[:8])}
    assert racks(reserve(FIRM, other)) == {"fr-1/r002"}


def test_a_pin_that_cannot_be_met_falls_back_to_the_earliest_rack() -> None:
    assert racks(reserve(FIRM, {"head": ("no/such/gpu",)})) == {"fr-1/r002"}


def test_kept_state_gives_the_same_pinned_reservation() -> None:
    state = SchedulerState(ClusterSnapshot.of(FLEET).topology, busy(), contracts=BOOK)
    pins = {"head": tuple(R1[:8])}
    assert schedule_state(state, [HEAD], FIRM, NOW, pins=pins).for_job("head") == reserve(FIRM, pins)


def test_tenants_below_their_entitlement_take_their_turns_first() -> None:
    fleet = make_fleet(make_site("fr-1", racks=1, nodes=4, gpus=4))  # one rack of 16
    gpus = rack_gpus(fleet, "fr-1/r001")
    running = [run(make_job("a0", 6, "a"), gpus[:6]), run(make_job("b0", 8, "b"), gpus[6:14])]  # 2 GPUs free
    pending = [make_job("a1", 2, "a", max_runtime_s=600), make_job("b1", 2, "b", max_runtime_s=600)]
    usage = {"a": 10 * 7 * 86_400.0 / math.log(2)}  # a held 10 GPUs lately: last by weighted fair share
    book = ContractBook.of([Contract("a"), Contract("b")])  # entitled to 8 each: a holds 6, b 8
    base = SchedulingPolicy(contracts=book, entitlement_cap_s=6 * HOUR)
    snap = ClusterSnapshot.of(fleet, running=running, usage=usage)
    assert isinstance(schedule(snap, pending, base, NOW).for_job("b1"), Place)
    first = dataclasses.replace(base, under_entitled_first=True)
    assert isinstance(schedule(snap, pending, first, NOW).for_job("a1"), Place)
