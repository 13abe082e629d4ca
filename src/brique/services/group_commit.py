"""Group commit: concurrent callers' items are written in one transaction (one commit, one fsync on
SQLite, one round trip on PostgreSQL) instead of one each.

One writer thread per `GroupCommit` runs `run_batch` on everything queued, then on what queued up
meanwhile, so batches form naturally while a commit is in flight. Callers either block (`run`) or
await (`run_async`, from an event loop). The awaiting path is why there is a thread of its own: an
API request hands its item over without a worker thread of its own, the writer is woken only when
idle, and a batch's answers go back to the loop in one call. On 2 cores each thread hand-off cost
about a tenth of a submission's CPU (the woken thread and the waker contend for the interpreter).
The thread starts on the first item and ends after `idle_exit_s` without any. Each caller gets its
own outcome: `run_batch` returns one result or exception per item, in order.

`gather_s` (PostgreSQL's `commit_delay`, in effect; 1 ms by default in `Settings`): a writer that
finds several items queued, or whose previous batch held several (a stream of concurrent callers),
first waits this long, without the interpreter lock, for the callers on their way to join (with 4
clients, batches of about 4 instead of 2). A lone caller never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")

BatchRunner = Callable[[Sequence[I]], Sequence["R | BaseException"]]


class _Slot(Generic[I, R]):
    __slots__ = ("done", "future", "item", "loop", "outcome")

    def __init__(self, item: I, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.item = item
        self.loop = loop
        self.future: asyncio.Future[R] | None = loop.create_future() if loop is not None else None
        self.done = threading.Event() if loop is None else None
        self.outcome: R | BaseException | None = None

    def result(self) -> R:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome  # type: ignore[return-value]


def _settle(slots: list[_Slot[Any, Any]]) -> None:
    """On the slots' event loop: their futures get their outcomes (a cancelled caller's is dropped)."""
    for slot in slots:
        future = slot.future
        if future is None or future.done():
            continue
        if isinstance(slot.outcome, BaseException):
            future.set_exception(slot.outcome)
        else:
            future.set_result(slot.outcome)


class GroupCommit(Generic[I, R]):
    def __init__(
        self, run_batch: BatchRunner[I, R], max_batch: int = 64, gather_s: float = 0.0, idle_exit_s: float = 10.0
    ) -> None:
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.gather_s = gather_s
        self.idle_exit_s = idle_exit_s
        self._last_size = 0  # items in the previous batch
        self._cv = threading.Condition(threading.Lock())
        self._queue: list[_Slot[I, R]] = []
        self._thread: threading.Thread | None = None
        self._idle = False  # the writer waits for items (only then is it notified)
        self._busy = False  # a batch is running (for tests)
        self.batches = 0  # batches run and items in them (for benchmarks and tests)
        self.items = 0

    def run(self, item: I) -> R:
        """`item`'s outcome once the batch that holds it is done (its exception raised here)."""
        slot: _Slot[I, R] = _Slot(item)
        self._enqueue(slot)
        slot.done.wait()  # type: ignore[union-attr]
        return slot.result()

    async def run_async(self, item: I) -> R:
        """`run` for a caller on an event loop: the loop is not blocked and no thread is taken."""
        slot: _Slot[I, R] = _Slot(item, asyncio.get_running_loop())
        self._enqueue(slot)
        return await slot.future  # type: ignore[misc]

    def _enqueue(self, slot: _Slot[I, R]) -> None:
        with self._cv:
            self._queue.append(slot)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="group-commit", daemon=True)
                self._thread.start()
            elif self._idle:
                self._idle = False
                self._cv.notify()

    def _serve(self) -> None:
        while True:
            with self._cv:
                while not self._queue:
                    self._idle = True
                    if not self._cv.wait(self.idle_exit_s) and not self._queue:
                        self._idle = False
                        self._thread = None  # a later item starts another
                        return
                self._idle = False
                self._busy = True
            self._run_one()

    def _run_one(self) -> None:
        if self.gather_s > 0 and (self._last_size > 1 or len(self._queue) > 1) and len(self._queue) < self.max_batch:
            time.sleep(self.gather_s)  # others are on their way: let them join this commit
        with self._cv:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._last_size = len(batch)
        try:
            outcomes = list(self.run_batch([s.item for s in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(outcomes)} outcomes")
        except BaseException as exc:  # the writer goes on: its callers get the error
            outcomes = [exc] * len(batch)
        with self._cv:
            self.batches += 1
            self.items += len(batch)
            self._busy = bool(self._queue)
        self._deliver(batch, outcomes)

    @staticmethod
    def _deliver(batch: list[_Slot[I, R]], outcomes: list[R | BaseException]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Slot[I, R]]] = {}
        for slot, outcome in zip(batch, outcomes, strict=True):
            slot.outcome = outcome
            if slot.loop is None:
                slot.done.set()  # type: ignore[union-attr]
            else:
                by_loop.setdefault(slot.loop, []).append(slot)
        for loop, slots in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, slots)  # one wake-up of each loop per batch
