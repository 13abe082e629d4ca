"""Parse and validate a fleet description (the YAML file, already decoded to dicts).

Every rule reports the path inside the document and the rule broken, e.g.
`sites[2].pue: must be >= 1.0`. All problems are collected, not just the first,
so an operator fixes a file in one pass. Reading the file itself is an adapter's
job (`services/fleet.py`); this module is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from brique.domain.fleet import (
    ExecutorKind,
    Fleet,
    Gpu,
    Node,
    Operator,
    Rack,
    Site,
    gpu_id,
    node_id,
    rack_id,
)
from brique.domain.geo import default_jurisdiction, is_country, is_eu
from brique.domain.suggest import unknown_field

KNOWN_CERTIFICATIONS: frozenset[str] = frozenset(
    {
        "secnumcloud",  # ANSSI (FR)
        "c5",  # BSI Cloud Computing Compliance Criteria Catalogue (DE)
        "ens-high",  # Esquema Nacional de Seguridad, categoria alta (ES)
        "eucs-high",  # ENISA EU Cloud certification scheme
        "iso27001",
        "iso27017",
        "iso27018",
        "iso50001",
        "hds",  # Hebergeur de Donnees de Sante (FR)
        "tisax",
        "soc2",
    }
)
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
TOP_FIELDS = {"name", "description", "sites"}
SITE_FIELDS = {
    "id", "name", "region", "country", "jurisdiction", "operator", "certifications",
    "pue", "grid_gco2e_per_kwh", "executor", "racks", "slurm",
}  # fmt: skip
OPERATOR_FIELDS = {"name", "country", "vat_id", "legal_id", "address", "postcode", "city"}
SLURM_FIELDS = {
    "spool_dir", "slurm_conf", "bin_dir", "partition", "account", "qos_by_tier", "node_naming",
    "job_name_prefix", "command_timeout_s", "extra_sbatch_args",
}  # fmt: skip
RACK_FIELDS = {"count", "nodes_per_rack", "gpus_per_node", "cpus_per_node", "gpu_model", "gpu_power_w"}
MAX_GPUS_PER_NODE = 16
MAX_NODES_PER_RACK = 72


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


class FleetSpecInvalid(ValueError):
    """The fleet description breaks one or more rules; `problems` lists each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class _Checker:
    problems: list[Problem] = field(default_factory=list)

    def fail(self, path: str, rule: str) -> None:
        self.problems.append(Problem(path, rule))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.fail(_join(path, str(key)), unknown_field(str(key), allowed))
        return value

    def required(self, doc: Mapping[str, Any], key: str, path: str) -> Any:
        if key not in doc or doc[key] is None:
            self.fail(_join(path, key), "is required")
            return None
        return doc[key]

    def string(self, doc: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str | None:
        value = self.required(doc, key, path) if required else doc.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(_join(path, key), "must be a non-empty string")
            return None
        return value.strip()

    def number(self, doc: Mapping[str, Any], key: str, path: str, lo: float, hi: float) -> float | None:
        value = self.required(doc, key, path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(_join(path, key), "must be a number")
            return None
        if value < lo:
            self.fail(_join(path, key), f"must be >= {lo}")
            return None
        if value > hi:
            self.fail(_join(path, key), f"must be <= {hi}")
            return None
        return float(value)

    def integer(
        self, doc: Mapping[str, Any], key: str, path: str, lo: int, hi: int, default: int | None = None
    ) -> int | None:
        if default is not None and doc.get(key) is None:
            return default
        value = self.required(doc, key, path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(_join(path, key), "must be an integer")
            return None
        if not lo <= value <= hi:
            self.fail(_join(path, key), f"must be between {lo} and {hi}")
            return None
        return value

    def country(self, doc: Mapping[str, Any], key: str, path: str) -> str | None:
        value = self.string(doc, key, path)
        if value is not None and not is_country(value):
            self.fail(_join(path, key), f"'{value}' is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE)")
            return None
        return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_fleet(doc: Any) -> Fleet:
    """Build a `Fleet` from a decoded fleet document or raise `FleetSpecInvalid`."""
    check = _Checker()
    top = check.mapping(doc, "", TOP_FIELDS)
    if top is None:
        raise FleetSpecInvalid(check.problems)
    name = check.string(top, "name", "")
    if name is not None and not SLUG.match(name):
        check.fail("name", "must be lowercase letters, digits and '-' (at most 63 characters)")
    raw_sites = check.required(top, "sites", "")
    sites: list[Site] = []
    if raw_sites is not None and (not isinstance(raw_sites, list) or not raw_sites):
        check.fail("sites", "must be a non-empty list")
    elif raw_sites:
        seen: set[str] = set()
        for i, raw in enumerate(raw_sites):
            site = _parse_site(check, raw, f"sites[{i}]", seen)
            if site is not None:
                sites.append(site)
    if check.problems:
        raise FleetSpecInvalid(check.problems)
    assert name is not None
    return Fleet(name=name, sites=tuple(sites))


def _parse_site(check: _Checker, raw: Any, path: str, seen: set[str]) -> Site | None:
    doc = check.mapping(raw, path, SITE_FIELDS)
    if doc is None:
        return None
    before = len(check.problems)
    site_id = check.string(doc, "id", path)
    if site_id is not None:
        if not SLUG.match(site_id):
            check.fail(f"{path}.id", "must be lowercase letters, digits and '-' (at most 63 characters)")
        elif site_id in seen:
            check.fail(f"{path}.id", f"duplicate site id '{site_id}'")
        seen.add(site_id)
    country = check.country(doc, "country", path)
    operator = _parse_operator(check, check.required(doc, "operator", path), f"{path}.operator")
    certifications = _parse_certifications(check, doc.get("certifications", []), f"{path}.certifications")
    pue = check.number(doc, "pue", path, 1.0, 3.0)
    grid = check.number(doc, "grid_gco2e_per_kwh", path, 0.0, 2000.0)
    executor = _parse_executor(check, doc.get("executor", "simulated"), f"{path}.executor")
    region = check.string(doc, "region", path, required=False)
    jurisdiction = check.string(doc, "jurisdiction", path, required=False)
    display = check.string(doc, "name", path, required=False)
    racks = _parse_rack_groups(check, doc, path, site_id or "")
    options = _parse_executor_options(check, doc, path, executor)
    if len(check.problems) > before:
        return None
    assert site_id and country and operator and pue is not None and grid is not None and executor
    return Site(
        id=site_id,
        name=display or site_id,
        region=region or ("eu" if is_eu(country) else country.lower()),
        country=country,
        jurisdiction=jurisdiction or default_jurisdiction(country),
        operator=operator,
        certifications=certifications,
        pue=pue,
        grid_gco2e_per_kwh=grid,
        executor=executor,
        racks=tuple(racks),
        executor_options=options,
    )


def _parse_executor_options(
    check: _Checker, doc: Mapping[str, Any], path: str, executor: ExecutorKind | None
) -> dict[str, Any]:
    """The `slurm:` section: required for Slurm sites (at least `spool_dir`), refused elsewhere."""
    raw = doc.get("slurm")
    if executor is not ExecutorKind.SLURM:
        if raw is not None:
            check.fail(f"{path}.slurm", "only allowed when executor is slurm")
        return {}
    section = check.mapping(raw if raw is not None else {}, f"{path}.slurm", SLURM_FIELDS)
    if section is None:
        return {}
    check.string(section, "spool_dir", f"{path}.slurm")
    return dict(section)


def _parse_operator(check: _Checker, raw: Any, path: str) -> Operator | None:
    if raw is None:
        return None
    doc = check.mapping(raw, path, OPERATOR_FIELDS)
    if doc is None:
        return None
    name = check.string(doc, "name", path)
    country = check.country(doc, "country", path)
    if name is None or country is None:
        return None
    extra = {k: str(doc[k]) for k in ("vat_id", "legal_id", "address", "postcode", "city") if doc.get(k)}
    return Operator(name=name, country=country, **extra)


def _parse_certifications(check: _Checker, raw: Any, path: str) -> frozenset[str]:
    if not isinstance(raw, list):
        check.fail(path, "must be a list")
        return frozenset()
    certs: set[str] = set()
    for i, cert in enumerate(raw):
        if not isinstance(cert, str) or cert not in KNOWN_CERTIFICATIONS:
            known = ", ".join(sorted(KNOWN_CERTIFICATIONS))
            check.fail(f"{path}[{i}]", f"unknown certification {cert!r} (known: {known})")
        elif cert in certs:
            check.fail(f"{path}[{i}]", f"duplicate certification '{cert}'")
        certs.add(str(cert))
    return frozenset(certs)


def _parse_executor(check: _Checker, raw: Any, path: str) -> ExecutorKind | None:
    try:
        return ExecutorKind(raw)
    except ValueError:
        check.fail(path, f"must be one of: {', '.join(k.value for k in ExecutorKind)}")
        return None


def _parse_rack_groups(check: _Checker, doc: Mapping[str, Any], path: str, site_id: str) -> list[Rack]:
    raw = check.required(doc, "racks", path)
    if raw is None:
        return []
    if not isinstance(raw, list) or not raw:
        check.fail(f"{path}.racks", "must be a non-empty list of rack groups")
        return []
    racks: list[Rack] = []
    for g, group in enumerate(raw):
        racks.extend(_parse_rack_group(check, group, f"{path}.racks[{g}]", site_id, len(racks)))
    return racks


def _parse_rack_group(check: _Checker, raw: Any, path: str, site_id: str, first: int) -> list[Rack]:
    doc = check.mapping(raw, path, RACK_FIELDS)
    if doc is None:
        return []
    count = check.integer(doc, "count", path, 1, 10_000)
    nodes = check.integer(doc, "nodes_per_rack", path, 1, MAX_NODES_PER_RACK)
    gpus = check.integer(doc, "gpus_per_node", path, 1, MAX_GPUS_PER_NODE)
    cpus = check.integer(doc, "cpus_per_node", path, 0, 16, default=2)
    model = check.string(doc, "gpu_model", path)
    power = check.number(doc, "gpu_power_w", path, 1.0, 5000.0)
    if None in (count, nodes, gpus, cpus, model, power):
        return []
    assert count and nodes and gpus and cpus is not None and model and power
    return [_build_rack(site_id, first + i + 1, nodes, gpus, cpus, model, power) for i in range(count)]


def _build_rack(site_id: str, index: int, nodes: int, gpus: int, cpus: int, model: str, power: float) -> Rack:
    rid = rack_id(site_id, index)
    built = []
    for n in range(1, nodes + 1):
        nid = node_id(rid, n)
        built.append(
            Node(
                id=nid,
                rack_id=rid,
                index=n,
                cpus=cpus,
                gpus=tuple(Gpu(id=gpu_id(nid, k), node_id=nid, index=k) for k in range(gpus)),
            )
        )
    return Rack(id=rid, site_id=site_id, index=index, gpu_model=model, gpu_power_w=power, nodes=tuple(built))
