"""The pure scheduler core: `schedule(snapshot, pending, policy, now) -> CycleResult`.

Inputs are values (`ClusterSnapshot`, `Job`s, `SchedulingPolicy`, a POSIX time);
the output is frozen decisions (`Place`, `Preempt`, `Reserve`, `Wait`, `Reject`),
each with reasons. A caller running many cycles keeps a `SchedulerState` and calls
`schedule_state` (same decisions, cost independent of the running work). See
docs/scheduler.md for the algorithms.
"""

from brique.domain.contracts import AdvanceReservation, Contract, ContractBook
from brique.domain.jobs import Job, RunningJob, Tier
from brique.domain.policy import ANYWHERE, PlacementPolicy, SchedulingPolicy, country_only
from brique.scheduler.cycle import admission, schedule, schedule_groups, schedule_state
from brique.scheduler.decisions import (
    CycleResult,
    Decision,
    Place,
    Preempt,
    Reason,
    ReasonCode,
    Reject,
    Reserve,
    Wait,
)
from brique.scheduler.fairshare import decay_usage
from brique.scheduler.snapshot import ClusterSnapshot
from brique.scheduler.state import SchedulerState
from brique.scheduler.topology import Topology

__all__ = [
    "ANYWHERE",
    "AdvanceReservation",
    "ClusterSnapshot",
    "Contract",
    "ContractBook",
    "CycleResult",
    "Decision",
    "Job",
    "Place",
    "PlacementPolicy",
    "Preempt",
    "Reason",
    "ReasonCode",
    "Reject",
    "Reserve",
    "RunningJob",
    "SchedulerState",
    "SchedulingPolicy",
    "Tier",
    "Topology",
    "Wait",
    "admission",
    "country_only",
    "decay_usage",
    "schedule",
    "schedule_groups",
    "schedule_state",
]
