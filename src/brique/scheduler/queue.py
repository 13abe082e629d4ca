"""Queue order: who is considered first in a cycle.

1. Priority-tier jobs, oldest first (submit time, then id), are offered the
   guarantee path; those that are not within their tenant's guarantee fall through.
2. Everything else that is not preemptible (priority beyond guarantee, standard),
   interleaved between tenants by weighted fair share (`fairshare.py`); inside a
   tenant, priority before standard, then oldest first; with project weights, a
   tenant's turn goes to its project with the lowest key (held GPUs / weight).
3. Preemptible-tier jobs last, by the same fair-share interleave.

The order depends only on the input values, never on the order of the input list.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from itertools import islice
from operator import attrgetter
from typing import cast

from brique.domain.jobs import Job, Tier

_CANONICAL = attrgetter("submitted_at", "id")
_CHUNK = 8  # first read of an iterator segment (`FairQueue.of_lanes`); later reads double


def canonical(jobs: Iterable[Job]) -> list[Job]:
    """Jobs sorted by (submit time, id): the order ties are broken in."""
    return sorted(jobs, key=_CANONICAL)


TenantLists = dict[str, tuple[list[Job], list[Job]]]  # per tenant: (priority jobs, the others)


class Merge:
    """Two lists in canonical order (unique ids) read as one, in chunks (`heapq.merge(a, b, key=...)`'s
    order): a chunk that one list gives whole is copied by slicing, else the lists are merged job by job."""

    __slots__ = ("a", "b", "i", "j")

    def __init__(self, a: Sequence[Job], b: Sequence[Job]) -> None:
        self.a, self.b, self.i, self.j = a, b, 0, 0

    def take(self, n: int) -> Sequence[Job]:
        """The next `n` jobs (fewer at the end)."""
        a, b, i, j = self.a, self.b, self.i, self.j
        na, nb = len(a), len(b)
        out: list[Job] = []
        if i < na and j < nb:
            x, y = a[i], b[j]
            k = i + n  # all `n` from one list when its n-th job still sorts first (one test)
            if _before(x, y) and k <= na and _before(a[k - 1], y):
                self.i = k
                return a[i:k]
            k = j + n
            if _before(y, x) and k <= nb and _before(b[k - 1], x):
                self.j = k
                return b[j:k]
            while len(out) < n:  # interleaved: job by job (short runs cost less than bisections)
                if _before(x, y):
                    out.append(x)
                    i += 1
                    if i == na:
                        break
                    x = a[i]
                else:
                    out.append(y)
                    j += 1
                    if j == nb:
                        break
                    y = b[j]
        room = n - len(out)
        if room > 0:  # one list is done: the other's next jobs
            if i < na:
                out += a[i : i + room]
                i = min(na, i + room)
            elif j < nb:
                out += b[j : j + room]
                j = min(nb, j + room)
        self.i, self.j = i, j
        return out


def _before(x: Job, y: Job) -> bool:
    """`x` sorts before `y` in canonical order: `_CANONICAL(x) < _CANONICAL(y)`, without the tuples."""
    sx, sy = x.submitted_at, y.submitted_at
    return sx < sy or (sx == sy and x.id < y.id)


Segment = tuple[Sequence[Job], int] | Iterator[Job] | Merge  # part of a lane (`FairQueue.of_lanes`)
_NONE: list[Job] = []  # a lane's list before its first read (never appended to)


def _known_nonempty(segments: list[Segment]) -> bool:
    """The lane has a job, known without reading it (no iterator before its first non-empty segment)."""
    for seg in segments:
        if isinstance(seg, tuple):
            if seg[1] < len(seg[0]):
                return True
        elif isinstance(seg, Merge):
            if seg.i < len(seg.a) or seg.j < len(seg.b):
                return True
        else:
            return False
    return False


def by_tenant(jobs: Iterable[Job], share_preemptible: Collection[str] = frozenset()) -> tuple[TenantLists, TenantLists]:
    """One pass over `jobs` (canonical order): per tenant, (priority, standard) jobs for the share
    phase, and ([], preemptible) for the scavenge phase, each list in input order (as `FairQueue` splits).
    The preemptible jobs of the tenants in `share_preemptible` go with their share-phase turn instead."""
    share: TenantLists = {}
    scavenge: TenantLists = {}
    prio, pre = Tier.PRIORITY, Tier.PREEMPTIBLE
    for j in jobs:
        tier = j.tier
        into = scavenge if tier == pre and j.tenant not in share_preemptible else share
        pair = into.get(j.tenant)
        if pair is None:
            pair = into[j.tenant] = ([], [])
        pair[tier is not prio].append(j)
    return share, scavenge


def tenant_order(job: Job) -> tuple[bool, float, str]:
    return (job.tier != Tier.PRIORITY, job.submitted_at, job.id)


class _Lane:
    """One tenant's jobs in a `FairQueue`: the list its cursor reads, and (`of_lanes`) the segments not read yet."""

    def __init__(self, tenant: str, jobs: Sequence[Job], at: int, src: list[Segment] | None) -> None:
        self.tenant = tenant
        self.jobs = jobs
        self.at = at
        self.src = src  # None: no segment left


class FairQueue:
    """Pops jobs tenant by tenant, lowest share key first (`jobs` must be in canonical order).

    Each tenant's jobs sit in one list read from a cursor (no per-pop copies). The tenant
    just popped is put back with its key recomputed; when that key still sorts first (its
    job was not placed, so its key did not grow), it is popped again without touching the
    heap: the same order as pushing and popping it, at a fraction of the cost.

    `of_lanes` reads each tenant's jobs from segments instead: the caller's lists in place from an
    index, or an iterator in doubling chunks, as the cursor reaches the end of the current one: a
    cycle over a deep queue costs what it pops.
    """

    _key: Callable[[str], float]
    _project_key: Callable[[Job], float] | None
    _lanes: dict[str, _Lane]  # per tenant with jobs left (or not known to have none)
    _heap: list[tuple[float, str]]
    _cur: _Lane | None  # the lane of the tenant just popped

    def __init__(
        self, jobs: Iterable[Job], key: Callable[[str], float], project_key: Callable[[Job], float] | None = None
    ) -> None:
        per: dict[str, tuple[list[Job], list[Job]]] = {}
        prio = Tier.PRIORITY
        for j in jobs:  # jobs come in canonical order: a stable split keeps it inside each tier
            pair = per.get(j.tenant)
            if pair is None:
                pair = per[j.tenant] = ([], [])
            pair[j.tier is not prio].append(j)
        self._setup(per, key, project_key)

    @classmethod
    def of_tenants(
        cls,
        per: dict[str, tuple[list[Job], list[Job]]],
        key: Callable[[str], float],
        project_key: Callable[[Job], float] | None = None,
    ) -> FairQueue:
        """The queue over jobs already split per tenant into (priority, other) lists (`by_tenant`)."""
        q = cls((), key, project_key)
        q._setup(per, key, project_key)
        return q

    @classmethod
    def of_lanes(cls, lanes: dict[str, list[Segment]], key: Callable[[str], float]) -> FairQueue:
        """The queue over each tenant's jobs in its order (priority first), read lazily (no project keys):
        a lane is a list of segments, each a list read in place from an index or an iterator read in
        chunks (a merge)."""
        q = cls((), key)
        got = q._lanes
        for t, segments in lanes.items():
            lane = _Lane(t, _NONE, 0, segments)
            # known non-empty: its first jobs are read when it is first popped (`pop`); else read them now
            if _known_nonempty(segments) or _next(lane, 0):
                got[t] = lane
        heap: list[tuple[float, str]] = []
        for t in sorted(got):
            heap.append((key(t), t))
        heapq.heapify(heap)
        q._heap = heap
        q._cur = None
        return q

    def _setup(
        self,
        per: dict[str, tuple[list[Job], list[Job]]],
        key: Callable[[str], float],
        project_key: Callable[[Job], float] | None,
    ) -> None:
        self._key = key
        self._project_key = project_key
        self._lanes = {t: _Lane(t, first + second if second else first, 0, None) for t, (first, second) in per.items()}
        self._heap = [(key(t), t) for t in sorted(self._lanes)]
        heapq.heapify(self._heap)
        self._cur = None

    def pop(self) -> Job | None:
        lane = self._cur
        heap = self._heap
        if lane is not None:
            self._cur = None
            if lane.at < len(lane.jobs) or _more(lane):
                tenant = lane.tenant
                k = self._key(tenant)
                if heap:
                    top = heap[0]
                    if top[0] < k or (top[0] == k and top[1] < tenant):  # `heap[0] < (k, tenant)`
                        lane = self._lanes[heapq.heappushpop(heap, (k, tenant))[1]]
            else:
                lane = None
        if lane is None:
            if not heap:
                return None
            lane = self._lanes[heapq.heappop(heap)[1]]
        self._cur = lane
        if lane.jobs is _NONE:  # a lane not read yet (`of_lanes`): it has jobs
            _next(lane, 0)
        queue = lane.jobs
        at = lane.at
        if self._project_key is None or len(queue) - at < 2:
            lane.at = at + 1
            return queue[at]
        return self._pop_by_project(cast(list[Job], queue), at, self._project_key)  # `_setup`'s own lists

    @staticmethod
    def _pop_by_project(queue: list[Job], at: int, key: Callable[[Job], float]) -> Job:
        """The first job of the project with the lowest key (priority tier first)."""
        heads: dict[str, int] = {}
        for i in range(at, len(queue)):
            heads.setdefault(queue[i].project, i)
        i = min(heads.values(), key=lambda n: (queue[n].tier != Tier.PRIORITY, key(queue[n]), queue[n].project))
        return queue.pop(i)

    def rest(self) -> tuple[Sequence[Job] | None, int]:
        """The list and cursor of the tenant just popped (None with project keys: they reorder it).

        For a caller that knows that tenant's key has not changed since: its next pops are the list's
        next jobs, in order (see `pop`), and it may take them directly and `skip` over them."""
        lane = self._cur
        if lane is None or self._project_key is not None:
            return None, 0
        return lane.jobs, lane.at

    def skip(self, n: int) -> None:
        """The tenant just popped gave its next `n` jobs (taken through `rest`)."""
        if n:
            lane = self._cur
            assert lane is not None
            lane.at += n

    def done(self) -> None:
        """Put the tenant of the last popped job back, with its key recomputed."""
        lane = self._cur
        self._cur = None
        if lane is not None and (lane.at < len(lane.jobs) or _more(lane)):
            heapq.heappush(self._heap, (self._key(lane.tenant), lane.tenant))

    def drain(self) -> list[Job]:
        """Everything not popped yet, in no particular fairness order (for bulk waits)."""
        if self._cur is not None:
            self.done()
        rest: list[Job] = []
        for _, t in sorted(self._heap):
            lane = self._lanes[t]
            rest += lane.jobs[lane.at :]
            src, lane.src = lane.src, None
            for seg in src or ():
                if isinstance(seg, tuple):
                    rest += seg[0][seg[1] :]
                elif isinstance(seg, Merge):
                    rest += seg.take(len(seg.a) + len(seg.b))
                else:
                    rest += seg
        self._heap.clear()
        return rest


def _more(lane: _Lane) -> bool:
    """Move the lane's cursor to its next jobs (`of_lanes`); False: none left."""
    if lane.src is None:
        return False
    if _next(lane, len(lane.jobs)):
        return True
    lane.src = None
    return False


def _next(lane: _Lane, last: int) -> bool:
    """The next non-empty segment of the lane becomes its list (an iterator's next chunk: twice `last`)."""
    segments = lane.src
    while segments:
        seg = segments[0]
        if isinstance(seg, tuple):
            del segments[0]
            jobs, start = seg
            if start < len(jobs):
                lane.jobs, lane.at = jobs, start
                return True
            continue
        n = max(_CHUNK, 2 * last)
        chunk = seg.take(n) if isinstance(seg, Merge) else list(islice(seg, n))
        if chunk:
            lane.jobs, lane.at = chunk, 0
            return True
        del segments[0]
    return False
