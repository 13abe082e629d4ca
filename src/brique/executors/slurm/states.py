"""Slurm job states -> Brique's `RunState`.

    PENDING, CONFIGURING, REQUEUED, RESV_DEL_HOLD, …      -> STARTING
    RUNNING, COMPLETING, SUSPENDED, STOPPED, SIGNALING, …  -> RUNNING
    COMPLETED                                              -> SUCCEEDED
    FAILED, TIMEOUT, OUT_OF_MEMORY, DEADLINE, …            -> FAILED
    CANCELLED                                              -> STOPPED if Brique asked, else FAILED
    NODE_FAIL, BOOT_FAIL, PREEMPTED                        -> LOST (the control plane may requeue)

Whatever the final Slurm state, an attempt that Brique asked to stop and that did not get
lost ends STOPPED: a job that traps SIGTERM and exits 0 was still stopped by us.
"""

from __future__ import annotations

from brique.executors.base import RunState

_ACTIVE: dict[str, RunState] = {
    "PENDING": RunState.STARTING,
    "CONFIGURING": RunState.STARTING,
    "REQUEUED": RunState.STARTING,
    "REQUEUE_HOLD": RunState.STARTING,
    "REQUEUE_FED": RunState.STARTING,
    "RESV_DEL_HOLD": RunState.STARTING,
    "RUNNING": RunState.RUNNING,
    "COMPLETING": RunState.RUNNING,
    "SUSPENDED": RunState.RUNNING,
    "STOPPED": RunState.RUNNING,  # Slurm's STOPPED is SIGSTOP: it keeps its nodes
    "SIGNALING": RunState.RUNNING,
    "STAGE_OUT": RunState.RUNNING,
    "RESIZING": RunState.RUNNING,
}

_FINAL: dict[str, RunState] = {
    "COMPLETED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "TIMEOUT": RunState.FAILED,
    "OUT_OF_MEMORY": RunState.FAILED,
    "DEADLINE": RunState.FAILED,
    "SPECIAL_EXIT": RunState.FAILED,
    "REVOKED": RunState.FAILED,
    "CANCELLED": RunState.FAILED,  # by someone else; see `final_state`
    "NODE_FAIL": RunState.LOST,
    "BOOT_FAIL": RunState.LOST,
    "PREEMPTED": RunState.LOST,
}

_MESSAGES = {
    "TIMEOUT": "reached its time limit (--time)",
    "OUT_OF_MEMORY": "ran out of memory",
    "DEADLINE": "missed its deadline",
    "CANCELLED": "cancelled in Slurm outside Brique",
    "NODE_FAIL": "a node failed",
    "BOOT_FAIL": "a node failed to boot",
    "PREEMPTED": "preempted by Slurm",
}


def normalize(state: str) -> str:
    """`CANCELLED by 0` -> `CANCELLED`; `CANCELLED+` -> `CANCELLED`."""
    return state.strip().split(" ", 1)[0].rstrip("+").upper()


def is_active(state: str) -> bool:
    return normalize(state) in _ACTIVE


def active_state(state: str) -> RunState:
    return _ACTIVE.get(normalize(state), RunState.STARTING)


def final_state(state: str, *, stop_requested: bool) -> tuple[RunState, str]:
    """(RunState, message) for a finished Slurm job."""
    name = normalize(state)
    run_state = _FINAL.get(name, RunState.FAILED)
    message = _MESSAGES.get(name, "" if name in _FINAL else f"unknown Slurm state {name}")
    if stop_requested and run_state is not RunState.LOST:
        return RunState.STOPPED, "stopped by Brique"
    return run_state, message


def final_from_exit_code(exit_code: int | None, *, stop_requested: bool) -> tuple[RunState, str]:
    """When Slurm has forgotten the job (no accounting): judge by the exit code the batch script wrote."""
    if stop_requested:
        return RunState.STOPPED, "stopped by Brique"
    if exit_code is None:
        return RunState.LOST, "vanished from Slurm without recording an exit code"
    return (RunState.SUCCEEDED, "") if exit_code == 0 else (RunState.FAILED, f"exit code {exit_code}")
