"""Group commit: callers queued while a batch runs are served together, each with its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from brique.services.group_commit import GroupCommit


class Gate:
    """A batch runner whose first batch waits until released, so that later callers queue up."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()  # the first batch is running
        self.batches: list[list[int]] = []

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        if not self.batches:
            self.entered.set()
            self.release.wait(10)
        self.batches.append(list(items))
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]


def run_all(writer: GroupCommit[int, int], items: list[int], outcomes: dict[int, object]) -> list[threading.Thread]:
    def call(i: int) -> None:
        try:
            outcomes[i] = writer.run(i)
        except ValueError as exc:
            outcomes[i] = str(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in items]
    for t in threads:
        t.start()
    return threads


def wait_queued(writer: GroupCommit[int, int], n: int) -> None:
    deadline = time.monotonic() + 10
    while len(writer._queue) < n and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(writer._queue) == n


def test_callers_arriving_during_a_batch_share_the_next_one_and_each_get_their_own_outcome() -> None:
    gate = Gate()
    writer: GroupCommit[int, int] = GroupCommit(gate)
    outcomes: dict[int, object] = {}
    first = run_all(writer, [1], outcomes)
    assert gate.entered.wait(10)  # the first caller leads, its batch is running (held by the gate)
    rest = run_all(writer, [2, -3, 4, 5], outcomes)
    wait_queued(writer, 4)
    gate.release.set()
    for t in first + rest:
        t.join(10)
    assert gate.batches[0] == [1] and sorted(gate.batches[1]) == [-3, 2, 4, 5]
    assert outcomes == {1: 10, 2: 20, -3: "bad -3", 4: 40, 5: 50}  # one refusal fails nobody else
    assert (writer.batches, writer.items) == (2, 5)


def test_batches_are_bounded_and_the_lead_passes_on() -> None:
    gate = Gate()
    writer: GroupCommit[int, int] = GroupCommit(gate, max_batch=2)
    outcomes: dict[int, object] = {}
    threads = run_all(writer, [0], outcomes)
    assert gate.entered.wait(10)
    threads += run_all(writer, [1, 2, 3, 4, 5], outcomes)
    wait_queued(writer, 5)
    gate.release.set()
    for t in threads:
        t.join(10)
    assert all(len(b) <= 2 for b in gate.batches) and sorted(x for b in gate.batches for x in b) == list(range(6))
    assert outcomes == {i: i * 10 for i in range(6)}
    assert not writer._busy and not writer._queue


def test_a_failing_batch_fails_its_members_only_and_the_writer_goes_on() -> None:
    calls = []

    def runner(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            raise RuntimeError("database away")
        return [i for i in items]

    writer: GroupCommit[int, int] = GroupCommit(runner)
    with pytest.raises(RuntimeError, match="database away"):
        writer.run(1)
    assert writer.run(2) == 2



def _stream(gather_s: float) -> list[int]:
    """Five callers: one alone, two arriving during its commit, two more a little later."""
    sizes: list[int] = []

    def run_batch(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        time.sleep(0.02)  # a commit in flight
        return list(items)

    gc = GroupCommit(run_batch, gather_s=gather_s)

    def caller(i: int, delay: float) -> None:
        time.sleep(delay)
        assert gc.run(i) == i

    threads = [threading.Thread(target=caller, args=(i, d)) for i, d in enumerate((0, 0.004, 0.008, 0.03, 0.045))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sizes


def test_gather_lets_callers_on_their_way_join_a_stream() -> None:
    assert len(_stream(0.0)) >= 3  # without it: the late callers commit on their own
    gathered = _stream(0.1)
    assert len(gathered) == 2 and sum(gathered) == 5  # the second batch waited for them


def test_gather_never_delays_a_lone_caller() -> None:
    gc: GroupCommit[int, int] = GroupCommit(lambda items: list(items), gather_s=0.5)
    started = time.perf_counter()
    assert [gc.run(i) for i in range(3)] == [0, 1, 2]
    assert time.perf_counter() - started < 0.25


def test_callers_on_an_event_loop_await_their_outcomes_without_blocking_it() -> None:
    import asyncio

    gate = Gate()
    writer: GroupCommit[int, int] = GroupCommit(gate)

    async def main() -> list[object]:
        async def one(i: int) -> object:
            try:
                return await writer.run_async(i)
            except ValueError as exc:
                return str(exc)

        first = asyncio.ensure_future(one(1))
        while not gate.entered.is_set():  # the loop keeps turning while the writer's batch runs
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(one(i)) for i in (2, -3, 4)]
        await asyncio.sleep(0.01)
        gate.release.set()
        return [await f for f in [first, *rest]]

    assert asyncio.run(main()) == [10, 20, "bad -3", 40]
    assert gate.batches[0] == [1] and sorted(gate.batches[1]) == [-3, 2, 4]


def test_the_writer_thread_ends_when_idle_and_a_later_item_starts_another() -> None:
    writer: GroupCommit[int, int] = GroupCommit(lambda items: list(items), idle_exit_s=0.05)
    assert writer.run(1) == 1
    deadline = time.monotonic() + 5
    while writer._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer._thread is None
    assert writer.run(2) == 2
