"""Weighted fair share of idle capacity over decayed GPU usage.

Algorithm (weighted max-min with history, in the spirit of Slurm's fair-share factor):

1. The caller keeps, per tenant, a decayed usage U in GPU-seconds: every interval dt
   it does `U = U * 2**(-dt / half_life) + gpus_held * dt` (`decay_usage` below).
   A tenant holding g GPUs forever converges to U = g * half_life / ln 2, so
   `U * ln 2 / half_life` reads as "GPUs held on average lately".
2. A tenant's share key is `(held_now + history_weight * U * ln2 / half_life) / weight`,
   where held_now counts the GPUs it holds at this instant, including jobs placed
   earlier in this very cycle.
3. Jobs competing for idle capacity are taken from the tenant with the lowest key
   (each tenant's own jobs in its order); after every placement that tenant's key
   grows, so capacity is handed out in weighted max-min order. Ties: tenant id.

Higher weight => proportionally more GPUs for the same key; history makes a tenant
that ran a lot yesterday yield to one that did not.
"""

from __future__ import annotations

import math
from typing import Final

_LN2: Final = math.log(2)


def decay_usage(usage: float, elapsed_s: float, gpus_held: float, half_life_s: float) -> float:
    """Decayed GPU-seconds after `elapsed_s` more seconds holding `gpus_held` GPUs."""
    if elapsed_s <= 0:
        return usage
    factor = 2.0 ** (-elapsed_s / half_life_s)
    return usage * factor + gpus_held * elapsed_s


def history_gpus(usage_gpu_s: float, half_life_s: float) -> float:
    """Decayed GPU-seconds expressed as an average number of GPUs held."""
    return usage_gpu_s * _LN2 / half_life_s


def share_key(held_now: float, history: float, history_weight: float, weight: float) -> float:
    return (held_now + history_weight * history) / weight


def waterfill(capacity: float, demand: dict[str, float], weight: dict[str, float]) -> dict[str, float]:
    """Weighted max-min split of `capacity`, each tenant capped at its demand (its entitlement)."""
    out = dict.fromkeys(demand, 0.0)
    # The live tenants in parallel lists (names, demands, weights), in the order of a set of them: the weights
    # are summed in that order, as the plain form sums them (bit for bit; `test_waterfill`). Removing
    # tenants from a set leaves the others' order as it was, and so does the filter below.
    names: list[str] = list({t for t, d in demand.items() if d > 0})
    want: list[float] = []
    ws: list[float] = []
    for t in names:
        want.append(demand[t])
        ws.append(weight[t])
    left = capacity
    # A live tenant's share is still 0: it is either capped (set to its demand, and leaves) or, in the
    # last round, given its fill. So `demand - out` is `demand`, and one pass finds the capped.
    while names and left > 1e-9:
        wsum = 0.0
        for w in ws:
            wsum += w
        capped: list[str] = []
        flags: list[bool] = []
        for i in range(len(names)):
            c = want[i] <= left * ws[i] / wsum
            flags.append(c)
            if c:
                capped.append(names[i])
        if not capped:
            for i in range(len(names)):
                out[names[i]] += left * ws[i] / wsum
            break
        capped.sort()
        for t in capped:
            left -= demand[t]
            out[t] = demand[t]
        n = 0
        for i in range(len(names)):
            if not flags[i]:
                names[n] = names[i]
                want[n] = want[i]
                ws[n] = ws[i]
                n += 1
        del names[n:]
        del want[n:]
        del ws[n:]
    return out
