"""Runtime prediction from history, for backfill (Tsafrir, Etsion and Feitelson 2007).

Users' walltimes are coarse, and traces often have none, so backfill would treat
every job as running to its time limit. The predictor keeps, per key, the last
`depth` completed runtimes and predicts their mean; keys are tried from the most
specific to the least: (tenant, GPUs) then tenant. With no history it predicts
nothing (the core then uses the user's estimate, else the time limit). A job that
outlives its prediction is treated by the core as running to its limit
(`domain.jobs.expected_end`), so a bad guess delays a reservation, never kills.

Accuracy is reported as the share of predictions within a factor 2 of the actual
runtime and the median of |predicted - actual| / actual.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class Predictor:
    depth: int = 2
    history: dict[tuple[str, int] | str, deque[float]] = field(default_factory=dict)
    pairs: list[tuple[float, float]] = field(default_factory=list)  # (predicted, actual)

    def predict(self, tenant: str, gpus: int) -> float | None:
        for key in ((tenant, gpus), tenant):
            got = self.history.get(key)
            if got:
                return sum(got) / len(got)
        return None

    def completed(self, tenant: str, gpus: int, runtime_s: float, predicted: float | None) -> None:
        for key in ((tenant, gpus), tenant):
            self.history.setdefault(key, deque(maxlen=self.depth)).append(runtime_s)
        if predicted is not None:
            self.pairs.append((predicted, runtime_s))

    def accuracy(self) -> dict[str, float | int]:
        if not self.pairs:
            return {"predicted": 0, "within_2x": 0.0, "median_rel_error": 0.0}
        errs = sorted(abs(p - a) / max(a, 1.0) for p, a in self.pairs)
        within = sum(1 for p, a in self.pairs if a / 2 <= p <= 2 * a) / len(self.pairs)
        return {"predicted": len(self.pairs), "within_2x": round(within, 4),
                "median_rel_error": round(errs[len(errs) // 2], 4)}  # fmt: skip
