"""Configuration of one Slurm executor (one Slurm cluster behind one Brique site)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brique.executors.slurm.naming import DEFAULT_JOB_PREFIX, DEFAULT_NODE_TEMPLATE, NodeNaming


@dataclass(frozen=True, slots=True)
class SlurmConfig:
    """
    spool_dir:      per-attempt scripts, env files, logs and exit codes. Must be visible at the
                    same path from the control plane host and every compute node (NFS, Lustre…).
    node_naming:    fleet node id -> Slurm node name (template and/or explicit table).
    qos_by_tier:    Brique tier -> Slurm QOS (`--qos`). Empty by default: no `--qos` is passed,
                    since QOS needs accounting (slurmdbd) and many clusters have none.
    partition, account: passed as `--partition`/`--account` when set.
    job_name_prefix: Slurm job names are `<prefix><job_id>.<attempt>`; must be unique to this
                    control plane on a shared cluster.
    slurm_conf:     SLURM_CONF for the client commands (default: the client's own default).
    bin_dir:        where sbatch/squeue/scancel/sacct live (default: PATH).
    command_timeout_s: timeout of each Slurm command.
    extra_sbatch_args: appended to every sbatch (e.g. `--exclusive`, `--cpus-per-gpu=18`).
    containers:     "pyxis" where the cluster has Pyxis + Enroot: jobs with an image run through
                    `srun --container-image`. None (default): jobs with an image are refused,
                    never run on the bare host.
    """

    spool_dir: Path
    node_naming: NodeNaming = field(default_factory=NodeNaming)
    qos_by_tier: Mapping[str, str] = field(default_factory=dict)
    partition: str | None = None
    account: str | None = None
    job_name_prefix: str = DEFAULT_JOB_PREFIX
    slurm_conf: Path | None = None
    bin_dir: Path | None = None
    command_timeout_s: float = 30.0
    extra_sbatch_args: tuple[str, ...] = ()
    containers: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SlurmConfig:
        """From a plain mapping (a fleet file's `slurm:` section); see docs/executors-slurm.md."""
        naming = data.get("node_naming") or {}
        paths = {k: Path(data[k]) for k in ("slurm_conf", "bin_dir") if data.get(k)}
        return cls(
            spool_dir=Path(data["spool_dir"]),
            node_naming=NodeNaming(
                template=naming.get("template", DEFAULT_NODE_TEMPLATE),
                overrides=dict(naming.get("overrides", {})),
            ),
            qos_by_tier=dict(data.get("qos_by_tier") or {}),
            partition=data.get("partition"),
            account=data.get("account"),
            job_name_prefix=data.get("job_name_prefix", DEFAULT_JOB_PREFIX),
            command_timeout_s=float(data.get("command_timeout_s", 30.0)),
            extra_sbatch_args=tuple(data.get("extra_sbatch_args") or ()),
            containers=data.get("containers"),
            **paths,
        )
