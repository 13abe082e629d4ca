"""The console's cycle-time chart keeps one bucket per minute: count, median and max, for a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brique.workers.cycle_history import CycleHistory

T0 = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)


def test_buckets_per_minute_with_median_and_max() -> None:
    h = CycleHistory(minutes=3)
    for i, ms in enumerate([10.0, 30.0, 20.0]):
        h.record(T0 + timedelta(seconds=i), ms)
    h.record(T0 + timedelta(minutes=1), 5.0)
    points = h.points(T0 + timedelta(minutes=2), hours=1)
    assert [(p.minute.minute, p.cycles, p.median_ms, p.max_ms) for p in points] == [
        (0, 3, 20.0, 30.0),
        (1, 1, 5.0, 5.0),
    ]


def test_old_minutes_fall_off_and_the_window_is_honoured() -> None:
    h = CycleHistory(minutes=2)
    for m in range(4):
        h.record(T0 + timedelta(minutes=m), float(m))
    assert [p.max_ms for p in h.points(T0 + timedelta(minutes=4), hours=1)] == [
        2.0,
        3.0,
    ]  # kept: the last two
    assert [p.max_ms for p in h.points(T0 + timedelta(hours=2), hours=1)] == []  # nothing in the last hour
