"""Names shared by Brique and Slurm: fleet node ids -> Slurm node names, attempts <-> job names.

Fleet node ids look like `slurm-1/r001/n02` (site / rack / node). A Slurm cluster names its
nodes however its operator chose, so the mapping is configuration: an explicit table for the
odd ones, and a template for the rest (`{site}`, `{rack}`, `{node}`, `{rack_index}`,
`{node_index}` are filled from the id; the default `{rack}{node}` gives `r001n02`).

Each attempt's Slurm job name encodes its key, `brq-<job_id>.<attempt>`, so a control plane
that lost its memory (restart) finds its jobs again by name in `squeue`/`sacct`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from brique.executors.base import ExecutorError

_NODE_ID = re.compile(r"^(?P<site>[^/]+)/(?P<rack>r(?P<rack_index>\d+))/(?P<node>n(?P<node_index>\d+))$")
_SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
DEFAULT_JOB_PREFIX = "brq-"
DEFAULT_NODE_TEMPLATE = "{rack}{node}"


@dataclass(frozen=True, slots=True)
class NodeNaming:
    """Fleet node id -> Slurm node name: `overrides` first, else `template`."""

    template: str = DEFAULT_NODE_TEMPLATE
    overrides: Mapping[str, str] = field(default_factory=dict)

    def slurm_name(self, node_id: str) -> str:
        name = self.overrides.get(node_id) or self._from_template(node_id)
        if not _SLURM_NAME.match(name):
            raise ExecutorError(f"node {node_id!r} maps to an invalid Slurm node name {name!r}")
        return name

    def _from_template(self, node_id: str) -> str:
        m = _NODE_ID.match(node_id)
        if m is None:
            raise ExecutorError(f"node id {node_id!r} is not of the form site/rNNN/nNN and has no override")
        parts = m.groupdict()
        return self.template.format(
            site=parts["site"],
            rack=parts["rack"],
            node=parts["node"],
            rack_index=int(parts["rack_index"]),
            node_index=int(parts["node_index"]),
        )


def job_name(key: str, prefix: str = DEFAULT_JOB_PREFIX) -> str:
    """Slurm job name of an attempt whose key is `<job_id>.<attempt>`."""
    return f"{prefix}{key}"


def parse_job_name(name: str, prefix: str = DEFAULT_JOB_PREFIX) -> tuple[str, int] | None:
    """(job_id, attempt) from a job name made by `job_name`, or None for anyone else's job."""
    if not name.startswith(prefix):
        return None
    job_id, sep, attempt = name[len(prefix) :].rpartition(".")
    if not sep or not job_id or not attempt.isdigit():
        return None
    return job_id, int(attempt)
