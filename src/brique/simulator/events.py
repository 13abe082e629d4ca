"""Events in virtual time, and the queue that orders them.

At one instant, events are applied in kind order (`END` < `REQUEUE` < `ARRIVE` < `WAKE`), then
ties by insertion sequence; one scheduling cycle then runs for the instant. The
queue is a binary heap of plain tuples `(time, kind, seq, job, attempt)`.

- `END`: a job's run ends: it completed (`attempt` matches the job's current run)
  or, after a stop signal, was killed at the end of its grace period and is requeued.
- `REQUEUE`: a preempted job whose GPUs were handed over is killed and queued again.
- `ARRIVE`: a trace job is submitted (the engine reads arrivals straight from the
  sorted trace rather than through the heap; the kind fixes their order).
- `WAKE`: the head job's reservation start time (a cycle runs even if nothing else
  happened then).
"""

from __future__ import annotations

import heapq

END = 0
REQUEUE = 1
ARRIVE = 2
WAKE = 3

Event = tuple[float, int, int, int, int]


class EventQueue:
    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._seq = 0

    def push(self, time: float, kind: int, job: int = -1, attempt: int = 0) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (time, kind, self._seq, job, attempt))

    def __len__(self) -> int:
        return len(self._heap)

    def next_time(self) -> float:
        return self._heap[0][0]

    def pop_instant(self) -> list[Event]:
        """Every event at the earliest time, in order."""
        heap = self._heap
        t = heap[0][0]
        out = [heapq.heappop(heap)]
        while heap and heap[0][0] == t:
            out.append(heapq.heappop(heap))
        return out
