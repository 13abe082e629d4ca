"""Pins that `FairQueue`'s shortcuts (cursors, re-popping the current tenant without the heap) pop in the
order of the plain rule: put the tenant back with its key recomputed, pop the lowest (key, tenant)."""

from __future__ import annotations

import heapq
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_factories import make_job

from brique.domain.jobs import Job, Tier
from brique.scheduler.queue import FairQueue, Merge, canonical

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "60"))


def reference(jobs: list[Job], held: dict[str, int], placed: set[str]) -> list[str]:
    queues: dict[str, list[Job]] = {}
    for j in sorted(jobs, key=lambda j: (j.tier != Tier.PRIORITY, j.submitted_at, j.id)):
        queues.setdefault(j.tenant, []).append(j)
    heap = [(held[t], t) for t in sorted(queues)]
    heapq.heapify(heap)
    out = []
    while heap:
        _, t = heapq.heappop(heap)
        job = queues[t].pop(0)
        out.append(job.id)
        if job.id in placed:
            held[t] += job.gpus
        if queues[t]:
            heapq.heappush(heap, (held[t], t))
    return out


def drawn(data) -> tuple[list[Job], set[str], dict[str, int]]:
    """Up to 30 jobs of tenants a-c, those whose pop places them, and each tenant's GPUs held at first."""
    n = data.draw(st.integers(0, 30))
    jobs = [
        make_job(f"j{i:02d}", data.draw(st.integers(1, 4)), data.draw(st.sampled_from("abc")),
                 data.draw(st.sampled_from(list(Tier))), submitted_at=float(data.draw(st.integers(0, 5))))
        for i in range(n)
    ]  # fmt: skip
    placed = {j.id for j in jobs if data.draw(st.booleans())}
    return jobs, placed, {t: data.draw(st.integers(0, 3)) for t in "abc"}


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_pop_order_is_the_plain_rule(data) -> None:
    jobs, placed, start = drawn(data)
    held = dict(start)
    q = FairQueue(canonical(jobs), lambda t: held[t])
    got = []
    while (job := q.pop()) is not None:
        got.append(job.id)
        if job.id in placed:
            held[job.tenant] += job.gpus  # its key grows, as after a placement
    assert got == reference(jobs, dict(start), placed)


def test_drain_returns_what_was_not_popped() -> None:
    jobs = [make_job(f"j{i}", 1, "ab"[i % 2], submitted_at=float(i)) for i in range(6)]
    q = FairQueue(canonical(jobs), lambda t: 0)
    first = q.pop()
    assert first is not None and first.id == "j0"
    assert sorted(j.id for j in q.drain()) == ["j1", "j2", "j3", "j4", "j5"]
    assert q.pop() is None


def lanes_of(jobs: list[Job], data) -> dict:
    """Each tenant's jobs (priority first, canonical) cut into random segments: lists read from an index
    (with junk before it), empty ones, and iterators."""
    per: dict[str, list[Job]] = {}
    for j in sorted(jobs, key=lambda j: (j.tier != Tier.PRIORITY, j.submitted_at, j.id)):
        per.setdefault(j.tenant, []).append(j)
    lanes: dict = {}
    for t, js in per.items():
        segs: list = []
        at = 0
        while at < len(js):
            n = data.draw(st.integers(1, 5))
            part = js[at : at + n]
            at += len(part)
            kind = data.draw(st.sampled_from(["list", "offset", "iter"]))
            if kind == "iter":
                segs.append(iter(part))
            elif kind == "offset":
                segs.append((js[: at - len(part)] + part, at - len(part)))
            else:
                segs.append((part, 0))
            if data.draw(st.booleans()):
                segs.append(([], 0))  # an empty segment is skipped
        lanes[t] = segs
    return lanes


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_lanes_read_in_segments_pop_in_the_plain_order(data) -> None:
    jobs, placed, start = drawn(data)
    held = dict(start)
    q = FairQueue.of_lanes(lanes_of(jobs, data), lambda t: held[t])
    got: list[str] = []
    while (job := q.pop()) is not None:
        got.append(job.id)
        if job.id in placed:
            held[job.tenant] += job.gpus
        elif data.draw(st.booleans()):  # take the tenant's next jobs directly, as a stuck run does
            rest, at = q.rest()
            assert rest is not None
            k = 0
            while at + k < len(rest) and rest[at + k].id not in placed:  # keys unchanged: same tenant
                k += 1
            k = data.draw(st.integers(0, k))
            got += [j.id for j in rest[at : at + k]]
            q.skip(k)
    assert got == reference(jobs, dict(start), placed)


def test_drain_reads_every_segment_left() -> None:
    jobs = [make_job(f"j{i}", 1, "a", submitted_at=float(i)) for i in range(6)]
    q = FairQueue.of_lanes({"a": [(jobs[:2], 1), iter(jobs[2:4]), (jobs, 4)]}, lambda t: 0)
    first = q.pop()
    assert first is not None and first.id == "j1"
    assert [j.id for j in q.drain()] == ["j2", "j3", "j4", "j5"]


def test_a_lane_is_read_only_once_its_tenant_is_popped() -> None:
    """Lanes of lists and merges are known non-empty without reading them: a tenant that is never popped
    costs its key, not a chunk of its merge; one popped later reads the same jobs."""
    a = [make_job(f"a{i}", 1, "a", submitted_at=float(i)) for i in range(3)]
    b = [make_job(f"b{i}", 1, "b", submitted_at=float(i), tier=Tier.PREEMPTIBLE) for i in range(3)]
    merge = Merge(a[:0], b)
    q = FairQueue.of_lanes({"a": [(a, 0)], "b": [([], 0), merge]}, lambda t: 0 if t == "a" else 1)
    assert (merge.i, merge.j) == (0, 0)
    assert [q.pop().id for _ in range(3)] == ["a0", "a1", "a2"]  # type: ignore[union-attr]
    assert (merge.i, merge.j) == (0, 0)
    assert [j.id for j in iter(q.pop, None)] == ["b0", "b1", "b2"]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_a_merge_read_in_chunks_is_heapq_merge(data) -> None:
    ids = data.draw(st.lists(st.integers(0, 60), unique=True, max_size=40))
    jobs = [make_job(f"j{i:02d}", 1, "a", submitted_at=float(i // 4)) for i in ids]
    cut = data.draw(st.lists(st.booleans(), min_size=len(jobs), max_size=len(jobs)))
    a = canonical(j for j, c in zip(jobs, cut, strict=True) if c)
    b = canonical(j for j, c in zip(jobs, cut, strict=True) if not c)
    m = Merge(a, b)
    got: list[Job] = []
    while chunk := m.take(data.draw(st.integers(1, 9))):
        got += chunk
    assert got == list(heapq.merge(a, b, key=lambda j: (j.submitted_at, j.id)))
