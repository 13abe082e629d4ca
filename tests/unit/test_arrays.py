"""Job array ranges in Slurm's syntax, and the running limit's hold-back rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from brique.domain.arrays import held_by_limit, parse_array
from brique.domain.job_lifecycle import JobSpec, JobState
from brique.domain.job_records import JobRecord
from brique.errors import InvalidInput

T0 = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "indices", "limit"),
    [
        ("0-9999", tuple(range(10_000)), None),
        ("0-9999%10", tuple(range(10_000)), 10),
        ("0-9:2", (0, 2, 4, 6, 8), None),
        ("1,3,5-7", (1, 3, 5, 6, 7), None),
        ("4", (4,), None),
        ("3,1,1-2%1", (1, 2, 3), 1),
    ],
    ids=["range", "range-with-limit", "step", "list", "single", "overlap-sorted"],
)
def test_slurm_array_syntax(text: str, indices: tuple[int, ...], limit: int | None) -> None:
    spec = parse_array(text)
    assert spec.indices == indices and spec.max_running == limit


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("9-0", "ends before it starts"),
        ("0-9:0", "step"),
        ("0-9%0", "whole number >= 1"),
        ("a-b", "not an array range"),
        ("0-200000", "at most 100,000 tasks"),
        ("", "not an array range"),
    ],
    ids=["reversed", "zero-step", "zero-limit", "letters", "too-many", "empty"],
)
def test_bad_arrays_are_refused_naming_the_rule(text: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_array(text)
    assert rule in str(exc.value) and exc.value.field == "array"


def task(
    index: int, state: JobState = JobState.PENDING, array: str = "arr_a", limit: int | None = 2
) -> JobRecord:
    spec = JobSpec(name="t", project="p", command="x", gpus=1)
    return JobRecord(id=f"job_{array}_{index}", org_id="org_a", project_id="prj_a", name="t", state=state,
                     tier=spec.tier, gpus=1, spec=spec, submitted_at=T0, updated_at=T0, created_by="usr_a",
                     array_id=array, array_index=index, array_max_running=limit)  # fmt: skip


def test_limit_holds_back_all_but_the_free_slots_lowest_index_first() -> None:
    running = [task(0, JobState.RUNNING)]
    pending = [task(i) for i in (5, 3, 1, 2)] + [task(9, array="arr_free", limit=None)]
    held = held_by_limit(pending, running)
    assert sorted(held) == ["job_arr_a_2", "job_arr_a_3", "job_arr_a_5"]  # one slot left: index 1 takes it
    assert "at most 2 task(s) at once" in held["job_arr_a_5"]
