"""Fleet model: Region -> Site -> Rack (one NVLink domain) -> Node (compute tray) -> GPU.

Pure value types. A fleet is described by a YAML file (see `domain/fleet_spec.py`
for the parser and its validation rules, `docs/fleet-file.md` for the format).
IDs are stable strings derived from the position in the file, so the same file
always yields the same ids: `fr-par-1/r001`, `fr-par-1/r001/n07`, `fr-par-1/r001/n07/g2`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class HealthState(StrEnum):
    """Health of a node or GPU. Only `up` capacity is ever allocated."""

    UP = "up"
    DRAINING = "draining"  # finishes what runs, takes no new work
    DOWN = "down"


class ExecutorKind(StrEnum):
    SIMULATED = "simulated"
    LOCAL = "local"
    SLURM = "slurm"
    KUBERNETES = "kubernetes"


@dataclass(frozen=True, slots=True)
class Operator:
    """The legal entity that operates a site, and the country it is headquartered in; it issues
    the invoices for the site's usage (VAT number, legal id and address are printed on them)."""

    name: str
    country: str
    vat_id: str | None = None
    legal_id: str | None = None
    address: str = ""
    postcode: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class Gpu:
    id: str
    node_id: str
    index: int  # index on its node: what CUDA_VISIBLE_DEVICES names
    state: HealthState = HealthState.UP


@dataclass(frozen=True, slots=True)
class Node:
    """A compute tray: `gpus_per_node` GPUs and `cpus` Grace CPUs."""

    id: str
    rack_id: str
    index: int
    cpus: int
    gpus: tuple[Gpu, ...]
    state: HealthState = HealthState.UP

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)


@dataclass(frozen=True, slots=True)
class Rack:
    """One NVLink domain (an NVL72 rack for GB200)."""

    id: str
    site_id: str
    index: int
    gpu_model: str
    gpu_power_w: float
    nodes: tuple[Node, ...]

    @property
    def gpu_count(self) -> int:
        return sum(n.gpu_count for n in self.nodes)


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    region: str
    country: str  # ISO 3166-1 alpha-2
    jurisdiction: str
    operator: Operator
    certifications: frozenset[str]
    pue: float
    grid_gco2e_per_kwh: float
    executor: ExecutorKind
    racks: tuple[Rack, ...]
    name: str = ""
    # backend settings for the site's executor (e.g. the `slurm:` section), passed through as-is
    executor_options: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def gpu_count(self) -> int:
        return sum(r.gpu_count for r in self.racks)

    @property
    def node_count(self) -> int:
        return sum(len(r.nodes) for r in self.racks)


@dataclass(frozen=True, slots=True)
class Fleet:
    name: str
    sites: tuple[Site, ...]
    _site_index: dict[str, Site] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._site_index.update({s.id: s for s in self.sites})

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.region for s in self.sites))

    def site(self, site_id: str) -> Site | None:
        return self._site_index.get(site_id)

    def racks(self) -> Iterator[Rack]:
        for site in self.sites:
            yield from site.racks

    def nodes(self) -> Iterator[Node]:
        for rack in self.racks():
            yield from rack.nodes

    def gpus(self) -> Iterator[Gpu]:
        for node in self.nodes():
            yield from node.gpus

    @property
    def gpu_count(self) -> int:
        return sum(s.gpu_count for s in self.sites)

    @property
    def rack_count(self) -> int:
        return sum(len(s.racks) for s in self.sites)

    @property
    def node_count(self) -> int:
        return sum(s.node_count for s in self.sites)


def rack_id(site_id: str, index: int) -> str:
    return f"{site_id}/r{index:03d}"


def node_id(rack: str, index: int) -> str:
    return f"{rack}/n{index:02d}"


def gpu_id(node: str, index: int) -> str:
    return f"{node}/g{index}"


def node_of(gpu: str) -> str:
    """`fr-par-1/r001/n07/g2` -> `fr-par-1/r001/n07` (also a node id's rack: `…/n07` -> `…/r001`)."""
    return gpu.rsplit("/", 1)[0]


def rack_of(gpu: str) -> str:
    """`fr-par-1/r001/n07/g2` -> `fr-par-1/r001`."""
    return gpu.rsplit("/", 2)[0]


def gpu_index(gpu: str) -> int:
    """`fr-par-1/r001/n07/g2` -> 2 (the index CUDA_VISIBLE_DEVICES lists)."""
    return int(gpu.rsplit("/", 1)[1].lstrip("g"))


def racks_of(gpus: Iterable[str]) -> list[str]:
    """The sorted, distinct racks under some GPUs."""
    return sorted({rack_of(g) for g in gpus})


def gpus_by_node(gpus: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """Node id -> sorted GPU indices on it, nodes in order."""
    by_node: dict[str, list[int]] = {}
    for gpu in gpus:
        by_node.setdefault(node_of(gpu), []).append(gpu_index(gpu))
    return {n: tuple(sorted(ix)) for n, ix in sorted(by_node.items())}
