"""Group commit: concurrent callers' items are written in one transaction (one commit, one fsync on
SQLite, one round trip on PostgreSQL) instead of one each.

No thread of its own: the first caller to find the writer idle becomes its *leader* and runs
`run_batch` on everything queued (its own item first); callers arriving meanwhile queue up and wait.
Once its batch is done the leader hands the lead to the oldest waiting caller (it does not keep
serving others while its own answer is ready), so batches form naturally while a commit is in
flight and a lone caller pays nothing but a lock. Each caller gets its own outcome: `run_batch`
returns one result or exception per item, in order.

`gather_s` (PostgreSQL's `commit_delay`, in effect): a leader that finds others already waiting, or
whose previous batch held several items (a stream of concurrent callers), first waits this long,
without the interpreter lock, for the callers on their way to join. Without it, the members of a
batch just answered send their next items a moment after the next batch has been taken, and
batches stay near one or two items, each paying a transaction's fixed costs. A lone caller never waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")

BatchRunner = Callable[[Sequence[I]], Sequence["R | BaseException"]]


class _Slot(Generic[I, R]):
    __slots__ = ("done", "error", "item", "lead", "result")

    def __init__(self, item: I) -> None:
        self.item = item
        self.done = threading.Event()
        self.lead = False  # set with `done` when this caller must lead the next batch
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[I, R]):
    def __init__(self, run_batch: BatchRunner[I, R], max_batch: int = 64, gather_s: float = 0.0) -> None:
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.gather_s = gather_s
        self._last_size = 0  # items in the previous batch
        self._lock = threading.Lock()
        self._queue: list[_Slot[I, R]] = []
        self._busy = False  # a leader is running a batch
        self.batches = 0  # batches run and items in them (for benchmarks and tests)
        self.items = 0

    def run(self, item: I) -> R:
        """`item`'s outcome once the batch that holds it is done (its exception raised here)."""
        slot: _Slot[I, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            lead = not self._busy
            self._busy = True
        if not lead:
            slot.done.wait()
            lead = slot.lead
        if lead:
            self._lead()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _lead(self) -> None:
        if self.gather_s > 0 and (self._last_size > 1 or len(self._queue) > 1) and len(self._queue) < self.max_batch:
            time.sleep(self.gather_s)  # others are on their way: let them join this commit
        with self._lock:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._last_size = len(batch)
        try:
            outcomes = list(self.run_batch([s.item for s in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(outcomes)} outcomes")
        except BaseException as exc:
            outcomes = [exc] * len(batch)
        for slot, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                slot.error = outcome
            else:
                slot.result = outcome
        with self._lock:
            self.batches += 1
            self.items += len(batch)
            following = self._queue[0] if self._queue else None
            if following is None:
                self._busy = False
            else:
                following.lead = True
        for slot in batch:
            slot.done.set()
        if following is not None:
            following.done.set()
