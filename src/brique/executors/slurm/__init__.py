"""The `slurm` executor: Brique's placed attempts as batch jobs on a real Slurm cluster.

    SlurmExecutor(SlurmConfig(spool_dir=Path("/shared/brique/spool"), slurm_conf=Path(...)))

Modules: `config` (SlurmConfig), `naming` (fleet node ids -> Slurm node names, job names),
`cli` (sbatch/squeue/scancel/sacct with timeouts and typed errors), `script` (the batch
script and sbatch options), `spool` (per-attempt files), `states` (Slurm -> RunState),
`executor` (SlurmExecutor). See docs/executors-slurm.md.
"""

from brique.executors.slurm.cli import SlurmCli, SlurmCommandFailed, SlurmError, SlurmUnavailable
from brique.executors.slurm.config import SlurmConfig
from brique.executors.slurm.executor import SlurmExecutor
from brique.executors.slurm.naming import NodeNaming

__all__ = [
    "NodeNaming",
    "SlurmCli",
    "SlurmCommandFailed",
    "SlurmConfig",
    "SlurmError",
    "SlurmExecutor",
    "SlurmUnavailable",
]
