"""The pending-quota bound: admits without a count only while fresh and well below the quota."""

from __future__ import annotations

from brique.services.pending_quota import PendingBound


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_an_org_never_counted_is_counted() -> None:
    assert PendingBound().known("org_a", 10_000) is None


def test_the_bound_is_the_count_plus_what_was_admitted_since() -> None:
    bound = PendingBound(monotonic=Clock())
    bound.counted("org_a", 40)
    bound.admitted("org_a", 3)
    bound.admitted("org_b", 7)  # never counted: nothing to add to
    assert bound.known("org_a", 10_000) == 43
    assert bound.known("org_b", 10_000) is None


def test_a_stale_bound_is_counted_again() -> None:
    clock = Clock()
    bound = PendingBound(max_age_s=1.0, monotonic=clock)
    bound.counted("org_a", 5)
    clock.t = 1.0
    assert bound.known("org_a", 10_000) == 5
    clock.t = 1.01
    assert bound.known("org_a", 10_000) is None


def test_near_the_quota_every_submission_counts() -> None:
    bound = PendingBound(monotonic=Clock())
    assert PendingBound.margin(10_000) == 1_000 and PendingBound.margin(50) == 100
    bound.counted("org_a", 8_998)
    assert bound.known("org_a", 10_000) == 8_998
    bound.admitted("org_a", 2)  # 9,000: within the margin of 10,000
    assert bound.known("org_a", 10_000) is None
    bound.counted("org_a", 0)
    assert bound.known("org_a", 50) is None  # a quota below the margin is always counted
