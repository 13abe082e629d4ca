"""Job arrays, Slurm's habit: one spec, N tasks told apart by their index.

`--array` takes Slurm's syntax: `0-9999`, `0-9:2` (a step), `1,3,5-7` (a list), each optionally
ending in `%N` (at most N tasks of the array run at once). A task is an ordinary job that also
carries its array's id and its index; it runs with BRIQUE_ARRAY_JOB_ID and BRIQUE_ARRAY_TASK_ID.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from brique.domain.job_records import JobRecord
from brique.errors import InvalidInput

MAX_TASKS = 100_000
MAX_INDEX = 10_000_000
_PART = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")
TASK_ID_ENV = "BRIQUE_ARRAY_TASK_ID"
LIMIT_CODE = "array_limit"
ARRAY_ID_ENV = "BRIQUE_ARRAY_JOB_ID"


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """Which task indices to create, and how many may run at once (None: no limit)."""

    indices: tuple[int, ...]
    max_running: int | None = None

    @property
    def text(self) -> str:
        """A compact form (for listings): `0-9999%10` when the indices are a plain range."""
        lo, hi = self.indices[0], self.indices[-1]
        plain = len(self.indices) == hi - lo + 1
        base = f"{lo}-{hi}" if plain else f"{len(self.indices)} tasks"
        return f"{base}%{self.max_running}" if self.max_running else base


def parse_array(text: str) -> ArraySpec:
    """`0-9999%10` -> ArraySpec; a clear `InvalidInput` (field `array`) naming the rule otherwise."""
    raw = text.strip()
    body, _, limit = raw.partition("%")
    max_running = _limit(limit) if _ else None
    indices: set[int] = set()
    for part in body.split(","):
        indices.update(_part(part.strip(), raw))
        if len(indices) > MAX_TASKS:
            raise InvalidInput(f"an array has at most {MAX_TASKS:,} tasks", field="array")
    if not indices:
        raise InvalidInput("an array needs at least one task index", field="array")
    return ArraySpec(tuple(sorted(indices)), max_running)


def _part(part: str, raw: str) -> range:
    m = _PART.match(part)
    if m is None:
        raise InvalidInput(f"'{raw}' is not an array range: use e.g. 0-99, 0-99:2, 1,3,5-7, or 0-99%10",
                           field="array")  # fmt: skip
    lo, hi, step = int(m[1]), int(m[2]) if m[2] else int(m[1]), int(m[3]) if m[3] else 1
    if hi < lo:
        raise InvalidInput(f"array range '{part}' ends before it starts", field="array")
    if step < 1:
        raise InvalidInput(f"array step in '{part}' must be at least 1", field="array")
    if hi > MAX_INDEX:
        raise InvalidInput(f"array indices go up to {MAX_INDEX:,}", field="array")
    if (hi - lo) // step + 1 > MAX_TASKS:
        raise InvalidInput(f"an array has at most {MAX_TASKS:,} tasks", field="array")
    return range(lo, hi + 1, step)


def _limit(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"'%{text}': the running limit after % must be a whole number >= 1", field="array")
    return int(text)


def task_env(array_id: str, index: int) -> dict[str, str]:
    return {ARRAY_ID_ENV: array_id, TASK_ID_ENV: str(index)}


def held_by_limit(pending: Iterable[JobRecord], active: Iterable[JobRecord]) -> dict[str, str]:
    """Pending tasks that their array's running limit holds back this cycle: job id -> why.

    Tasks holding GPUs count against the limit; the free slots go to the lowest indices first."""
    running = Counter(j.array_id for j in active if j.array_max_running)
    held: dict[str, str] = {}
    limited = sorted((j for j in pending if j.array_max_running), key=lambda j: (j.array_id, j.array_index))
    for job in limited:
        limit = job.array_max_running or 0
        if running[job.array_id] >= limit:
            held[job.id] = f"array {job.array_id} runs at most {limit} task(s) at once (%{limit})"
        else:
            running[job.array_id] += 1
    return held
