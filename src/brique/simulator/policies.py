"""The three policies the simulator compares, all run by the same scheduler core.

Each policy is a setting of the core's knobs (`SchedulingPolicy`) plus how a trace
job is presented to the core (tenant and tier). Metrics always use the trace's real
tenant and tier, so the policies are compared on the same footing.

- `fifo`: the textbook baseline. Every job is shown to the core as one tenant, tier
  `standard`, no contracts: the core's order is then (submit time, job id), the first
  job that cannot start gets a reservation and, with backfill off, everything behind
  it waits. No preemption.
- `slurm-like`: a model of Slurm's defaults (multifactor priority, EASY backfill,
  QOS preemption). Tenants are Slurm accounts with their fair-share weights (contract
  weights) and no guarantees; fair share is over usage decayed with a 7-day half-life
  (Slurm's PriorityDecayHalfLife default). Within an account, the priority tier (QOS
  high) goes first, then age. EASY backfill on user estimates (jobs without one count
  as running to their time limit). Standard and priority jobs may preempt the
  preemptible tier (QOS `preempt` with PreemptMode=REQUEUE); nothing else is preempted.
  Differences from real Slurm: priority is an interleave by fair share between
  accounts instead of one weighted sum over all jobs, and placement is the core's
  topology-aware best fit (Slurm's select/cons_tres with topology/tree is similar).
- `brique`: the production policy: contracts with guarantees (within-guarantee
  priority jobs start at once, preempting the non-priority work that loses least:
  preemptible, borrowed or standard, `reclaim_standard`), weighted fair share of idle capacity, EASY backfill on runtimes predicted
  from history (`predict.py`), and cost-aware preemption by standard jobs: work
  (re)started less than `PROTECT_S` ago is protected, and a job preempts only if the
  GPU-seconds its victims would lose are at most `WAIT_RATIO` x its GPUs x its expected
  wait (`SchedulingPolicy.preempt_wait_ratio`): waiting a little beats killing a lot.
  A job that was preempted before is never preempted again inside `PROTECT_S` of its
  restart by a non-guarantee job, nor inside `RESTART_PROTECT_S` for a guarantee (no job is
  preempted twice within its window). A within-guarantee job waits for GPUs to free up while
  its `PROMISE_S` start promise allows, then reclaims the victim set that loses least; a
  tenant at its weighted entitlement starts no work expected to run over `CAP_S` (`FAR_CAP_S` at
  `FAR_OVER` times it; priority work beyond the guarantee included) while another tenant is below
  its own (`SchedulingPolicy.entitlement_cap_s`); a tenant below its entitlement takes its fair-share
  turns before the others (`under_entitled_first`), gets a firm EASY reservation for a head of at most
  half a rack, kept on the racks it drained (the engine hands back each job's last reservation), and its
  preemptible jobs take its fair-share turn (`firm_under_entitled`, `entitled_preemptible`). Under a
  checkpoint model other than `none` (`--checkpoint`), brique is told it: its victims are those losing
  least under the model (`SchedulingPolicy.victim_loss`) and, under `grace` (where every stop costs its
  victim's GPUs x grace, so the loss is the GPUs stopped), its wait ratio is `GRACE_WAIT_RATIO`, it keeps
  `GRACE_RESERVE` free GPUs idle for guaranteed arrivals (`guarantee_reserve`), a job outside its guarantee
  never stops more GPUs than it asks (`preempt_gpu_ratio`) nor a job preempted before (`spare_restarted`).
  fifo and slurm-like are the same under every model (Slurm knows nothing of checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from brique.domain.contracts import Contract, ContractBook
from brique.domain.jobs import Tier
from brique.domain.policy import SchedulingPolicy
from brique.simulator.checkpoint import CheckpointModel

FIFO_TENANT = "fifo"


@dataclass(frozen=True, slots=True)
class PolicySpec:
    name: str
    summary: str
    build: Callable[[ContractBook], SchedulingPolicy]
    single_tenant: bool = False  # present every job as one tenant, tier standard
    predict_runtimes: bool = False  # backfill on runtimes predicted from history (`predict.py`)
    # told a checkpoint model other than `none`: its knobs under it (None: the model changes nothing)
    checkpointed: Callable[[SchedulingPolicy, CheckpointModel], SchedulingPolicy] | None = None

    def policy(self, book: ContractBook, checkpoint: CheckpointModel) -> SchedulingPolicy:
        """The core's knobs for this policy under `checkpoint` (the model itself is every policy's)."""
        policy = self.build(book)
        if self.checkpointed is not None and checkpoint.model != "none":
            policy = self.checkpointed(policy, checkpoint)
        return policy

    def core_tenant(self, tenant: str) -> str:
        return FIFO_TENANT if self.single_tenant else tenant

    def core_tier(self, tier: Tier) -> Tier:
        return Tier.STANDARD if self.single_tenant else tier


def _fifo(_: ContractBook) -> SchedulingPolicy:
    return SchedulingPolicy(contracts=ContractBook(), backfill=False, preempt_for_standard=False)


def _slurm(book: ContractBook) -> SchedulingPolicy:
    accounts = [
        Contract(tenant=c.tenant, guaranteed_gpus=0, weight=c.weight)
        for c in book.contracts
        if c.site is None
    ]
    return SchedulingPolicy(contracts=ContractBook.of(accounts), backfill=True, preempt_for_standard=True)


PROTECT_S = 300.0  # brique: a (re)started job runs at least this long before it may be preempted (see below)
RESTART_PROTECT_S = 60.0  # brique: a guarantee may preempt a restarted job again after this
PROMISE_S = 60.0  # brique: a within-guarantee priority job starts within this (the metric's SLO window)
CAP_S = 21_600.0  # brique: work expected to run > 6 h waits while its tenant is at its entitlement
FAR_OVER = 1.5  # brique: a tenant holding this many times its entitlement ...
FAR_CAP_S = 3_600.0  # ... starts no work expected to run over 1 h while another tenant is below its own
WAIT_RATIO = 0.002  # brique: preempt only if the work lost is <= 0.2 % of the GPU-seconds of waiting
# brique told the `grace` checkpoint model: under `none` no non-guarantee victim loses less than PROTECT_S
# per GPU, under `grace` each loses its 30 s grace: WAIT_RATIO x 30 / PROTECT_S keeps the shortest wait
# that justifies a stop (docs/simulation.md *Brique told the model*): 0.0002; with the rules below, 0.00005.
# Under `periodic`: WAIT_RATIO.
GRACE_WAIT_RATIO = 0.00005
# brique told the `grace` model: every stop costs its victim's GPUs x grace, so the loss is the number of GPUs
# stopped; it keeps GRACE_RESERVE GPUs idle for guaranteed arrivals (a reclaim avoided per GPU kept), never
# stops more GPUs than a non-guarantee job asks, and never stops a restarted job for one (no ping-pong).
# docs/simulation.md *Fewer GPUs stopped under `grace`*.
GRACE_RESERVE = 8


# Not set: `reclaim_standard_over_s` (3 days) meets the unseen-tier Philly slices but misses Helios 11 racks' queue
# and the whole trace's Jain (docs/simulation.md *Unseen tiers*).
def _brique(book: ContractBook) -> SchedulingPolicy:
    return SchedulingPolicy(
        contracts=book, backfill=True, preempt_for_standard=True, preempt_protect_s=PROTECT_S,
        restart_protect_s=RESTART_PROTECT_S,
        preempt_wait_ratio=WAIT_RATIO, preempt_by_cost=True, reclaim_standard=True,
        guarantee_start_s=PROMISE_S, entitlement_cap_s=CAP_S, entitled_preemptible=True,
        firm_under_entitled=True, cap_priority=True, entitlement_far_over=FAR_OVER, entitlement_far_cap_s=FAR_CAP_S,
        under_entitled_first=True,
    )  # fmt: skip


def _brique_checkpointed(policy: SchedulingPolicy, checkpoint: CheckpointModel) -> SchedulingPolicy:
    """Brique knows the model: its victims are those losing least under it, and its wait ratio is tuned for it."""
    if checkpoint.model != "grace":
        return replace(policy, victim_loss=checkpoint.victim_loss())
    return replace(
        policy,
        victim_loss=checkpoint.victim_loss(),
        preempt_wait_ratio=GRACE_WAIT_RATIO,
        guarantee_reserve=GRACE_RESERVE,
        preempt_gpu_ratio=1.0,
        spare_restarted=True,
    )


POLICIES: dict[str, PolicySpec] = {
    "fifo": PolicySpec("fifo", "strict arrival order, no backfill, no preemption", _fifo, single_tenant=True),
    "slurm-like": PolicySpec(
        "slurm-like", "fair-share + QOS order, EASY backfill, preemptible tier preempted", _slurm
    ),
    "brique": PolicySpec(
        "brique",
        "contracts + guarantees, weighted fair share, EASY backfill on predicted runtimes, "
        "cost-aware preemption",
        _brique,
        predict_runtimes=True,
        checkpointed=_brique_checkpointed,
    ),
}


def resolve(name: str) -> list[PolicySpec]:
    """`all` or one policy name -> the specs to run, in a fixed order."""
    if name == "all":
        return list(POLICIES.values())
    if name not in POLICIES:
        raise ValueError(f"unknown policy '{name}' (choose from {', '.join(POLICIES)}, all)")
    return [POLICIES[name]]
