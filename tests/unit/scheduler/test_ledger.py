"""Pins that the ledger kept by deltas, which classifies a tenant whose work was only added at the end of its
rank order from where its last classification ended (`Ledger._extend`), gives what a ledger built afresh over
the same running work gives: guarantee left, priority guarantee left, shares left, protected and borrowed."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduler_factories import NOW, make_fleet, make_job, make_site

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.scheduler import Topology
from brique.scheduler.alloc import Alloc
from brique.scheduler.quota import Ledger

EXAMPLES = int(os.environ.get("BRIQUE_HYPOTHESIS_EXAMPLES", "100"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TENANTS = ["t0", "t1", "t2"]
TOPO = Topology.from_fleet(make_fleet(make_site("s0", racks=2, nodes=2), make_site("s1", racks=1, nodes=2)))


def _view(ledger: Ledger, allocs: dict[int, Alloc]) -> tuple:
    flags = sorted((a.job.id, a.protected, a.borrowed) for a in allocs.values())
    return (ledger.held, ledger.wide_left, ledger.site_left, ledger.prio_wide_left, ledger.prio_site_left,
            ledger.share_left, flags)  # fmt: skip


@st.composite
def books(draw):
    contracts = [Contract(t, guaranteed_gpus=draw(st.integers(0, 12))) for t in TENANTS]
    if draw(st.booleans()):
        contracts.append(Contract("t1", guaranteed_gpus=draw(st.integers(1, 8)), site="s0"))
    shares = [("t2", "p0", draw(st.integers(0, 4)))] if draw(st.booleans()) else []
    return ContractBook.of(contracts, project_shares=shares)


@SETTINGS
@given(books(), st.data())
def test_ledger_kept_by_deltas_classifies_as_a_fresh_one(book, data):
    ledger = Ledger(book, TOPO)
    allocs: dict[int, Alloc] = {}
    t = NOW
    for k in range(data.draw(st.integers(1, 40))):
        step = data.draw(st.sampled_from("aaaarsc"))
        if step == "a":  # mostly later starts (appended), sometimes earlier ones (inserted)
            t += data.draw(st.sampled_from([0.0, 5.0, 60.0]))
            started = t - data.draw(st.sampled_from([0.0, 0.0, 0.0, 500.0]))
            n = data.draw(st.integers(1, 6))
            job = make_job(f"j{k}", n, data.draw(st.sampled_from(TENANTS)), data.draw(st.sampled_from(list(Tier))),
                           project=data.draw(st.sampled_from(["p0", "p1"])))  # fmt: skip
            first = data.draw(st.integers(0, TOPO.gpu_count - n))
            stop_at = NOW + 30 if data.draw(st.integers(0, 6)) == 0 else None
            allocs[k] = a = Alloc(job, list(range(first, first + n)), started, stop_at, stopping=stop_at is not None)
            ledger.add(k, a)
        elif step == "r" and allocs:
            key = data.draw(st.sampled_from(sorted(allocs)))
            ledger.remove(key, allocs.pop(key))
        elif step == "s" and allocs:
            a = allocs[data.draw(st.sampled_from(sorted(allocs)))]
            ledger.stop(a)
            a.stop_at, a.stopping = NOW + 30, True
        else:
            ledger.refresh()
            got = _view(ledger, allocs)
            fresh = Ledger(book, TOPO)
            for key, a in allocs.items():
                fresh.add(key, a)
            fresh.refresh()
            assert got == _view(fresh, allocs)
