"""Static index of a fleet: integer ids for sites, racks, trays and GPUs.

Built once per fleet (`Topology.from_fleet`) and shared by every cycle; the cycle's
mutable state (`scheduler/capacity.py`) is a handful of flat arrays over these ids.
A rack is one NVLink domain; a tray is a node (compute tray).
"""

from __future__ import annotations

from dataclasses import dataclass

from brique.domain.fleet import Fleet, HealthState, Site


@dataclass(frozen=True, slots=True, eq=False)
class Topology:
    fleet: Fleet
    sites: tuple[Site, ...]
    site_racks: tuple[tuple[int, ...], ...]  # site -> racks
    rack_ids: tuple[str, ...]
    rack_site: tuple[int, ...]
    rack_trays: tuple[tuple[int, ...], ...]  # rack -> trays
    rack_size: tuple[int, ...]  # GPUs in the rack (healthy or not)
    tray_ids: tuple[str, ...]
    tray_rack: tuple[int, ...]
    tray_gpus: tuple[tuple[int, ...], ...]  # tray -> GPUs
    gpu_ids: tuple[str, ...]
    gpu_tray: tuple[int, ...]
    gpu_rack: tuple[int, ...]
    gpu_index: dict[str, int]
    tray_index: dict[str, int]
    rack_index: dict[str, int]
    site_index: dict[str, int]
    healthy: bytes  # per GPU: 1 when the GPU and its node are `up` in the fleet file
    # GPUs are numbered tray by tray, so a tray or rack is a span [first GPU, last GPU + 1)
    tray_span: tuple[tuple[int, int], ...]
    rack_span: tuple[tuple[int, int], ...]

    @classmethod
    def from_fleet(cls, fleet: Fleet) -> Topology:
        b = _Builder()
        for site in fleet.sites:
            b.add_site(site)
        return cls(
            fleet=fleet,
            sites=fleet.sites,
            site_racks=tuple(tuple(r) for r in b.site_racks),
            rack_ids=tuple(b.rack_ids),
            rack_site=tuple(b.rack_site),
            rack_trays=tuple(tuple(t) for t in b.rack_trays),
            rack_size=tuple(sum(len(b.tray_gpus[t]) for t in trays) for trays in b.rack_trays),
            tray_ids=tuple(b.tray_ids),
            tray_rack=tuple(b.tray_rack),
            tray_gpus=tuple(tuple(g) for g in b.tray_gpus),
            gpu_ids=tuple(b.gpu_ids),
            gpu_tray=tuple(b.gpu_tray),
            gpu_rack=tuple(b.gpu_rack),
            gpu_index={g: i for i, g in enumerate(b.gpu_ids)},
            tray_index={t: i for i, t in enumerate(b.tray_ids)},
            rack_index={r: i for i, r in enumerate(b.rack_ids)},
            site_index={s.id: i for i, s in enumerate(fleet.sites)},
            healthy=bytes(b.healthy),
            tray_span=tuple((g[0], g[-1] + 1) if g else (0, 0) for g in b.tray_gpus),
            rack_span=tuple(_span(b.tray_gpus, trays) for trays in b.rack_trays),
        )

    @property
    def gpu_count(self) -> int:
        return len(self.gpu_ids)

    def site_capacity(self, site: int) -> int:
        return sum(self.rack_size[r] for r in self.site_racks[site])

    def max_rack(self, site: int) -> int:
        return max((self.rack_size[r] for r in self.site_racks[site]), default=0)


def _span(tray_gpus: list[list[int]], trays: list[int]) -> tuple[int, int]:
    gpus = [g for t in trays for g in tray_gpus[t]]
    return (gpus[0], gpus[-1] + 1) if gpus else (0, 0)


class _Builder:
    def __init__(self) -> None:
        self.site_racks: list[list[int]] = []
        self.rack_ids: list[str] = []
        self.rack_site: list[int] = []
        self.rack_trays: list[list[int]] = []
        self.tray_ids: list[str] = []
        self.tray_rack: list[int] = []
        self.tray_gpus: list[list[int]] = []
        self.gpu_ids: list[str] = []
        self.gpu_tray: list[int] = []
        self.gpu_rack: list[int] = []
        self.healthy: list[int] = []

    def add_site(self, site: Site) -> None:
        s = len(self.site_racks)
        self.site_racks.append([])
        for rack in site.racks:
            r = len(self.rack_ids)
            self.site_racks[s].append(r)
            self.rack_ids.append(rack.id)
            self.rack_site.append(s)
            self.rack_trays.append([])
            for node in rack.nodes:
                t = len(self.tray_ids)
                self.rack_trays[r].append(t)
                self.tray_ids.append(node.id)
                self.tray_rack.append(r)
                self.tray_gpus.append([])
                for gpu in node.gpus:
                    self.tray_gpus[t].append(len(self.gpu_ids))
                    self.gpu_ids.append(gpu.id)
                    self.gpu_tray.append(t)
                    self.gpu_rack.append(r)
                    up = node.state == HealthState.UP and gpu.state == HealthState.UP
                    self.healthy.append(1 if up else 0)
