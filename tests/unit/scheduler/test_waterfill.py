"""Pins that `fairshare.waterfill` gives, to the bit, what its plain form (below) gives: every share
is a float the entitlement cap compares, so a faster form must do the same arithmetic in the same order."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from brique.scheduler.fairshare import waterfill

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "200"))


def plain(capacity: float, demand: dict[str, float], weight: dict[str, float]) -> dict[str, float]:
    """The water-fill as first written: rounds of fills, tenants capped at their demand leave."""
    out = dict.fromkeys(demand, 0.0)
    live = {t for t, d in demand.items() if d > 0}
    left = capacity
    while live and left > 1e-9:
        wsum = sum(weight[t] for t in live)
        fill = {t: left * weight[t] / wsum for t in live}
        capped = {t for t in live if demand[t] - out[t] <= fill[t]}
        if not capped:
            for t in live:
                out[t] += fill[t]
            break
        for t in sorted(capped):
            left -= demand[t] - out[t]
            out[t] = demand[t]
        live -= capped
    return out


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.floats(0.0, 20_000.0),
    st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=3),
        st.tuples(
            st.one_of(st.integers(0, 600).map(float), st.floats(0.0, 900.0)),
            st.one_of(st.sampled_from([1.0, 2.0, 0.5, 3.0]), st.floats(0.1, 10.0)),
        ),
        max_size=12,
    ),
)
def test_waterfill_is_the_plain_water_fill_to_the_bit(capacity, tenants):
    demand = {t: d for t, (d, _) in tenants.items()}
    weight = {t: w for t, (_, w) in tenants.items()}
    got = waterfill(capacity, demand, weight)
    expect = plain(capacity, demand, weight)
    assert list(got) == list(expect)
    assert [v.hex() for v in got.values()] == [v.hex() for v in expect.values()]


def test_weights_share_what_demand_leaves():
    got = waterfill(100.0, {"a": 10.0, "b": 200.0, "c": 200.0}, {"a": 1.0, "b": 1.0, "c": 3.0})
    assert got == {"a": 10.0, "b": 22.5, "c": 67.5}
