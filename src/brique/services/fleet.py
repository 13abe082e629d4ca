"""Fleet use cases: load the fleet file, persist it once, answer fleet reads, change node health."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from brique.clock import Clock
from brique.domain.fleet import Fleet, HealthState, Rack, Site
from brique.domain.fleet_spec import FleetSpecInvalid, parse_fleet
from brique.domain.tenancy import Action, Principal
from brique.errors import FleetFileInvalid, InvalidInput, NotFound
from brique.services.authz import require
from brique.store.db import Database
from brique.store.repos import fleet as repo
from brique.store.repos import reservations as reservations_repo

STATES = tuple(s.value for s in HealthState)


def load_fleet_file(path: Path) -> Fleet:
    """Read and validate a fleet YAML file; every problem names the file and the path in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FleetFileInvalid(str(path), [f"cannot read file: {exc.strerror or exc}"]) from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise FleetFileInvalid(
            str(path), [f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"]
        ) from exc
    try:
        return parse_fleet(doc)
    except FleetSpecInvalid as exc:
        raise FleetFileInvalid(str(path), [str(p) for p in exc.problems]) from exc


@dataclass(frozen=True, slots=True)
class SiteCapacity:
    site: Site
    racks: int
    nodes: dict[str, int]
    gpus: dict[str, int]
    allocated: int  # GPUs held by scheduled or running jobs
    reserved: int = 0  # GPUs held now by approved capacity reservations (issue 16)


@dataclass(frozen=True, slots=True)
class RackSummary:
    rack: Rack
    nodes: dict[str, int]
    gpus: dict[str, int]


class FleetService:
    """Holds the parsed fleet (immutable) and reads health states from the store."""

    def __init__(self, db: Database, clock: Clock, fleet: Fleet) -> None:
        self.db = db
        self.clock = clock
        self.fleet = fleet

    def sync(self, source: str) -> bool:
        """Persist the fleet unless the stored copy is identical. Returns True if written."""
        fingerprint = repo.fleet_fingerprint(self.fleet)
        with self.db.transaction() as s:
            if repo.stored_fingerprint(s, self.fleet.name) == fingerprint:
                return False
            repo.replace_fleet(s, self.fleet, source, self.clock.now())
            return True

    def sites(self, who: Principal) -> list[Site]:
        require(who, Action.FLEET_READ)
        return list(self.fleet.sites)

    def site(self, who: Principal, site_id: str) -> Site:
        require(who, Action.FLEET_READ)
        site = self.fleet.site(site_id)
        if site is None:
            raise NotFound(f"site '{site_id}' not found", field="site_id")
        return site

    def capacity(self, who: Principal) -> list[SiteCapacity]:
        require(who, Action.FLEET_READ)
        node_states, gpu_states = self._states()
        now = self.clock.now()
        with self.db.transaction() as s:
            allocated = repo.allocated_by_site(s)
            booked = [r for r in reservations_repo.live(s, now) if r.active(now)]
        reserved: Counter[str] = Counter()
        for r in booked:
            site = self.fleet.site(r.site)
            reserved[r.site] += r.size(site) if site else 0
        return [
            dataclasses.replace(self._site_capacity(site, node_states, gpu_states, allocated.get(site.id, 0)),
                                reserved=reserved[site.id])
            for site in self.fleet.sites
        ]  # fmt: skip

    def racks(self, who: Principal, site_id: str | None) -> list[RackSummary]:
        sites = [self.site(who, site_id)] if site_id else self.sites(who)
        node_states, gpu_states = self._states()
        return [
            RackSummary(rack, *self._rack_counts(rack, node_states, gpu_states))
            for site in sites
            for rack in site.racks
        ]

    def nodes(
        self, who: Principal, *, site_id: str | None, rack_id: str | None, state: str | None,
        limit: int, offset: int,
    ) -> list[repo.NodeRecord]:  # fmt: skip
        require(who, Action.FLEET_READ)
        if site_id is not None:
            self.site(who, site_id)
        if state is not None and state not in STATES:
            raise InvalidInput(f"must be one of: {', '.join(STATES)}", field="state")
        with self.db.transaction() as s:
            return repo.list_nodes(
                s, site_id=site_id, rack_id=rack_id, state=state, limit=limit, offset=offset
            )

    def set_node_state(self, who: Principal, node_id: str, state: HealthState, reason: str | None) -> None:
        require(who, Action.FLEET_MANAGE)
        with self.db.transaction() as s:
            if not repo.set_node_state(s, node_id, state, reason):
                raise NotFound(f"node '{node_id}' not found", field="node_id")

    def _states(self) -> tuple[dict[str, str], dict[str, str]]:
        with self.db.transaction() as s:
            return repo.unhealthy_states(s)

    def _site_capacity(self, site: Site, node_states: dict, gpu_states: dict, allocated: int) -> SiteCapacity:
        nodes: Counter[str] = Counter()
        gpus: Counter[str] = Counter()
        for rack in site.racks:
            n, g = self._rack_counts(rack, node_states, gpu_states)
            nodes.update(n)
            gpus.update(g)
        return SiteCapacity(site, len(site.racks), _all_states(nodes), _all_states(gpus), allocated)

    @staticmethod
    def _rack_counts(
        rack: Rack, node_states: dict, gpu_states: dict
    ) -> tuple[dict[str, int], dict[str, int]]:
        nodes: Counter[str] = Counter()
        gpus: Counter[str] = Counter()
        for node in rack.nodes:
            state = node_states.get(node.id, "up")
            nodes[state] += 1
            if state != "up" or not gpu_states:
                gpus[state] += node.gpu_count
                continue
            for gpu in node.gpus:
                gpus[gpu_states.get(gpu.id, "up")] += 1
        return _all_states(nodes), _all_states(gpus)


def _all_states(counts: Counter[str]) -> dict[str, int]:
    return {state: counts.get(state, 0) for state in STATES}
