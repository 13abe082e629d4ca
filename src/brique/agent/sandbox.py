"""What one attempt may see and use on this node: decided by the agent, carried out by an engine.

The agent decides (`plan_job`): which host uid the job runs as, its GPUs, its memory and CPU
share of the node, whether it gets a network, and which image root it sees. The plan is
written next to the attempt (`plan.json`, no secrets) and the wrapper hands it to an engine
(`agent/engines.py`) that turns it into one command line. The job's environment is built
here too and travels to the wrapper through a pipe, never through disk or argv.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from brique.domain.runs import image_note
from brique.executors.base import Launch

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SCRATCH = "/work"  # where the job's writable scratch dir appears inside the sandbox


class Sandbox(StrEnum):
    """How jobs without an image run."""

    BWRAP = "bwrap"  # private namespaces, dedicated uid, only system dirs read-only (the default)
    NONE = "none"  # plain process under the agent's uid: development only, never multi-tenant


class ContainerRuntime(StrEnum):
    """How jobs with an image run."""

    PODMAN = "podman"  # full OCI container (real nodes)
    BWRAP = "bwrap"  # image root from the node's image store in unprivileged namespaces (HPC style)


class Network(StrEnum):
    AUTO = "auto"  # host network only for multi-node gangs (NCCL, rendezvous); none otherwise
    NONE = "none"
    HOST = "host"


@dataclass(frozen=True, slots=True)
class NodeShare:
    """What this node offers to jobs; each job gets the fraction its GPUs are of the node's."""

    gpus: int
    memory_bytes: int
    cpus: float

    def memory_for(self, gpus: int) -> int:
        return int(self.memory_bytes * _fraction(gpus, self.gpus))

    def cpus_for(self, gpus: int) -> float:
        return round(max(0.1, self.cpus * _fraction(gpus, self.gpus)), 2)


def _fraction(part: int, whole: int) -> float:
    return 1.0 if whole <= 0 else min(1.0, max(part, 1) / whole)


@dataclass(frozen=True, slots=True)
class JobPlan:
    key: str  # job.attempt
    engine: str  # "bwrap", "podman" or "none"
    uid: int | None  # host uid of the job's processes (None: the agent's own, when it is not root)
    gid: int | None
    gpus: tuple[int, ...]
    memory_bytes: int | None
    cpus: float | None
    network: bool
    scratch: str  # the job's writable dir on the host (0700, the tenant's), seen as /work
    image: str | None = None
    image_id: str | None = None  # the image's content id in the node's store (what actually ran)
    image_digest: str | None = None  # the registry digest, where the image came from one
    rootfs: str | None = None  # unpacked image root (bwrap runtime), copied from the node's image store
    expose: tuple[str, ...] = ()  # host dirs the operator shares read-only with jobs (e.g. /sw, /opt/conda)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    def image_note(self) -> str:
        """What ran, for the job's events: the reference asked for and the digest (else content id) found."""
        return image_note(self.image, self.image_digest or self.image_id or "unknown") if self.image else ""

    @classmethod
    def load(cls, path: Path) -> JobPlan:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["gpus"] = tuple(data["gpus"])
        data["expose"] = tuple(data.get("expose", ()))
        return cls(**data)


USERNS_SIZE = 65536


def container_uid_base(tenant_uid: int) -> int:
    """Host uid that a tenant's container root maps to: a 65536-wide range per tenant, above 2^31.

    Rootful podman maps it explicitly (`--uidmap`), so no /etc/subuid entry is needed and two
    tenants' containers never share a host uid, with each other or with anything on the host.
    """
    return (1 << 31) + tenant_uid * USERNS_SIZE


def job_env(launch: Launch, gpus: tuple[int, ...]) -> dict[str, str]:
    """The job's whole environment: its spec (secrets injected), a PATH, its GPUs and its identity.

    Nothing of the agent's own environment: no token, no markers, no HOME of the agent.
    """
    visible = ",".join(str(i) for i in gpus)
    return {
        "PATH": DEFAULT_PATH,
        "HOME": SCRATCH,
        "LANG": "C.UTF-8",
        **launch.env,
        "CUDA_VISIBLE_DEVICES": visible,
        "NVIDIA_VISIBLE_DEVICES": visible,
        "BRIQUE_JOB_ID": launch.job_id,
        "BRIQUE_ATTEMPT": str(launch.attempt),
    }


def wants_network(policy: Network, launch: Launch) -> bool:
    if policy is Network.AUTO:  # gangs talk among their nodes; services are called by the gateway
        return len(launch.gpus_by_node) > 1 or launch.serves
    return policy is Network.HOST


def node_share(gpus: int, memory_bytes: int | None = None, cpus: float | None = None) -> NodeShare:
    """The node's offer: the given figures, else the machine's physical memory and CPUs."""
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return NodeShare(gpus, memory_bytes, float(cpus if cpus is not None else os.cpu_count() or 1))


def parse_size(text: str) -> int:
    """'512M', '16G', '1048576' -> bytes (binary units)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def unreachable(root: Path) -> str | None:
    """Why tenants' uids could not reach dirs under `root` (an ancestor without o+x), or None."""
    if os.geteuid() != 0:
        return None  # jobs run under the agent's own uid
    for d in [*reversed(root.resolve().parents)]:
        if d.exists() and not d.stat().st_mode & 0o001:
            return f"{d} is not traversable by other users (mode {d.stat().st_mode & 0o777:o}); jobs could not reach it"
    return None
