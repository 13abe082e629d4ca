"""One attempt of a job between the control plane and an executor: the order to run it (`Launch`)
and what the executor says about it (`RunReport`, level-based: the current truth).

Reports are levels, not events, so applying the same report twice is harmless and a control
plane that restarted converges by asking again (`domain/reconcile.py` turns them into moves).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from brique.domain.jobs import DEFAULT_GRACE_S, DEFAULT_MAX_RUNTIME_S


class RunState(StrEnum):
    """What an executor can say about one attempt."""

    STARTING = "starting"  # accepted, not yet running (queued in Slurm, process spawning)
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # exit code 0
    FAILED = "failed"  # non-zero exit, or could not start
    STOPPED = "stopped"  # ended because stop() was called (cancel or preemption)
    LOST = "lost"  # the node or the executor lost it (node down, slurm NODE_FAIL)

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.STOPPED, RunState.LOST)


@dataclass(frozen=True, slots=True)
class RunReport:
    """The executor's current truth about one attempt."""

    job_id: str
    attempt: int
    state: RunState
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str = ""
    image: str = ""  # what a node says ran (`image_note`), on every report, so a run too short to be
    # seen running still names its image


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything an executor needs to run one attempt of a job.

    gpus_by_node: fleet node id -> GPU indices on that node (what CUDA_VISIBLE_DEVICES lists).
    env: the job's environment, secrets already injected (never log it).
    command: run with `/bin/sh -c`.
    duration_s: for the simulated executor: how long the job "runs" (its spec's sleep or estimate).
    serves: a long-running service others call over the network (an inference replica): the node
    gives it the host network even where batch jobs get none.
    """

    job_id: str
    attempt: int
    name: str
    org_id: str
    project_id: str
    site_id: str
    tier: str
    command: str
    gpus_by_node: Mapping[str, tuple[int, ...]]
    env: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None
    max_runtime_s: float = DEFAULT_MAX_RUNTIME_S
    grace_s: float = DEFAULT_GRACE_S
    duration_s: float | None = None
    serves: bool = False

    @property
    def gpu_count(self) -> int:
        return sum(len(v) for v in self.gpus_by_node.values())

    @property
    def key(self) -> str:
        """Unique per attempt; executors use it as their own idempotency key."""
        return f"{self.job_id}.{self.attempt}"


IMAGE_NOTE = re.compile(r"image (?P<ref>\S+) \((?P<id>[^)\s]+)\)")


def image_note(ref: str, content_id: str) -> str:
    """How a node reports the image a job ran (it ends the `started` event): the reference asked for
    and the registry digest, else the content id, found in the node's store."""
    return f"image {ref} ({content_id})"


def image_in(message: str) -> tuple[str, str] | None:
    """(reference, digest or content id) of the image a `started` event names, if any."""
    found = IMAGE_NOTE.search(message)
    return (found["ref"], found["id"]) if found else None
