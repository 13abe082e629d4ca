"""The input of a cycle: a value built outside the core (by a service or the simulator).

`ClusterSnapshot` = static topology + what runs now + decayed usage per tenant +
advance reservations + health overrides. Build the `Topology` once per fleet and
reuse it; `ClusterSnapshot.of(fleet, ...)` builds one for convenience (tests, tools).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from brique.domain.contracts import AdvanceReservation
from brique.domain.fleet import Fleet, HealthState
from brique.domain.jobs import RunningJob
from brique.scheduler.topology import Topology


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything the scheduler may know about the cluster at one instant.

    running: jobs holding GPUs (GPU ids are domain ids, `fr-par-1/r001/n07/g2`).
    usage: decayed GPU-seconds per tenant (see `scheduler.fairshare.decay_usage`).
    reservations: advance reservations not yet over.
    health: node or GPU id -> state, overriding the fleet file (draining/down never get new work).
    pins: job id -> GPU ids of its last head reservation (`Reserve.gpus`), handed back by a caller that
    keeps them: a firm head stays on the racks it drained (`SchedulingPolicy.firm_under_entitled`).
    """

    topology: Topology
    running: tuple[RunningJob, ...] = ()
    usage: Mapping[str, float] = field(default_factory=dict)
    reservations: tuple[AdvanceReservation, ...] = ()
    health: Mapping[str, HealthState] = field(default_factory=dict)
    pins: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        fleet: Fleet | Topology,
        running: Iterable[RunningJob] = (),
        usage: Mapping[str, float] | None = None,
        reservations: Iterable[AdvanceReservation] = (),
        health: Mapping[str, HealthState] | None = None,
    ) -> ClusterSnapshot:
        topo = fleet if isinstance(fleet, Topology) else Topology.from_fleet(fleet)
        return cls(
            topology=topo,
            running=tuple(running),
            usage=dict(usage or {}),
            reservations=tuple(reservations),
            health=dict(health or {}),
        )
