"""What survives a preempted job's stop: the checkpoint model (docs/simulation.md *Preemption cost model*).

One rule and one set of parameters for every policy; a policy only chooses which jobs it stops
and with how much grace.

- `none` (the default): trace jobs carry no checkpoints. A stopped job loses every second it
  ran since its last (re)start and reruns its whole trace duration; its grace period is busy
  time but not counted as lost (the historical definition, kept so that figures stay comparable).
- `grace` (the issue's literal reading, "a job that gets its grace period checkpoints"): a job
  given a grace period of at least `write_s` writes a checkpoint during it and resumes from it:
  the work done up to its stop signal is kept, it is requeued with what is left, and its next
  run first pays `restart_s` (reading the checkpoint back). It loses its grace period and that
  restart overhead. A job given less grace than `write_s` (grace 0) loses everything since its
  last checkpoint, as under `none`, and resumes from that checkpoint.
- `periodic` (a variant, not the issue's reading): a job checkpoints every `every_s` seconds of a
  run's work, at no cost (asynchronous checkpointing), and ignores its grace. A stopped job keeps
  its last periodic checkpoint and loses what it ran since (its grace is busy, not lost, as under
  `none`). `every_s` under `grace` adds the same periodic checkpoints for jobs stopped with too
  little grace.

A job whose work ends within its grace period completes under every model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from brique.domain.policy import SINCE_START, VictimLoss

CHECKPOINT_MODELS = ("none", "grace", "periodic")
DEFAULT_WRITE_S = 30.0  # = `domain.jobs.DEFAULT_GRACE_S`: a job given its grace checkpoints
DEFAULT_RESTART_S = 0.0  # the literal reading charges the grace only; a sensitivity knob


@dataclass(frozen=True, slots=True)
class CheckpointModel:
    """model: `none`, `grace` or `periodic`. write_s: time a checkpoint takes to write (the grace must
    cover it). restart_s: overhead of a run that resumes from a checkpoint (busy, counted as lost).
    every_s: periodic checkpoints every this many seconds of a run's work (0: none)."""

    model: str = "none"
    write_s: float = DEFAULT_WRITE_S
    restart_s: float = DEFAULT_RESTART_S
    every_s: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in CHECKPOINT_MODELS:
            raise ValueError(
                f"checkpoint model {self.model!r}: must be one of {', '.join(CHECKPOINT_MODELS)}"
            )
        if not self.write_s > 0:  # a zero write time would let a job stopped with no grace checkpoint
            raise ValueError("checkpoint write time must be > 0 s")
        if not self.restart_s >= 0:
            raise ValueError("checkpoint restart overhead must be >= 0 s")
        if not self.every_s >= 0:
            raise ValueError("checkpoint period must be >= 0 s")
        if self.model == "periodic" and not self.every_s > 0:
            raise ValueError("the periodic checkpoint model needs a period > 0 s")
        if self.model == "none" and self.every_s:
            raise ValueError("a checkpoint period needs the grace or periodic checkpoint model")

    def saves(self, grace_s: float) -> bool:
        """Whether a job given `grace_s` of grace writes a checkpoint before it is killed."""
        return self.model == "grace" and grace_s >= self.write_s

    def periodic(self, work_s: float) -> float:
        """Work kept by periodic checkpoints after `work_s` seconds of a run's work."""
        return math.floor(work_s / self.every_s) * self.every_s if self.every_s and work_s > 0 else 0.0

    def victim_loss(self) -> VictimLoss:
        """The same model as the cost a checkpoint-aware policy's preemption minimises
        (`SchedulingPolicy.victim_loss`); `none`: all since the victim's start, the core's default."""
        if self.model == "none":
            return SINCE_START
        loss = "grace" if self.model == "grace" else "periodic"
        return VictimLoss(loss, write_s=self.write_s, restart_s=self.restart_s, every_s=self.every_s)

    def describe(self) -> dict[str, Any]:
        if self.model == "none":
            return {"model": "none"}
        doc: dict[str, Any] = {"model": self.model, "write_s": self.write_s, "restart_s": self.restart_s}
        if self.every_s:
            doc["every_s"] = self.every_s
        return doc


class Checkpoints:
    """Per trace job: the work it has left (seconds of its trace duration) and the restart overhead
    its next run pays first (0 until it has a checkpoint). Under `none` both never change."""

    __slots__ = ("boot", "left", "model")

    def __init__(self, model: CheckpointModel, durations: list[float]) -> None:
        self.model = model
        self.left = list(durations)
        self.boot = [0.0] * len(durations)

    def length(self, i: int) -> float:
        """How long job `i`'s next (or current) run lasts if nothing stops it."""
        boot = self.boot[i]
        return self.left[i] + boot if boot else self.left[i]

    def stopped(self, i: int, ran_s: float, grace_s: float) -> float:
        """Job `i`'s run, `ran_s` old at its stop signal, is killed after `grace_s`: seconds of it lost."""
        given = min(grace_s, grace_s + ran_s)  # a run placed behind others' grace may start after the signal
        boot, ran = self.boot[i], max(0.0, ran_s)
        if self.model.saves(given):
            self.left[i] -= min(self.left[i], max(0.0, ran - boot))
            self.boot[i] = self.model.restart_s
            return given + min(ran, boot)
        kept = min(self.left[i], self.model.periodic(ran - boot))
        if kept:  # back to its last periodic checkpoint
            self.left[i] -= kept
            self.boot[i] = self.model.restart_s
        return ran - kept  # back to its last checkpoint or start; no new one: the next run pays the same boot

    def overhead(self, i: int) -> float:
        """Restart overhead spent by job `i`'s last, completed run (lost to the preemption before it)."""
        return self.boot[i]


NO_CHECKPOINT = CheckpointModel()  # the default model (frozen, so one shared value)
