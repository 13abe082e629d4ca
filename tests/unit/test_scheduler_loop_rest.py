"""How long the scheduling loop rests after a round: longer in a stream, longest when a stream's
round changed nothing (the fleet is full), never past its bounds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from brique.services.cycle_writes import CycleStats
from brique.workers.scheduler_loop import BURST_REST_S, MIN_REST_S, SchedulerLoop


def loop_after(stats: CycleStats | None) -> SchedulerLoop:
    loop = SchedulerLoop(SimpleNamespace(), interval_s=1.0, leadership=SimpleNamespace())  # type: ignore[arg-type]
    loop.last = stats
    return loop


@pytest.mark.parametrize("streaming", [False, True])
def test_a_round_that_placed_rests_briefly(streaming: bool) -> None:
    loop = loop_after(CycleStats(placed=3, duration_ms=10))
    assert loop._rest_s(streaming) == (BURST_REST_S if streaming else MIN_REST_S)
    loop.last = CycleStats(placed=3, duration_ms=120)
    assert loop._rest_s(streaming) == pytest.approx(0.36)  # three times the round
    loop.last = CycleStats(placed=3, duration_ms=900)
    assert loop._rest_s(streaming) == 0.5  # at most half an interval


def test_a_quiet_round_outside_a_stream_rests_as_usual() -> None:
    assert loop_after(CycleStats(duration_ms=10))._rest_s(False) == MIN_REST_S
    assert loop_after(None)._rest_s(True) == BURST_REST_S


@pytest.mark.parametrize("field", ["placed", "preempted", "rejected", "finished"])
def test_a_stream_round_that_changed_something_keeps_the_burst_rest(field: str) -> None:
    assert loop_after(CycleStats(duration_ms=50, **{field: 1}))._rest_s(True) == BURST_REST_S


def test_a_stream_round_that_changed_nothing_rests_an_interval() -> None:
    assert loop_after(CycleStats(waiting=9_000, duration_ms=100))._rest_s(True) == 1.0
    assert loop_after(CycleStats(waiting=9_000, duration_ms=500))._rest_s(True) == 1.5
    assert loop_after(CycleStats(waiting=9_000, duration_ms=5_000))._rest_s(True) == 2.0  # bounded
