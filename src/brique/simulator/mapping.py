"""Seeded mapping of trace users / virtual clusters to Brique tenants and tiers.

Public traces carry no service tiers, and some carry users but no teams. The mapping
is a pure function of the seed and the trace, so the same seed gives the same tenants
and tiers (docs/simulation.md, "Tenant and tier mapping"):

- Tiers: each job, in file order, draws one number from `random.Random(seed)`:
  < 0.20 -> priority, < 0.80 -> standard, else preemptible (`TIER_MIX`).
- Users -> teams (Helios, Philly-last15k): the sorted distinct user ids are shuffled
  with `random.Random(seed)` and dealt round-robin to `TEAMS` teams `team-01`..`team-08`,
  so every team gets a similar number of users (not of jobs: heavy users stay heavy).
- Philly (Pollux layout): the virtual cluster is the tenant, unchanged.
"""

from __future__ import annotations

import random

from brique.domain.jobs import Tier

TIER_MIX: tuple[tuple[float, Tier], ...] = (
    (0.20, Tier.PRIORITY),
    (0.80, Tier.STANDARD),
    (1.0, Tier.PREEMPTIBLE),
)
TEAMS = 8


class TierDealer:
    """Draws a tier per job from `TIER_MIX`, in call order."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def deal(self) -> Tier:
        x = self._rng.random()
        for bound, tier in TIER_MIX:
            if x < bound:
                return tier
        return Tier.PREEMPTIBLE


def team_of_users(users: list[str], seed: int, teams: int = TEAMS) -> dict[str, str]:
    """Deal `users` (sorted) to `teams` teams after a seeded shuffle."""
    order = sorted(users)
    random.Random(seed).shuffle(order)
    return {u: f"team-{i % teams + 1:02d}" for i, u in enumerate(order)}
