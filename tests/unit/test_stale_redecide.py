"""A user's cancel/suspend/resume that lost a race with the scheduling loop is decided again."""

from __future__ import annotations

import pytest

from brique.errors import NotLeader, StaleWrite
from brique.services.stale import ATTEMPTS, redecide_on_stale


def test_a_stale_write_is_decided_again_until_it_goes_through() -> None:
    calls = []

    def unit() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise StaleWrite("job_x")
        return "done"

    assert redecide_on_stale(unit) == "done" and len(calls) == 3


def test_a_race_lost_every_time_reaches_the_caller_after_the_last_attempt() -> None:
    calls = []

    def unit() -> str:
        calls.append(1)
        raise StaleWrite("job_x")

    with pytest.raises(StaleWrite):
        redecide_on_stale(unit)
    assert len(calls) == ATTEMPTS


def test_a_lost_lead_is_not_retried() -> None:
    calls = []

    def unit() -> str:
        calls.append(1)
        raise NotLeader("leader term 3")

    with pytest.raises(NotLeader):
        redecide_on_stale(unit)
    assert len(calls) == 1
